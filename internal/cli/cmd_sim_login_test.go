package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/gen"
)

// The export lines of "dingbook sim" configure a client that logs in
// through the simulator's login page and sends work notices.
func TestSimExportsLoginConfig(t *testing.T) {
	exports, stop := runSimExports(t, "--users", "60", "--depts", "5", "--seed", "4", "--qps", "0")
	defer stop()
	for _, k := range []string{"DINGTALK_API_V1_BASE", "DINGTALK_LOGIN_BASE", "DINGTALK_CORP_ID", "DINGTALK_AGENT_ID"} {
		if exports[k] == "" {
			t.Fatalf("sim printed no export %s: %v", k, exports)
		}
	}
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(k string) string { return exports[k] }, Now: time.Now}
	c, _, err := newClient(env, &credFlags{})
	if err != nil {
		t.Fatal(err)
	}
	callback := "https://portal.example.com/auth/dingtalk/callback"
	auth := c.AuthorizeURL(callback, "s1")
	if !strings.HasPrefix(auth, exports["DINGTALK_LOGIN_BASE"]+"/oauth2/auth?") || !strings.Contains(auth, "corpId="+exports["DINGTALK_CORP_ID"]) {
		t.Fatalf("authorize URL %s", auth)
	}
	var primary string
	for _, a := range gen.Generate(gen.Options{Users: 60, Depts: 5, Seed: 4}).Admins {
		if a.SysLevel == 1 {
			primary = a.UserID
		}
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(auth + "&sim_user=" + primary)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login page: HTTP %d %v", resp.StatusCode, err)
	}
	code, err := dingtalk.CallbackCode(loc.Query())
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.LoginWithCode(context.Background(), code)
	if err != nil || id.UserID != primary || id.SysLevel != 1 || id.CorpID != exports["DINGTALK_CORP_ID"] {
		t.Fatalf("login: %+v %v", id, err)
	}
	if tasks, err := c.SendWorkNotice(context.Background(), dingtalk.WorkNotice{UserIDs: []string{primary}, Msg: dingtalk.TextMsg("hello")}); err != nil || len(tasks) != 1 {
		t.Fatalf("work notice: %v %v", tasks, err)
	}

	exports["DINGTALK_AGENT_ID"] = "abc"
	_, _, err = newClient(env, &credFlags{})
	if dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "DINGTALK_AGENT_ID") {
		t.Errorf("a bad DINGTALK_AGENT_ID: %v", err)
	}
}

func TestSimLoginFlagsChecked(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now}
	code := Main(context.Background(), []string{"sim", "--addr", "127.0.0.1:0", "--token-corpid", "sometimes"}, env)
	if code == 0 || !strings.Contains(stderr.String(), "--token-corpid") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
