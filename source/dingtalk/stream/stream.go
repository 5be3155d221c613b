// Package stream is dingbook's DingTalk Stream mode client
// (dingtalk-api.md §8): it opens a connection (POST
// /v1.0/gateway/connections/open, then the WebSocket), keeps it open
// (reconnecting with exponential backoff and jitter, answering SYSTEM
// pings, following SYSTEM disconnect), decodes contact events into Event
// values and hands them, one at a time, to a Handler. An event is
// acknowledged (SUCCESS) only when the handler returns nil; on an error
// the client answers LATER, so DingTalk delivers it again. Events are
// deduplicated by eventId (Deduper; an in-memory LRU by default), so a
// redelivered or duplicated event reaches the handler once after it
// succeeded. DrainBacklog reads the failed-push backlog
// (call_back/get_call_back_failed_result) that collects what could not be
// delivered while no client was connected.
//
// The package is library code: cancellation through the context, no
// terminal, no environment; the client secret never appears in errors or
// log lines.
package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/ctxsleep"
	"github.com/dingbook/dingbook/source/dingtalk"
)

// DefaultAPIBase is DingTalk's new-style API host, where Stream
// connections are opened.
const DefaultAPIBase = "https://api.dingtalk.com"

const openPath = "/v1.0/gateway/connections/open"

// Config configures a Client.
type Config struct {
	// APIBase is the new-style host (default DefaultAPIBase; the
	// simulator's URL in tests).
	APIBase string
	// ClientID and ClientSecret are the app's credentials (AppKey and
	// AppSecret).
	ClientID, ClientSecret string
	// Topics are the event types subscribed to (default all: "*").
	Topics []string
	// Dedupe remembers handled events (default NewLRU(4096)).
	Dedupe Deduper
	// Backlog, when set, is the API client DrainBacklog uses; Run then
	// drains the failed-push backlog after every (re)connection, before
	// it hands on the connection's events.
	Backlog *dingtalk.Client
	// HTTPClient opens connections (default http.DefaultClient).
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the wait before a reconnection
	// (default 500 ms and 30 s; doubled per failed attempt, ±50% jitter).
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout drops a connection on which nothing arrived for that
	// long, pings included (default 3 minutes; DingTalk pings more often).
	IdleTimeout time.Duration
	// UA is sent as the connection's user agent.
	UA string
	// Logf, if set, receives one line per connection, retry or failure.
	Logf func(format string, args ...any)
}

// Handler applies one event. It returns nil once the event's change is
// committed (the client then acknowledges it) or an error (the event is
// delivered again later). It is never called concurrently.
type Handler func(ctx context.Context, ev Event) error

// Stats counts what a Client did.
type Stats struct {
	Connects   int `json:"connects"`   // connections opened
	Pings      int `json:"pings"`      // SYSTEM pings answered
	Events     int `json:"events"`     // events handled and acknowledged
	Duplicates int `json:"duplicates"` // events already handled, acknowledged without the handler
	Later      int `json:"later"`      // events whose handler failed, answered LATER
	Malformed  int `json:"malformed"`  // events that could not be decoded (acknowledged, logged)
	Backlog    int `json:"backlog"`    // backlog events handled
}

// Client is a Stream mode client.
type Client struct {
	cfg  Config
	http *http.Client

	mu    sync.Mutex
	stats Stats

	// drainMu serialises DrainBacklog; pending holds backlog events read
	// but not yet handled (DingTalk hands each out once).
	drainMu sync.Mutex
	pending []Event
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	if len(cfg.Topics) == 0 {
		cfg.Topics = []string{"*"}
	}
	if cfg.Dedupe == nil {
		cfg.Dedupe = NewLRU(0)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 3 * time.Minute
	}
	if cfg.UA == "" {
		cfg.UA = "dingbook"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{cfg: cfg, http: hc}
}

// Stats returns a copy of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Client) count(f func(s *Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// errDisconnect ends a session on SYSTEM disconnect: reconnect at once.
var errDisconnect = errors.New("DingTalk asked to reconnect (SYSTEM disconnect)")

// Run keeps a Stream connection open and hands every event to h until
// ctx is done (it then returns ctx.Err()), DingTalk rejects the
// credentials (a *dingbook.Error with code auth) or APIBase is not a URL
// (code invalid). Other failures are retried.
func (c *Client) Run(ctx context.Context, h Handler) error {
	attempt := 0
	for {
		up, err := c.session(ctx, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if code := dingbook.ErrorCode(err); err != nil && (code == dingbook.EAUTH || code == dingbook.EINVALID) {
			return err
		}
		if up {
			attempt = 0
		}
		if errors.Is(err, errDisconnect) {
			c.logf("dingtalk stream: %v", err)
			continue
		}
		attempt++
		d := c.backoff(attempt)
		c.logf("dingtalk stream: %v; reconnecting in %s", err, d.Round(time.Millisecond))
		if err := ctxsleep.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// backoff is MinBackoff × 2^(n-1), capped at MaxBackoff, with ±50% jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.MinBackoff << min(n-1, 16)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	return d/2 + rand.N(d)
}

// endpoint is connections/open's answer.
type endpoint struct {
	Endpoint string `json:"endpoint"`
	Ticket   string `json:"ticket"`
}

// open asks for a connection endpoint and ticket.
func (c *Client) open(ctx context.Context) (*endpoint, error) {
	if c.cfg.ClientID == "" || c.cfg.ClientSecret == "" {
		return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: "no DingTalk app credentials for Stream mode",
			Hint: "set DINGTALK_APP_KEY and DINGTALK_APP_SECRET (the app's Client ID and Client Secret)"}
	}
	subs := []map[string]string{{"type": "SYSTEM", "topic": "ping"}, {"type": "SYSTEM", "topic": "disconnect"}}
	for _, t := range c.cfg.Topics {
		subs = append(subs, map[string]string{"type": "EVENT", "topic": t})
	}
	body, _ := json.Marshal(map[string]any{"clientId": c.cfg.ClientID, "clientSecret": c.cfg.ClientSecret,
		"subscriptions": subs, "ua": c.cfg.UA, "localIp": ""})
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.cfg.APIBase+openPath, bytes.NewReader(body))
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "bad Stream API base " + c.cfg.APIBase, Err: err,
			Hint: "DINGTALK_API_BASE must be a URL such as " + DefaultAPIBase}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("POST %s: %v", openPath, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("POST %s: reading the answer: %v", openPath, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		json.Unmarshal(b, &e)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
			strings.Contains(strings.ToLower(e.Code), "clientid") || strings.Contains(strings.ToLower(e.Code), "secret") {
			return nil, &dingbook.Error{Code: dingbook.EAUTH,
				Message: fmt.Sprintf("DingTalk refused to open a Stream connection for app %s (POST %s: HTTP %d %s %s)", c.cfg.ClientID, openPath, resp.StatusCode, e.Code, e.Message),
				Hint: "check DINGTALK_APP_KEY and DINGTALK_APP_SECRET, and that the app uses Stream mode for events " +
					"(open-dev.dingtalk.com → the app → 事件订阅 / Event subscription → Stream 模式推送)"}
		}
		return nil, fmt.Errorf("POST %s: HTTP %d %s %s", openPath, resp.StatusCode, e.Code, e.Message)
	}
	var ep endpoint
	if err := json.Unmarshal(b, &ep); err != nil || ep.Endpoint == "" || ep.Ticket == "" {
		return nil, fmt.Errorf("POST %s: an answer without endpoint and ticket", openPath)
	}
	return &ep, nil
}

// frame is a data frame from DingTalk.
type frame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Time        int64             `json:"time"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// response is the client's answer to a frame.
type response struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

var (
	ackSuccess = `{"status":"SUCCESS","message":"success"}`
	ackLater   = `{"status":"LATER","message":"later"}`
)

func reply(ctx context.Context, ws *websocket.Conn, f *frame, code int, message, data string) error {
	b, _ := json.Marshal(response{Code: code, Message: message, Data: data,
		Headers: map[string]string{"messageId": f.Headers["messageId"], "contentType": "application/json"}})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ws.Write(wctx, websocket.MessageText, b)
}

// session runs one connection; up reports whether it opened.
func (c *Client) session(ctx context.Context, h Handler) (up bool, err error) {
	ep, err := c.open(ctx)
	if err != nil {
		return false, err
	}
	u := ep.Endpoint
	if strings.Contains(u, "?") {
		u += "&ticket=" + url.QueryEscape(ep.Ticket)
	} else {
		u += "?ticket=" + url.QueryEscape(ep.Ticket)
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	ws, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: c.http})
	cancel()
	if err != nil {
		return false, fmt.Errorf("opening the Stream WebSocket: %v", redactTicket(err.Error(), ep.Ticket))
	}
	defer ws.CloseNow()
	ws.SetReadLimit(16 << 20)
	c.count(func(s *Stats) { s.Connects++ })
	c.logf("dingtalk stream: connected")

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	events := make(chan frame, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.work(ctx, sctx, ws, events, h)
	}()
	defer func() { stop(); <-done }()
	for {
		rctx, rcancel := context.WithTimeout(sctx, c.cfg.IdleTimeout)
		_, b, err := ws.Read(rctx)
		idle := rctx.Err() == context.DeadlineExceeded
		rcancel()
		if err != nil {
			if idle {
				return true, fmt.Errorf("nothing arrived for %s", c.cfg.IdleTimeout)
			}
			return true, fmt.Errorf("the Stream connection ended: %v", err)
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil || f.Headers == nil {
			c.logf("dingtalk stream: an unreadable frame (%d bytes) ignored", len(b))
			continue
		}
		switch f.Type {
		case "SYSTEM":
			switch f.Headers["topic"] {
			case "ping":
				if err := reply(sctx, ws, &f, http.StatusOK, "OK", f.Data); err != nil {
					return true, fmt.Errorf("answering a ping: %v", err)
				}
				c.count(func(s *Stats) { s.Pings++ })
			case "disconnect":
				ws.Close(websocket.StatusNormalClosure, "")
				return true, errDisconnect
			}
		case "EVENT":
			select {
			case events <- f:
			case <-sctx.Done():
				return true, sctx.Err()
			}
		default:
			// CALLBACK frames (bots, cards) are not subscribed to.
			reply(sctx, ws, &f, http.StatusNotFound, "no handler for "+f.Type+" "+f.Headers["topic"], "")
		}
	}
}

// work handles a connection's events in order: first the backlog (when
// configured), then each EVENT frame. A backlog that cannot be drained
// (a failing handler or API call) does not hold the live events up: it
// is tried again, with backoff, between them. The handler gets runCtx, so
// a dropped connection does not interrupt a change half-way; its ack is
// then lost and the redelivery is recognised as a duplicate.
func (c *Client) work(runCtx, sctx context.Context, ws *websocket.Conn, events <-chan frame, h Handler) {
	var retry <-chan time.Time // set while the backlog waits for another try
	attempt := 0
	drain := func() {
		if _, err := c.DrainBacklog(runCtx, h); err != nil {
			attempt++
			d := c.backoff(attempt)
			c.logf("dingtalk stream: draining the failed-push backlog: %v; trying again in %s", err, d.Round(time.Millisecond))
			retry = time.After(d)
			return
		}
		attempt, retry = 0, nil
	}
	if c.cfg.Backlog != nil {
		drain()
	}
	for {
		var f frame
		select {
		case <-sctx.Done():
			return
		case <-retry:
			drain()
			continue
		case f = <-events:
		}
		ev, err := eventFromFrame(&f)
		if err != nil {
			c.count(func(s *Stats) { s.Malformed++ })
			c.logf("dingtalk stream: %v; acknowledged and skipped (a full pull reconciles)", err)
			reply(sctx, ws, &f, http.StatusOK, "OK", ackSuccess)
			continue
		}
		if c.cfg.Dedupe.Seen(ev.ID) {
			c.count(func(s *Stats) { s.Duplicates++ })
			reply(sctx, ws, &f, http.StatusOK, "OK", ackSuccess)
			continue
		}
		if err := h(runCtx, ev); err != nil {
			c.count(func(s *Stats) { s.Later++ })
			c.logf("dingtalk stream: event %s (%s) failed, asking for redelivery: %v", ev.ID, ev.Type, err)
			reply(sctx, ws, &f, http.StatusOK, "OK", ackLater)
			continue
		}
		c.cfg.Dedupe.Done(ev.ID)
		c.count(func(s *Stats) { s.Events++ })
		reply(sctx, ws, &f, http.StatusOK, "OK", ackSuccess)
	}
}

// DrainBacklog hands every event of the failed-push backlog to h, in the
// order DingTalk lists them, and returns how many it handled (duplicates
// not counted). DingTalk hands each entry out once: entries read but not
// yet handled when h fails stay in the client and are handed on first by
// the next call.
func (c *Client) DrainBacklog(ctx context.Context, h Handler) (int, error) {
	if c.cfg.Backlog == nil {
		return 0, &dingbook.Error{Code: dingbook.EINVALID, Message: "stream: DrainBacklog needs Config.Backlog (a DingTalk API client)"}
	}
	c.drainMu.Lock()
	defer c.drainMu.Unlock()
	n := 0
	for last := false; ; {
		for len(c.pending) > 0 {
			ev := c.pending[0]
			if c.cfg.Dedupe.Seen(ev.ID) {
				c.count(func(s *Stats) { s.Duplicates++ })
			} else {
				if err := h(ctx, ev); err != nil {
					return n, fmt.Errorf("backlog event %s (%s): %w", ev.Type, strings.Join(ids(ev), ","), err)
				}
				c.cfg.Dedupe.Done(ev.ID)
				c.count(func(s *Stats) { s.Backlog++ })
				n++
			}
			c.pending = c.pending[1:]
		}
		if last {
			return n, nil
		}
		list, more, err := c.cfg.Backlog.FailedPushes(ctx)
		if err != nil {
			return n, err
		}
		for _, p := range list {
			ev, err := eventFromBacklog(p)
			if err != nil {
				c.count(func(s *Stats) { s.Malformed++ })
				c.logf("dingtalk stream: backlog: %v; skipped (a full pull reconciles)", err)
				continue
			}
			c.pending = append(c.pending, ev)
		}
		last = !more || len(list) == 0
	}
}

func ids(ev Event) []string {
	out := append([]string(nil), ev.UserIDs...)
	for _, d := range ev.DeptIDs {
		out = append(out, fmt.Sprint(d))
	}
	return out
}

// redactTicket hides the one-time ticket in s.
func redactTicket(s, ticket string) string {
	if ticket == "" {
		return s
	}
	return strings.ReplaceAll(s, ticket, "REDACTED")
}
