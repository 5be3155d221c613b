package serve_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRequestLogHidesTokens: the paths of share links and one-time
// downloads carry their secret; the request log names the route's
// wildcard instead.
func TestRequestLogHidesTokens(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	const secret = "c2VjcmV0LXRva2VuLW5vdC1pbi10aGUtbG9n"
	for _, p := range []string{"/s/" + secret, "/s/" + secret + "/card.vcf", "/grants/download/" + secret} {
		mark := e.reqs.mark()
		b.do(http.MethodGet, e.url+p, nil)
		log := e.reqs.since(mark)
		if len(log) != 1 {
			t.Fatalf("GET %s: %d log entries, want 1", p, len(log))
		}
		if strings.Contains(log[0].Path, secret) || !strings.Contains(log[0].Path, "{token}") {
			t.Errorf("GET %s logged as %q: want the token replaced by {token}", p, log[0].Path)
		}
	}
}
