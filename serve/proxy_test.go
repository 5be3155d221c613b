package serve_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/serve"
)

// Behind a trusted reverse proxy the rate limiter and the audit log see
// the client's address (the rightmost X-Forwarded-For hop that is not a
// trusted proxy); X-Forwarded-Proto: https makes cookies Secure and
// X-Forwarded-Host is the host cross-origin checks compare with. From an
// untrusted peer every X-Forwarded-* header is ignored, so a forged
// X-Forwarded-For neither escapes the rate limit nor lands in the log.
func TestTrustedProxy(t *testing.T) {
	e := newEnv(t)
	trusted, err := serve.ParseTrustedProxies([]string{"10.0.0.0/8", "192.168.1.1, 2001:db8::/32"})
	if err != nil || len(trusted) != 3 || trusted[1] != netip.MustParsePrefix("192.168.1.1/32") {
		t.Fatalf("ParseTrustedProxies: %v %v", trusted, err)
	}
	if _, err := serve.ParseTrustedProxies([]string{"10.0.0.0/8,not-an-ip"}); err == nil {
		t.Fatal("a bad --trusted-proxy accepted")
	}
	srv := &serve.Server{App: e.app, Client: e.srv.Client, BaseURL: "http://dingbook.internal:8080", LoginBurst: 3, LoginEvery: time.Hour, TrustedProxies: trusted}
	h := srv.Handler()
	send := func(method, target, peer string, hdr http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.RemoteAddr = peer
		r.Host = "dingbook.internal:8080"
		for k, v := range hdr {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }

	// an untrusted peer forging a new X-Forwarded-For each time is still
	// one address
	for i, forged := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"} {
		want := 302
		if i == 3 {
			want = 429
		}
		if w := send("GET", "/login", "192.0.2.1:4000", xff(forged)); w.Code != want {
			t.Fatalf("untrusted attempt %d: %d, want %d", i+1, w.Code, want)
		}
	}
	// through the trusted proxies (10.0.0.5, and an inner 10.0.0.9) the
	// client is 203.0.113.7, whatever it put on the left
	for i, v := range []string{"203.0.113.7, 10.0.0.9", "203.0.113.7", "1.1.1.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"} {
		want := 302
		if i == 3 {
			want = 429
		}
		if w := send("GET", "/login", "10.0.0.5:4000", xff(v)); w.Code != want {
			t.Fatalf("proxied attempt %d (%s): %d, want %d", i+1, v, w.Code, want)
		}
	}
	if w := send("GET", "/login", "10.0.0.5:4000", xff("203.0.113.8")); w.Code != 302 {
		t.Errorf("another client behind the proxy: %d", w.Code)
	}
	if w := send("GET", "/login", "[2001:db8::1]:4000", xff("garbage, 203.0.113.9")); w.Code != 302 {
		t.Errorf("an IPv6 proxy: %d", w.Code)
	}
	// the audit records: a refused login (an open redirect) names the
	// client's address, never the forged one
	send("GET", "/login?next=//evil.example", "10.0.0.5:4000", xff("203.0.113.20"))
	send("GET", "/login?next=//evil.example", "192.0.2.50:4000", xff("203.0.113.21"))
	var addrs []string
	for _, r := range e.loginRecords(audit.OutcomeRefused) {
		addrs = append(addrs, r.Details["addr"])
	}
	if len(addrs) != 2 || addrs[0] != "203.0.113.20" || addrs[1] != "192.0.2.50" {
		t.Errorf("refused logins' addresses: %v", addrs)
	}
	// X-Forwarded-Proto: https makes the cookies Secure, from a trusted
	// proxy only
	secure := func(peer string) bool {
		w := send("GET", "/login", peer, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.30"}})
		cs := w.Result().Cookies()
		if len(cs) == 0 {
			t.Fatalf("no cookie from %s: %d", peer, w.Code)
		}
		return cs[0].Secure
	}
	if !secure("10.0.0.5:4000") {
		t.Error("X-Forwarded-Proto: https from the proxy: cookie not Secure")
	}
	if secure("192.0.2.60:4000") {
		t.Error("X-Forwarded-Proto from an untrusted peer made the cookie Secure")
	}
	// X-Forwarded-Host: the public host the browser's Origin names
	origin := http.Header{"Origin": {"https://dingbook.example.com"}, "X-Forwarded-Host": {"dingbook.example.com"}}
	if w := send("POST", "/logout", "10.0.0.5:4000", origin); w.Code != 401 {
		t.Errorf("a same-origin POST through the proxy: %d, want 401 (no session), not a cross-origin 403", w.Code)
	}
	if w := send("POST", "/logout", "192.0.2.70:4000", origin); w.Code != 403 {
		t.Errorf("X-Forwarded-Host from an untrusted peer was believed: %d", w.Code)
	}
}
