package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 9, 3, 0, 1, 2, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	srv   *sim.Server
	ts    *httptest.Server
	clock *clock
	truth *gen.Truth
}

var smallTruth = gen.Generate(gen.Options{Users: 400, Depts: 25, Seed: 3})

// newSim starts a simulator; cfg.Truth defaults to a 400-person org and
// the clock to a fixed, manually advanced one (QPS is unlimited unless set).
func newSim(t *testing.T, cfg sim.Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock()}
	if cfg.Truth == nil && cfg.Org == nil {
		cfg.Truth = smallTruth
	}
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	if cfg.QPS == 0 {
		cfg.QPS = -1
	}
	h.truth = cfg.Truth
	if h.truth == nil {
		h.truth = &gen.Truth{Org: *cfg.Org}
	}
	h.srv = sim.New(cfg)
	h.ts = httptest.NewServer(h.srv)
	t.Cleanup(h.ts.Close)
	return h
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r resp) num(key string) string {
	switch v := r.body[key].(type) {
	case json.Number:
		return v.String()
	case string:
		return v
	}
	return ""
}

func (r resp) result() map[string]any {
	m, _ := r.body["result"].(map[string]any)
	return m
}

func (h *harness) do(req *http.Request) resp {
	h.t.Helper()
	res, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.Decode(&r.body)
	return r
}

func (h *harness) get(path string) resp {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.ts.URL+path, nil)
	return h.do(req)
}

// post sends body as JSON (a string body is sent as is).
func (h *harness) post(path, tok string, body any) resp {
	h.t.Helper()
	var b []byte
	switch x := body.(type) {
	case string:
		b = []byte(x)
	case nil:
	default:
		b, _ = json.Marshal(x)
	}
	u := h.ts.URL + path
	if tok != "" {
		u += "?access_token=" + url.QueryEscape(tok)
	}
	req, _ := http.NewRequest("POST", u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return h.do(req)
}

func (h *harness) postForm(path string, v url.Values) resp {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.ts.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.do(req)
}

func (h *harness) v1(path, tok string, body any) resp {
	h.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", h.ts.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("x-acs-dingtalk-access-token", tok)
	}
	return h.do(req)
}

func (h *harness) tokenFor(app sim.App) string {
	h.t.Helper()
	r := h.get("/gettoken?appkey=" + url.QueryEscape(app.Key) + "&appsecret=" + url.QueryEscape(app.Secret))
	tok := r.str("access_token")
	if tok == "" {
		h.t.Fatalf("gettoken: %s", r.raw)
	}
	return tok
}

func (h *harness) token() string { return h.tokenFor(sim.DefaultApp()) }

// errcode returns the response's errcode as text.
func (r resp) errcode() string { return r.num("errcode") }

func wantCode(t *testing.T, r resp, code string) {
	t.Helper()
	if r.errcode() != code {
		t.Fatalf("errcode %q, want %s: %s", r.errcode(), code, r.raw)
	}
}

func wantSub(t *testing.T, r resp, sub string) {
	t.Helper()
	if r.errcode() != "88" || r.str("sub_code") != sub || !strings.Contains(r.str("errmsg"), "ding talk error[subcode="+sub+",submsg=") {
		t.Fatalf("want 88/%s: %s", sub, r.raw)
	}
}

// alongside calls read over and over in the background while change runs,
// until change is done or read returns false (after a t.Error).
func alongside(read func() bool, change func()) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if !read() {
				return
			}
		}
	}()
	change()
	close(stop)
	<-done
}
