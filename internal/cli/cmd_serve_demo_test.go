package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/serve"
)

// serve --demo with nothing configured: it pulls the generated
// organisation (receipt COMPLETE), prints three login links that each log
// a browser in through the simulator's login page in one click, with the
// roles DingTalk gives them, and stops on Ctrl-C (a cancelled context).
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Actor: "tester", Dir: dir}
	addr, stop := startServe(t, env, &stderr, "serve", "--demo", "--addr", "127.0.0.1:0", "--demo-dir", "portal-demo")
	out := stdout.String()
	base := "http://" + addr
	if !strings.Contains(out, "Portal    "+base+"/\n") {
		t.Errorf("no portal URL in %q", out)
	}
	if !regexp.MustCompile(`pulled 200 people in \d+ departments, .* receipt: COMPLETE`).MatchString(stderr.String()) {
		t.Errorf("no receipt line in %q", stderr.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "portal-demo", "state"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v %v", fi, err)
	}
	for _, tc := range []struct {
		role  string
		roles []string
	}{
		{"primary admin", []string{"employee", "admin"}},
		{"sub-admin", []string{"employee", "sub-admin"}},
		{"employee", []string{"employee"}},
	} {
		m := regexp.MustCompile(`(?m)^  ` + tc.role + ` +(http://\S+)  \(.+\)$`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no %s link in %q", tc.role, out)
			continue
		}
		link := m[1]
		if !strings.HasPrefix(link, base+"/login?") {
			t.Errorf("%s: the link %s is not the portal's", tc.role, link)
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := browser.Get(link)
		if err != nil {
			t.Fatalf("%s: %v", tc.role, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Request.URL.String() != base+"/" {
			t.Errorf("%s: the link ended at %s with HTTP %d", tc.role, resp.Request.URL, resp.StatusCode)
		}
		resp, err = browser.Get(base + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		var me serve.Me
		err = json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: /api/v1/me: HTTP %d, %v", tc.role, resp.StatusCode, err)
		}
		if !slices.Equal(me.Roles, tc.roles) || me.Name == "" || !strings.Contains(link, me.UserID) {
			t.Errorf("%s: me %+v, want roles %v", tc.role, me, tc.roles)
		}
		// the directory is served from the demo's pull (a snapshot that
		// marks restricted staff, as the portal requires)
		resp, err = browser.Get(base + "/api/v1/departments")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: /api/v1/departments: HTTP %d", tc.role, resp.StatusCode)
		}
		switch tc.role {
		case "primary admin":
			if !slices.Equal(me.AdminScope, []int64{dingbook.RootDeptID}) {
				t.Errorf("primary admin scope %v", me.AdminScope)
			}
		case "sub-admin":
			if len(me.AdminScope) == 0 || slices.Contains(me.AdminScope, dingbook.RootDeptID) {
				t.Errorf("sub-admin scope %v", me.AdminScope)
			}
		case "employee":
			if len(me.AdminScope) != 0 {
				t.Errorf("employee scope %v", me.AdminScope)
			}
		}
	}
	stop()
	if strings.Contains(stdout.String()+stderr.String(), "simsecret-") {
		t.Error("the simulator app's secret was printed")
	}
}

// A busy --addr is named as busy before any work (no simulator, no pull).
func TestServeAddrBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Dir: dir}
	code := Main(context.Background(), []string{"serve", "--demo", "--addr", ln.Addr().String()}, env)
	if code != 2 || !strings.Contains(stderr.String(), "--addr "+ln.Addr().String()+" is busy") || !strings.Contains(stderr.String(), "choose a free address") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "pulling") {
		t.Errorf("pulled before listening: %q", stderr.String())
	}
}
