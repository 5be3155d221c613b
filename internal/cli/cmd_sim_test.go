package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/stream"
	"github.com/dingbook/dingbook/source/gen"
)

// runSimCmd starts "dingbook sim args..." in-process and returns its
// base URL, key and secret (parsed from the export lines) and a stop
// function returning the exit code.
func runSimCmd(t *testing.T, args ...string) (base, key, secret string, stop func() int) {
	t.Helper()
	exports, stop := runSimExports(t, args...)
	return exports["DINGTALK_API_BASE"], exports["DINGTALK_APP_KEY"], exports["DINGTALK_APP_SECRET"], stop
}

// runSimExports starts "dingbook sim args..." in-process and returns every
// "export NAME=VALUE" line it printed and a stop function.
func runSimExports(t *testing.T, args ...string) (exports map[string]string, stop func() int) {
	t.Helper()
	ready := make(chan string, 1)
	simReady = func(addr string) { ready <- addr }
	t.Cleanup(func() { simReady = nil })
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append([]string{"sim", "--addr", "127.0.0.1:0"}, args...), env) }()
	select {
	case <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("sim exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("sim did not start")
	}
	exports = map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			exports[k] = v
		}
	}
	if exports["DINGTALK_API_BASE"] == "" || exports["DINGTALK_APP_KEY"] == "" || exports["DINGTALK_APP_SECRET"] == "" {
		cancel()
		t.Fatalf("stdout lacks the export lines: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "dingbook sim: serving") {
		t.Errorf("stderr summary: %q", stderr.String())
	}
	return exports, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(5 * time.Second):
			t.Fatal("sim did not stop")
			return -1
		}
	}
}

func simCount(t *testing.T, base, key, secret string) string {
	t.Helper()
	res, err := http.Get(base + "/gettoken?appkey=" + key + "&appsecret=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	res, err = http.Post(base+"/topapi/user/count?access_token="+tok.AccessToken, "application/json", strings.NewReader(`{"only_active":false}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Errcode int `json:"errcode"`
		Result  struct {
			Count json.Number `json:"count"`
		} `json:"result"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	return out.Result.Count.String()
}

func TestSimCommandGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "truth.json")
	base, key, secret, stop := runSimCmd(t, "--users", "57", "--depts", "6", "--seed", "3", "--transient", "0", "--truth-out", out)
	if got := simCount(t, base, key, secret); got != "57" {
		t.Errorf("count %q, want 57", got)
	}
	tr, err := gen.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want := gen.Generate(gen.Options{Users: 57, Depts: 6, Seed: 3})
	if len(tr.Org.People) != 57 || len(tr.Problems) != len(want.Problems) || tr.Org.People[9].Name != want.Org.People[9].Name {
		t.Errorf("--truth-out wrote %d people, %d problems", len(tr.Org.People), len(tr.Problems))
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("truth file mode %v %v", st.Mode(), err)
	}
	if code := stop(); code != ExitOK {
		t.Errorf("exit %d", code)
	}
}

func TestSimCommandOrgFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.yaml")
	os.WriteFile(path, []byte("name: T\ndepartments: [{dept_id: 1, name: T}]\npeople:\n  - {userid: a, name: A}\n  - {userid: b, name: B}\n"), 0o600)
	base, key, secret, stop := runSimCmd(t, "--org", path)
	if got := simCount(t, base, key, secret); got != "2" {
		t.Errorf("count %q, want 2", got)
	}
	stop()
}

func TestSimCommandBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--empty", "blank"}, ExitUsage, "--empty"},
		{[]string{"--expired-code", "1"}, ExitUsage, "--expired-code"},
		{[]string{"--transient", "2"}, ExitUsage, "--transient"},
		{[]string{"--range-depts", "x"}, ExitUsage, "--range-depts"},
		{[]string{"--org", "/nonexistent/org.json"}, ExitNotFound, "/nonexistent/org.json"},
		{[]string{"--bogus"}, ExitUsage, "bogus"},
	} {
		var stdout, stderr bytes.Buffer
		env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now}
		code := Main(context.Background(), append([]string{"sim", "--addr", "127.0.0.1:0"}, c.args...), env)
		if code != c.code || !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), "hint:") {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: stdout %q", c.args, stdout.String())
		}
	}
}

func TestSimCommandOptions(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 30, Depts: 5, Seed: 2})
	d := strconv.FormatInt(tr.Org.Depts[2].ID, 10)
	base, key, secret, stop := runSimCmd(t, "--users", "30", "--depts", "5", "--seed", "2", "--range-depts", d, "--string-numbers", "--no-mobile-field")
	defer stop()
	res, err := http.Get(base + "/gettoken?appkey=" + key + "&appsecret=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	res, err = http.Get(base + "/auth/scopes?access_token=" + tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(raw), `"authed_dept":["`+d+`"]`) || !strings.Contains(string(raw), `"errcode":"0"`) || strings.Contains(string(raw), `"mobile"`) {
		t.Errorf("auth/scopes %s", raw)
	}
}

// --churn changes the org and fires events a Stream client receives;
// --dup-events sends each twice.
func TestSimCommandChurnEvents(t *testing.T) {
	base, key, secret, stop := runSimCmd(t, "--users", "60", "--depts", "6", "--churn", "15ms", "--dup-events", "--ack-timeout", "1s")
	c := stream.New(stream.Config{APIBase: base, ClientID: key, ClientSecret: secret})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var types []string
	err := c.Run(ctx, func(ctx context.Context, ev stream.Event) error {
		if ev.ID == "" || len(ev.UserIDs) != 1 {
			t.Errorf("event %+v", ev)
		}
		types = append(types, ev.Type)
		if len(types) == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(types) < 5 {
		t.Fatalf("Run: %v after %v", err, types)
	}
	if st := c.Stats(); st.Duplicates == 0 {
		t.Errorf("--dup-events: no duplicate seen (%+v)", st)
	}
	if code := stop(); code != ExitOK {
		t.Fatalf("sim exit %d", code)
	}
}
