package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

func serve(t *testing.T, cfg sim.Config) (*sim.Server, string) {
	t.Helper()
	s := sim.New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func client(url string, app sim.App, qps int) *Client {
	return New(Config{BaseURL: url, AppKey: app.Key, AppSecret: app.Secret, QPS: qps})
}

func TestDecodeTolerant(t *testing.T) {
	body := `{"userid":12345,"name":"王小明","dept_order":"176294576350761513","hired_date":"1615000000000",
		"active":"true","admin":1,"boss":false,"leader":"false","hide_mobile":null,"dept_id_list":["1","400001234"],
		"extension":"{\"爱好\":\"旅游\",\"年龄\":24}","unknown_field":{"x":[1,2]},"create_time":"2024-07-15T07:05:43.000Z",
		"mobile":"","union_emp_ext":{}}`
	var u User
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	p := u.Person(400001234)
	if p.UserID != "12345" || !p.Active || !p.Admin || p.Boss || p.HiredDate != 1615000000000 {
		t.Errorf("scalars: %+v", p)
	}
	if len(p.Depts) != 2 || p.Depts[1].Order != 176294576350761513 || p.Depts[0].Order != 0 {
		t.Errorf("memberships (int64 order must survive exactly): %+v", p.Depts)
	}
	if p.Extension["爱好"] != "旅游" || p.Extension["年龄"] != "24" {
		t.Errorf("extension %v", p.Extension)
	}
	// extension as an object, and as garbage.
	for in, want := range map[string]int{`{"extension":{"a":"b"}}`: 1, `{"extension":"not json"}`: 0, `{"extension":""}`: 0} {
		var u User
		if err := json.Unmarshal([]byte(in), &u); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(u.Extension) != want {
			t.Errorf("%s: %v", in, u.Extension)
		}
	}
	// next_cursor: absent, numeric, opaque string — sent back unchanged.
	for in, want := range map[string]string{`{"has_more":false}`: "0", `{"has_more":true,"next_cursor":100}`: "100", `{"has_more":"true","next_cursor":"abc=="}`: `"abc=="`} {
		var pg UserPage
		if err := json.Unmarshal([]byte(in), &pg); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"cursor": pg.NextCursor})
		if string(b) != `{"cursor":`+want+`}` {
			t.Errorf("%s: cursor sent back as %s", in, b)
		}
	}
}

// TestListUsersShapes reads one department through every response shape
// the simulator can produce and gets the same people.
func TestListUsersShapes(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 600, Depts: 3, Seed: 9})
	var dept int64
	want := map[string]dingbook.Person{}
	counts := map[int64]int{}
	for _, p := range truth.Org.People {
		for _, m := range p.Depts {
			counts[m.DeptID]++
		}
	}
	for id, n := range counts {
		if n > 150 && (dept == 0 || id < dept) {
			dept = id
		}
	}
	if dept == 0 {
		t.Fatal("no department with more than 150 members")
	}
	restrictedIn := 0
	for _, p := range truth.Org.People {
		if _, ok := p.Membership(dept); ok {
			want[p.UserID] = p
			if p.Restricted {
				restrictedIn++
			}
		}
	}
	if restrictedIn == 0 {
		t.Fatal("the department has no restricted staff to test contain_access_limit")
	}
	for _, cfg := range []sim.Config{{}, {StringNumbers: true}, {EmptyFields: "omit", Extras: true}} {
		cfg.Truth = truth
		_, url := serve(t, cfg)
		c := client(url, sim.DefaultApp(), 100)
		var got []dingbook.Person
		var cursor Cursor
		pages := 0
		for {
			pg, err := c.ListUsers(context.Background(), dept, cursor)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for i := range pg.List {
				got = append(got, pg.List[i].Person(dept))
			}
			if !bool(pg.HasMore) {
				break
			}
			cursor = pg.NextCursor
		}
		if len(got) != len(want) || pages != (len(want)+99)/100 {
			t.Fatalf("%+v: %d people in %d pages, want %d", cfg.StringNumbers, len(got), pages, len(want))
		}
		for _, g := range got {
			w := want[g.UserID]
			m, _ := w.Membership(dept)
			gm, _ := g.Membership(dept)
			if g.Name != w.Name || g.Mobile != w.Mobile || g.Email != w.Email || g.HiredDate != w.HiredDate || gm != m ||
				len(g.Extension) != len(w.Extension) || len(g.Depts) != len(w.Depts) {
				t.Fatalf("%s:\n got  %+v\n want %+v", g.UserID, g, w)
			}
		}
	}
}

func TestTokenRefresh(t *testing.T) {
	for _, code := range []string{"40014", "42001", "42001-plain"} {
		s, url := serve(t, sim.Config{ExpiredTokenCode: code})
		c := client(url, sim.DefaultApp(), 100)
		ctx := context.Background()
		if _, err := c.ListSub(ctx, 1); err != nil {
			t.Fatal(err)
		}
		s.ExpireTokens()
		if _, err := c.ListSub(ctx, 1); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if st := c.Stats(); st.Tokens != 2 || st.Retries != 1 {
			t.Errorf("%s: %+v", code, st)
		}
	}
	// A short-lived token is renewed before it expires.
	_, url := serve(t, sim.Config{Faults: sim.Faults{TokenTTL: 5 * time.Second}})
	now := time.Now()
	var mu sync.Mutex
	app := sim.DefaultApp()
	c := New(Config{BaseURL: url, AppKey: app.Key, AppSecret: app.Secret, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(4100 * time.Millisecond) // past 4/5 of the lifetime
	mu.Unlock()
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Tokens != 2 {
		t.Errorf("token not refreshed ahead of expiry: %+v", st)
	}
}

func TestErrorRemedies(t *testing.T) {
	ctx := context.Background()
	app := sim.DefaultApp()

	_, url := serve(t, sim.Config{})
	bad := New(Config{BaseURL: url, AppKey: app.Key, AppSecret: "wrong-secret-xyz"})
	_, err := bad.ListSub(ctx, 1)
	if dingbook.ErrorCode(err) != dingbook.EAUTH || !strings.Contains(err.Error(), "40096") || !strings.Contains(dingbook.ErrorHint(err), "DINGTALK_APP_SECRET") {
		t.Errorf("40096: %v / %s", err, dingbook.ErrorHint(err))
	}
	if strings.Contains(err.Error(), "wrong-secret-xyz") || strings.Contains(dingbook.ErrorHint(err), "wrong-secret-xyz") {
		t.Error("the secret is in the error")
	}

	noScope := app
	noScope.Scopes = []string{"qyapi_base", "qyapi_get_department_list"}
	_, url = serve(t, sim.Config{Apps: []sim.App{noScope}})
	_, err = client(url, noScope, 100).ListUsers(ctx, 1, nil)
	if dingbook.ErrorCode(err) != dingbook.EPERM || !strings.Contains(err.Error(), "qyapi_get_department_member") ||
		!strings.Contains(dingbook.ErrorHint(err), "权限管理") || !strings.Contains(dingbook.ErrorHint(err), "open-dev.dingtalk.com") {
		t.Errorf("60011: %v / %s", err, dingbook.ErrorHint(err))
	}

	walled := app
	walled.IPWhitelist = []string{"198.51.100.7"}
	_, url = serve(t, sim.Config{Apps: []sim.App{walled}})
	_, err = client(url, walled, 100).ListSub(ctx, 1)
	var ae *APIError
	if !errors.As(err, &ae) || CallerIP(ae) != "127.0.0.1" || !strings.Contains(dingbook.ErrorHint(err), "127.0.0.1") {
		t.Errorf("60020: %v / %s", err, dingbook.ErrorHint(err))
	}

	truth := gen.Generate(gen.Options{Users: 50, Depts: 6, Seed: 1})
	ranged := app
	ranged.RangeDepts = []int64{truth.Org.Depts[3].ID}
	_, url = serve(t, sim.Config{Truth: truth, Apps: []sim.App{ranged}})
	_, err = client(url, ranged, 100).GetDept(ctx, 1)
	if Code(err) != CodeDeptOutOfRange || dingbook.ErrorCode(err) != dingbook.EPERM || !strings.Contains(err.Error(), "dept_id 1") ||
		!strings.Contains(dingbook.ErrorHint(err), "通讯录权限范围") {
		t.Errorf("50004: %v / %s", err, dingbook.ErrorHint(err))
	}
}

func TestNeverSendsDeptZero(t *testing.T) {
	s, url := serve(t, sim.Config{})
	c := client(url, sim.DefaultApp(), 100)
	for _, id := range []int64{0, -7} {
		if _, err := c.ListUsers(context.Background(), id, nil); dingbook.ErrorCode(err) != dingbook.EINVALID {
			t.Errorf("dept %d: %v", id, err)
		}
		if _, err := c.ListSub(context.Background(), id); dingbook.ErrorCode(err) != dingbook.EINVALID {
			t.Errorf("dept %d: %v", id, err)
		}
	}
	if n := len(s.Calls()); n != 0 {
		t.Errorf("calls were made: %v", s.Calls())
	}
}

func TestRetriesAndGivingUp(t *testing.T) {
	ctx := context.Background()
	s, url := serve(t, sim.Config{Faults: sim.Faults{TransientRate: 0.15, HTTP5xxRate: 0.1, ResetRate: 0.05}, Seed: 3})
	var logs []string
	var mu sync.Mutex
	app := sim.DefaultApp()
	c := New(Config{BaseURL: url, AppKey: app.Key, AppSecret: app.Secret, QPS: 200, MaxRetries: 20,
		Logf: func(f string, a ...any) { mu.Lock(); logs = append(logs, f); mu.Unlock() }})
	for i := 0; i < 20; i++ {
		if _, err := c.ListSub(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Retries == 0 {
		t.Errorf("no retries under 30%% faults: %+v", st)
	}
	// Always failing: bounded attempts, then a plain error.
	s.SetFaults(sim.Faults{HTTP5xxRate: 1})
	c2 := New(Config{BaseURL: url, AppKey: app.Key, AppSecret: app.Secret, QPS: 200, MaxRetries: 3})
	start := time.Now()
	_, err := c2.ListSub(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "failed 4 times") || dingbook.ErrorHint(err) == "" {
		t.Errorf("giving up: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("giving up took %v", time.Since(start))
	}
}

// TestPacingIsExact fires many concurrent calls at an API limited to the
// client's own QPS: none may be throttled.
func TestPacingIsExact(t *testing.T) {
	s, url := serve(t, sim.Config{QPS: 50})
	c := client(url, sim.DefaultApp(), 50)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ListSubID(context.Background(), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if st := c.Stats(); st.Throttled != 0 {
		t.Errorf("%d calls throttled", st.Throttled)
	}
	if el < 2300*time.Millisecond {
		t.Errorf("120 calls at 50 QPS took only %v", el)
	}
	if got := s.Calls()["/topapi/v2/department/listsubid"]; got != 120 {
		t.Errorf("%d calls reached the server", got)
	}
}

// TestThrottleAdapts: a server limit (20/s) far below the client's QPS
// (100) gives 90018s; the client pauses, learns the server's rate and
// still gets every answer without hammering the server.
func TestThrottleAdapts(t *testing.T) {
	s, url := serve(t, sim.Config{QPS: 20})
	c := client(url, sim.DefaultApp(), 100)
	var wg sync.WaitGroup
	for i := 0; i < 80; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ListSubID(context.Background(), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := c.Stats()
	t.Logf("%+v, server saw %d", st, s.Calls()["/topapi/v2/department/listsubid"])
	if st.Throttled == 0 {
		t.Errorf("no throttling seen: %+v", st)
	}
	if st.Throttled > 40 {
		t.Errorf("%d refusals for 80 calls: the client did not adapt", st.Throttled)
	}
}

func TestRedactURL(t *testing.T) {
	in := `Get "http://x/gettoken?appkey=k&appsecret=s3cr3t&x=1": dial; POST /topapi?access_token=abc123 "q?access_token=zzz"`
	out := RedactURL(in)
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "abc123") || strings.Contains(out, "zzz") || !strings.Contains(out, "appkey=k") {
		t.Errorf("%s", out)
	}
}

// TestSecretsNotInTransportErrors: a dead server's error names neither
// the secret nor a token.
func TestSecretsNotInTransportErrors(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	c := New(Config{BaseURL: url, AppKey: "k", AppSecret: "topsecret-123", MaxRetries: 1})
	_, err := c.Token(context.Background())
	if err == nil || strings.Contains(err.Error(), "topsecret-123") {
		t.Errorf("%v", err)
	}
}

// A base URL that is not http(s) is refused before any call, as bad
// input, not retried as a network error.
func TestBadBaseURLRefusedAtOnce(t *testing.T) {
	for _, base := range []string{"notaurl", "ftp://oapi.dingtalk.com", "https://", "oapi.dingtalk.com"} {
		c := New(Config{BaseURL: base, AppKey: "k", AppSecret: "s"})
		_, err := c.Token(context.Background())
		if dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("%s: %v (code %s)", base, err, dingbook.ErrorCode(err))
		}
		if st := c.Stats(); st.Retries != 0 {
			t.Errorf("%s: %d retries", base, st.Retries)
		}
	}
	for _, base := range []string{"http://127.0.0.1:8765", "https://oapi.dingtalk.com/"} {
		if err := CheckBaseURL(base); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
}

// hugeServer answers every request with JSON of more than MaxBody bytes
// (prefix, a long string, suffix), with a Content-Length unless chunked;
// hits counts the requests.
func hugeServer(t *testing.T, prefix, suffix string, chunked bool) (url string, hits func() int) {
	var n int
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !chunked {
			w.Header().Set("Content-Length", fmt.Sprint(MaxBody+100))
		}
		w.Write([]byte(prefix))
		chunk := []byte(strings.Repeat("x", 1<<20))
		for i := 0; i <= MaxBody>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(suffix))
	}))
	t.Cleanup(ts.Close)
	return ts.URL, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// An answer over MaxBody is refused, once, without buffering it, with or
// without a Content-Length.
func TestHugeAnswerRefused(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		u, hits := hugeServer(t, `{"errcode":0,"access_token":"`, `","expires_in":7200}`, chunked)
		c := New(Config{BaseURL: u, AppKey: "k", AppSecret: "s"})
		_, err := c.Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), "more than 16 MiB") {
			t.Fatalf("chunked %v: %v", chunked, err)
		}
		if n := hits(); n != 1 {
			t.Errorf("chunked %v: %d requests, want 1 (not retried)", chunked, n)
		}
	}
}

// The v1.0 login calls pass the same checks as the old-style calls: a
// malformed DINGTALK_API_V1_BASE is refused at once, and an answer over
// MaxBody is refused once, without buffering it.
func TestV1CallsCheckedLikeTheOthers(t *testing.T) {
	for _, base := range []string{"notaurl", "ftp://api.dingtalk.com", "https://"} {
		c := New(Config{APIV1Base: base, AppKey: "k", AppSecret: "s"})
		_, err := c.UsersMe(context.Background(), "usertoken")
		if dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("%s: %v (code %s)", base, err, dingbook.ErrorCode(err))
		}
		var de *dingbook.Error
		if errors.As(err, &de) && !strings.Contains(de.Hint, "DINGTALK_API_V1_BASE") {
			t.Errorf("%s: the hint should name DINGTALK_API_V1_BASE: %q", base, de.Hint)
		}
		if st := c.Stats(); st.Retries != 0 {
			t.Errorf("%s: %d retries", base, st.Retries)
		}
	}
	u, hits := hugeServer(t, `{"nick":"`, `","unionId":"u"}`, true)
	c := New(Config{BaseURL: u, APIV1Base: u, AppKey: "k", AppSecret: "s"})
	_, err := c.UsersMe(context.Background(), "usertoken")
	var de *dingbook.Error
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "more than 16 MiB") || !strings.Contains(de.Hint, "DINGTALK_API_V1_BASE") {
		t.Fatalf("users/me: %v", err)
	}
	if n := hits(); n != 1 {
		t.Errorf("%d requests, want 1 (not retried)", n)
	}
}

// extcontact/listlabelgroups: the simulator's labels by id, with their
// groups' names; the answer's plausible variants (the "result" wrapper,
// a list object, label_list/label_id/label_name/group_name, numbers as
// strings) read the same.
func TestExternalLabels(t *testing.T) {
	_, u := serve(t, sim.Config{Truth: gen.Generate(gen.Options{Users: 20, Depts: 3, Seed: 3}), QPS: -1})
	got, err := client(u, sim.DefaultApp(), 1000).ExternalLabels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(gen.ExternalLabels) {
		t.Fatalf("%d labels, want %d: %v", len(got), len(gen.ExternalLabels), got)
	}
	for _, l := range gen.ExternalLabels {
		if got[l.ID] != l {
			t.Errorf("label %d: %+v, want %+v", l.ID, got[l.ID], l)
		}
	}
	want := []dingbook.ExternalLabel{{ID: 7, Name: "客户", Group: "类型"}, {ID: 8, Name: "VIP", Group: "类型"}}
	for _, body := range []string{
		`{"errcode":0,"results":[{"name":"类型","color":-15220075,"labels":[{"name":"客户","id":7},{"name":"VIP","id":"8"}]}],"request_id":"x"}`,
		`{"errcode":0,"result":[{"name":"类型","color":"-15220075","labels":[{"name":"客户","id":7},{"name":"VIP","id":8}]}]}`,
		`{"errcode":0,"result":{"list":[{"group_name":"类型","label_list":[{"label_name":"客户","label_id":7},{"label_name":"VIP","label_id":8}]}]}}`,
		`{"errcode":0,"result":{"results":[{"name":"类型","labels":[{"name":"客户","id":7},{"name":"VIP","id":8},{"name":"no id"}]}]}}`,
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "gettoken") {
				w.Write([]byte(`{"errcode":0,"access_token":"tok","expires_in":7200}`))
				return
			}
			w.Write([]byte(body))
		}))
		groups, err := New(Config{BaseURL: ts.URL, AppKey: "k", AppSecret: "s"}).ListLabelGroups(context.Background(), 0, 100)
		ts.Close()
		if err != nil || len(groups) != 1 || fmt.Sprint(groups[0]) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v %v", body, groups, err)
		}
	}
}
