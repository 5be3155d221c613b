package sim

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// Change events (dingtalk-api.md §8.3, checklist 29–31).
//
// Every change made through mutate.go fires one or more contact events.
// Each app keeps its own queue: an event waits there until a Stream
// client acknowledges it (stream.go), or goes to the app's failed-push
// backlog, served by GET /call_back/get_call_back_failed_result, when it
// cannot be delivered.
//
// Choices where the doc is silent (documented here so clients know):
//   - Events fired while no Stream connection of the app is open wait for
//     the next connection, unless Faults.BacklogWhileDisconnected sends
//     them to the backlog instead.
//   - An event that was delivered StreamConfig.MaxDeliveries times without
//     a SUCCESS answer moves to the backlog.
//   - get_call_back_failed_result hands out (and removes) the oldest 200
//     entries per call; has_more says whether more remain. Its per-event
//     object uses lower-case keys as the doc's sample does ("userid",
//     "deptid") plus "corpid"; it carries no eventId.
//   - Every app receives every event (the contact range does not filter
//     them).

// Event types the simulator fires.
const (
	EventUserAdd     = "user_add_org"
	EventUserModify  = "user_modify_org"
	EventUserLeave   = "user_leave_org"
	EventUserActive  = "user_active_org"
	EventDeptCreate  = "org_dept_create"
	EventDeptModify  = "org_dept_modify"
	EventDeptRemove  = "org_dept_remove"
	EventAdminAdd    = "org_admin_add"
	EventAdminRemove = "org_admin_remove"
)

// failedResultPath is the failed-push backlog endpoint (oapi family).
const failedResultPath = "/call_back/get_call_back_failed_result"

// failedPageSize is how many backlog entries one call returns.
const failedPageSize = 200

// Event is one fired change event, as the simulator delivers it.
type Event struct {
	ID       string // eventId
	Type     string // eventType
	BornTime int64  // eventBornTime, Unix ms
	CorpID   string
	// Data is the Stream form of the event's data object.
	Data map[string]any
	// Backlog is the data object of the failed-push backlog's form.
	Backlog map[string]any
}

// delivery is one event waiting in an app's queue.
type delivery struct {
	ev         *Event
	conn       *streamConn // the connection it is in flight on, or nil
	deadline   time.Time   // ack deadline while in flight
	notBefore  time.Time   // after a LATER answer
	deliveries int
}

// appEvents is one app's queue, backlog and connections.
type appEvents struct {
	queue   []*delivery
	backlog []*Event
	conns   map[*streamConn]bool
}

// eventState is the simulator's event machinery; its mutex guards
// everything below it and the Stream connections' state.
type eventState struct {
	mu      sync.Mutex
	apps    map[string]*appEvents
	tickets map[string]ticket
	stats   StreamStats
	failGet map[string]int // re-read faults: id → calls left to fail
	leaves  []leaveRecord  // for empLeaveRecords (leave.go)
	churn   int            // joiners made by RandomChange
}

func newEventState(s *Server) *eventState {
	s.streamDefaults()
	es := &eventState{apps: map[string]*appEvents{}, tickets: map[string]ticket{}, failGet: map[string]int{}}
	for _, a := range s.cfg.Apps {
		es.apps[a.Key] = &appEvents{conns: map[*streamConn]bool{}}
	}
	return es
}

// StreamStats counts what the Stream side of the simulator did.
type StreamStats struct {
	Opens       int // connections/open answered with a ticket
	Connections int // WebSocket connections accepted
	Drops       int // connections dropped by DropStreams
	Fired       int // events fired (per app)
	Frames      int // EVENT frames sent (redeliveries and duplicates included)
	Acks        int // SUCCESS answers
	Laters      int // LATER answers
	Timeouts    int // deliveries that got no answer in time
	Pings       int // SYSTEM ping frames sent
	Pongs       int // ping answers received
	ToBacklog   int // events moved to the failed-push backlog
	Drained     int // backlog entries handed out
}

// StreamStats returns a copy of the Stream counters.
func (s *Server) StreamStats() StreamStats {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.stats
}

// Pending returns the number of events of app (DefaultAppKey when "")
// that wait for an acknowledgement, and the number in its backlog.
func (s *Server) Pending(app string) (queued, backlog int) {
	if app == "" {
		app = DefaultAppKey
	}
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	ae := s.events.apps[app]
	if ae == nil {
		return 0, 0
	}
	return len(ae.queue), len(ae.backlog)
}

// FailReads makes the next n reads of id fail with errcode -1 系统繁忙:
// v2/user/get for a userid, v2/department/get for a department id (as
// text). It lets tests see an event whose re-read fails.
func (s *Server) FailReads(id string, n int) {
	s.events.mu.Lock()
	s.events.failGet[id] = n
	s.events.mu.Unlock()
}

// readFails reports (and counts down) a re-read fault for id.
func (s *Server) readFails(id string) bool {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	if s.events.failGet[id] <= 0 {
		return false
	}
	s.events.failGet[id]--
	return true
}

// fire builds an event and queues it for every app. ids are userids
// (user and admin events) or department ids (department events).
func (s *Server) fire(typ string, users []string, depts []int64, diff map[string]any) {
	now := s.cfg.Now()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	data := map[string]any{"timeStamp": ts}
	bl := map[string]any{"corpid": s.corpID()}
	if depts != nil {
		data["deptId"] = depts
		bl["deptid"] = depts
	} else {
		data["userId"] = users
		bl["userid"] = users
	}
	if diff != nil {
		data["diffInfo"] = diff
	}
	f := s.Faults()
	ev := &Event{ID: newToken(), Type: typ, BornTime: now.UnixMilli(), CorpID: s.corpID(), Data: data, Backlog: bl}
	es := s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, ae := range es.apps {
		es.stats.Fired++
		if len(ae.conns) == 0 && f.BacklogWhileDisconnected {
			ae.backlog = append(ae.backlog, ev)
			es.stats.ToBacklog++
			continue
		}
		ae.queue = append(ae.queue, &delivery{ev: ev})
		for c := range ae.conns {
			c.wake()
		}
	}
	s.logf("sim: event %s %v%v", typ, users, depts)
}

func (s *Server) corpID() string {
	if s.org.CorpID != "" {
		return s.org.CorpID
	}
	return "dingsimcorp0000000000000000000001"
}

// failedResult answers GET /call_back/get_call_back_failed_result: the
// oldest entries of the app's backlog, removed as they are handed out.
func (s *Server) failedResult(c *call) {
	es := s.events
	es.mu.Lock()
	ae := es.apps[c.app.Key]
	n := min(len(ae.backlog), failedPageSize)
	list := make([]any, 0, n)
	for _, ev := range ae.backlog[:n] {
		// a copy: quote (StringNumbers) rewrites maps in place
		b, _ := json.Marshal(ev.Backlog)
		var data map[string]any
		json.Unmarshal(b, &data)
		list = append(list, map[string]any{"call_back_tag": ev.Type, "event_time": ev.BornTime, ev.Type: data})
	}
	ae.backlog = append([]*Event(nil), ae.backlog[n:]...)
	more := len(ae.backlog) > 0
	es.stats.Drained += n
	es.mu.Unlock()
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "has_more": more, "failed_list": list})
}
