package serve_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin pages in Debian's chromium: a sub-admin reaches them from the
// nav bar's Admin link, sees both charts drawn (the stylesheet applied,
// the hostile department name as text, no dialog) and no department
// outside their scope; the primary admin's "Pull now" button starts a
// pull and lands on its page; an employee's nav bar has no Admin link.
func TestRealBrowserAdminPages(t *testing.T) {
	e, c := newAdminEnv(t)
	paths := deptPaths(t, e)
	rb := newRealBrowser(t)
	shots := t.TempDir()

	t.Run("sub-admin", func(t *testing.T) {
		ctx := rb.tab(20 * time.Second)
		browserLogin(t, ctx, e, c.sub)
		do(t, ctx, "following the Admin link", chromedp.Click(chromedp.CSS(`nav.top a[href="/admin"]`)))
		waitURL(t, ctx, "the Admin link", func(u *url.URL) bool { return u.Path == "/admin" })
		do(t, ctx, "opening Quality", chromedp.Click(chromedp.CSS(`nav.subnav a[href="/admin/quality"]`)))
		waitURL(t, ctx, "the Quality link", func(u *url.URL) bool { return u.Path == "/admin/quality" })
		// both charts laid out with a size, the labels as text
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("svg.chart")].filter(s => s.getBoundingClientRect().width > 300 && s.querySelectorAll("rect").length > 0).length`))
		if err != nil || n != 2 {
			t.Errorf("%d charts drawn (%v), want 2", n, err)
		}
		labels, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("svg.chart title")].map(t => t.textContent).join("\n")`))
		if err != nil || !strings.Contains(labels, hostileDept) {
			t.Errorf("the chart's titles lack %q as text (%v):\n%s", hostileDept, err, labels)
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`)); n != 0 {
			t.Errorf("the page has %d script elements", n)
		}
		// the stylesheet is applied (style-src 'self')
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("thead th")).backgroundColor`))
		if err != nil || bg != "rgb(242, 244, 246)" {
			t.Errorf("table heads have background %q (%v): the stylesheet did not apply", bg, err)
		}
		if body := textOf(t, ctx); strings.Contains(body, paths[c.outside]+"\t") || strings.Contains(labels, paths[c.outside]+":") {
			t.Errorf("the sub-admin's quality page shows %q, outside their scope", paths[c.outside])
		}
		screenshot(t, ctx, shots, "admin-quality-sub")
		if d := rb.dialogsSeen(); len(d) != 0 {
			t.Errorf("pages opened dialogs: %q", d)
		}
	})

	t.Run("primary admin pulls", func(t *testing.T) {
		ctx := rb.tab(30 * time.Second)
		browserLogin(t, ctx, e, c.primary)
		do(t, ctx, "opening the pulls page", chromedp.Navigate(e.url+"/admin/pulls"))
		do(t, ctx, "clicking Pull now", chromedp.Click(chromedp.CSS(`form[action="/admin/pulls"] button`)))
		u := waitURL(t, ctx, "the pull's page", func(u *url.URL) bool { return strings.HasPrefix(u.Path, "/admin/pulls/") })
		e.srv.WaitPulls()
		do(t, ctx, "reloading the pull's page", chromedp.Navigate(u.String()))
		if body := textOf(t, ctx); !strings.Contains(body, "done") || !strings.Contains(body, "Complete") {
			t.Errorf("the pull's page after the pull:\n%s", body)
		}
		screenshot(t, ctx, shots, "admin-pull")
	})

	t.Run("employee", func(t *testing.T) {
		ctx := rb.tab(20 * time.Second)
		browserLogin(t, ctx, e, c.emp)
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/admin"]').length`))
		if err != nil || n != 0 {
			t.Errorf("the employee's page has %d Admin links (%v)", n, err)
		}
	})
}
