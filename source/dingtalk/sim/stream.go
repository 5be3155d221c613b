package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// Stream mode (dingtalk-api.md §8.2, checklist 29): POST
// /v1.0/gateway/connections/open hands out an endpoint and a one-time
// ticket; the client opens a WebSocket to <endpoint>?ticket=<ticket>. The
// simulator then sends EVENT frames for the app's queued events and
// SYSTEM ping frames, and reads the client's answers: a SUCCESS answer
// removes an event from the queue, LATER (or any answer whose code is
// not 200) redelivers it after StreamConfig.LaterDelay, no answer within
// StreamConfig.AckTimeout redelivers it, and a dropped connection
// redelivers what was in flight on the next connection.
//
// Choices where the doc is silent:
//   - connections/open with a bad clientId/clientSecret answers HTTP 400
//     invalidClientIdOrSecret, like v1.0/oauth2/accessToken; an unknown,
//     used or expired ticket gets HTTP 401 instead of the WebSocket.
//   - EVENT frames carry topic "*" (what the SDK's catch-all event
//     handler is registered under); a client that subscribed EVENT with
//     named topics only gets those event types.
//   - Events are sent as soon as they are queued, several may be in
//     flight at once, and a LATER'd event may overtake none or all of
//     the later ones: clients must not rely on order.

const (
	streamOpenPath    = "/v1.0/gateway/connections/open"
	streamConnectPath = "/gateway/connect"
)

// StreamConfig tunes the simulated Stream gateway.
type StreamConfig struct {
	// AckTimeout is how long an EVENT frame waits for an answer before it
	// is redelivered (default 16 s, the delay reported for bot callbacks;
	// the real event schedule is UNCONFIRMED).
	AckTimeout time.Duration
	// LaterDelay is the redelivery delay after a LATER answer (default 1 s).
	LaterDelay time.Duration
	// PingEvery is the SYSTEM ping interval (default 30 s).
	PingEvery time.Duration
	// MaxDeliveries is how often an event is delivered without SUCCESS
	// before it moves to the failed-push backlog (default 10).
	MaxDeliveries int
	// TicketTTL bounds the time between connections/open and the
	// WebSocket (default 90 s).
	TicketTTL time.Duration
}

type ticket struct {
	app     string
	expires time.Time
	subs    []subscription
}

type subscription struct {
	Type  string `json:"type"`
	Topic string `json:"topic"`
}

// frame is a data frame the gateway sends.
type frame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Time        int64             `json:"time"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// answer is a client's response frame.
type answer struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

// streamConn is one open WebSocket; its maps are guarded by eventState.mu.
type streamConn struct {
	s      *Server
	app    string
	ae     *appEvents
	ws     *websocket.Conn
	id     string
	topics map[string]bool // EVENT topics subscribed ("*" = all)
	notify chan struct{}
	sent   map[string]*delivery // messageId → delivery
	pings  map[string]bool      // messageIds of unanswered pings
}

func (c *streamConn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *streamConn) wants(eventType string) bool {
	return c.topics["*"] || c.topics[eventType]
}

func (s *Server) streamDefaults() {
	st := &s.cfg.Stream
	if st.AckTimeout <= 0 {
		st.AckTimeout = 16 * time.Second
	}
	if st.LaterDelay <= 0 {
		st.LaterDelay = time.Second
	}
	if st.PingEvery <= 0 {
		st.PingEvery = 30 * time.Second
	}
	if st.MaxDeliveries <= 0 {
		st.MaxDeliveries = 10
	}
	if st.TicketTTL <= 0 {
		st.TicketTTL = 90 * time.Second
	}
}

// streamOpen answers POST /v1.0/gateway/connections/open.
func (s *Server) streamOpen(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.v1Error(w, http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		return
	}
	var body struct {
		ClientID      string         `json:"clientId"`
		ClientSecret  string         `json:"clientSecret"`
		Subscriptions []subscription `json:"subscriptions"`
		UA            string         `json:"ua"`
		LocalIP       string         `json:"localIp"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ClientID == "" {
		s.logf("sim: POST %s → 400 MissingclientId", streamOpenPath)
		s.v1Error(w, http.StatusBadRequest, "MissingclientId", "clientId is mandatory for this action.")
		return
	}
	app, ok := s.apps[body.ClientID]
	if !ok || body.ClientSecret != app.Secret {
		s.logf("sim: POST %s app=%s → 400 invalidClientIdOrSecret", streamOpenPath, body.ClientID)
		s.v1Error(w, http.StatusBadRequest, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
		return
	}
	t := newToken()
	es := s.events
	es.mu.Lock()
	es.tickets[t] = ticket{app: app.Key, expires: s.cfg.Now().Add(s.cfg.Stream.TicketTTL), subs: body.Subscriptions}
	es.stats.Opens++
	es.mu.Unlock()
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	s.logf("sim: POST %s app=%s → 200", streamOpenPath, app.Key)
	s.v1Headers(w)
	w.WriteHeader(http.StatusOK)
	writeJSON(w, map[string]any{"endpoint": scheme + "://" + r.Host + streamConnectPath, "ticket": t})
}

// streamConnect accepts the WebSocket of a ticket and serves it until it
// closes.
func (s *Server) streamConnect(w http.ResponseWriter, r *http.Request) {
	es := s.events
	es.mu.Lock()
	t, ok := es.tickets[r.URL.Query().Get("ticket")]
	delete(es.tickets, r.URL.Query().Get("ticket"))
	es.mu.Unlock()
	if !ok || !s.cfg.Now().Before(t.expires) {
		s.logf("sim: GET %s → 401 bad ticket", streamConnectPath)
		s.v1Error(w, http.StatusUnauthorized, "InvalidTicket", "ticket无效或已过期")
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &streamConn{s: s, app: t.app, ws: ws, id: newToken(), topics: map[string]bool{},
		notify: make(chan struct{}, 1), sent: map[string]*delivery{}, pings: map[string]bool{}}
	for _, sub := range t.subs {
		if sub.Type == "EVENT" {
			c.topics[sub.Topic] = true
		}
	}
	es.mu.Lock()
	c.ae = es.apps[t.app]
	c.ae.conns[c] = true
	es.stats.Connections++
	es.mu.Unlock()
	s.logf("sim: stream connection app=%s open", t.app)

	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		ws.CloseNow()
		c.closed()
		s.logf("sim: stream connection app=%s closed", t.app)
	}()
	go func() {
		defer cancel()
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			c.answered(b)
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	ping := time.NewTicker(s.cfg.Stream.PingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.notify:
		case <-tick.C:
		case <-ping.C:
			if c.ping(ctx) != nil {
				return
			}
		}
		if c.dispatch(ctx) != nil {
			return
		}
	}
}

// closed forgets c: what was in flight on it goes back to the queue.
func (c *streamConn) closed() {
	es := c.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	delete(c.ae.conns, c)
	for _, d := range c.ae.queue {
		if d.conn == c {
			d.conn = nil
		}
	}
	for o := range c.ae.conns {
		o.wake()
	}
}

func (c *streamConn) send(ctx context.Context, f frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *streamConn) ping(ctx context.Context) error {
	id := newToken()
	now := c.s.cfg.Now()
	es := c.s.events
	es.mu.Lock()
	c.pings[id] = true
	es.stats.Pings++
	es.mu.Unlock()
	data, _ := json.Marshal(map[string]string{"opaque": newToken()})
	return c.send(ctx, frame{SpecVersion: "1.0", Type: "SYSTEM", Time: now.UnixMilli(), Data: string(data),
		Headers: map[string]string{"contentType": "application/json", "messageId": id, "time": strconv.FormatInt(now.UnixMilli(), 10), "topic": "ping"}})
}

// dispatch sends every queued event that is due on c, after returning
// timed-out deliveries to the queue and moving exhausted ones to the
// backlog.
func (c *streamConn) dispatch(ctx context.Context) error {
	s := c.s
	es := s.events
	now := s.cfg.Now()
	dup := s.Faults().DuplicateEvents
	var out []frame
	es.mu.Lock()
	keep := c.ae.queue[:0]
	for _, d := range c.ae.queue {
		if d.conn == c && now.After(d.deadline) {
			d.conn = nil
			es.stats.Timeouts++
		}
		if d.conn != nil || now.Before(d.notBefore) || !c.wants(d.ev.Type) {
			keep = append(keep, d)
			continue
		}
		if d.deliveries >= s.cfg.Stream.MaxDeliveries {
			c.ae.backlog = append(c.ae.backlog, d.ev)
			es.stats.ToBacklog++
			continue
		}
		d.conn, d.deadline = c, now.Add(s.cfg.Stream.AckTimeout)
		d.deliveries++
		n := 1
		if dup {
			n = 2
		}
		for range n {
			f := c.eventFrame(d.ev, now)
			c.sent[f.Headers["messageId"]] = d
			out = append(out, f)
			es.stats.Frames++
		}
		keep = append(keep, d)
	}
	clear(c.ae.queue[len(keep):])
	c.ae.queue = keep
	es.mu.Unlock()
	for _, f := range out {
		if err := c.send(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (c *streamConn) eventFrame(ev *Event, now time.Time) frame {
	data, _ := json.Marshal(ev.Data)
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	return frame{SpecVersion: "1.0", Type: "EVENT", Time: now.UnixMilli(), Data: string(data), Headers: map[string]string{
		"appId": c.app, "connectionId": c.id, "contentType": "application/json",
		"eventBornTime": strconv.FormatInt(ev.BornTime, 10), "eventCorpId": ev.CorpID, "eventId": ev.ID,
		"eventType": ev.Type, "eventUnifiedAppId": c.app, "messageId": newToken(), "time": ms, "topic": "*",
	}}
}

// answered handles one frame from the client: a ping answer or an
// event's acknowledgement.
func (c *streamConn) answered(b []byte) {
	var a answer
	if json.Unmarshal(b, &a) != nil {
		c.s.logf("sim: stream: unreadable frame from the client (%d bytes)", len(b))
		return
	}
	id := a.Headers["messageId"]
	es := c.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	if c.pings[id] {
		delete(c.pings, id)
		es.stats.Pongs++
		return
	}
	d := c.sent[id]
	if d == nil {
		return
	}
	delete(c.sent, id)
	i := slices.Index(c.ae.queue, d)
	if i < 0 {
		return // already acknowledged (a duplicate frame)
	}
	var st struct {
		Status string `json:"status"`
	}
	json.Unmarshal([]byte(a.Data), &st)
	if a.Code == http.StatusOK && st.Status == "SUCCESS" {
		c.ae.queue = slices.Delete(c.ae.queue, i, i+1)
		es.stats.Acks++
		return
	}
	es.stats.Laters++
	d.conn = nil
	d.notBefore = c.s.cfg.Now().Add(c.s.cfg.Stream.LaterDelay)
}

// DropStreams closes every open Stream connection at once, without a
// close frame (a network failure).
func (s *Server) DropStreams() {
	conns := s.streamConns()
	s.events.mu.Lock()
	s.events.stats.Drops += len(conns)
	s.events.mu.Unlock()
	for _, c := range conns {
		c.ws.CloseNow()
	}
}

// Disconnect sends SYSTEM disconnect to every open Stream connection (as
// DingTalk does before maintenance); the gateway closes them one second
// later if the clients have not.
func (s *Server) Disconnect() {
	now := s.cfg.Now()
	for _, c := range s.streamConns() {
		data, _ := json.Marshal(map[string]string{"reason": "server maintenance"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c.send(ctx, frame{SpecVersion: "1.0", Type: "SYSTEM", Time: now.UnixMilli(), Data: string(data),
			Headers: map[string]string{"contentType": "application/json", "messageId": newToken(), "time": strconv.FormatInt(now.UnixMilli(), 10), "topic": "disconnect"}})
		cancel()
		time.AfterFunc(time.Second, func() { c.ws.CloseNow() })
	}
}

// StreamConnections returns the number of open Stream connections.
func (s *Server) StreamConnections() int { return len(s.streamConns()) }

// streamConns lists the open Stream connections of every app.
func (s *Server) streamConns() []*streamConn {
	es := s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	var conns []*streamConn
	for _, ae := range es.apps {
		for c := range ae.conns {
			conns = append(conns, c)
		}
	}
	return conns
}
