package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/serve"
)

// chromiumPath is Debian's chromium, which scripts/test.sh installs; the
// real-browser tests fail (never skip) without it.
const chromiumPath = "/usr/bin/chromium"

// realBrowser is one headless chromium for a test, and the dialogs
// (alert, confirm, prompt) any of its pages opened.
type realBrowser struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	dialogs []string
}

func newRealBrowser(t *testing.T) *realBrowser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the real-browser tests need Debian's chromium (apt-get install chromium; scripts/test.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"), // --headless=new
		chromedp.NoSandbox,               // root in a container
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// start the browser on the context that lives as long as the test
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return &realBrowser{t: t, ctx: ctx}
}

// tab is a fresh browser context (its own cookies) with one tab, which
// records every JavaScript dialog its pages open; every step of a flow
// must end within the timeout.
func (rb *realBrowser) tab(timeout time.Duration) context.Context {
	rb.t.Helper()
	var ctx context.Context
	ctx, cancel := chromedp.NewContext(rb.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			rb.mu.Lock()
			rb.dialogs = append(rb.dialogs, string(d.Type)+": "+d.Message)
			rb.mu.Unlock()
			// dismiss it, so that the page goes on and the test
			// reports it instead of waiting for the timeout (a
			// listener must not run a command itself)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
		}
	}))
	rb.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		rb.t.Fatalf("opening a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, timeout)
	rb.t.Cleanup(tcancel)
	return tctx
}

func (rb *realBrowser) dialogsSeen() []string {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return slices.Clone(rb.dialogs)
}

// do runs the steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// textOf is the visible text of the page's body.
func textOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return s
}

// waitURL waits until the tab's location passes ok and its document has
// loaded (a click or a form submission navigates after the action
// returns); it returns the location. A read that meets the navigation
// itself ("Inspected target navigated or closed") is tried again: the
// page is still changing.
func waitURL(t *testing.T, ctx context.Context, what string, ok func(*url.URL) bool) *url.URL {
	t.Helper()
	var last string
	for {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? document.location.href : ""`))
		if err == nil && s != "" {
			last = s
			if u, perr := url.Parse(s); perr == nil && ok(u) {
				return u
			}
		}
		if err != nil && !strings.Contains(err.Error(), "navigated") && !strings.Contains(err.Error(), "context") {
			t.Fatalf("%s: %v", what, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still at %s", what, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func locationOf(t *testing.T, ctx context.Context) *url.URL {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// screenshot saves the viewport into dir/name.png and checks it is a
// non-empty PNG.
func screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() == 0 || img.Bounds().Dy() == 0 {
		t.Fatalf("screenshot %s is not a non-empty PNG (%d bytes): %v", name, len(b), err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("DINGBOOK_SCREENSHOTS"); d != "" { // to look at them
		_ = os.WriteFile(filepath.Join(d, name+".png"), b, 0o600)
	}
	return path
}

// browserLogin opens the portal's login in the tab and, on the
// simulator's DingTalk login page, clicks the person's button.
func browserLogin(t *testing.T, ctx context.Context, e *env, userid string) {
	t.Helper()
	do(t, ctx, "opening /login", chromedp.Navigate(e.url+"/login"))
	if u := locationOf(t, ctx); u.Path != "/oauth2/auth" || !strings.HasPrefix(u.String(), e.simURL) {
		t.Fatalf("/login did not lead to the simulator's login page but to %s", u)
	}
	if strings.Contains(locationOf(t, ctx).RawQuery, "sim_user") {
		t.Fatal("the login page was skipped")
	}
	do(t, ctx, "clicking "+userid+" on the DingTalk login page",
		chromedp.Click(chromedp.CSS(`button[name="sim_user"][value="`+userid+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)))
	if u := locationOf(t, ctx); !strings.HasPrefix(u.String(), e.url+"/") {
		t.Fatalf("the login ended at %s, not the portal", u)
	}
}

// meOf reads /api/v1/me in the tab, with the tab's session cookie.
func meOf(t *testing.T, ctx context.Context, e *env) serve.Me {
	t.Helper()
	do(t, ctx, "opening /api/v1/me", chromedp.Navigate(e.url+"/api/v1/me"))
	var m serve.Me
	if body := textOf(t, ctx); json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("/api/v1/me in the browser: %s", body)
	}
	return m
}

// search types q into the search form and submits it.
func search(t *testing.T, ctx context.Context, e *env, q string) string {
	t.Helper()
	do(t, ctx, "searching "+q,
		chromedp.Navigate(e.url+"/"),
		chromedp.SendKeys(chromedp.CSS("#q"), q),
		chromedp.Submit(chromedp.CSS("#q")))
	waitURL(t, ctx, "the search form sending q="+q, func(u *url.URL) bool { return u.Path == "/" && u.Query().Get("q") == q })
	return textOf(t, ctx)
}

// The portal in Debian's chromium (issue 10, "Real browser"): an employee
// logs in through the simulator's DingTalk page, searches in Chinese and
// pinyin, sees a hidden mobile hidden and switches to Indonesian; a name
// built as an attack renders as text and opens no dialog; a sub-admin sees
// their scope and not a restricted person outside it.
func TestRealBrowser(t *testing.T) {
	start := time.Now()
	e, c := newDirEnv(t)
	rb := newRealBrowser(t)
	shots := t.TempDir()

	// the dialog check sees a dialog when a page opens one
	probe := rb.tab(10 * time.Second)
	do(t, probe, "opening a page that alerts", chromedp.Navigate(`data:text/html,<script>alert("probe")</script><p>probed</p>`))
	if body := textOf(t, probe); body != "probed" || !slices.Equal(rb.dialogsSeen(), []string{"alert: probe"}) {
		t.Fatalf("the dialog listener saw %q (page %q), want the probe's alert", rb.dialogsSeen(), body)
	}
	rb.mu.Lock()
	rb.dialogs = nil
	rb.mu.Unlock()

	t.Run("employee", func(t *testing.T) {
		ctx := rb.tab(20 * time.Second)
		browserLogin(t, ctx, e, c.emp)
		if m := meOf(t, ctx, e); m.UserID != c.emp {
			t.Fatalf("logged in as %q, want %q", m.UserID, c.emp)
		}
		for _, q := range []string{"张", "zhang", "zsf"} {
			if body := search(t, ctx, e, q); !strings.Contains(body, "张三丰") {
				t.Errorf("searching %q: the results lack 张三丰:\n%s", q, body)
			}
		}
		// open the person from the results, by clicking
		do(t, ctx, "opening 张三丰", chromedp.Click(chromedp.CSS(`a[href="/people/`+c.hidden+`"]`)))
		waitURL(t, ctx, "clicking 张三丰", func(u *url.URL) bool { return u.Path == "/people/"+c.hidden })
		body := textOf(t, ctx)
		if !strings.Contains(body, "张三丰") || !strings.Contains(body, "Hidden") || strings.Contains(body, c.hiddenMobile) {
			t.Errorf("the person page does not show the mobile as hidden:\n%s", body)
		}
		// Indonesian, through the footer's form
		do(t, ctx, "switching to Indonesian",
			chromedp.SetValue(chromedp.CSS("#lang"), "id"),
			chromedp.Submit(chromedp.CSS("#lang")),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="id"]`)))
		if u := locationOf(t, ctx); u.Path != "/people/"+c.hidden {
			t.Errorf("the language switch did not return to the page but to %s", u)
		}
		body = textOf(t, ctx)
		if !strings.Contains(body, "Disembunyikan") || strings.Contains(body, c.hiddenMobile) {
			t.Errorf("the person page in Indonesian does not say Disembunyikan:\n%s", body)
		}
		screenshot(t, ctx, shots, "employee")
		if resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.url+"/metrics")); err != nil || resp.Status != 403 {
			t.Errorf("the employee opens /metrics: %v %v, want 403", statusOf(resp), err)
		}
	})

	t.Run("xss", func(t *testing.T) {
		ctx := rb.tab(20 * time.Second)
		browserLogin(t, ctx, e, c.emp)
		body := search(t, ctx, e, "onerror")
		if !strings.Contains(body, xssName) {
			t.Errorf("the search results do not show the name %q as text:\n%s", xssName, body)
		}
		do(t, ctx, "opening the person", chromedp.Click(chromedp.CSS(`a[href="/people/`+c.xss+`"]`)))
		waitURL(t, ctx, "clicking the name", func(u *url.URL) bool { return u.Path == "/people/"+c.xss })
		h1, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
		if err != nil || h1 != xssName {
			t.Errorf("the heading is %q (%v), want the name as text", h1, err)
		}
		// no element the name would have made
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
		if err != nil || n != 0 {
			t.Errorf("the page has %d img elements (%v)", n, err)
		}
		screenshot(t, ctx, shots, "xss")
		if d := rb.dialogsSeen(); len(d) != 0 {
			t.Errorf("pages opened dialogs: %q", d)
		}
	})

	t.Run("sub-admin", func(t *testing.T) {
		ctx := rb.tab(20 * time.Second)
		browserLogin(t, ctx, e, c.sub)
		m := meOf(t, ctx, e)
		var want []int64
		for _, a := range e.sim.Admins() {
			if a.UserID == c.sub {
				want = a.Scope
			}
		}
		if m.UserID != c.sub || !slices.Contains(m.Roles, app.RoleSubAdmin) || len(want) == 0 || !sameInts(m.AdminScope, want) {
			t.Errorf("the sub-admin's /api/v1/me: %+v, want scope %v", m, want)
		}
		// the restricted person of their scope opens; the one outside is 404
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.url+"/people/"+c.rIn))
		if err != nil || resp.Status != 200 {
			t.Errorf("the sub-admin opens the restricted %s in scope: %v %v", c.rIn, statusOf(resp), err)
		}
		screenshot(t, ctx, shots, "sub-admin")
		resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(e.url+"/people/"+c.rOut))
		if err != nil || resp.Status != 404 {
			t.Errorf("the sub-admin opens the restricted %s outside scope: %v %v", c.rOut, statusOf(resp), err)
		}
		if body := textOf(t, ctx); strings.Contains(body, c.rOutMobile) {
			t.Errorf("the 404 page shows %s's mobile", c.rOut)
		}
		// the admin pages on main: the metrics are for admins, the audit
		// head for the primary admin only
		for path, want := range map[string]int64{"/metrics": 200, "/api/v1/audit/head": 403} {
			if resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.url+path)); err != nil || resp.Status != want {
				t.Errorf("the sub-admin opens %s: %v %v, want %d", path, statusOf(resp), err, want)
			}
		}
	})

	if d := rb.dialogsSeen(); len(d) != 0 {
		t.Errorf("pages opened dialogs: %q", d)
	}
	t.Logf("real-browser flows took %v", time.Since(start).Round(time.Millisecond))
}

func statusOf(r *network.Response) any {
	if r == nil {
		return "no response"
	}
	return r.Status
}

func sameInts(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
