package stream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/dingtalk/stream"
	"github.com/dingbook/dingbook/source/gen"
)

var truth = gen.Generate(gen.Options{Users: 120, Depts: 12, Seed: 5})

type env struct {
	t   *testing.T
	sim *sim.Server
	ts  *httptest.Server
	api *dingtalk.Client
}

// fast gateway timings so that redeliveries happen within a test.
var fastStream = sim.StreamConfig{AckTimeout: 2 * time.Second, LaterDelay: 20 * time.Millisecond, PingEvery: 50 * time.Millisecond}

func newEnv(t *testing.T, cfg sim.Config) *env {
	t.Helper()
	if cfg.Truth == nil {
		cfg.Truth = truth
	}
	if cfg.Stream == (sim.StreamConfig{}) {
		cfg.Stream = fastStream
	}
	cfg.QPS = -1
	s := sim.New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	app := sim.DefaultApp()
	api := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: app.Key, AppSecret: app.Secret, MaxRetries: 1})
	return &env{t: t, sim: s, ts: ts, api: api}
}

func (e *env) client(mod func(*stream.Config)) *stream.Client {
	app := sim.DefaultApp()
	cfg := stream.Config{APIBase: e.ts.URL, ClientID: app.Key, ClientSecret: app.Secret,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logf: e.t.Logf}
	if mod != nil {
		mod(&cfg)
	}
	return stream.New(cfg)
}

// run starts c.Run in the background until the test ends.
func (e *env) run(c *stream.Client, h stream.Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			e.t.Errorf("Run ended with %v, want context.Canceled", err)
		}
	})
	waitFor(e.t, func() bool { return e.sim.StreamConnections() > 0 }, "the client to connect")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// recorder is a handler that remembers every event it was handed.
type recorder struct {
	mu   sync.Mutex
	got  []stream.Event
	fail func(stream.Event) error // optional
}

func (r *recorder) handle(ctx context.Context, ev stream.Event) error {
	r.mu.Lock()
	r.got = append(r.got, ev)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		return fail(ev)
	}
	return nil
}

func (r *recorder) events() []stream.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// summary lists "type ids" per handled event.
func summary(evs []stream.Event) []string {
	var out []string
	for _, e := range evs {
		ids := strings.Join(e.UserIDs, ",")
		if len(e.DeptIDs) > 0 {
			ids = fmt.Sprint(e.DeptIDs)
		}
		out = append(out, e.Type+" "+ids)
	}
	return out
}

func (e *env) drained() bool {
	q, b := e.sim.Pending("")
	return q == 0 && b == 0
}

func person(id string, dept int64) dingbook.Person {
	return dingbook.Person{UserID: id, Name: "新人" + id, Active: true, Depts: []dingbook.Membership{{DeptID: dept}}}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A dropped WebSocket reconnects and no event is lost: not those fired
// while it was down, not the one whose ack was lost with the connection.
func TestDroppedConnectionLosesNothing(t *testing.T) {
	e := newEnv(t, sim.Config{})
	rec := &recorder{}
	rec.fail = func(ev stream.Event) error {
		if ev.Type == stream.UserAdd && ev.UserIDs[0] == "u-drop" {
			// the connection dies before the ack can be sent
			e.sim.DropStreams()
		}
		return nil
	}
	c := e.client(nil)
	e.run(c, rec.handle)
	leaver := truth.Org.People[7].UserID
	must(t, e.sim.AddUser(person("u1", 1)))
	waitFor(t, func() bool { return len(rec.events()) == 1 }, "the first event")
	e.sim.DropStreams()
	must(t, e.sim.AddUser(person("u2", 1)))
	must(t, e.sim.UpdateUser("u1", func(p *dingbook.Person) { p.Title = "工程师" }))
	must(t, e.sim.RemoveUser(leaver))
	waitFor(t, func() bool { return len(rec.events()) == 4 && e.sim.StreamConnections() == 1 }, "the events fired while down")
	e.sim.DropStreams()
	must(t, e.sim.AddUser(person("u-drop", 1)))
	must(t, e.sim.AddDept(dingbook.Department{ID: 660001, Name: "新", ParentID: 1}))
	waitFor(t, func() bool { return e.drained() && len(rec.events()) >= 6 }, "every event to be acknowledged")
	want := []string{"user_add_org u1", "user_add_org u2", "user_modify_org u1", "user_leave_org " + leaver, "user_add_org u-drop", "org_dept_create [660001]"}
	got := summary(rec.events())
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("handled:\n%s\nwant (each once):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := c.Stats()
	if st.Connects != 4 || st.Events != 6 || st.Duplicates < 1 {
		t.Fatalf("client stats %+v: want 4 connections, 6 events and the redelivery of u-drop as a duplicate", st)
	}
	if ss := e.sim.StreamStats(); ss.Drops != 3 || ss.Acks != 6 {
		t.Fatalf("simulator stats %+v", ss)
	}
	// the modify event carries the diff
	for _, ev := range rec.events() {
		if ev.Type == stream.UserModify && (ev.Diff == nil || ev.Diff.Curr["title"] != "工程师" || ev.Diff.UserID != "u1") {
			t.Fatalf("user_modify_org diff %+v", ev.Diff)
		}
	}
}

// An event delivered twice reaches the handler once.
func TestDuplicateDeliveryHandledOnce(t *testing.T) {
	e := newEnv(t, sim.Config{Faults: sim.Faults{DuplicateEvents: true}})
	rec := &recorder{}
	c := e.client(nil)
	e.run(c, rec.handle)
	must(t, e.sim.AddUser(person("d1", 1)))
	must(t, e.sim.SetAdmin("d1", true))
	must(t, e.sim.AddDept(dingbook.Department{ID: 660002, Name: "x", ParentID: 1}))
	waitFor(t, func() bool { return e.drained() && c.Stats().Duplicates == 3 }, "both copies of 3 events")
	got := summary(rec.events())
	want := []string{"user_add_org d1", "org_admin_add d1", "org_dept_create [660002]"}
	if !slices.Equal(got, want) {
		t.Fatalf("handled %q, want %q", got, want)
	}
	if ss := e.sim.StreamStats(); ss.Frames != 6 {
		t.Fatalf("the simulator sent %d frames, want 6 (each event twice)", ss.Frames)
	}
}

// Events fired while no client is connected go to the failed-push
// backlog and come back from it when the client connects.
func TestBacklogAfterDowntime(t *testing.T) {
	e := newEnv(t, sim.Config{Faults: sim.Faults{BacklogWhileDisconnected: true}})
	leaver := truth.Org.People[3].UserID
	must(t, e.sim.AddUser(person("b1", 1)))
	must(t, e.sim.UpdateUser("b1", func(p *dingbook.Person) { p.Mobile = "13900000000" }))
	must(t, e.sim.RemoveUser(leaver))
	must(t, e.sim.AddDept(dingbook.Department{ID: 660003, Name: "y", ParentID: 1}))
	if _, b := e.sim.Pending(""); b != 4 {
		t.Fatalf("backlog %d, want 4", b)
	}
	rec := &recorder{}
	c := e.client(func(cfg *stream.Config) { cfg.Backlog = e.api })
	e.run(c, rec.handle)
	waitFor(t, func() bool { return len(rec.events()) == 4 }, "the backlog")
	must(t, e.sim.AddUser(person("b2", 1)))
	waitFor(t, func() bool { return len(rec.events()) == 5 && e.drained() }, "the live event")
	evs := rec.events()
	want := []string{"user_add_org b1", "user_modify_org b1", "user_leave_org " + leaver, "org_dept_create [660003]", "user_add_org b2"}
	if got := summary(evs); !slices.Equal(got, want) {
		t.Fatalf("handled %q, want %q", got, want)
	}
	for i, ev := range evs {
		if ev.FromBacklog != (i < 4) || ev.ID == "" || ev.BornTime.IsZero() {
			t.Fatalf("event %d: FromBacklog %v, ID %q, born %v", i, ev.FromBacklog, ev.ID, ev.BornTime)
		}
	}
	if st := c.Stats(); st.Backlog != 4 || st.Events != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A backlog event whose handler keeps failing does not hold up the live
// events; it is tried again until it succeeds.
func TestFailingBacklogDoesNotBlockLiveEvents(t *testing.T) {
	e := newEnv(t, sim.Config{Faults: sim.Faults{BacklogWhileDisconnected: true}})
	must(t, e.sim.AddUser(person("stuck", 1)))
	var mu sync.Mutex
	failing := true
	rec := &recorder{fail: func(ev stream.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if ev.UserIDs[0] == "stuck" && failing {
			return errors.New("store busy")
		}
		return nil
	}}
	c := e.client(func(cfg *stream.Config) { cfg.Backlog = e.api })
	e.run(c, rec.handle)
	must(t, e.sim.AddUser(person("live", 1)))
	waitFor(t, func() bool { q, _ := e.sim.Pending(""); return q == 0 && c.Stats().Events == 1 }, "the live event")
	mu.Lock()
	failing = false
	mu.Unlock()
	waitFor(t, func() bool { return c.Stats().Backlog == 1 }, "the backlog event to be retried")
	got := summary(rec.events())
	if len(got) < 3 || got[0] != "user_add_org stuck" || !slices.Contains(got, "user_add_org live") || got[len(got)-1] != "user_add_org stuck" {
		t.Fatalf("handled %q: want stuck (failing), live, …, stuck (succeeding)", got)
	}
}

// A backlog event whose handler fails is kept by the client (DingTalk
// hands it out once) and handed on by the next DrainBacklog.
func TestDrainBacklogKeepsFailedEvents(t *testing.T) {
	e := newEnv(t, sim.Config{Faults: sim.Faults{BacklogWhileDisconnected: true}})
	for i := range 3 {
		must(t, e.sim.AddUser(person(fmt.Sprint("k", i), 1)))
	}
	c := e.client(func(cfg *stream.Config) { cfg.Backlog = e.api })
	rec := &recorder{fail: func(ev stream.Event) error {
		if ev.UserIDs[0] == "k1" {
			return errors.New("store busy")
		}
		return nil
	}}
	n, err := c.DrainBacklog(context.Background(), rec.handle)
	if err == nil || n != 1 || !strings.Contains(err.Error(), "store busy") || !strings.Contains(err.Error(), "k1") {
		t.Fatalf("DrainBacklog = %d, %v; want 1 and the failure naming k1", n, err)
	}
	if _, b := e.sim.Pending(""); b != 0 {
		t.Fatalf("DingTalk still holds %d backlog entries", b)
	}
	rec.fail = nil
	n, err = c.DrainBacklog(context.Background(), rec.handle)
	if err != nil || n != 2 {
		t.Fatalf("second DrainBacklog = %d, %v; want 2", n, err)
	}
	if got := summary(rec.events()); !slices.Equal(got, []string{"user_add_org k0", "user_add_org k1", "user_add_org k1", "user_add_org k2"}) {
		t.Fatalf("handled %q", got)
	}
	if _, err := e.client(nil).DrainBacklog(context.Background(), rec.handle); dingbook.ErrorCode(err) != dingbook.EINVALID {
		t.Fatalf("DrainBacklog without an API client: %v", err)
	}
}

// An event whose handler fails (here: its re-read fails) is answered
// LATER, not acknowledged, and handled again when redelivered.
func TestFailedHandlerRedelivered(t *testing.T) {
	e := newEnv(t, sim.Config{})
	target := truth.Org.People[11].UserID
	var titles []string
	var mu sync.Mutex
	h := func(ctx context.Context, ev stream.Event) error {
		// the consumer re-reads what the event names
		p, err := e.api.GetUser(ctx, ev.UserIDs[0])
		if err != nil {
			return err
		}
		mu.Lock()
		titles = append(titles, p.Title)
		mu.Unlock()
		return nil
	}
	c := e.client(nil)
	e.run(c, h)
	// the client retries a -1 once (MaxRetries 1): three failures make
	// the first handler call fail, the second succeed
	e.sim.FailReads(target, 3)
	must(t, e.sim.UpdateUser(target, func(p *dingbook.Person) { p.Title = "新职位" }))
	waitFor(t, func() bool { return e.drained() && c.Stats().Events == 1 }, "the retried event to be acknowledged")
	st, ss := c.Stats(), e.sim.StreamStats()
	if st.Later != 1 || ss.Laters != 1 || ss.Acks != 1 || ss.Frames != 2 {
		t.Fatalf("client %+v, simulator %+v: want one LATER, then one ack of the redelivery", st, ss)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(titles, []string{"新职位"}) {
		t.Fatalf("applied %q", titles)
	}
}

// Pings are answered; SYSTEM disconnect makes the client reconnect.
func TestPingsAndDisconnect(t *testing.T) {
	e := newEnv(t, sim.Config{})
	rec := &recorder{}
	c := e.client(nil)
	e.run(c, rec.handle)
	waitFor(t, func() bool { return e.sim.StreamStats().Pongs >= 3 && c.Stats().Pings >= 3 }, "three answered pings")
	e.sim.Disconnect()
	waitFor(t, func() bool { return c.Stats().Connects == 2 && e.sim.StreamConnections() == 1 }, "the reconnection")
	must(t, e.sim.AddUser(person("p1", 1)))
	waitFor(t, func() bool { return len(rec.events()) == 1 && e.drained() }, "an event after the reconnection")
}

// Wrong credentials end Run with an auth error that does not show the
// secret, instead of retrying forever.
func TestBadCredentials(t *testing.T) {
	e := newEnv(t, sim.Config{})
	secret := "not-the-secret-xyz"
	c := e.client(func(cfg *stream.Config) { cfg.ClientSecret = secret })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Run(ctx, (&recorder{}).handle)
	var de *dingbook.Error
	if !errors.As(err, &de) || de.Code != dingbook.EAUTH || de.Hint == "" || strings.Contains(err.Error(), secret) {
		t.Fatalf("Run with a bad secret: %v", err)
	}
}

// A malformed API base ends Run at once instead of retrying forever.
func TestBadAPIBase(t *testing.T) {
	c := stream.New(stream.Config{APIBase: "://nowhere", ClientID: "k", ClientSecret: "s"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Run(ctx, (&recorder{}).handle); dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "://nowhere") {
		t.Fatalf("Run with a malformed API base: %v", err)
	}
}

// Dedupe is pluggable: a consumer's own Deduper decides what was seen.
func TestCustomDeduper(t *testing.T) {
	e := newEnv(t, sim.Config{})
	seen := &setDeduper{m: map[string]bool{}}
	rec := &recorder{}
	c := e.client(func(cfg *stream.Config) { cfg.Dedupe = seen })
	e.run(c, rec.handle)
	must(t, e.sim.AddUser(person("c1", 1)))
	waitFor(t, func() bool { return e.drained() }, "the event")
	if len(seen.m) != 1 || len(rec.events()) != 1 || !seen.m[rec.events()[0].ID] {
		t.Fatalf("the custom deduper holds %v", seen.m)
	}
}

type setDeduper struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *setDeduper) Seen(id string) bool { s.mu.Lock(); defer s.mu.Unlock(); return s.m[id] }
func (s *setDeduper) Done(id string)      { s.mu.Lock(); s.m[id] = true; s.mu.Unlock() }

func TestLRUForgetsOldest(t *testing.T) {
	l := stream.NewLRU(2)
	l.Done("a")
	l.Done("b")
	l.Seen("a") // refreshes a
	l.Done("c") // evicts b
	if !l.Seen("a") || l.Seen("b") || !l.Seen("c") {
		t.Fatal("LRU kept the wrong ids")
	}
}
