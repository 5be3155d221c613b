package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// A test starts the simulator in-process and talks to it like DingTalk.
func ExampleNew() {
	truth := gen.Generate(gen.Options{Users: 120, Depts: 8, Seed: 1})
	srv := sim.New(sim.Config{Truth: truth})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	app := sim.DefaultApp()
	res, _ := http.Get(ts.URL + "/gettoken?appkey=" + app.Key + "&appsecret=" + app.Secret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	res, _ = http.Post(ts.URL+"/topapi/user/count?access_token="+tok.AccessToken,
		"application/json", strings.NewReader(`{"only_active":false}`))
	var count struct {
		Errcode int `json:"errcode"`
		Result  struct {
			Count int `json:"count"`
		} `json:"result"`
	}
	json.NewDecoder(res.Body).Decode(&count)
	res.Body.Close()
	fmt.Println(count.Errcode, count.Result.Count, srv.Calls()["/topapi/user/count"])
	// Output: 0 120 1
}
