// Package dingtalk is dingbook's DingTalk Open API client for reading an
// organisation's address book: it caches and refreshes the access token,
// paces each API separately with an exact token spacing (default 20 calls
// per second per API, slowed down on 90018/90002), retries transient
// failures (-1, HTTP 5xx and HTML pages, timeouts, connection resets) with
// bounded exponential backoff and jitter, tolerates the many shapes DingTalk
// sends values in, and turns permission, range, whitelist and credential
// failures into *dingbook.Error values that say what to do.
//
// Secrets never leave the client: the app secret and the access token are
// kept out of every error, log line and logged URL.
package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/ctxsleep"
)

// DefaultBaseURL is DingTalk's old-style API host.
const DefaultBaseURL = "https://oapi.dingtalk.com"

// DefaultQPS is DingTalk's per-app, per-API limit on the standard edition.
const DefaultQPS = 20

// Config configures a Client.
type Config struct {
	BaseURL   string // default DefaultBaseURL
	AppKey    string
	AppSecret string
	// APIV1Base is the new-style API host (default DefaultAPIV1Base) and
	// LoginBase the login page's host (default DefaultLoginBase); both
	// serve the login (login.go).
	APIV1Base string
	LoginBase string
	// CorpID is the organisation's corpId: a login that DingTalk reports
	// for another corpId is refused. Empty skips that check (getbyunionid
	// still refuses other organisations' people).
	CorpID string
	// AgentID is the app's agentId, needed for work notices.
	AgentID int64
	// QPS is the per-API call rate (default DefaultQPS); QPSFor overrides it
	// for single APIs (keyed like "topapi/v2/user/list").
	QPS    int
	QPSFor map[string]int
	// MaxRetries bounds the retries of one call after transient failures
	// (default 8); throttling answers are retried up to 4×MaxRetries.
	MaxRetries int
	// Timeout bounds one HTTP exchange (default 30 s).
	Timeout time.Duration
	// HTTPClient is the transport (default a client with sane pooling).
	HTTPClient *http.Client
	// Logf, if set, receives one line per retry or token refresh. URLs in
	// it have the access token redacted; secrets never appear.
	Logf func(format string, args ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Stats counts what a Client did.
type Stats struct {
	// Calls counts HTTP requests per API (retries included).
	Calls map[string]int `json:"calls"`
	// Total is the sum of Calls.
	Total int `json:"total"`
	// Retries counts requests repeated after a failure.
	Retries int `json:"retries"`
	// Throttled counts 90018/90002 answers.
	Throttled int `json:"throttled"`
	// Tokens counts gettoken requests.
	Tokens int `json:"tokens"`
}

// Client is a DingTalk Open API client, safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client

	tokMu     sync.Mutex
	token     string
	tokExpiry time.Time

	limMu    sync.Mutex
	limiters map[string]*limiter

	stMu  sync.Mutex
	stats Stats

	// codesMu guards usedCodes: the auth codes this client has exchanged
	// (login.go), so that a replayed callback is refused here even when
	// DingTalk would answer it.
	codesMu   sync.Mutex
	usedCodes map[string]time.Time
	// baseErr and v1BaseErr are the verdicts on cfg.BaseURL and
	// cfg.APIV1Base (CheckBaseURL): every call to that host returns its
	// verdict at once (exchange).
	baseErr, v1BaseErr error
}

// MaxBody is the largest answer dingbook reads from DingTalk: a page of
// users is tens of kilobytes, so anything near 16 MiB is not DingTalk and
// is refused rather than buffered.
const MaxBody = 16 << 20

// CheckBaseURL checks that base (DINGTALK_API_BASE, a profile's api_base)
// is an http or https URL with a host: anything else cannot work and is
// refused at once instead of being retried as a network error.
func CheckBaseURL(base string) error {
	return checkBase(base, apiBaseSetting, DefaultBaseURL)
}

// The settings that name the hosts, for errors.
const (
	apiBaseSetting   = "DINGTALK_API_BASE (or the profile's api_base)"
	apiV1BaseSetting = "DINGTALK_API_V1_BASE"
)

// checkBase is CheckBaseURL for the host that setting names (default def).
func checkBase(base, setting, def string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("DingTalk API base %q is not an http(s) URL", redactBase(base)),
			Hint: "set " + setting + " to a URL such as " + def + ", or unset it for the default"}
	}
	return nil
}

// redactBase keeps a rejected base URL short and free of credentials
// someone may have pasted into it.
func redactBase(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		s = "…" + s[i+1:]
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return s
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.APIV1Base == "" {
		cfg.APIV1Base = DefaultAPIV1Base
	}
	cfg.APIV1Base = strings.TrimRight(cfg.APIV1Base, "/")
	if cfg.LoginBase == "" {
		cfg.LoginBase = DefaultLoginBase
	}
	cfg.LoginBase = strings.TrimRight(cfg.LoginBase, "/")
	if cfg.QPS <= 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		tr.MaxConnsPerHost = 0
		hc = &http.Client{Transport: tr}
	}
	return &Client{cfg: cfg, http: hc, limiters: map[string]*limiter{}, stats: Stats{Calls: map[string]int{}}, usedCodes: map[string]time.Time{},
		baseErr: CheckBaseURL(cfg.BaseURL), v1BaseErr: checkBase(cfg.APIV1Base, apiV1BaseSetting, DefaultAPIV1Base)}
}

// BaseURL returns the API host the client talks to.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// AppKey returns the app key (not a secret).
func (c *Client) AppKey() string { return c.cfg.AppKey }

// CorpID returns the organisation's corpId (not a secret; the in-app
// login page hands it to dd.requestAuthCode).
func (c *Client) CorpID() string { return c.cfg.CorpID }

// QPS returns the configured rate of api.
func (c *Client) QPS(api string) int {
	if q, ok := c.cfg.QPSFor[api]; ok && q > 0 {
		return q
	}
	return c.cfg.QPS
}

// Stats returns a copy of the counters.
func (c *Client) Stats() Stats {
	c.stMu.Lock()
	defer c.stMu.Unlock()
	s := c.stats
	s.Calls = make(map[string]int, len(c.stats.Calls))
	for k, v := range c.stats.Calls {
		s.Calls[k] = v
	}
	return s
}

func (c *Client) count(api string, retry, throttled bool) {
	c.stMu.Lock()
	c.stats.Calls[api]++
	c.stats.Total++
	if retry {
		c.stats.Retries++
	}
	if throttled {
		c.stats.Throttled++
	}
	c.stMu.Unlock()
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// ---- rate limiting ----

// limiter spaces the calls of one API exactly 1/QPS apart (no bursts, so
// no window ever sees more than QPS calls) and pauses the API after a
// throttling answer.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	slowed   time.Time
	// lastThrottle is the time of the last refusal.
	lastThrottle time.Time
	initial      time.Duration
	// epoch counts refusal episodes; slots handed out in an older epoch
	// are void.
	epoch       int
	pauseUntil  time.Time
	lastEpisode time.Time
}

func (c *Client) limiter(api string) *limiter {
	c.limMu.Lock()
	defer c.limMu.Unlock()
	l := c.limiters[api]
	if l == nil {
		qps := c.QPS(api)
		// 2% slack keeps arrival jitter (up to 20 ms over a second) from
		// putting QPS+1 calls into one of DingTalk's one-second windows.
		iv := time.Duration(float64(time.Second) / float64(qps) * 1.02)
		l = &limiter{interval: iv, initial: iv}
		c.limiters[api] = l
	}
	return l
}

func (l *limiter) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		// Recover towards the configured rate, 5% per second, once
		// refusals have stopped for 2 s.
		if l.interval > l.initial && now.Sub(l.lastThrottle) > 2*time.Second && now.Sub(l.slowed) > time.Second {
			l.interval = max(l.initial, l.interval*95/100)
			l.slowed = now
		}
		slot := l.next
		if slot.Before(now) {
			slot = now
		}
		l.next = slot.Add(l.interval)
		epoch := l.epoch
		l.mu.Unlock()
		if d := time.Until(slot); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// A refusal while we slept invalidates slots handed out before
		// it: queue again behind the pause.
		l.mu.Lock()
		stale := l.epoch != epoch
		l.mu.Unlock()
		if !stale {
			return nil
		}
	}
}

// throttled pauses the API for pause and, when refusals keep coming (the
// server allows less than configured), slows it down.
//
// Refusals come in episodes: the calls in flight when a window fills are
// all refused within milliseconds. Each episode pauses the API (and voids
// the slots already handed out). An episode that starts within 1.5 s of
// the previous one means the server's limit is below ours: the rate drops
// by 10%, never below one call per second.
// An isolated episode (a throttling burst, jitter) only pauses.
func (l *limiter) throttled(pause time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.After(l.pauseUntil) {
		if now.Sub(l.lastEpisode) < 1500*time.Millisecond {
			l.interval = min(l.interval*110/100, time.Second)
			l.slowed = now
		}
		l.lastEpisode = now
		l.epoch++
	}
	if until := now.Add(pause); l.pauseUntil.Before(until) {
		l.pauseUntil = until
	}
	if l.next.Before(l.pauseUntil) {
		l.next = l.pauseUntil
	}
	l.lastThrottle = now
}

// ---- tokens ----

// Token returns a valid access token, fetching one when none is cached or
// the cached one is near expiry.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token != "" && c.cfg.Now().Before(c.tokExpiry) {
		return c.token, nil
	}
	return c.fetchToken(ctx)
}

// invalidate drops tok if it is still the cached token.
func (c *Client) invalidate(tok string) {
	c.tokMu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.tokMu.Unlock()
}

// fetchToken calls gettoken; tokMu is held.
func (c *Client) fetchToken(ctx context.Context) (string, error) {
	if c.cfg.AppKey == "" || c.cfg.AppSecret == "" {
		return "", &dingbook.Error{Code: dingbook.EAUTH, Message: "no DingTalk app credentials",
			Hint: "set DINGTALK_APP_KEY and DINGTALK_APP_SECRET (the app's Client ID and Client Secret), or use --config-profile with a config file"}
	}
	q := url.Values{"appkey": {c.cfg.AppKey}, "appsecret": {c.cfg.AppSecret}}
	var resp struct {
		AccessToken Str `json:"access_token"`
		ExpiresIn   Int `json:"expires_in"`
	}
	c.stMu.Lock()
	c.stats.Tokens++
	c.stMu.Unlock()
	if err := c.do(ctx, "gettoken", http.MethodGet, q, nil, "", &resp, ""); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return "", userError(ae)
		}
		return "", err
	}
	if resp.AccessToken == "" {
		return "", &dingbook.Error{Code: dingbook.EAUTH, Message: "DingTalk gettoken returned no access_token",
			Hint: "check DINGTALK_API_BASE points at DingTalk (default " + DefaultBaseURL + ")"}
	}
	ttl := time.Duration(resp.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 7200 * time.Second
	}
	// Refresh ten minutes before expiry (DingTalk's advice), or after 4/5
	// of a short lifetime.
	margin := 10 * time.Minute
	if margin > ttl/5 {
		margin = ttl / 5
	}
	c.token = string(resp.AccessToken)
	c.tokExpiry = c.cfg.Now().Add(ttl - margin)
	c.logf("dingtalk: new access token, valid %s", ttl)
	return c.token, nil
}

// ---- calls ----

// Call POSTs body as JSON to api (a path like "topapi/v2/user/list") and
// decodes the envelope's result into out. detail names what the call was
// about in errors ("dept_id 42").
func (c *Client) Call(ctx context.Context, api string, body any, out any, detail string) error {
	return c.call(ctx, api, http.MethodPost, body, out, detail, "result")
}

// call runs one API call with token handling, pacing and retries. field
// names the envelope member decoded into out ("result", "results" or ""
// for the whole envelope).
func (c *Client) call(ctx context.Context, api, method string, body any, out any, detail, field string) error {
	payload, err := jsonBody(body)
	if err != nil {
		return err
	}
	err = c.do(ctx, api, method, nil, payload, detail, out, field)
	var ae *APIError
	if errors.As(err, &ae) {
		return userError(ae)
	}
	return err
}

// jsonBody encodes a request body (nil for none).
func jsonBody(body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	return json.Marshal(body)
}

// envelope is the old-style response wrapper.
type envelope struct {
	ErrCode   *Int            `json:"errcode"`
	ErrMsg    Str             `json:"errmsg"`
	SubCode   Str             `json:"sub_code"`
	SubMsg    Str             `json:"sub_msg"`
	RequestID Str             `json:"request_id"`
	Result    json.RawMessage `json:"result"`
	Results   json.RawMessage `json:"results"`
	// Per-IP ban answer: {"status":1111,"wait":5,...}
	Status *Int `json:"status"`
	Wait   Int  `json:"wait"`
}

var subcodeRe = regexp.MustCompile(`subcode=(-?\d+)`)

// errTransient marks failures worth retrying.
type errTransient struct {
	msg  string
	wait time.Duration
}

func (e *errTransient) Error() string { return e.msg }

// do sends one request with retries for transient failures, throttling
// and refused tokens. q nil means an authenticated call: the current
// token is taken right before each attempt (after pacing), so a request
// never waits with a token that expires meanwhile.
func (c *Client) do(ctx context.Context, api, method string, q url.Values, payload []byte, detail string, out any, field string) error {
	lim := c.limiter(api)
	attempt, throttles, tokenRetries := 0, 0, 0
	auth := q == nil
	for {
		if err := lim.wait(ctx); err != nil {
			return err
		}
		var tok string
		if auth {
			var err error
			if tok, err = c.Token(ctx); err != nil {
				return err
			}
			q = url.Values{"access_token": {tok}}
		}
		retry := attempt > 0 || throttles > 0 || tokenRetries > 0
		ae, err := c.once(ctx, api, method, q, payload, detail, out, field)
		if auth && ae != nil && isTokenCode(ae.Code) && tokenRetries < 6 {
			c.count(api, retry, false)
			tokenRetries++
			c.logf("dingtalk: %s: token refused (%d), refreshing", api, ae.Code)
			c.invalidate(tok)
			continue
		}
		throttled := ae != nil && isThrottle(ae.Code)
		c.count(api, retry, throttled)
		if err == nil && ae == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if throttled {
			throttles++
			if throttles > 4*c.cfg.MaxRetries {
				return ae
			}
			pause := throttlePause(ae.Msg, c.cfg.Now())
			if b := backoff(throttles); throttles > 3 && b > pause {
				pause = b
			}
			lim.throttled(pause)
			c.logf("dingtalk: %s throttled (%d), pausing %s", api, ae.Code, pause)
			continue
		}
		if ae != nil {
			if ae.Code == CodeBusy || ae.Code == 400001 || ae.Code == 60019 {
				err = &errTransient{msg: ae.Error()}
			} else {
				return ae
			}
		}
		var te *errTransient
		if !errors.As(err, &te) {
			return err
		}
		attempt++
		if attempt > c.cfg.MaxRetries {
			return &dingbook.Error{Code: dingbook.EINTERNAL, Err: err,
				Message: fmt.Sprintf("DingTalk %s failed %d times in a row", callName(api, detail), attempt),
				Hint:    "DingTalk or the network is failing; rerun the pull later (it resumes where it stopped)"}
		}
		d := backoff(attempt)
		if te.wait > d {
			d = te.wait
		}
		c.logf("dingtalk: %s: %s; retry %d in %s", callName(api, detail), te.msg, attempt, d.Round(time.Millisecond))
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sleep waits d, or until ctx ends.
var sleep = ctxsleep.Sleep

func callName(api, detail string) string {
	if detail == "" {
		return api
	}
	return api + " (" + detail + ")"
}

// tooBig refuses an answer over MaxBody (not retried: it would only come
// again); setting names the host's setting and def its default.
func tooBig(api, detail, setting, def string) error {
	return &dingbook.Error{Code: dingbook.EINTERNAL,
		Message: fmt.Sprintf("DingTalk %s answered more than %d MiB; refused without reading it", callName(api, detail), MaxBody>>20),
		Hint:    "check that " + setting + " points at DingTalk (default " + def + ")"}
}

// backoff is 100 ms × 2^(n-1), capped at 5 s, with ±50% jitter.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 6)
	if d > 5*time.Second {
		d = 5 * time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// once performs one HTTP exchange. It returns an *APIError for a DingTalk
// error answer, an *errTransient for retryable failures, or another error.
func (c *Client) once(ctx context.Context, api, method string, q url.Values, payload []byte, detail string, out any, field string) (*APIError, error) {
	status, trim, _, err := c.exchange(ctx, api, detail, method, false, api+"?"+q.Encode(), payload, nil)
	if err != nil {
		return nil, err
	}
	return decodeAnswer(api, detail, status, trim, out, field)
}

// decodeAnswer reads an answer of api (HTTP status and body, as exchange
// returns them) into out: the envelope's field ("result", "results", or
// "" for the whole body). It returns an *APIError for a DingTalk error
// answer, an *errTransient for retryable failures, or a *dingbook.Error
// when the data cannot be read.
func decodeAnswer(api, detail string, status int, body []byte, out any, field string) (*APIError, error) {
	trim := bytes.TrimSpace(body)
	if len(trim) == 0 || trim[0] != '{' {
		// An HTML page: a gateway failure or a per-IP ban page.
		return nil, &errTransient{msg: fmt.Sprintf("HTTP %d with a non-JSON answer (%d bytes)", status, len(trim))}
	}
	var env envelope
	if err := json.Unmarshal(trim, &env); err != nil {
		return nil, &errTransient{msg: fmt.Sprintf("HTTP %d with malformed JSON: %v", status, err)}
	}
	if env.ErrCode == nil && env.Status != nil && int(*env.Status) != 0 {
		wait := time.Duration(env.Wait) * time.Second
		return nil, &errTransient{msg: fmt.Sprintf("DingTalk blocked this IP for a while (status %d)", int(*env.Status)), wait: wait}
	}
	code := 0
	if env.ErrCode != nil {
		code = int(*env.ErrCode)
	}
	if code != 0 {
		ae := &APIError{API: api, Code: code, Msg: strings.TrimSpace(string(env.ErrMsg)), RequestID: string(env.RequestID), Detail: detail}
		if code == CodeGateway {
			ae.Gateway = true
			if sc := codeFromString(string(env.SubCode)); sc != 0 {
				ae.Code = sc
			} else if m := subcodeRe.FindStringSubmatch(ae.Msg); m != nil && codeFromString(m[1]) != 0 {
				ae.Code = codeFromString(m[1]) // "subcode=0" keeps 88: an error is never code 0
			}
			if env.SubMsg != "" && !strings.Contains(ae.Msg, string(env.SubMsg)) {
				ae.Msg = strings.TrimSpace(ae.Msg + " " + string(env.SubMsg))
			}
		}
		return ae, nil
	}
	if out == nil {
		return nil, nil
	}
	var raw []byte
	switch field {
	case "result":
		raw = env.Result
	case "results":
		raw = env.Results
	default:
		raw = trim
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Err: err,
			Message: fmt.Sprintf("DingTalk %s returned a %s dingbook cannot read", callName(api, detail), field),
			Hint:    "report this with the request_id " + string(env.RequestID)}
	}
	return nil, nil
}

// exchange sends one HTTP request (JSON payload, extra headers) to path
// on the old-style host, or the new-style host when v1 is set, and reads
// the whole answer. Every call passes here: a malformed host is refused
// at once (CheckBaseURL) and an answer over MaxBody is refused without
// being buffered. Network failures, HTTP 5xx and 429 come back as
// *errTransient; the body is returned trimmed.
func (c *Client) exchange(ctx context.Context, api, detail, method string, v1 bool, path string, payload []byte, header http.Header) (status int, body []byte, h http.Header, err error) {
	base, baseErr, setting, def := c.cfg.BaseURL, c.baseErr, apiBaseSetting, DefaultBaseURL
	if v1 {
		base, baseErr, setting, def = c.cfg.APIV1Base, c.v1BaseErr, apiV1BaseSetting, DefaultAPIV1Base
	}
	if baseErr != nil {
		return 0, nil, nil, baseErr
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(rctx, method, base+"/"+path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("DingTalk %s: bad request: %s", api, redactErr(err))
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, ctx.Err()
		}
		return 0, nil, nil, &errTransient{msg: "network: " + redactErr(err)}
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxBody {
		return 0, nil, nil, tooBig(api, detail, setting, def)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, ctx.Err()
		}
		return 0, nil, nil, &errTransient{msg: "reading the answer: " + redactErr(err)}
	}
	if len(body) > MaxBody {
		return 0, nil, nil, tooBig(api, detail, setting, def)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == 429 {
		return resp.StatusCode, nil, nil, &errTransient{msg: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	return resp.StatusCode, bytes.TrimSpace(body), resp.Header, nil
}

// redactErr renders a transport error without its URL (which carries the
// access token or, for gettoken, the app secret).
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return RedactURL(err.Error())
}

// RedactURL hides access_token and appsecret values in s (a URL or a text
// containing one).
func RedactURL(s string) string {
	for _, k := range []string{"access_token=", "appsecret=", "corpsecret="} {
		for from := 0; ; {
			i := strings.Index(s[from:], k)
			if i < 0 {
				break
			}
			i += from + len(k)
			j := i
			for j < len(s) && s[j] != '&' && s[j] != ' ' && s[j] != '"' {
				j++
			}
			s = s[:i] + "REDACTED" + s[j:]
			from = i + len("REDACTED")
		}
	}
	return s
}

var (
	cst       = time.FixedZone("CST", 8*3600)
	penaltyRe = regexp.MustCompile(`(?:处罚|限制)将在\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*结束`)
)

// throttlePause is how long to hold an API back after a throttling
// answer: until the end DingTalk names ("处罚将在 <time> 结束", Beijing
// time, to the second) plus a margin, else one second (DingTalk's advice).
func throttlePause(msg string, now time.Time) time.Duration {
	if m := penaltyRe.FindStringSubmatch(msg); m != nil {
		if end, err := time.ParseInLocation("2006-01-02 15:04:05", m[1], cst); err == nil {
			// A random margin keeps many clients (and periodic limits)
			// from meeting again at the same instant.
			d := end.Sub(now) + 10*time.Millisecond + time.Duration(rand.Int64N(int64(40*time.Millisecond)))
			if d < 50*time.Millisecond {
				d = 50 * time.Millisecond
			}
			if d > 5*time.Second {
				d = 5 * time.Second
			}
			return d
		}
	}
	return time.Second
}
