package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// pullEnv is an Env talking to a simulator serving a small org with app.
func pullEnv(t *testing.T, app sim.App, extra map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer, string) {
	t.Helper()
	truth := gen.Generate(gen.Options{Users: 300, Depts: 30, Seed: 1})
	ts := httptest.NewServer(sim.New(sim.Config{Truth: truth, Apps: []sim.App{app}, QPS: 500}))
	t.Cleanup(ts.Close)
	home := filepath.Join(t.TempDir(), "home")
	vars := map[string]string{
		"DINGBOOK_HOME": home, "DINGTALK_API_BASE": ts.URL,
		"DINGTALK_APP_KEY": app.Key, "DINGTALK_APP_SECRET": app.Secret,
	}
	for k, v := range extra {
		vars[k] = v
	}
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return vars[k] },
		Now:    func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) },
		Actor:  "tester", Dir: t.TempDir(),
	}
	return env, &out, &errb, home
}

func noSecret(t *testing.T, app sim.App, bufs ...*bytes.Buffer) {
	t.Helper()
	for _, b := range bufs {
		if strings.Contains(b.String(), app.Secret) {
			t.Fatal("the app secret was printed")
		}
	}
}

func TestPullCommandJSON(t *testing.T) {
	app := sim.DefaultApp()
	env, out, errb, home := pullEnv(t, app, nil)
	if code := Main(context.Background(), []string{"pull", "--json", "--qps", "500"}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum map[string]any
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"departments", "people", "api_calls", "complete", "snapshot_id", "org_count", "restricted", "problems", "duration_ms"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	if sum["people"] != 300.0 || sum["departments"] != 30.0 || sum["complete"] != true || sum["restricted"] != -1.0 {
		t.Errorf("summary %v", sum)
	}
	if !strings.Contains(errb.String(), "COMPLETE") || strings.Contains(errb.String(), "\r") {
		t.Errorf("stderr (not a terminal) should carry the receipt and no progress bar:\n%s", errb)
	}
	noSecret(t, app, out, errb)
	db, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list, _ := db.Snapshots(context.Background())
	if len(list) != 1 || !list[0].Complete || list[0].People != 300 {
		t.Fatalf("snapshots %+v", list)
	}
	fi, err := os.Stat(filepath.Join(home, store.DBName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state database mode %v %v", fi.Mode(), err)
	}
	out.Reset()
	if code := Main(context.Background(), []string{"snapshots"}, env); code != ExitOK || !strings.Contains(out.String(), "示例科技有限公司") {
		t.Errorf("snapshots: exit %d\n%s", code, out)
	}
}

func TestPullProgressOnTerminal(t *testing.T) {
	env, _, errb, _ := pullEnv(t, sim.DefaultApp(), nil)
	env.StderrIsTTY = true
	if code := Main(context.Background(), []string{"pull", "--qps", "500"}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(errb.String(), "\r") || !strings.Contains(errb.String(), "departments,") {
		t.Errorf("no progress bar on a terminal:\n%q", errb.String())
	}
}

func TestPullRestrictedRange(t *testing.T) {
	app := sim.DefaultApp()
	truth := gen.Generate(gen.Options{Users: 300, Depts: 30, Seed: 1})
	app.RangeDepts = []int64{truth.Org.Depts[1].ID}
	env, out, errb, _ := pullEnv(t, app, nil)
	code := Main(context.Background(), []string{"pull", "--qps", "500"}, env)
	if code != ExitIncomplete {
		t.Fatalf("exit %d, want %d: %s", code, ExitIncomplete, errb)
	}
	s := errb.String()
	for _, want := range []string{"INCOMPLETE", "outside the app's contact range", "通讯录权限范围", "全部员工", "--allow-partial", "departments are outside the app's contact range: 1, "} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
	// With --allow-partial the snapshot is stored, marked incomplete.
	errb.Reset()
	if code := Main(context.Background(), []string{"pull", "--allow-partial", "--json", "--qps", "500"}, env); code != ExitOK {
		t.Fatalf("--allow-partial: exit %d: %s", code, errb)
	}
	if !strings.Contains(errb.String(), "resumed") {
		t.Errorf("the second run did not resume from the checkpoint:\n%s", errb)
	}
	var sum PullSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Complete || !sum.Stored || sum.SnapshotID == 0 || len(sum.OutOfRange) == 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestPullMissingScope(t *testing.T) {
	app := sim.DefaultApp()
	app.Scopes = []string{"qyapi_base", "qyapi_get_department_list", "qyapi_get_member"}
	env, _, errb, _ := pullEnv(t, app, nil)
	code := Main(context.Background(), []string{"pull"}, env)
	if code != ExitPerm {
		t.Fatalf("exit %d, want %d: %s", code, ExitPerm, errb)
	}
	s := errb.String()
	for _, want := range []string{"qyapi_get_department_member", "open-dev.dingtalk.com", "权限管理", "topapi/v2/user/list"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
}

func TestPullIPWhitelist(t *testing.T) {
	app := sim.DefaultApp()
	app.IPWhitelist = []string{"203.0.113.9"}
	env, _, errb, _ := pullEnv(t, app, nil)
	code := Main(context.Background(), []string{"pull"}, env)
	if code != ExitPerm {
		t.Fatalf("exit %d, want %d: %s", code, ExitPerm, errb)
	}
	s := errb.String()
	for _, want := range []string{"127.0.0.1", "whitelist", "服务器出口IP"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
}

func TestPullBadSecret(t *testing.T) {
	app := sim.DefaultApp()
	wrong := "not-the-secret-0123456789"
	env, out, errb, _ := pullEnv(t, app, map[string]string{"DINGTALK_APP_SECRET": wrong})
	code := Main(context.Background(), []string{"pull"}, env)
	if code != ExitAuth {
		t.Fatalf("exit %d, want %d: %s", code, ExitAuth, errb)
	}
	s := errb.String()
	for _, want := range []string{"app key or app secret", "DINGTALK_APP_SECRET", "40096"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s+out.String(), wrong) {
		t.Error("the secret was printed")
	}
}

func TestPullProfileSecretFromEnv(t *testing.T) {
	app := sim.DefaultApp()
	env, _, errb, home := pullEnv(t, app, map[string]string{"DINGTALK_APP_KEY": "", "DINGTALK_APP_SECRET": "", "ACME_SECRET": app.Secret})
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "profiles:\n  acme:\n    app_key: " + app.Key + "\n    app_secret_env: ACME_SECRET\n    qps: 500\n"
	if err := os.WriteFile(filepath.Join(home, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), []string{"pull", "--config-profile", "acme"}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(errb.String(), "profile acme") {
		t.Errorf("receipt does not name the profile:\n%s", errb)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"pull", "--config-profile", "nope"}, env); code != ExitUsage || !strings.Contains(errb.String(), "acme") {
		t.Errorf("unknown profile: exit %d\n%s", code, errb)
	}
	// A secret file next to the config.
	if err := os.WriteFile(filepath.Join(home, "secret"), []byte(app.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = "default_profile: filed\nprofiles:\n  filed:\n    app_key: " + app.Key + "\n    app_secret_file: secret\n"
	if err := os.WriteFile(filepath.Join(home, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"check"}, env); code != ExitOK {
		t.Fatalf("check with default profile: exit %d: %s", code, errb)
	}
	noSecret(t, app, errb)
}

func TestCheckCommand(t *testing.T) {
	app := sim.DefaultApp()
	env, out, errb, _ := pullEnv(t, app, nil)
	if code := Main(context.Background(), []string{"check", "--json"}, env); code != ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errb, out)
	}
	var rep CheckReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || !rep.Token || !rep.WholeOrg || len(rep.Admins) == 0 || rep.Fields["mobile"] != "readable" || rep.Fields["email"] != "readable" {
		t.Errorf("report %+v", rep)
	}
	noSecret(t, app, out, errb)

	// Missing member scope, no mobile field, narrow range.
	app.Scopes = []string{"qyapi_base", "qyapi_get_department_list", "qyapi_get_department_member"}
	app.NoMobileField = true
	app.RangeDepts = []int64{1}
	env, _, errb, _ = pullEnv(t, app, nil)
	code := Main(context.Background(), []string{"check"}, env)
	if code != ExitPerm {
		t.Fatalf("exit %d, want %d: %s", code, ExitPerm, errb)
	}
	s := errb.String()
	for _, want := range []string{"MISSING", "qyapi_get_member", "权限管理", "企业员工手机号信息"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
}

func TestPullVerboseLogsNoSecrets(t *testing.T) {
	app := sim.DefaultApp()
	truth := gen.Generate(gen.Options{Users: 200, Depts: 20, Seed: 2})
	s := sim.New(sim.Config{Truth: truth, QPS: 500, Faults: sim.Faults{TransientRate: 0.2, HTTP5xxRate: 0.05}})
	ts := httptest.NewServer(s)
	defer ts.Close()
	env, out, errb, _ := pullEnv(t, app, map[string]string{"DINGTALK_API_BASE": ts.URL})
	go func() { time.Sleep(50 * time.Millisecond); s.ExpireTokens() }()
	if code := Main(context.Background(), []string{"pull", "-v", "--qps", "500"}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(errb.String(), "retry") {
		t.Errorf("-v logged no retry:\n%s", errb)
	}
	noSecret(t, app, out, errb)
	if strings.Contains(errb.String(), "access_token=") && !strings.Contains(errb.String(), "access_token=REDACTED") {
		t.Error("a token was logged")
	}
}
