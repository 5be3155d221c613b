package serve_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/serve"
)

// inputValue is the value of the input with id in a page.
func inputValue(page, id string) string {
	m := regexp.MustCompile(`id="` + id + `"[^>]*value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestDevicesPage(t *testing.T) {
	e, c := newDirEnv(t)
	b := e.browser(c.emp).login()
	resp, page := b.lang("GET", e.url+"/me/devices", "en", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "You have no app passwords.") || !strings.Contains(page, `action="/me/devices"`) {
		t.Fatalf("GET /me/devices: %d %s", resp.StatusCode, page)
	}
	// create: the password, the user name and the CardDAV address, once,
	// with the how-to of each client
	resp, page = b.form("/me/devices", url.Values{"name": {" Pixel 9 "}}, "en")
	pass, user, davURL := inputValue(page, "password"), inputValue(page, "username"), inputValue(page, "carddav-url")
	if resp.StatusCode != 201 || len(pass) < 40 || user != c.emp || davURL != e.url+"/dav/" {
		t.Fatalf("POST /me/devices: %d user %q url %q: %s", resp.StatusCode, user, davURL, page)
	}
	host := strings.TrimPrefix(e.url, "http://")
	for _, want := range []string{"App password created for Pixel 9", "shown only this once", "Add CardDAV Account", "Server " + host,
		"DAVx⁵", "base URL " + davURL, "Thunderbird", "location " + davURL} {
		if !strings.Contains(page, want) {
			t.Errorf("the created page lacks %q", want)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page with the password may be cached: %q", resp.Header.Get("Cache-Control"))
	}
	// the password works for CardDAV; the list shows its last use and
	// never the password again
	dev := device{b: e.browser(""), user: user, pass: pass}
	if resp, out := dev.req("PROPFIND", "/dav/", "", http.Header{"Depth": {"0"}}); resp.StatusCode != 207 {
		t.Fatalf("PROPFIND with the page's password: %d %s", resp.StatusCode, out)
	}
	resp, page = b.lang("GET", e.url+"/me/devices", "en", nil)
	if resp.StatusCode != 200 || strings.Contains(page, pass) || !strings.Contains(page, "<td>Pixel 9</td>") || strings.Contains(page, ">never<") {
		t.Errorf("the list after a use: %d %s", resp.StatusCode, page)
	}
	var list serve.AppPasswords
	if st := b.getJSON("/api/v1/app-passwords", &list); st != 200 || len(list.AppPasswords) != 1 || list.AppPasswords[0].LastUsed == nil ||
		!strings.Contains(page, list.AppPasswords[0].LastUsed.UTC().Format("2006-01-02 15:04 UTC")) {
		t.Fatalf("the list's last use: %+v", list)
	}
	id := list.AppPasswords[0].ID
	// another device, never used, in Chinese
	resp, page = b.form("/me/devices", url.Values{"name": {"iPad"}}, "zh")
	if resp.StatusCode != 201 || !strings.Contains(page, "已为 iPad 创建应用密码") || !strings.Contains(page, "从未使用") || !strings.Contains(page, "添加 CardDAV 账户") {
		t.Errorf("created in Chinese: %d %s", resp.StatusCode, page)
	}
	// a bad name is refused on the form, in the page's language
	for _, name := range []string{"", "   ", "a\x07", strings.Repeat("x", 101)} {
		resp, page := b.form("/me/devices", url.Values{"name": {name}}, "id")
		if resp.StatusCode != 400 || !strings.Contains(page, "Beri nama perangkat") || inputValue(page, "password") != "" {
			t.Errorf("name %q: %d %s", name, resp.StatusCode, page)
		}
	}
	// revoke: another person's is not found; one's own goes, and its
	// password with it
	other := e.browser(c.sub).login()
	if resp, page := other.form("/me/devices/"+id+"/revoke", nil, "en"); resp.StatusCode != 404 || !strings.Contains(page, "No such app password") {
		t.Errorf("another person's revoke: %d %s", resp.StatusCode, page)
	}
	if resp, out := dev.req("PROPFIND", "/dav/", "", http.Header{"Depth": {"0"}}); resp.StatusCode != 207 {
		t.Fatalf("another person's revoke revoked it: %d %s", resp.StatusCode, out)
	}
	if resp, _ := b.form("/me/devices/"+id+"/revoke", nil, "en"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/me/devices" {
		t.Errorf("revoke: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := dev.req("PROPFIND", "/dav/", "", nil); resp.StatusCode != 401 {
		t.Errorf("a revoked password still works: %d", resp.StatusCode)
	}
	if _, page := b.lang("GET", e.url+"/me/devices", "en", nil); strings.Contains(page, "Pixel 9") || !strings.Contains(page, "<td>iPad</td>") {
		t.Errorf("the list after the revoke: %s", page)
	}
	// a form from another site is refused (cross-origin protection)
	if resp, _ := b.doBody("POST", e.url+"/me/devices", "name=evil", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
		"Sec-Fetch-Site": {"cross-site"}}); resp.StatusCode != 403 {
		t.Errorf("a cross-site form: %d", resp.StatusCode)
	}
	// every new device and revoke is audited
	recs, _ := audit.List(t.Context(), e.app.DB, audit.Filter{Action: audit.ActionAppPassword})
	var ops []string
	for _, r := range recs {
		ops = append(ops, r.Details["op"]+":"+r.Details["name"])
	}
	if want := []string{"create:Pixel 9", "create:iPad", "revoke:"}; !slices.Equal(ops, want) {
		t.Errorf("audit: %v, want %v", ops, want)
	}
}
