package gsheets_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/sink/gsheets"
	"github.com/dingbook/dingbook/sink/gsheets/sim"
)

// clock is a fake clock shared by the simulator and the client: the
// client's waits advance it instead of sleeping.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

const (
	saEmail = "dingbook-sync@contoh-project.iam.gserviceaccount.com"
	admin   = "admin@contoh.co.id"
)

// testKey generates an RSA key for the test (never a committed one).
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// keyFile writes a service-account key file whose token_uri is the
// simulator's.
func keyFile(t testing.TB, tokenURL string, key *rsa.PrivateKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(p, sim.KeyJSON(saEmail, tokenURL, key), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	sim   *sim.Server
	srv   *httptest.Server
	clk   *clock
	c     *gsheets.Client
	key   string
	share []gsheets.Share
}

func newFixture(t testing.TB, subject string) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}
	s := sim.New(sim.Options{Now: clk.Now})
	s.AddServiceAccount(saEmail, &testKey().PublicKey, admin)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	f := &fixture{sim: s, srv: srv, clk: clk, key: keyFile(t, srv.URL+"/token", testKey())}
	f.c = f.client(t, subject)
	return f
}

func (f *fixture) client(t testing.TB, subject string) *gsheets.Client {
	t.Helper()
	cred, err := gsheets.LoadCredentials(f.key)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := cred.TokenSource(f.srv.Client(), subject, f.clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &gsheets.Client{SheetsBase: f.srv.URL, DriveBase: f.srv.URL, HTTP: f.srv.Client(), Tokens: ts, Now: f.clk.Now, Sleep: f.clk.Sleep}
}

func view(n int) gsheets.View {
	v := gsheets.View{Header: []string{"姓名", "部门", "手机"}}
	for i := range n {
		v.Rows = append(v.Rows, gsheets.Row{Key: fmt.Sprintf("u%04d", i), Cells: []string{fmt.Sprintf("Person %d", i), "研发部", fmt.Sprintf("+62812%07d", i)}})
	}
	return v
}

// sheetRows returns the stored first tab as strings, failing on a cell
// that is not a string.
func sheetRows(t *testing.T, s *sim.Server, id string) [][]string {
	t.Helper()
	var out [][]string
	for i, r := range s.Values(id) {
		row := make([]string, len(r))
		for j, c := range r {
			if c.Kind != "string" && c.Kind != "" {
				t.Fatalf("cell %d,%d is a %s (%q), want a string", i, j, c.Kind, c.Value)
			}
			row[j] = c.Value
		}
		out = append(out, row)
	}
	return out
}

func wantRows(v gsheets.View) [][]string {
	out := [][]string{append([]string{gsheets.KeyHeader}, v.Header...)}
	for _, r := range v.Rows {
		out = append(out, append([]string{r.Key}, r.Cells...))
	}
	return out
}

func equalRows(t *testing.T, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g := append([]string(nil), got[i]...)
		for len(g) < len(want[i]) {
			g = append(g, "")
		}
		if strings.Join(g, "\x00") != strings.Join(want[i], "\x00") {
			t.Fatalf("row %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func (f *fixture) push(t *testing.T, tg gsheets.Target, v gsheets.View) *gsheets.Result {
	t.Helper()
	res, err := f.c.Push(context.Background(), tg, v, gsheets.Options{Owner: "org1", CheckSharing: func(s []gsheets.Share) error { f.share = s; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPushCreateThenDiff(t *testing.T) {
	f := newFixture(t, admin)
	v := view(50)
	res := f.push(t, gsheets.Target{CreateTitle: "Direktori"}, v)
	if !res.Created || res.SpreadsheetID == "" || res.Added != 50 {
		t.Fatalf("first push: %+v", res)
	}
	id := res.SpreadsheetID
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v))
	rows, cols, frozen := f.sim.Grid(id)
	if rows != 51 || cols != 4 || frozen != 1 {
		t.Errorf("grid %dx%d frozen %d, want 51x4 frozen 1", rows, cols, frozen)
	}
	hidden, text, prot := f.sim.Layout(id)
	if fmt.Sprint(hidden) != "[0]" || fmt.Sprint(text) != "[0 1 2 3]" || fmt.Sprint(prot) != "[rows 0-1 warning-only]" {
		t.Errorf("layout: hidden %v, text %v, protected %v", hidden, text, prot)
	}
	if !strings.Contains(f.sim.Metadata(id)[gsheets.MarkerKey], `"owner":"org1"`) {
		t.Errorf("marker: %v", f.sim.Metadata(id))
	}
	if len(f.share) != 1 || f.share[0].Role != "owner" || f.share[0].Email != admin {
		t.Errorf("sharing seen: %+v", f.share)
	}

	// No change: no write.
	res = f.push(t, gsheets.Target{SpreadsheetID: id}, v)
	if res.Writes != 0 || res.Added+res.Changed+res.Removed != 0 {
		t.Fatalf("unchanged push: %+v", res)
	}

	// One changes, one leaves, one joins: at most 2 writes.
	v2 := view(50)
	v2.Rows[7].Cells[0] = "Renamed"
	v2.Rows = append(v2.Rows[:20], v2.Rows[21:]...)
	v2.Rows = append(v2.Rows, gsheets.Row{Key: "new1", Cells: []string{"Newcomer", "销售部", "0812"}})
	res = f.push(t, gsheets.Target{SpreadsheetID: id}, v2)
	if res.Writes > 2 || res.Changed != 1 || res.Removed != 1 || res.Added != 1 {
		t.Fatalf("diff push: %+v", res)
	}
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v2))

	// Everyone leaves: the header and one blank row stay.
	res = f.push(t, gsheets.Target{SpreadsheetID: id}, gsheets.View{Header: v.Header})
	if res.Removed != 50 || res.Writes > 2 {
		t.Fatalf("empty push: %+v", res)
	}
	equalRows(t, sheetRows(t, f.sim, id), wantRows(gsheets.View{Header: v.Header}))
}

func TestPushHeaderChangeRewritesAll(t *testing.T) {
	f := newFixture(t, admin)
	v := view(5)
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, v).SpreadsheetID
	v2 := gsheets.View{Header: []string{"姓名", "部门"}}
	for _, r := range v.Rows {
		v2.Rows = append(v2.Rows, gsheets.Row{Key: r.Key, Cells: r.Cells[:2]})
	}
	res := f.push(t, gsheets.Target{SpreadsheetID: id}, v2)
	if res.Changed != 5 || res.Writes != 2 {
		t.Fatalf("%+v", res)
	}
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v2))
	if _, cols, _ := f.sim.Grid(id); cols != 3 {
		t.Errorf("columns %d, want 3", cols)
	}
}

func TestPushValuesStayText(t *testing.T) {
	f := newFixture(t, admin)
	v := gsheets.View{Header: []string{"name", "title", "mobile", "job"}, Rows: []gsheets.Row{
		{Key: "a", Cells: []string{"Ani", "=HYPERLINK(\"http://evil\",\"x\")", "+6281234567890", "00042"}},
		{Key: "b", Cells: []string{"'quoted", "+1", "-2", "@SUM(A1)"}},
	}}
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, v).SpreadsheetID
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v)) // every cell stored as a string

	// Read back as a user would with valueRenderOption=FORMULA: strings,
	// not numbers and not formulas.
	tok, _ := f.c.Tokens.Token(context.Background())
	req, _ := http.NewRequest("GET", f.srv.URL+"/v4/spreadsheets/"+id+"/values/dingbook%21A1%3AE3?valueRenderOption=FORMULA", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vr struct{ Values [][]any }
	json.NewDecoder(resp.Body).Decode(&vr)
	if m, ok := vr.Values[1][3].(string); !ok || m != "+6281234567890" {
		t.Errorf("mobile read back as %#v", vr.Values[1][3])
	}
	if j, ok := vr.Values[1][4].(string); !ok || j != "00042" {
		t.Errorf("job number read back as %#v", vr.Values[1][4])
	}
	// The same values written USER_ENTERED would have become a number and
	// a formula: the simulator tells them apart, so the test above could fail.
	body := `{"valueInputOption":"USER_ENTERED","data":[{"range":"dingbook!B2:C2","values":[["=1+1","+6281234567890"]]}]}`
	req, _ = http.NewRequest("POST", f.srv.URL+"/v4/spreadsheets/"+id+"/values:batchUpdate", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := f.srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("USER_ENTERED write: %v %v", err, resp)
	}
	if c := f.sim.Values(id)[1]; c[1].Kind != "formula" || c[2].Kind != "number" {
		t.Errorf("USER_ENTERED stored %+v", c)
	}
}

func TestPushRetries429WithBackoff(t *testing.T) {
	f := newFixture(t, admin)
	v := view(10)
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, v).SpreadsheetID
	v.Rows[3].Cells[0] = "Changed"
	f.sim.FailNext(429, 429, 503) // spreadsheets.get gets 2×429 and a 503
	f.clk.slept = nil
	res := f.push(t, gsheets.Target{SpreadsheetID: id}, v)
	if res.Changed != 1 {
		t.Fatalf("%+v", res)
	}
	if len(f.clk.slept) != 3 || f.clk.slept[0] < time.Second || f.clk.slept[0] >= 2*time.Second ||
		f.clk.slept[1] < 2*time.Second || f.clk.slept[1] >= 3*time.Second || f.clk.slept[2] < 4*time.Second {
		t.Errorf("waits %v, want about 1s, 2s, 4s plus jitter", f.clk.slept)
	}
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v))
}

func TestQuota429FromSimulatorAndPacing(t *testing.T) {
	f := newFixture(t, admin)
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, view(3)).SpreadsheetID
	tok, _ := f.c.Tokens.Token(context.Background())
	// The simulator answers the 61st write in a minute with the real 429.
	var last *http.Response
	for i := 0; i < 61; i++ {
		body := `{"valueInputOption":"RAW","data":[{"range":"dingbook!B2","values":[["x"]]}]}`
		req, _ := http.NewRequest("POST", f.srv.URL+"/v4/spreadsheets/"+id+"/values:batchUpdate", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		last = resp
		if i < 56 && resp.StatusCode != 200 { // the push made some writes already
			t.Fatalf("write %d: %d", i, resp.StatusCode)
		}
	}
	var e struct {
		Error struct {
			Code    int
			Status  string
			Message string
			Details []map[string]any
		}
	}
	json.NewDecoder(last.Body).Decode(&e)
	last.Body.Close()
	if last.StatusCode != 429 || e.Error.Status != "RESOURCE_EXHAUSTED" || !strings.Contains(e.Error.Message, "'Write requests per minute per user'") ||
		last.Header.Get("Retry-After") != "" || len(e.Error.Details) != 2 {
		t.Fatalf("429: %d %+v", last.StatusCode, e)
	}
	// A minute later the quota is free again, and the client paces
	// itself: 70 pushes' worth of writes never meet a 429.
	f.clk.Sleep(context.Background(), time.Minute)
	before := f.sim.Stats().Throttled
	v := view(3)
	for i := range 70 {
		v.Rows[0].Cells[0] = fmt.Sprint("n", i)
		f.push(t, gsheets.Target{SpreadsheetID: id}, v)
	}
	if th := f.sim.Stats().Throttled; th != before {
		t.Errorf("%d writes throttled despite pacing", th-before)
	}
	// Without the pacing the simulator's quota answers 429s; backoff
	// waits them out and every push completes.
	f.c.PerMinute = 1000
	for i := range 40 {
		v.Rows[0].Cells[0] = fmt.Sprint("m", i)
		f.push(t, gsheets.Target{SpreadsheetID: id}, v)
	}
	if th := f.sim.Stats().Throttled; th == before {
		t.Error("no 429 met without pacing: the test proves nothing")
	}
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v))
}

func TestPushRefusals(t *testing.T) {
	f := newFixture(t, admin)
	// A spreadsheet made by a person, without the marker.
	foreign := f.sim.NewSpreadsheet(admin, "Team list", [][]string{{"name"}, {"Ani"}})
	_, err := f.c.Push(context.Background(), gsheets.Target{SpreadsheetID: foreign}, view(2), gsheets.Options{Owner: "org1"})
	if dingbook.ErrorCode(err) != dingbook.EPOLICY || !strings.Contains(err.Error(), "marker") {
		t.Fatalf("foreign sheet: %v", err)
	}
	if got := sheetRows(t, f.sim, foreign); len(got) != 2 || got[1][0] != "Ani" {
		t.Errorf("foreign sheet written: %v", got)
	}
	// Another organisation's sheet.
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, view(2)).SpreadsheetID
	if _, err := f.c.Push(context.Background(), gsheets.Target{SpreadsheetID: id}, view(3), gsheets.Options{Owner: "org2"}); dingbook.ErrorCode(err) != dingbook.EPOLICY {
		t.Fatalf("other org: %v", err)
	}
	// Sharing refused by the check: nothing written, sharing reported.
	f.sim.Share(id, sim.Permission{Type: "anyone", Role: "reader"})
	refuse := errors.New("shared with anyone")
	res, err := f.c.Push(context.Background(), gsheets.Target{SpreadsheetID: id}, view(3), gsheets.Options{Owner: "org1", CheckSharing: func([]gsheets.Share) error { return refuse }})
	if !errors.Is(err, refuse) || res.Writes != 0 || len(res.Sharing) != 2 || res.Sharing[1].Type != "anyone" {
		t.Fatalf("shared: %v %+v", err, res)
	}
	if got := sheetRows(t, f.sim, id); len(got) != 3 {
		t.Errorf("sheet written despite the refusal: %d rows", len(got))
	}
}

func TestAuthErrors(t *testing.T) {
	f := newFixture(t, "")
	// A service account without delegation has no Drive storage.
	_, err := f.c.Push(context.Background(), gsheets.Target{CreateTitle: "x"}, view(1), gsheets.Options{})
	if dingbook.ErrorCode(err) != dingbook.EPERM || !strings.Contains(dingbook.ErrorHint(err), "--impersonate") {
		t.Fatalf("no DWD: %v", err)
	}
	// ... but may create in a shared drive.
	f.sim.AddSharedDrive("0AshDrive")
	if _, err := f.c.Push(context.Background(), gsheets.Target{CreateTitle: "x", Folder: "0AshDrive"}, view(1), gsheets.Options{}); err != nil {
		t.Fatalf("shared drive: %v", err)
	}
	// Impersonating a user without delegation: 401 unauthorized_client.
	c := f.client(t, "boss@contoh.co.id")
	_, err = c.Push(context.Background(), gsheets.Target{CreateTitle: "x"}, view(1), gsheets.Options{})
	if dingbook.ErrorCode(err) != dingbook.EAUTH || !strings.Contains(err.Error(), "unauthorized_client") || !strings.Contains(dingbook.ErrorHint(err), "domain-wide delegation") {
		t.Fatalf("DWD not granted: %v", err)
	}
	// A key the simulator does not know: the signature check fails.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	f.key = keyFile(t, f.srv.URL+"/token", other)
	c = f.client(t, admin)
	_, err = c.Push(context.Background(), gsheets.Target{CreateTitle: "x"}, view(1), gsheets.Options{})
	if dingbook.ErrorCode(err) != dingbook.EAUTH || !strings.Contains(err.Error(), "Invalid JWT Signature") {
		t.Fatalf("wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Error("the key leaked into the error")
	}
}

func TestUserTokenFile(t *testing.T) {
	f := newFixture(t, admin)
	f.sim.AddUser("cid.apps.googleusercontent.com", "csecret", "1//refresh", "hr@contoh.co.id")
	write := func(refresh string) string {
		b, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com", "client_secret": "csecret", "refresh_token": refresh, "token_uri": f.srv.URL + "/token"})
		p := filepath.Join(t.TempDir(), "user.json")
		os.WriteFile(p, b, 0o600)
		return p
	}
	f.key = write("1//refresh")
	c := f.client(t, "")
	res, err := c.Push(context.Background(), gsheets.Target{CreateTitle: "mine"}, view(2), gsheets.Options{})
	if err != nil || !res.Created {
		t.Fatalf("user token: %v", err)
	}
	f.key = write("1//revoked")
	c = f.client(t, "")
	_, err = c.Push(context.Background(), gsheets.Target{CreateTitle: "mine"}, view(2), gsheets.Options{})
	if dingbook.ErrorCode(err) != dingbook.EAUTH || !strings.Contains(err.Error(), "Token has been expired or revoked") || strings.Contains(err.Error(), "csecret") {
		t.Fatalf("revoked: %v", err)
	}
}

func TestTokenClaimsChecked(t *testing.T) {
	f := newFixture(t, admin)
	// A clock an hour and a half ahead signs iat/exp the simulator refuses.
	ahead := &clock{t: f.clk.Now().Add(90 * time.Minute)}
	cred, _ := gsheets.LoadCredentials(f.key)
	ts, _ := cred.TokenSource(f.srv.Client(), admin, ahead.Now)
	_, err := ts.Token(context.Background())
	if dingbook.ErrorCode(err) != dingbook.EAUTH || !strings.Contains(dingbook.ErrorHint(err), "clock") {
		t.Fatalf("skewed clock: %v", err)
	}
	// A token for another endpoint (aud) is refused.
	cred2, _ := gsheets.LoadCredentials(keyFile(t, f.srv.URL+"/token", testKey()))
	cred2.TokenURL = f.srv.URL + "/token?x" // same endpoint, different aud
	ts, _ = cred2.TokenSource(f.srv.Client(), admin, f.clk.Now)
	if _, err := ts.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("wrong aud: %v", err)
	}
}

func TestPushLostResponseResyncs(t *testing.T) {
	f := newFixture(t, admin)
	v := view(30)
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, v).SpreadsheetID
	// Two people leave and one joins: the structural write (deletes)
	// lands but its answer is lost. Repeating it blindly would delete
	// two more rows; push reads the sheet again instead.
	v2 := view(30)
	v2.Rows = append(v2.Rows[:5], v2.Rows[7:]...)
	v2.Rows = append(v2.Rows, gsheets.Row{Key: "new", Cells: []string{"N", "D", "1"}})
	f.sim.DropAfterApplying(1)
	res := f.push(t, gsheets.Target{SpreadsheetID: id}, v2)
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v2))
	if res.Added != 1 || res.Removed != 2 || res.Writes != 2 {
		// the counts are the first diff's; the second pass wrote the values only
		t.Errorf("after the resync: %+v", res)
	}
	// A lost answer to a values write is simply repeated (absolute ranges).
	v2.Rows[0].Cells[0] = "again"
	f.sim.DropAfterApplying(1)
	res = f.push(t, gsheets.Target{SpreadsheetID: id}, v2)
	equalRows(t, sheetRows(t, f.sim, id), wantRows(v2))
	if res.Changed != 1 {
		t.Errorf("%+v", res)
	}
}

// TestMarkerIsPerProject: the marker has PROJECT visibility, so an
// identity from another Cloud project does not see it and is refused
// (as Google behaves), rather than overwriting the sheet.
func TestMarkerIsPerProject(t *testing.T) {
	f := newFixture(t, admin)
	id := f.push(t, gsheets.Target{CreateTitle: "x"}, view(3)).SpreadsheetID
	other := "sync@other-project.iam.gserviceaccount.com"
	f.sim.AddServiceAccount(other, &testKey().PublicKey, admin)
	p := filepath.Join(t.TempDir(), "other.json")
	os.WriteFile(p, sim.KeyJSON(other, f.srv.URL+"/token", testKey()), 0o600)
	f.key = p
	c := f.client(t, admin)
	_, err := c.Push(context.Background(), gsheets.Target{SpreadsheetID: id}, view(4), gsheets.Options{Owner: "org1"})
	if dingbook.ErrorCode(err) != dingbook.EPOLICY || !strings.Contains(err.Error(), "marker") {
		t.Fatalf("other project: %v", err)
	}
}

func TestPushLimits(t *testing.T) {
	f := newFixture(t, admin)
	v := view(2)
	v.Rows[1].Cells[1] = strings.Repeat("部", 50001)
	if _, err := f.c.Push(context.Background(), gsheets.Target{CreateTitle: "x"}, v, gsheets.Options{}); dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "部门 cell of row key u0001") {
		t.Fatalf("long cell: %v", err)
	}
	v = gsheets.View{Header: make([]string, 200)}
	for i := range 50_000 {
		v.Rows = append(v.Rows, gsheets.Row{Key: fmt.Sprint(i)})
	}
	if _, err := f.c.Push(context.Background(), gsheets.Target{CreateTitle: "x"}, v, gsheets.Options{}); dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "more than a Google spreadsheet holds") {
		t.Fatalf("too many cells: %v", err)
	}
	if len(f.sim.Files()) != 0 {
		t.Error("a file was created before the limits were checked")
	}
}
