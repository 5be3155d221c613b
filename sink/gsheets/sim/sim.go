// Package sim is an in-process simulator of the parts of Google that
// dingbook push --sheets uses (docs: ../shared/docs/sheets.md): the OAuth
// token endpoint (JWT bearer grant with an RS256 signature checked against
// the service account's public key, and the refresh-token grant), the
// Sheets v4 calls (spreadsheets.get and batchUpdate, values.get,
// values.batchUpdate, developerMetadata.search) and the Drive v3 calls
// (files.create, files.get, permissions.list and create).
//
// It models a grid per sheet (rows and columns, frozen rows, writes outside
// the grid refused with Google's message), RAW versus USER_ENTERED input,
// atomic batches, spreadsheet-level developer metadata, sharing, the
// per-user quota of 60 write and 60 read requests a minute (the real 429
// body, no Retry-After, failed writes counted) and injected 5xx faults.
// Tests serve it with httptest.NewServer(sim.New(...)); both
// DINGBOOK_SHEETS_BASE and DINGBOOK_DRIVE_BASE then point at that URL.
package sim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SpreadsheetMime is Drive's MIME type of a Google Sheet.
const SpreadsheetMime = "application/vnd.google-apps.spreadsheet"

// Options configure the simulator.
type Options struct {
	// Now is the clock (nil: time.Now); quotas and token expiry use it.
	Now func() time.Time
	// WritesPerMinute and ReadsPerMinute are the Sheets per-user quotas
	// (default 60 each).
	WritesPerMinute, ReadsPerMinute int
	// TokenTTL is the access token lifetime (default 3599 s).
	TokenTTL time.Duration
}

// Permission is one Drive permission of a file.
type Permission struct {
	ID                 string `json:"id"`
	Type               string `json:"type"` // user, group, domain, anyone
	Role               string `json:"role"` // owner, writer, reader, …
	EmailAddress       string `json:"emailAddress,omitempty"`
	Domain             string `json:"domain,omitempty"`
	AllowFileDiscovery *bool  `json:"allowFileDiscovery,omitempty"`
}

// Cell is one stored cell. Kind is "" (empty), "string", "number",
// "bool" or "formula".
type Cell struct {
	Kind  string
	Value string
}

type sheet struct {
	ID                 int64
	Title              string
	Rows, Cols, Frozen int
	cells              [][]Cell // len(cells) <= Rows; each row <= Cols
	hidden             map[int]bool
	textCols           map[int]bool
	protected          []protected
}

type protected struct {
	ID          int64
	StartRow    *int
	EndRow      *int
	WarningOnly bool
	Description string
}

type metadata struct {
	ID      int64
	Key     string
	Value   string
	Vis     string
	Project string // the project that created it
}

// visible: PROJECT metadata only to the project that created it.
func (m metadata) visible(id identity) bool { return m.Vis == "DOCUMENT" || m.Project == id.project }

type spreadsheet struct {
	ID       string
	Title    string
	Parents  []string
	Sheets   []*sheet
	Meta     []metadata
	Perms    []Permission
	nextMeta int64
	nextProt int64
	nextPerm int
}

type identity struct {
	email   string
	sa      bool   // a service account without a delegated subject
	project string // the Cloud project calling (PROJECT metadata is per project)
}

// projectOf is the project of a service account's address
// (name@PROJECT.iam.gserviceaccount.com).
func projectOf(email string) string {
	_, dom, _ := strings.Cut(email, "@")
	p, _, _ := strings.Cut(dom, ".")
	return p
}

type serviceAccount struct {
	key      *rsa.PublicKey
	subjects map[string]bool // domain-wide delegation allow-list
}

type user struct {
	clientID, clientSecret, email string
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	opts Options

	mu       sync.Mutex
	sas      map[string]*serviceAccount // by client_email
	users    map[string]user            // by refresh token
	tokens   map[string]tokenInfo
	files    map[string]*spreadsheet
	shared   map[string]bool // shared drive ids
	writes   map[string][]time.Time
	reads    map[string][]time.Time
	faults   []int // statuses for the next Sheets requests
	drops    int   // Sheets writes to apply, then answer 503
	nextFile int

	// Counters (read with Stats).
	stats Stats
}

type tokenInfo struct {
	id      identity
	expires time.Time
}

// Stats count what the simulator served.
type Stats struct {
	Requests     int   // every API request (tokens excluded)
	SheetsWrites int   // Sheets write requests, refused ones included
	SheetsReads  int   // Sheets read requests
	DriveCalls   int   // Drive requests
	TokenGrants  int   // tokens issued
	BytesIn      int64 // request bodies received by the APIs
	Throttled    int   // 429 answers
}

// New returns a simulator with no accounts; add them with
// AddServiceAccount and AddUser.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WritesPerMinute == 0 {
		opts.WritesPerMinute = 60
	}
	if opts.ReadsPerMinute == 0 {
		opts.ReadsPerMinute = 60
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 3599 * time.Second
	}
	return &Server{opts: opts, sas: map[string]*serviceAccount{}, users: map[string]user{}, tokens: map[string]tokenInfo{},
		files: map[string]*spreadsheet{}, shared: map[string]bool{}, writes: map[string][]time.Time{}, reads: map[string][]time.Time{}}
}

// AddServiceAccount registers a service account's public key; subjects
// are the Workspace users it may impersonate (domain-wide delegation).
func (s *Server) AddServiceAccount(email string, key *rsa.PublicKey, subjects ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa := &serviceAccount{key: key, subjects: map[string]bool{}}
	for _, sub := range subjects {
		sa.subjects[sub] = true
	}
	s.sas[email] = sa
}

// AddUser registers a user OAuth client and a refresh token for email.
func (s *Server) AddUser(clientID, clientSecret, refreshToken, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[refreshToken] = user{clientID, clientSecret, email}
}

// AddSharedDrive makes id a shared drive (or a folder in one): a service
// account without delegation may create files in it.
func (s *Server) AddSharedDrive(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared[id] = true
}

// Share adds a permission to a file as a person would in the Sharing
// dialog, and returns its id.
func (s *Server) Share(fileID string, p Permission) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[fileID]
	if f == nil {
		return ""
	}
	f.nextPerm++
	p.ID = fmt.Sprintf("perm%d", f.nextPerm)
	f.Perms = append(f.Perms, p)
	return p.ID
}

// NewSpreadsheet makes a spreadsheet as another tool or a person would
// (no dingbook marker), owned by owner, with one sheet holding rows.
func (s *Server) NewSpreadsheet(owner, title string, rows [][]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.newFile(owner, title, nil)
	sh := f.Sheets[0]
	for i, r := range rows {
		for j, v := range r {
			sh.set(i, j, Cell{"string", v})
		}
	}
	return f.ID
}

// FailNext makes the next len(statuses) Sheets requests fail with these
// HTTP statuses (429, 500 or 503), before they are applied.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, statuses...)
}

// DropAfterApplying makes the next n Sheets write requests take effect
// and then answer 503, as when a response is lost after the write landed.
func (s *Server) DropAfterApplying(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops += n
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Values returns the stored cells of a spreadsheet's first sheet, without
// trailing empty rows and cells (nil for an unknown file).
func (s *Server) Values(fileID string) [][]Cell {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[fileID]
	if f == nil {
		return nil
	}
	sh := f.Sheets[0]
	out := make([][]Cell, 0, len(sh.cells))
	for _, r := range sh.cells {
		out = append(out, trimCells(r))
	}
	for len(out) > 0 && len(out[len(out)-1]) == 0 {
		out = out[:len(out)-1]
	}
	return out
}

// Strings returns Values as text (the kinds dropped).
func (s *Server) Strings(fileID string) [][]string {
	var out [][]string
	for _, r := range s.Values(fileID) {
		row := make([]string, len(r))
		for j, c := range r {
			row[j] = c.Value
		}
		out = append(out, row)
	}
	return out
}

// Grid returns the first sheet's row count, column count and frozen rows.
func (s *Server) Grid(fileID string) (rows, cols, frozen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[fileID]; f != nil {
		return f.Sheets[0].Rows, f.Sheets[0].Cols, f.Sheets[0].Frozen
	}
	return 0, 0, 0
}

// Layout reports the first sheet's hidden columns, text-formatted
// columns and protected ranges (warning-only or not).
func (s *Server) Layout(fileID string) (hidden, text []int, protections []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[fileID]
	if f == nil {
		return
	}
	sh := f.Sheets[0]
	for c := 0; c < sh.Cols; c++ {
		if sh.hidden[c] {
			hidden = append(hidden, c)
		}
		if sh.textCols[c] {
			text = append(text, c)
		}
	}
	for _, p := range sh.protected {
		d := "rows "
		if p.StartRow != nil {
			d += strconv.Itoa(*p.StartRow)
		}
		d += "-"
		if p.EndRow != nil {
			d += strconv.Itoa(*p.EndRow)
		}
		if p.WarningOnly {
			d += " warning-only"
		}
		protections = append(protections, d)
	}
	return
}

// Metadata returns a spreadsheet's spreadsheet-level developer metadata
// as key → value.
func (s *Server) Metadata(fileID string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if f := s.files[fileID]; f != nil {
		for _, m := range f.Meta {
			out[m.Key] = m.Value
		}
	}
	return out
}

// Files returns the ids of every file.
func (s *Server) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.files {
		out = append(out, id)
	}
	return out
}

func (s *Server) newFile(owner, title string, parents []string) *spreadsheet {
	s.nextFile++
	id := fmt.Sprintf("1sim%04dSheet%s", s.nextFile, randHex(8))
	f := &spreadsheet{ID: id, Title: title, Parents: parents,
		Sheets: []*sheet{{ID: 0, Title: "Sheet1", Rows: 1000, Cols: 26, hidden: map[int]bool{}, textCols: map[int]bool{}}}}
	f.nextPerm++
	f.Perms = []Permission{{ID: fmt.Sprintf("perm%d", f.nextPerm), Type: "user", Role: "owner", EmailAddress: owner}}
	s.files[id] = f
	return f
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ServeHTTP routes token, Sheets and Drive requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/token" {
		s.token(w, r, body)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	s.stats.BytesIn += int64(len(body))
	id, ok := s.auth(r)
	if !ok {
		googleError(w, 401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "UNAUTHENTICATED")
		return
	}
	p := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(p, "/v4/spreadsheets"):
		s.sheets(w, r, id, strings.TrimPrefix(p, "/v4/spreadsheets"), body)
	case strings.HasPrefix(p, "/drive/v3/files"):
		s.stats.DriveCalls++
		s.drive(w, r, id, strings.TrimPrefix(p, "/drive/v3/files"), body)
	default:
		googleError(w, 404, "Method not found.", "NOT_FOUND")
	}
}

func (s *Server) auth(r *http.Request) (identity, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return identity{}, false
	}
	ti, ok := s.tokens[tok]
	if !ok || !s.opts.Now().Before(ti.expires) {
		return identity{}, false
	}
	return ti.id, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// googleError writes the Sheets error envelope (no errors[]).
func googleError(w http.ResponseWriter, code int, msg, status string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

// driveError writes the Drive v3 error envelope (errors[], no status).
func driveError(w http.ResponseWriter, code int, msg, reason, location string) {
	e := map[string]any{"message": msg, "domain": "global", "reason": reason}
	if location != "" {
		e["location"], e["locationType"] = location, "parameter"
	}
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "errors": []any{e}}})
}

// ---- token endpoint ----

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		tokenError(w, 400, "invalid_request", "Bad Request")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		tokenError(w, 400, "invalid_request", "Bad Request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var id identity
	switch form.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		var status int
		var code, desc string
		id, status, code, desc = s.checkJWT(form.Get("assertion"), "http://"+r.Host+"/token", now)
		if status != 0 {
			tokenError(w, status, code, desc)
			return
		}
	case "refresh_token":
		u, ok := s.users[form.Get("refresh_token")]
		if !ok || u.clientID != form.Get("client_id") || u.clientSecret != form.Get("client_secret") {
			tokenError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		id = identity{email: u.email, project: "oauth-client:" + u.clientID}
	default:
		tokenError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+form.Get("grant_type"))
		return
	}
	tok := "ya29.sim-" + randHex(24)
	s.tokens[tok] = tokenInfo{id: id, expires: now.Add(s.opts.TokenTTL)}
	s.stats.TokenGrants++
	writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": int(s.opts.TokenTTL / time.Second), "token_type": "Bearer"})
}

// checkJWT verifies a JWT bearer assertion: RS256 over header.claims with
// the registered key of iss, aud = this endpoint, exp - iat <= 1 h, iat
// not in the future beyond 5 minutes of skew, exp not passed, and sub (if
// any) on the account's delegation list. Unknown claims are ignored.
func (s *Server) checkJWT(assertion, aud string, now time.Time) (identity, int, string, string) {
	const badTime = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return identity{}, 400, "invalid_grant", "Invalid JWT Signature."
	}
	var hdr struct{ Alg, Typ string }
	var cl struct {
		Iss, Scope, Aud, Sub string
		Exp, Iat             int64
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &cl) != nil || hdr.Alg != "RS256" {
		return identity{}, 400, "invalid_grant", "Invalid JWT Signature."
	}
	sa := s.sas[cl.Iss]
	if sa == nil {
		return identity{}, 400, "invalid_grant", "Invalid grant: account not found"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(sa.key, crypto.SHA256, sum[:], sig) != nil {
		return identity{}, 400, "invalid_grant", "Invalid JWT Signature."
	}
	if cl.Aud != aud {
		return identity{}, 400, "invalid_grant", "Invalid JWT: Failed audience check. The expected value was " + aud
	}
	iat, exp := time.Unix(cl.Iat, 0), time.Unix(cl.Exp, 0)
	if cl.Exp-cl.Iat > 3600 || cl.Exp <= cl.Iat || iat.After(now.Add(5*time.Minute)) || !exp.After(now) {
		return identity{}, 400, "invalid_grant", badTime
	}
	if strings.TrimSpace(cl.Scope) == "" {
		return identity{}, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
	}
	if cl.Sub != "" {
		if !strings.Contains(cl.Sub, "@") {
			return identity{}, 400, "invalid_grant", "Not a valid email."
		}
		if !sa.subjects[cl.Sub] {
			return identity{}, 401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
		}
		return identity{email: cl.Sub, project: projectOf(cl.Iss)}, 0, "", ""
	}
	return identity{email: cl.Iss, sa: true, project: projectOf(cl.Iss)}, 0, "", ""
}

// ---- quota ----

func (s *Server) quota(w http.ResponseWriter, id identity, write bool) bool {
	now := s.opts.Now()
	m, limit, kind := s.reads, s.opts.ReadsPerMinute, "Read"
	if write {
		m, limit, kind = s.writes, s.opts.WritesPerMinute, "Write"
	}
	times := m[id.email]
	cut := 0
	for cut < len(times) && !times[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	times = append(times[cut:], now) // failed and refused requests count too
	m[id.email] = times
	if len(times) <= limit {
		return true
	}
	s.stats.Throttled++
	unit, limitName := strings.ToLower(kind)+"_requests", kind+"RequestsPerMinutePerUser"
	writeJSON(w, 429, map[string]any{"error": map[string]any{
		"code":    429,
		"message": fmt.Sprintf("Quota exceeded for quota metric '%[1]s requests' and limit '%[1]s requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.", kind),
		"status":  "RESOURCE_EXHAUSTED",
		"details": []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
				"metadata": map[string]string{"window_start_time": strconv.FormatInt(times[0].UnixMilli(), 10), "quota_metric": "sheets.googleapis.com/" + unit,
					"quota_location": "global", "service": "sheets.googleapis.com", "quota_unit": "1/min/{project}/{user}",
					"quota_limit": limitName, "consumer": "projects/000000000000", "quota_limit_value": strconv.Itoa(limit)}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{map[string]string{"description": "Request a higher quota limit.", "url": "https://cloud.google.com/docs/quotas/help/request_increase"}}},
		},
	}})
	return false
}

// fault answers an injected failure, if one is queued.
func (s *Server) fault(w http.ResponseWriter) bool {
	if len(s.faults) == 0 {
		return false
	}
	st := s.faults[0]
	s.faults = s.faults[1:]
	switch st {
	case 429:
		s.stats.Throttled++
		googleError(w, 429, "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.", "RESOURCE_EXHAUSTED")
	case 500:
		googleError(w, 500, "Internal error encountered.", "INTERNAL")
	default:
		writeJSON(w, st, map[string]any{"error": map[string]any{"code": st, "message": "The service is currently unavailable.",
			"errors": []any{map[string]string{"domain": "global", "message": "The service is currently unavailable.", "reason": "backendError"}}, "status": "UNAVAILABLE"}})
	}
	return true
}

// KeyJSON returns a service-account key file for key, laid out as the
// Cloud console writes one, with token_uri pointing at tokenURL (the
// simulator's /token). Register the public key with AddServiceAccount.
func KeyJSON(email, tokenURL string, key *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "sim-project", "private_key_id": "sim-key-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "100000000000000000001", "token_uri": tokenURL,
		"auth_uri": "https://accounts.google.com/o/oauth2/auth",
	}, "", "  ")
	return b
}
