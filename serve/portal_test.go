package serve_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/gen"
)

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

// TestCatalogues fails on a key missing in any language, an empty text, a
// text whose arguments differ from English's, and a key that a template
// or a handler uses but no catalogue has.
func TestCatalogues(t *testing.T) {
	keys := serve.CatalogueKeys()
	if len(keys) != 3 {
		t.Fatalf("catalogues: %v, want en, id, zh", slices.Sorted(func(yield func(string) bool) {
			for k := range keys {
				if !yield(k) {
					return
				}
			}
		}))
	}
	texts := map[string]map[string]string{}
	for _, lang := range []string{"en", "id", "zh"} {
		b, err := os.ReadFile(filepath.Join("messages", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("messages/%s.json: %v", lang, err)
		}
		texts[lang] = m
	}
	all := map[string]bool{}
	for _, m := range texts {
		for k := range m {
			all[k] = true
		}
	}
	for k := range all {
		for lang, m := range texts {
			v, ok := m[k]
			switch {
			case !ok:
				t.Errorf("messages/%s.json lacks %q", lang, k)
			case strings.TrimSpace(v) == "":
				t.Errorf("messages/%s.json: %q is empty", lang, k)
			case !slices.Equal(verb.FindAllString(v, -1), verb.FindAllString(texts["en"][k], -1)):
				t.Errorf("messages/%s.json: %q has arguments %v, English %v", lang, k, verb.FindAllString(v, -1), verb.FindAllString(texts["en"][k], -1))
			}
		}
	}
	// keys used: {{.T "key"}} in templates, "prefix.key" literals in Go
	used := map[string]string{}
	tmpl := regexp.MustCompile(`\.T "([^"]+)"`)
	goKey := regexp.MustCompile(`"((?:index|lang|problem|refusal|inapp|card|admin|request|grant|device)\.[a-z0-9_.-]+)"`)
	files, _ := filepath.Glob("templates/*.html")
	gofiles, _ := filepath.Glob("*.go")
	if len(files) == 0 || len(gofiles) == 0 {
		t.Fatal("no templates or Go files found")
	}
	for _, f := range append(files, gofiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		re := goKey
		if strings.HasSuffix(f, ".html") {
			re = tmpl
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	// problem titles ("problem.x") take their texts from "problem.x.message"
	// and ".hint" when present; every login refusal's reason has its texts
	for _, err := range []error{dingtalk.ErrLoginDenied, dingtalk.ErrCodeReused, dingtalk.ErrCodeInvalid, dingtalk.ErrOtherOrg,
		dingtalk.ErrNotMember, dingtalk.ErrExternal, dingtalk.ErrInactive, dingtalk.ErrLeft, dingtalk.ErrNotVisible,
		app.ErrLoginState, app.ErrLoginNext} {
		reason := app.RefusalReason(err)
		if reason == "error" {
			t.Errorf("%v has no refusal reason", err)
		}
		used["refusal."+reason] = "app.RefusalReason"
		used["refusal."+reason+".hint"] = "app.RefusalReason"
	}
	if len(used) < 20 {
		t.Fatalf("only %d keys found in use: %v", len(used), used)
	}
	for k, where := range used {
		if !all[k] {
			t.Errorf("%s uses %q, which no catalogue has", where, k)
		}
	}
}

// lang sends a request with an Accept-Language and the browser's
// cookies.
func (b *browser) lang(method, u, acceptLang string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if acceptLang != "" {
		req.Header.Set("Accept-Language", acceptLang)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(out)
}

func TestLanguageFromAcceptLanguage(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	for _, c := range []struct{ accept, lang, text string }{
		{"", "en", "Log in with DingTalk"},
		{"id-ID,id;q=0.9,en;q=0.5", "id", "Masuk dengan DingTalk"},
		{"zh-CN,zh;q=0.9", "zh", "使用钉钉登录"},
		{"zh-TW", "zh", "使用钉钉登录"},
		{"fr-FR, de;q=0.8", "en", "Log in with DingTalk"},
		{"fr;q=0.9, id;q=0.8, en;q=0.1", "id", "Masuk dengan DingTalk"},
	} {
		resp, body := b.lang("GET", e.url+"/", c.accept, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%q: HTTP %d", c.accept, resp.StatusCode)
		}
		if !strings.Contains(body, `<html lang="`+c.lang+`">`) || !strings.Contains(body, c.text) {
			t.Errorf("Accept-Language %q: want lang %s with %q: %.400s", c.accept, c.lang, c.text, body)
		}
		if got := resp.Header.Get("Content-Language"); got != c.lang {
			t.Errorf("Accept-Language %q: Content-Language %q", c.accept, got)
		}
	}
}

func TestLanguageSwitchRemembered(t *testing.T) {
	e := newEnv(t)
	b := e.browser(demoUser(t, e))
	if resp, _ := b.follow(e.url + "/login"); resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	// the switcher is on the page, with the page to return to
	_, body := b.lang("GET", e.url+"/", "en", nil)
	for _, want := range []string{`<form method="post" action="/lang">`, `name="next" value="/"`, `<option value="id" lang="id">Bahasa Indonesia</option>`, `<option value="en" lang="en" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s: %s", want, body)
		}
	}
	resp, _ := b.lang("POST", e.url+"/lang", "en", url.Values{"lang": {"id"}, "next": {"/?x=1"}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/?x=1" {
		t.Fatalf("POST /lang: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var lc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == serve.LangCookie {
			lc = c
		}
	}
	if lc == nil || lc.Value != "id" || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/" || lc.MaxAge < 300*24*3600 {
		t.Fatalf("language cookie: %+v", lc)
	}
	// remembered: the cookie wins over Accept-Language, the session stays
	_, body = b.lang("GET", e.url+"/", "zh-CN,en", nil)
	if !strings.Contains(body, `<html lang="id">`) || !strings.Contains(body, "Masuk sebagai") || !strings.Contains(body, ">Keluar<") {
		t.Errorf("after switching to Indonesian: %s", body)
	}
	// and in the session: without the cookie the session's choice wins
	u, _ := url.Parse(e.url)
	b.jar.SetCookies(u, []*http.Cookie{{Name: serve.LangCookie, Value: "", Path: "/", MaxAge: -1}})
	_, body = b.lang("GET", e.url+"/", "zh-CN,en", nil)
	if !strings.Contains(body, `<html lang="id">`) {
		t.Errorf("the session forgot Indonesian: %.300s", body)
	}
	b.jar.SetCookies(u, []*http.Cookie{{Name: serve.LangCookie, Value: "id", Path: "/"}})
	// errors too, in pages and in the JSON API (the code stays)
	resp, body = b.lang("GET", e.url+"/api/v1/audit/head", "", nil)
	var p struct{ Error, Message, Hint string }
	if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != 403 || p.Error != "perm" && p.Error == "" ||
		!strings.Contains(p.Message, "hanya untuk peran") || p.Hint != "Minta kepada admin jika Anda memerlukannya." {
		t.Errorf("403 in Indonesian: %d %s", resp.StatusCode, body)
	}
	// an unknown language is refused, in the current one; a foreign next
	// returns home
	resp, body = b.lang("POST", e.url+"/lang", "", url.Values{"lang": {"fr"}, "next": {"/"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "Bahasa tidak dikenal") {
		t.Errorf("lang=fr: %d %s", resp.StatusCode, body)
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`} {
		resp, _ = b.lang("POST", e.url+"/lang", "", url.Values{"lang": {"zh"}, "next": {next}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
			t.Errorf("next=%q: %d %q", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// a forged cookie value falls back to the session's choice (zh, just
	// made), then Accept-Language
	b.jar.SetCookies(u, []*http.Cookie{{Name: serve.LangCookie, Value: "xx", Path: "/"}})
	_, body = b.lang("GET", e.url+"/", "id", nil)
	if !strings.Contains(body, `<html lang="zh">`) {
		t.Errorf("forged language cookie: %.300s", body)
	}
	anon := e.browser("")
	anon.jar.SetCookies(u, []*http.Cookie{{Name: serve.LangCookie, Value: "xx", Path: "/"}})
	if _, body = anon.lang("GET", e.url+"/", "id", nil); !strings.Contains(body, `<html lang="id">`) {
		t.Errorf("forged language cookie, no session: %.300s", body)
	}
}

func demoUser(t *testing.T, e *env) string {
	_, _, emp := demoUsers(t, e.sim)
	return emp
}

// Refusal pages come from the catalogue in the person's language.
func TestRefusalTranslated(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	resp, body := b.lang("GET", e.url+"/login?next=//evil.example", "id", nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "<h1>Masuk ditolak</h1>") ||
		!strings.Contains(body, "Halaman tujuan setelah login (next) harus berupa path di server ini.") {
		t.Errorf("refused next in Indonesian: %d %s", resp.StatusCode, body)
	}
	resp, body = b.lang("GET", e.url+"/auth/dingtalk/callback?code=x&state=y", "zh", nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "此登录不是在本浏览器中发起的") || !strings.Contains(body, `<html lang="zh">`) {
		t.Errorf("wrong state in Chinese: %d %s", resp.StatusCode, body)
	}
	// an external contact's account, refused after DingTalk's answer, in
	// the language its cookie remembers
	ext := e.browser(accountOf(t, gen.AccountExternal).UnionID)
	u, _ := url.Parse(e.url)
	ext.jar.SetCookies(u, []*http.Cookie{{Name: serve.LangCookie, Value: "zh", Path: "/"}})
	resp, body = ext.follow(e.url + "/login")
	if resp.StatusCode != 403 || !strings.Contains(body, "外部联系人账号不能登录通讯录。") || !strings.Contains(body, "请使用本组织的成员账号登录。") {
		t.Errorf("external account in Chinese: %d %s", resp.StatusCode, body)
	}
}

var scriptTag = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)

// TestInAppPage: the page the DingTalk workbench opens loads only this
// server's scripts (DingTalk's JSAPI vendored, ours reading the corpId and
// clientId from data- attributes), no inline script, under the strict CSP.
func TestInAppPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	resp, body := b.lang("GET", e.url+"/inapp", "zh", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/inapp: %d", resp.StatusCode)
	}
	checkHeaders(t, "/inapp", resp)
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
		!strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP: %s", csp)
	}
	if !strings.Contains(body, fmt.Sprintf(`data-corp-id="%s"`, e.sim.CorpID())) || !strings.Contains(body, fmt.Sprintf(`data-client-id="%s"`, e.srv.Client.AppKey())) {
		t.Errorf("the page lacks the corpId or clientId: %s", body)
	}
	if !strings.Contains(body, "钉钉免登") {
		t.Errorf("the page is not in Chinese: %s", body)
	}
	scripts := scriptTag.FindAllStringSubmatch(body, -1)
	if len(scripts) != 2 {
		t.Fatalf("%d scripts, want the JSAPI and ours: %s", len(scripts), body)
	}
	src := regexp.MustCompile(`\bsrc="([^"]*)"`)
	var srcs []string
	for _, s := range scripts {
		if strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %s", s[0])
		}
		m := src.FindStringSubmatch(s[1])
		if m == nil || !strings.HasPrefix(m[1], "/static/") || strings.HasPrefix(m[1], "//") {
			t.Errorf("script not from this server's /static/: %s", s[0])
			continue
		}
		srcs = append(srcs, m[1])
	}
	if !slices.Equal(srcs, []string{"/static/vendor/dingtalk-jsapi/dingtalk-jsapi.min.js", "/static/inapp.js"}) {
		t.Errorf("scripts %v", srcs)
	}
	for _, s := range srcs {
		resp, js := b.do("GET", e.url+s, nil)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
			t.Errorf("%s: %d %s", s, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		checkHeaders(t, s, resp)
		cc := resp.Header.Get("Cache-Control")
		if strings.Contains(s, "/vendor/") && cc != "public, max-age=31536000, immutable" || !strings.Contains(cc, "max-age=") {
			t.Errorf("%s: Cache-Control %q", s, cc)
		}
		if strings.HasSuffix(s, "inapp.js") && (!strings.Contains(js, "requestAuthCode") || !strings.Contains(js, `"/auth/dingtalk/inapp?code="`) ||
			!strings.Contains(js, `"data-corp-id"`) || !strings.Contains(js, `"data-client-id"`)) {
			t.Errorf("inapp.js does not hand the code on: %s", js)
		}
		if strings.HasSuffix(s, "dingtalk-jsapi.min.js") {
			if !strings.Contains(js, "requestAuthCode") || regexp.MustCompile(`https?://`).MatchString(js) {
				t.Errorf("the vendored JSAPI lacks requestAuthCode or names a remote address")
			}
			// the served bytes are the vendored file the README records
			readme, err := os.ReadFile("static/vendor/dingtalk-jsapi/README.md")
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`(?m)^sha256: ([0-9a-f]{64})$`).FindStringSubmatch(string(readme))
			ver := regexp.MustCompile(`(?m)^- version: (\d+\.\d+\.\d+)$`).FindStringSubmatch(string(readme))
			sum := sha256.Sum256([]byte(js))
			if m == nil || ver == nil || hex.EncodeToString(sum[:]) != m[1] {
				t.Errorf("vendored JSAPI sha256 %x, README records %v (version %v)", sum, m, ver)
			}
			if _, err := os.Stat("static/vendor/dingtalk-jsapi/LICENSE"); err != nil {
				t.Error(err)
			}
		}
	}
	// no directory listings, no way out of the static tree
	for _, p := range []string{"/static/", "/static/vendor/", "/static/vendor/dingtalk-jsapi/", "/static/../serve.go", "/static/%2e%2e/serve.go", "/static/nope.js"} {
		if resp, _ := b.follow(e.url + p); resp.StatusCode != 404 {
			t.Errorf("%s: HTTP %d", p, resp.StatusCode)
		}
	}
}
