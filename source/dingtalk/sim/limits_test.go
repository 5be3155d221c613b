package sim_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

// checklist 23: contact range.
func TestContactRange(t *testing.T) {
	tree := dingbook.NewTree(smallTruth.Org.Depts)
	// a first-level department with a sub-department
	var in int64
	for _, c := range tree.Children(1) {
		if len(tree.Children(c)) > 0 {
			in = c
			break
		}
	}
	if in == 0 {
		t.Fatal("no first-level department with children")
	}
	inside := map[int64]bool{}
	for _, d := range tree.Descendants(in) {
		inside[d] = true
	}
	var out int64
	for _, d := range smallTruth.Org.Depts {
		if !inside[d.ID] && d.ID != 1 {
			out = d.ID
			break
		}
	}
	// a person only in out-of-range departments, and one range user
	var outsider, rangeUser *dingbook.Person
	var insider *dingbook.Person
	for i := range smallTruth.Org.People {
		p := &smallTruth.Org.People[i]
		inRange := false
		for _, m := range p.Depts {
			inRange = inRange || inside[m.DeptID]
		}
		switch {
		case inRange && insider == nil:
			insider = p
		case !inRange && outsider == nil:
			outsider = p
		case !inRange && rangeUser == nil:
			rangeUser = p
		}
	}
	app := sim.DefaultApp()
	app.RangeDepts = []int64{in}
	app.RangeUsers = []string{rangeUser.UserID}
	h := newSim(t, sim.Config{Apps: []sim.App{app}})
	tok := h.token()

	s := h.get("/auth/scopes?access_token=" + tok)
	if !strings.Contains(string(s.raw), `"auth_org_scopes":{"authed_dept":[`+strconv.FormatInt(in, 10)+`],"authed_user":["`+rangeUser.UserID+`"]}`) {
		t.Errorf("auth/scopes %s", s.raw)
	}
	for _, c := range []struct {
		path string
		body map[string]any
		code string
	}{
		{"/topapi/v2/department/listsub", map[string]any{"dept_id": 1}, "50004"},
		{"/topapi/v2/department/listsub", map[string]any{"dept_id": out}, "50004"},
		{"/topapi/v2/department/listsub", map[string]any{"dept_id": in}, "0"},
		{"/topapi/v2/department/get", map[string]any{"dept_id": out}, "50004"},
		{"/topapi/v2/department/get", map[string]any{"dept_id": tree.Children(in)[0]}, "0"},
		{"/topapi/v2/user/list", map[string]any{"dept_id": out, "cursor": 0, "size": 10}, "50004"},
		{"/topapi/v2/user/list", map[string]any{"dept_id": 1, "cursor": 0, "size": 10}, "50004"},
		{"/topapi/v2/user/list", map[string]any{"dept_id": in, "cursor": 0, "size": 10}, "0"},
		{"/topapi/user/listsimple", map[string]any{"dept_id": out, "cursor": 0, "size": 10}, "50004"},
		{"/topapi/v2/user/get", map[string]any{"userid": outsider.UserID}, "50002"},
		{"/topapi/v2/user/get", map[string]any{"userid": insider.UserID}, "0"},
		{"/topapi/v2/user/get", map[string]any{"userid": rangeUser.UserID}, "0"},
		// exempt APIs
		{"/topapi/v2/department/listsubid", map[string]any{"dept_id": 1}, "0"},
		{"/topapi/user/listid", map[string]any{"dept_id": out}, "0"},
		{"/topapi/user/count", map[string]any{"only_active": false}, "0"},
		{"/topapi/user/listadmin", nil, "0"},
		{"/topapi/v2/department/listparentbydept", map[string]any{"dept_id": out}, "0"},
		{"/topapi/v2/department/listparentbyuser", map[string]any{"userid": outsider.UserID}, "0"},
	} {
		r := h.post(c.path, tok, c.body)
		if r.errcode() != c.code {
			t.Errorf("%s %v: %s, want %s", c.path, c.body, r.raw, c.code)
		}
		if c.code == "50004" && r.str("errmsg") != "请求的部门id不在授权范围内" || c.code == "50002" && r.str("errmsg") != "请求的员工userid不在授权范围内" {
			t.Errorf("%s: errmsg %q", c.path, r.str("errmsg"))
		}
	}
	// count ignores the range: everyone
	c := h.post("/topapi/user/count", tok, map[string]any{"only_active": false})
	if numStr(c.result()["count"]) != strconv.Itoa(len(smallTruth.Org.People)) {
		t.Errorf("count under a range %s", c.raw)
	}
}

// checklist 25: per-app per-API QPS → 90018; next second clears it.
func TestPerAppThrottle(t *testing.T) {
	h := newSim(t, sim.Config{QPS: 20})
	tok := h.token()
	body := map[string]any{"only_active": true}
	for i := 0; i < 20; i++ {
		wantCode(t, h.post("/topapi/user/count", tok, body), "0")
	}
	r := h.post("/topapi/user/count", tok, body)
	wantSub(t, r, "90018")
	if !strings.Contains(r.str("sub_msg"), "apiPath(dingtalk.oapi.user.count)") {
		t.Errorf("90018 text %s", r.raw)
	}
	// another API has its own bucket
	wantCode(t, h.post("/topapi/v2/department/listsubid", tok, map[string]any{"dept_id": 1}), "0")
	h.clock.Add(time.Second)
	wantCode(t, h.post("/topapi/user/count", tok, body), "0")
	if n := h.srv.Calls()["/topapi/user/count"]; n != 22 {
		t.Errorf("Calls = %d, want 22", n)
	}
}

var re90002 = regexp.MustCompile(`^ding talk error\[subcode=90002,submsg=当前所有钉钉应用调用该接口次数过多，超出了该接口承受的最大qps，请求被暂时限制了，建议错开整点时刻调用该接口, apiPath\(dingtalk\.oapi\.v2\.department\.listsub\), 从 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) 到 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) 请求总次数超过 5 次, 限制将在 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 结束\.\]$`)

// checklist 25: global per-API QPS across apps → 90002.
func TestGlobalThrottle(t *testing.T) {
	second := sim.App{Key: "dingsimappkey0002", Secret: "simsecret-two"}
	h := newSim(t, sim.Config{Apps: []sim.App{sim.DefaultApp(), second}, QPS: 20, GlobalQPS: 5})
	a, b := h.token(), h.tokenFor(second)
	for i := 0; i < 5; i++ {
		tok := a
		if i%2 == 1 {
			tok = b
		}
		wantCode(t, h.post("/topapi/v2/department/listsub", tok, map[string]any{"dept_id": 1}), "0")
	}
	r := h.post("/topapi/v2/department/listsub", b, map[string]any{"dept_id": 1})
	wantSub(t, r, "90002")
	if !re90002.MatchString(r.str("errmsg")) {
		t.Errorf("90002 errmsg %q", r.str("errmsg"))
	}
	h.clock.Add(time.Second)
	wantCode(t, h.post("/topapi/v2/department/listsub", a, map[string]any{"dept_id": 1}), "0")
}

// checklist 25: periodic throttle bursts.
func TestThrottleBurst(t *testing.T) {
	h := newSim(t, sim.Config{Faults: sim.Faults{ThrottleBurst: 300 * time.Millisecond}})
	tok := h.token()
	body := map[string]any{"only_active": true}
	wantSub(t, h.post("/topapi/user/count", tok, body), "90018") // t=0: in the burst
	h.clock.Add(400 * time.Millisecond)
	wantCode(t, h.post("/topapi/user/count", tok, body), "0")
	h.clock.Add(1700 * time.Millisecond) // t=2.1s: next burst
	wantSub(t, h.post("/topapi/user/count", tok, body), "90018")
	h.srv.SetFaults(sim.Faults{})
	wantCode(t, h.post("/topapi/user/count", tok, body), "0")
}

// checklist 27: faults at roughly the configured rates.
func TestFaultRates(t *testing.T) {
	h := newSim(t, sim.Config{Seed: 5})
	tok := h.token()
	h.srv.SetFaults(sim.Faults{TransientRate: 0.2, HTTP5xxRate: 0.1, ResetRate: 0.1})
	const n = 600
	var transient, http5xx, resets, ok int
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("POST", h.ts.URL+"/topapi/user/count?access_token="+tok, bytes.NewReader([]byte(`{"only_active":true}`)))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			resets++
			continue
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode == 502 || res.StatusCode == 503:
			http5xx++
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(raw), "<html>") {
				t.Fatalf("5xx body %q", raw)
			}
		case strings.HasPrefix(string(raw), `{"errcode":-1,"errmsg":"系统繁忙"`):
			transient++
		case strings.HasPrefix(string(raw), `{"errcode":0`):
			ok++
		default:
			t.Fatalf("unexpected %d %s", res.StatusCode, raw)
		}
	}
	// expected: resets 60, 5xx 54, transient 97, ok 389 (±~40%)
	within := func(name string, got int, want float64) {
		if float64(got) < want*0.6 || float64(got) > want*1.4 {
			t.Errorf("%s: %d of %d, want ≈%.0f", name, got, n, want)
		}
	}
	within("resets", resets, n*0.1)
	within("http5xx", http5xx, n*0.9*0.1)
	within("transient", transient, n*0.9*0.9*0.2)
	within("ok", ok, n*0.9*0.9*0.8)
	// latency
	h.srv.SetFaults(sim.Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	wantCode(t, h.post("/topapi/user/count", tok, map[string]any{"only_active": true}), "0")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("latency %v < 50ms", d)
	}
}

// Short TokenTTL expires tokens mid-run.
func TestShortTokenTTL(t *testing.T) {
	h := newSim(t, sim.Config{Faults: sim.Faults{TokenTTL: 30 * time.Second}})
	r := h.get("/gettoken?appkey=" + sim.DefaultAppKey + "&appsecret=" + sim.DefaultApp().Secret)
	if r.num("expires_in") != "30" {
		t.Fatalf("expires_in %s", r.raw)
	}
	tok := r.str("access_token")
	h.clock.Add(31 * time.Second)
	wantSub(t, h.post("/topapi/user/count", tok, map[string]any{"only_active": true}), "40014")
}

// checklist 26: per-IP limit → block answered without the envelope.
func TestPerIPBlock(t *testing.T) {
	h := newSim(t, sim.Config{IPLimit: 10})
	tok := h.token() // 1 call
	body := map[string]any{"only_active": true}
	for i := 0; i < 9; i++ {
		wantCode(t, h.post("/topapi/user/count", tok, body), "0")
	}
	r := h.post("/topapi/user/count", tok, body)
	if r.num("status") != "1111" || r.str("punish") != "deny" || r.str("source") != "x5" || r.body["errcode"] != nil {
		t.Fatalf("blocked answer %s", r.raw)
	}
	h.clock.Add(4 * time.Minute)
	if r := h.post("/topapi/user/count", tok, body); r.num("status") != "1111" {
		t.Fatalf("block lifted early: %s", r.raw)
	}
	h.clock.Add(61 * time.Second)
	wantCode(t, h.post("/topapi/user/count", tok, body), "0")

	hh := newSim(t, sim.Config{IPLimit: 1, IPBlockHTML: true})
	hh.token()
	if r := hh.get("/gettoken"); !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.raw), "<html>") {
		t.Fatalf("HTML block: %v %s", r.header, r.raw)
	}
}

// checklist 27: a hanging request times the client out.
func TestHangFault(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	h.srv.SetFaults(sim.Faults{HangRate: 1})
	client := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := client.Post(h.ts.URL+"/topapi/user/count?access_token="+tok, "application/json", strings.NewReader(`{"only_active":true}`))
	if err == nil || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("want a client timeout, got %v after %v", err, time.Since(start))
	}
	h.srv.SetFaults(sim.Faults{})
	wantCode(t, h.post("/topapi/user/count", tok, map[string]any{"only_active": true}), "0")
}

// checklist 19: ISV apps never get the ISV-excluded fields.
func TestISVFields(t *testing.T) {
	app := sim.DefaultApp()
	app.ISV = true
	h := newSim(t, sim.Config{Apps: []sim.App{app}})
	tok := h.token()
	for _, d := range h.truth.Org.Depts[:5] {
		r := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": d.ID, "cursor": 0, "size": 100})
		wantCode(t, r, "0")
		for _, k := range []string{"mobile", "state_code", "email", "org_email", "telephone", "work_place", "remark", "extension", "hired_date"} {
			if strings.Contains(string(r.raw), `"`+k+`"`) {
				t.Errorf("ISV app got %s", k)
			}
		}
	}
}

// Concurrent clients (run with -race): every call answered, counts add up.
func TestConcurrentCalls(t *testing.T) {
	h := newSim(t, sim.Config{QPS: 1000000})
	tok := h.token()
	const workers, each = 8, 25
	errs := make(chan string, workers*each)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < each; i++ {
				d := h.truth.Org.Depts[(w*each+i)%len(h.truth.Org.Depts)].ID
				body := strings.NewReader(`{"dept_id":` + strconv.FormatInt(d, 10) + `,"cursor":0,"size":100,"order_field":"modify_desc"}`)
				res, err := http.Post(h.ts.URL+"/topapi/v2/user/list?access_token="+tok, "application/json", body)
				if err != nil {
					errs <- err.Error()
					continue
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if !strings.HasPrefix(string(raw), `{"errcode":0`) {
					errs <- string(raw)
				}
			}
		}(w)
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := h.srv.Calls()["/topapi/v2/user/list"]; n != workers*each {
		t.Errorf("Calls %d, want %d", n, workers*each)
	}
}
