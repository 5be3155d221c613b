// Package sim is a faithful local simulator of the DingTalk Open API for
// reading an organisation's address book. A *Server is an http.Handler
// that serves both API families from one handler:
//
//   - old style (oapi.dingtalk.com): GET /gettoken, GET /auth/scopes and
//     POST /topapi/... (token only from ?access_token= or a form-body
//     access_token field; HTTP 200 for every error, errcode 88 with
//     sub_code/sub_msg for gateway errors);
//   - new style (api.dingtalk.com): POST /v1.0/oauth2/accessToken,
//     POST /v1.0/contact/users/search and /v1.0/contact/departments/search
//     (token from the x-acs-dingtalk-access-token header; HTTP 4xx with
//     {code,message,requestid}); for login POST /v1.0/oauth2/userAccessToken
//     and GET /v1.0/contact/users/{me|unionId} with a user token;
//   - the login page (login.dingtalk.com): GET /oauth2/auth, a plain HTML
//     user picker, or ?sim_user=USERID|UNIONID to log in without it
//     (login.go; serve.md §A and checklist items 33–39).
//
// The old-style endpoints served: v2/department/listsub, listsubid, get,
// listparentbydept, listparentbyuser; v2/user/list, v2/user/get,
// v2/user/getbymobile, v2/user/getuserinfo; user/listsimple, listid,
// count, listadmin, getbyunionid, get_admin_scope; role/list, simplelist,
// getrole, getrolegroup; extcontact/list, listlabelgroups, get, and for
// tests create, update, delete (extwrite.go);
// message/corpconversation/asyncsend_v2 (recorded, see Notices);
// auth/scopes.
//
// Login state comes from the generator (gen.Truth.Admins, .Accounts, or
// derived from the org): one primary admin (sys_level 1), sub-admins
// (sys_level 2) with department scopes, and DingTalk accounts that are not
// members (outsiders, former members, external contacts' accounts,
// members of another corpId). Auth codes live 5 minutes and are single
// use; LoginCode and InAppCode issue them without the page. The
// UNCONFIRMED login behaviours are switches in LoginConfig.
//
// Change events (§8, checklist 29–31): POST /v1.0/gateway/connections/open
// and the Stream WebSocket (stream.go) deliver contact events with acks,
// LATER and redelivery; GET /call_back/get_call_back_failed_result serves
// the failed-push backlog (events.go); GET /v1.0/contact/empLeaveRecords
// lists the leavers (leave.go, checklist 32). Tests change the organisation with
// AddUser, UpdateUser, MoveUser, SetAdmin, RemoveUser, AddDept, UpdateDept
// and RemoveDept (mutate.go): the next API call sees the change and the
// matching events fire; the admin state follows SetAdmin and RemoveUser,
// and a removed member's account becomes a former member's (login.go).
// Stream faults: DropStreams, Disconnect,
// Faults.DuplicateEvents, Faults.BacklogWhileDisconnected, FailReads.
//
// It serves an organisation from the generator's truth (source/gen) and
// reproduces the behaviour described in docs dingtalk-api.md §1–§7 and
// checklist items 1–28: token reuse and renewal, envelopes and request
// ids, JSON or form bodies with numbers or numeric strings, validation
// codes, direct-members-only paging with int64 orders, restricted staff,
// field gating, scopes (60011), contact range (50002/50004), IP
// whitelist (60020), per-app and global throttling (90018/90002) and
// fault injection (-1, HTTP 5xx, connection resets, hanging requests,
// latency, throttle bursts, short token lifetimes, per-IP blocks), and
// ISV apps' field set.
//
// Where the real behaviour is UNCONFIRMED the Config chooses the variant:
// EmptyFields, ExpiredTokenCode, ListsubWithoutDept, StringNumbers,
// Extras, SeparateV1Tokens, WrapBusinessErrors, OpaqueCursor and
// V1DeniedDetailKey.
//
// Choices where the doc is silent (documented here so clients know):
//   - The contact range is the set of range departments with everything
//     below them, plus the range users. listsub, get, v2/user/list and
//     listsimple answer 50004 for a department outside it; as the range
//     is closed under descent, listsub of an in-range department lists
//     all its children. v2/user/get, getbymobile and getbyunionid answer
//     50002 for a person who is neither a range user nor a member of an
//     in-range department. listsubid, listid, count, listadmin,
//     listparentbydept and listparentbyuser ignore the range.
//   - user/listid lists every direct member including restricted staff;
//     member_count and owning_member_count count restricted staff too.
//   - Throttling uses fixed one-second windows on the injected clock; a
//     refused call does not consume the window.
//   - next_cursor is cursor + returned (an offset) unless OpaqueCursor;
//     cursor is limited to 0..100000 as the Java SDK checks, so a single
//     department of more than 100,100 direct members cannot be paged
//     to its end (as the SDK's limit implies).
//   - Request faults (reset, 5xx, hang, latency, per-IP block) apply to
//     every path including the token endpoints; the -1 fault and the
//     throttles only to API calls.
//   - Gateway checks run in this order: path known (22), token
//     (40000/40014), IP whitelist (60020), throttling (90018, 90002),
//     scope (60011), then the transient fault (-1), then the API itself.
package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// App is one DingTalk app (its credentials and what it may read).
type App struct {
	Key, Secret string
	// Scopes the app holds; nil means every read scope (AllReadScopes).
	Scopes []string
	// NoMobileField: the app lacks 企业员工手机号信息 (mobile and
	// state_code are dropped). NoEmailField: it lacks 邮箱等个人信息
	// (email, org_email, org_email_type, work_place, remark and extension
	// are dropped).
	NoMobileField, NoEmailField bool
	// ISV makes the app a third-party (ISV) app: it never gets mobile,
	// state_code, email, org_email, telephone, work_place, remark,
	// extension or hired_date.
	ISV bool
	// RangeDepts and RangeUsers are the contact range; both empty means the
	// whole organisation (authed_dept [1]).
	RangeDepts []int64
	RangeUsers []string
	// IPWhitelist lists the caller IPs allowed; empty allows any.
	IPWhitelist []string
	// RedirectURIs are the login redirect URLs registered for the app
	// (开发配置 > 安全设置 > 重定向URL); /oauth2/auth refuses any other. Empty
	// accepts any http(s) URL.
	RedirectURIs []string
	// AgentID is the app's agentId for work notices (0: any agent_id is
	// accepted).
	AgentID int64
}

// AllReadScopes are the scopes an App with nil Scopes holds.
var AllReadScopes = []string{
	"qyapi_base", "qyapi_get_department_list", "qyapi_get_department_member", "qyapi_get_member",
	"qyapi_get_member_by_mobile", "qyapi_ext_read", "qyapi_addresslist_search", "Contact.Common.Read",
	"Contact.User.Read", "Contact.User.mobile",
}

// Faults are injected failures; they may be changed at run time with
// SetFaults.
type Faults struct {
	// TransientRate is the fraction of API calls answered errcode -1 系统繁忙.
	TransientRate float64
	// HTTP5xxRate is the fraction answered HTTP 502/503 with an HTML body.
	HTTP5xxRate float64
	// ResetRate is the fraction whose connection is reset without a response.
	ResetRate float64
	// Latency is added to every request.
	Latency time.Duration
	// ThrottleBurst, if > 0, makes every API call during the first
	// ThrottleBurst of each ThrottleEvery (default 2 s) period get 88/90018.
	ThrottleBurst time.Duration
	ThrottleEvery time.Duration
	// TokenTTL is the token lifetime (default 7200 s).
	TokenTTL time.Duration
	// HangRate is the fraction of requests that get no answer until the
	// client gives up (or HangFor, default 30 s, passes): a timeout.
	HangRate float64
	HangFor  time.Duration
	// DuplicateEvents sends every EVENT frame twice (two messageIds, one
	// eventId), as DingTalk may.
	DuplicateEvents bool
	// BacklogWhileDisconnected sends events fired while an app has no
	// Stream connection to its failed-push backlog instead of holding
	// them for the next connection.
	BacklogWhileDisconnected bool
}

// Config configures a Server.
type Config struct {
	// Truth is the organisation served (Truth.Org, Truth.Restricted).
	// When nil, Org is used; when both are nil a 200-person org (seed 1).
	Truth *gen.Truth
	Org   *dingbook.Org
	// Apps are the apps that may call; default one DefaultApp().
	Apps []App
	// QPS is the per-app, per-API limit in a 1-second window (default 20)
	// → 88/90018. A negative value disables it.
	QPS int
	// GlobalQPS is the per-API limit across all apps (0 = off) → 88/90002.
	GlobalQPS int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// EmptyFields is "empty" (unset text fields sent as "", the default)
	// or "omit".
	EmptyFields string
	// ExpiredTokenCode is what an expired token gets: "40014" (default,
	// 88/40014), "42001" (88/42001) or "42001-plain" (errcode 42001).
	ExpiredTokenCode string
	// ListsubWithoutDept is "root" (default: listsub without dept_id lists
	// the root's children) or "error" (400002).
	ListsubWithoutDept string
	// StringNumbers quotes every number and boolean in oapi responses,
	// like the doc examples.
	StringNumbers bool
	// SeparateV1Tokens makes /v1.0/oauth2/accessToken keep its own token
	// per app instead of sharing gettoken's (UNCONFIRMED which is real);
	// tokens from either endpoint still work on both families.
	SeparateV1Tokens bool
	// WrapBusinessErrors sends 50002, 50004, 60003 and 60121 as errcode 88
	// with that sub_code instead of directly (UNCONFIRMED, §11).
	WrapBusinessErrors bool
	// OpaqueCursor makes next_cursor an opaque value that is not
	// cursor+returned (offset semantics are UNCONFIRMED): clients must
	// send back exactly what they got.
	OpaqueCursor bool
	// V1DeniedDetailKey names the v1.0 permission error's detail object:
	// "accessDeniedDetail" (default) or e.g. "AccessDeniedDetail",
	// "accessdenieddetail" (raw casing UNCONFIRMED).
	V1DeniedDetailKey string
	// Extras adds undocumented fields (create_time, ext, union_emp_ext,
	// dept_position_list) that clients must ignore.
	Extras bool
	// Faults are the initial injected faults.
	Faults Faults
	// Stream tunes the Stream gateway (stream.go).
	Stream StreamConfig
	// IPLimit, if > 0, is the number of calls one caller IP may make in a
	// 20-second window over all APIs; beyond it the IP is blocked for
	// IPBlock (default 5 minutes) and every request is answered
	// {"status":1111,"wait":5,"source":"x5","punish":"deny","uuid":…}
	// (or an HTML page when IPBlockHTML) instead of the API envelope.
	IPLimit     int
	IPBlock     time.Duration
	IPBlockHTML bool
	// Seed drives fault randomness and request ids.
	Seed int64
	// Logf, if set, receives one line per request (never secrets).
	Logf func(format string, args ...any)

	// Login, roles and work notices (serve.md §A, §E items 33–39).
	Login LoginConfig
}

// DefaultAppKey is DefaultApp's key and DefaultAgentID its agentId.
const (
	DefaultAppKey        = "dingsimappkey0001"
	DefaultAgentID int64 = 3000000001
)

// DefaultApp returns the simulator's demo app: all read scopes, the whole
// org. Its secret is derived deterministically and marked as a simulator
// secret; it is not a real credential.
func DefaultApp() App {
	sum := sha256.Sum256([]byte("dingbook simulator app " + DefaultAppKey))
	return App{Key: DefaultAppKey, Secret: "simsecret-" + hex.EncodeToString(sum[:])[:54], AgentID: DefaultAgentID}
}

// Server is the simulator; it implements http.Handler.
type Server struct {
	cfg  Config
	org  *dingbook.Org
	tree *dingbook.Tree
	apps map[string]*appState

	people     map[string]*dingbook.Person
	byMobile   map[string]*dingbook.Person
	byUnion    map[string]*dingbook.Person
	restricted map[string]bool
	// members per department in "custom" order (dept order, userid).
	members map[int64][]*dingbook.Person
	ext     map[string]*dingbook.ExternalContact
	// extMu guards org.External and ext against extcontact writes.
	extMu sync.RWMutex
	// login holds login, roles and work notices (login.go).
	login *loginState

	// data guards the organisation and its look-ups above: API calls
	// read under RLock, the changes of mutate.go write under Lock.
	data   sync.RWMutex
	owned  bool // org.People is the simulator's own copy (mutate.go)
	events *eventState

	mu      sync.Mutex
	tokens  map[string]*token
	calls   map[string]int
	windows map[string]*window
	faults  Faults
	rng     *mrand.Rand
	start   time.Time
	sorted  map[sortKey][]*dingbook.Person
	ipWin   map[string]*ipState
}

type ipState struct {
	start        time.Time
	n            int
	blockedUntil time.Time
}

type appState struct {
	App
	scopes     map[string]bool
	rangeDepts map[int64]bool // nil = whole org
	rangeUsers map[string]bool
	current    string // current token
	currentV1  string // current v1.0 token when SeparateV1Tokens
}

type token struct {
	app     *appState
	expires time.Time
}

type window struct {
	start time.Time
	n     int
}

type sortKey struct {
	dept  int64
	order string
}

// New returns a simulator for cfg.
func New(cfg Config) *Server {
	if cfg.Truth == nil && cfg.Org == nil {
		cfg.Truth = gen.Generate(gen.Options{Users: 200, Depts: 20, Seed: 1})
	}
	var org *dingbook.Org
	restricted := map[string]bool{}
	if cfg.Truth != nil {
		org = &cfg.Truth.Org
		for _, u := range cfg.Truth.Restricted {
			restricted[u] = true
		}
	} else {
		org = cfg.Org
	}
	if len(cfg.Apps) == 0 {
		cfg.Apps = []App{DefaultApp()}
	}
	if cfg.QPS == 0 {
		cfg.QPS = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EmptyFields == "" {
		cfg.EmptyFields = "empty"
	}
	if cfg.ExpiredTokenCode == "" {
		cfg.ExpiredTokenCode = "40014"
	}
	if cfg.V1DeniedDetailKey == "" {
		cfg.V1DeniedDetailKey = "accessDeniedDetail"
	}
	if cfg.ListsubWithoutDept == "" {
		cfg.ListsubWithoutDept = "root"
	}
	// the served org: the caller's people, a private copy of the
	// departments with member counts computed from the people (the
	// caller's Truth is never modified)
	served := *org
	served.Depts = append([]dingbook.Department(nil), org.Depts...)
	org = &served
	s := &Server{
		cfg:        cfg,
		org:        org,
		apps:       map[string]*appState{},
		restricted: restricted,
		ext:        map[string]*dingbook.ExternalContact{},
		tokens:     map[string]*token{},
		calls:      map[string]int{},
		windows:    map[string]*window{},
		faults:     cfg.Faults,
		rng:        mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		ipWin:      map[string]*ipState{},
	}
	if s.cfg.IPBlock <= 0 {
		s.cfg.IPBlock = 5 * time.Minute
	}
	s.start = cfg.Now()
	s.index()
	s.events = newEventState(s)
	for i := range org.External {
		s.ext[org.External[i].UserID] = &org.External[i]
	}
	for _, a := range cfg.Apps {
		st := &appState{App: a, scopes: map[string]bool{}}
		scopes := a.Scopes
		if scopes == nil {
			scopes = AllReadScopes
		}
		for _, sc := range scopes {
			st.scopes[sc] = true
		}
		if len(a.RangeDepts) > 0 || len(a.RangeUsers) > 0 {
			st.rangeDepts = map[int64]bool{}
			st.rangeUsers = map[string]bool{}
			for _, d := range a.RangeDepts {
				if s.tree.Dept(d) == nil {
					continue
				}
				for _, x := range s.tree.Descendants(d) {
					st.rangeDepts[x] = true
				}
			}
			for _, u := range a.RangeUsers {
				st.rangeUsers[u] = true
			}
		}
		s.apps[a.Key] = st
	}
	s.initLogin()
	return s
}

// index (re)builds the look-ups from s.org: the department tree, member
// counts, people by userid, mobile and unionid, members per department
// in custom order; it voids the admin state derived from the org before
// (login.go). It runs in New and after every change (mutate.go), with
// s.data held for writing.
func (s *Server) index() {
	org := s.org
	gen.CountMembers(org)
	s.tree = dingbook.NewTree(org.Depts)
	s.people = make(map[string]*dingbook.Person, len(org.People))
	s.byMobile = make(map[string]*dingbook.Person, len(org.People))
	s.byUnion = make(map[string]*dingbook.Person, len(org.People))
	s.members = make(map[int64][]*dingbook.Person, len(org.Depts))
	for i := range org.People {
		p := &org.People[i]
		s.people[p.UserID] = p
		if p.Restricted {
			s.restricted[p.UserID] = true
		}
		if p.Mobile != "" {
			if _, dup := s.byMobile[p.Mobile]; !dup {
				s.byMobile[p.Mobile] = p
			}
		}
		if p.UnionID != "" {
			s.byUnion[p.UnionID] = p
		}
		for _, m := range p.Depts {
			s.members[m.DeptID] = append(s.members[m.DeptID], p)
		}
	}
	for d, ms := range s.members {
		sort.SliceStable(ms, func(i, j int) bool {
			a, _ := ms[i].Membership(d)
			b, _ := ms[j].Membership(d)
			if a.Order != b.Order {
				return a.Order < b.Order
			}
			return ms[i].UserID < ms[j].UserID
		})
	}
	s.mu.Lock()
	s.sorted = map[sortKey][]*dingbook.Person{}
	s.mu.Unlock()
	if s.login != nil {
		s.login.orgChanged()
	}
}

// Calls returns the number of calls (successful and failed) per API path,
// e.g. "/topapi/v2/user/list".
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ExpireTokens invalidates every issued token now; the next use gets the
// expired-token error and the token endpoints issue new tokens.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.cfg.Now().Add(-time.Second)
	for _, t := range s.tokens {
		if t.expires.After(past) {
			t.expires = past
		}
	}
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the current injected faults.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Org returns the organisation served. The changes of mutate.go replace
// its People and Depts: read it between changes, not while one runs.
func (s *Server) Org() *dingbook.Org { return s.org }

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *Server) tokenTTL() time.Duration {
	if s.faults.TokenTTL > 0 {
		return s.faults.TokenTTL
	}
	return 7200 * time.Second
}

// newToken returns 32 random lowercase hex characters.
func newToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

const ridChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// requestID returns a 12–13 character lowercase alphanumeric id.
func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 12 + s.rng.IntN(2)
	b := make([]byte, n)
	for i := range b {
		b[i] = ridChars[s.rng.IntN(len(ridChars))]
	}
	return string(b)
}

// uuidish returns an upper-case UUID-like request id (v1.0 style).
func (s *Server) uuidish() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, 36)
	for i, n := range []int{8, 4, 4, 4, 12} {
		if i > 0 {
			b = append(b, '-')
		}
		for k := 0; k < n; k++ {
			b = append(b, hexd[s.rng.IntN(16)])
		}
	}
	return string(b)
}

// issue returns the app's current token, renewing it, or a new one; v1
// says the v1.0 endpoint asks (it has its own token when SeparateV1Tokens).
func (s *Server) issue(app *appState, v1 bool) (string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	ttl := s.tokenTTL()
	cur := &app.current
	if v1 && s.cfg.SeparateV1Tokens {
		cur = &app.currentV1
	}
	if t, ok := s.tokens[*cur]; ok && now.Before(t.expires) {
		t.expires = now.Add(ttl)
		return *cur, ttl
	}
	tok := newToken()
	s.tokens[tok] = &token{app: app, expires: now.Add(ttl)}
	*cur = tok
	return tok, ttl
}

// tokenState looks a token up: the app, or whether it is expired/unknown.
func (s *Server) tokenState(tok string) (app *appState, expired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok {
		return nil, false
	}
	if !s.cfg.Now().Before(t.expires) {
		return nil, true
	}
	return t.app, false
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	s.mu.Lock()
	s.calls[path]++
	f := s.faults
	var roll5xx, rollReset, rollHang float64
	if f.HTTP5xxRate > 0 || f.ResetRate > 0 || f.HangRate > 0 {
		roll5xx, rollReset, rollHang = s.rng.Float64(), s.rng.Float64(), s.rng.Float64()
	}
	blocked := s.ipBlocked(clientIP(r))
	s.mu.Unlock()
	if blocked {
		s.logf("sim: %s %s → per-IP block", r.Method, path)
		if s.cfg.IPBlockHTML {
			w.Header().Set("Content-Type", "text/html;charset=UTF-8")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>访问被拒绝</title></head><body><h1>访问被拒绝</h1><p>您的访问过于频繁，请稍后再试。</p></body></html>")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		writeJSON(w, map[string]any{"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": s.uuidish()})
		return
	}
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if f.HangRate > 0 && rollHang < f.HangRate {
		hang := f.HangFor
		if hang <= 0 {
			hang = 30 * time.Second
		}
		s.logf("sim: %s %s → no answer (fault)", r.Method, path)
		// read the body so that the server notices the client leaving
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
		}
		resetConn(w)
		return
	}
	if f.ResetRate > 0 && rollReset < f.ResetRate {
		s.logf("sim: %s %s → connection reset (fault)", r.Method, path)
		resetConn(w)
		return
	}
	if f.HTTP5xxRate > 0 && roll5xx < f.HTTP5xxRate {
		code := http.StatusBadGateway
		if roll5xx < f.HTTP5xxRate/2 {
			code = http.StatusServiceUnavailable
		}
		s.logf("sim: %s %s → HTTP %d (fault)", r.Method, path, code)
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Server", "Tengine")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n",
			code, http.StatusText(code), code, http.StatusText(code))
		return
	}
	switch {
	case path == "/gettoken":
		s.getToken(w, r)
	case path == "/v1.0/oauth2/accessToken":
		s.accessToken(w, r)
	case path == streamOpenPath:
		s.streamOpen(w, r)
	case path == streamConnectPath:
		s.streamConnect(w, r)
	case path == "/v1.0/oauth2/userAccessToken":
		s.data.RLock()
		defer s.data.RUnlock()
		s.userAccessToken(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1.0/contact/users/"):
		s.data.RLock()
		defer s.data.RUnlock()
		s.contactUser(w, r)
	case path == "/oauth2/auth":
		s.data.RLock()
		defer s.data.RUnlock()
		s.loginPage(w, r)
	case strings.HasPrefix(path, "/v1.0/"):
		s.data.RLock()
		defer s.data.RUnlock()
		s.serveV1(w, r)
	case strings.HasPrefix(path, "/topapi/") || path == "/auth/scopes" || path == failedResultPath:
		s.data.RLock()
		defer s.data.RUnlock()
		s.serveOapi(w, r)
	default:
		s.logf("sim: %s %s → 404", r.Method, path)
		http.NotFound(w, r)
	}
}

// ipBlocked counts a request from ip against IPLimit and reports whether
// the ip is blocked. s.mu must be held.
func (s *Server) ipBlocked(ip string) bool {
	if s.cfg.IPLimit <= 0 {
		return false
	}
	now := s.cfg.Now()
	st := s.ipWin[ip]
	if st == nil {
		st = &ipState{start: now}
		s.ipWin[ip] = st
	}
	if now.Before(st.blockedUntil) {
		return true
	}
	if now.Sub(st.start) >= 20*time.Second {
		st.start, st.n = now, 0
	}
	st.n++
	if st.n > s.cfg.IPLimit {
		st.blockedUntil = now.Add(s.cfg.IPBlock)
		st.start, st.n = st.blockedUntil, 0
		return true
	}
	return false
}

// resetConn closes the connection without a response (an RST where
// possible).
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// ---- token endpoints ----

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, secret := q.Get("appkey"), q.Get("appsecret")
	if key == "" && secret == "" {
		key, secret = q.Get("corpid"), q.Get("corpsecret")
	}
	send := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "DingTalk/1.0.0")
		writeJSON(w, s.quote(v))
	}
	if key == "" {
		s.logf("sim: GET /gettoken → 40035")
		send(map[string]any{"errcode": 40035, "errmsg": "缺少参数 corpid or appkey"})
		return
	}
	app, ok := s.apps[key]
	if !ok || secret != app.Secret {
		s.logf("sim: GET /gettoken app=%s → 40096", key)
		send(map[string]any{"errcode": 40096, "errmsg": "不合法的appKey或appSecret"})
		return
	}
	tok, ttl := s.issue(app, false)
	s.logf("sim: GET /gettoken app=%s → 0", key)
	send(map[string]any{"errcode": 0, "access_token": tok, "errmsg": "ok", "expires_in": int64(ttl / time.Second)})
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.v1Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "请求方法不支持")
		return
	}
	var body struct {
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.AppKey == "" {
		s.logf("sim: POST /v1.0/oauth2/accessToken → 400 MissingParameter")
		s.v1Error(w, http.StatusBadRequest, "MissingappKey", "appKey is mandatory for this action.")
		return
	}
	app, ok := s.apps[body.AppKey]
	if !ok || body.AppSecret != app.Secret {
		s.logf("sim: POST /v1.0/oauth2/accessToken app=%s → 400 invalidClientIdOrSecret", body.AppKey)
		s.v1Error(w, http.StatusBadRequest, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
		return
	}
	tok, ttl := s.issue(app, true)
	s.logf("sim: POST /v1.0/oauth2/accessToken app=%s → 200", body.AppKey)
	s.v1Headers(w)
	w.WriteHeader(http.StatusOK)
	writeJSON(w, map[string]any{"accessToken": tok, "expireIn": int64(ttl / time.Second)})
}

func (s *Server) v1Headers(w http.ResponseWriter) string {
	rid := s.uuidish()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", rid)
	w.Header().Set("x-acs-trace-id", strings.ToLower(strings.ReplaceAll(rid, "-", "")))
	return rid
}

func (s *Server) v1Error(w http.ResponseWriter, status int, code, msg string) {
	s.v1ErrorExtra(w, status, code, msg, nil)
}

func (s *Server) v1ErrorExtra(w http.ResponseWriter, status int, code, msg string, extra map[string]any) {
	rid := s.v1Headers(w)
	w.WriteHeader(status)
	body := map[string]any{"code": code, "message": msg, "requestid": rid}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, body)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Write(b)
}
