package pull

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// startSim serves a simulator of truth and returns it with its URL.
func startSim(t testing.TB, cfg sim.Config) (*sim.Server, string) {
	t.Helper()
	return startSimHandler(t, sim.New(cfg))
}

func startSimHandler(t testing.TB, s *sim.Server) (*sim.Server, string) {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

var (
	benchUsers = flag.Int("users", 2000, "people in BenchmarkPullEfficiency's org")
	benchDepts = flag.Int("depts", 200, "departments in BenchmarkPullEfficiency's org")
)

func newClient(url string, qps int, logf func(string, ...any)) *dingtalk.Client {
	app := sim.DefaultApp()
	return dingtalk.New(dingtalk.Config{BaseURL: url, AppKey: app.Key, AppSecret: app.Secret, QPS: qps, Logf: logf})
}

// comparePeople compares the pulled org with the truth field by field.
func compareOrg(t *testing.T, truth *dingbook.Org, got *dingbook.Org, restricted, manager bool) {
	t.Helper()
	want := cloneOrg(truth)
	sort.Slice(want.People, func(i, j int) bool { return want.People[i].UserID < want.People[j].UserID })
	sort.Slice(want.Depts, func(i, j int) bool { return want.Depts[i].ID < want.Depts[j].ID })
	gotDepts := append([]dingbook.Department(nil), got.Depts...)
	sort.Slice(gotDepts, func(i, j int) bool { return gotDepts[i].ID < gotDepts[j].ID })
	if got.Name != want.Name {
		t.Errorf("org name %q, want %q", got.Name, want.Name)
	}
	if len(gotDepts) != len(want.Depts) {
		t.Fatalf("%d departments, want %d", len(gotDepts), len(want.Depts))
	}
	for i := range want.Depts {
		if !reflect.DeepEqual(gotDepts[i], want.Depts[i]) {
			t.Errorf("department %d:\n got  %+v\n want %+v", want.Depts[i].ID, gotDepts[i], want.Depts[i])
		}
	}
	if len(got.People) != len(want.People) {
		t.Fatalf("%d people, want %d", len(got.People), len(want.People))
	}
	diffs := 0
	for i := range want.People {
		w, g := want.People[i], got.People[i]
		if !restricted {
			w.Restricted = false
		}
		if !manager {
			w.ManagerUserID, w.Senior, w.RealAuthed, w.OrgEmailType = "", false, false, ""
		}
		if !reflect.DeepEqual(g, w) {
			diffs++
			if diffs <= 5 {
				gb, _ := json.Marshal(g)
				wb, _ := json.Marshal(w)
				t.Errorf("person %s:\n got  %s\n want %s", w.UserID, gb, wb)
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d people differ", diffs, len(want.People))
	}
	if len(got.External) > 0 {
		for i := range want.External {
			if i >= len(got.External) || !reflect.DeepEqual(got.External[i], want.External[i]) {
				gb, _ := json.Marshal(got.External[min(i, len(got.External)-1)])
				wb, _ := json.Marshal(want.External[i])
				t.Errorf("external contact %d:\n got  %s\n want %s", i, gb, wb)
				break
			}
		}
	}
}

func cloneOrg(o *dingbook.Org) *dingbook.Org {
	b, _ := json.Marshal(o)
	var c dingbook.Org
	json.Unmarshal(b, &c)
	return &c
}

func TestFidelity(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 2000, Depts: 120, Seed: 1})
	// The simulator allows twice the client's rate: this test is about
	// fidelity, and scheduling delays on a loaded machine can bunch
	// exactly paced calls into one of the simulator's one-second windows
	// (pacing itself is TestPacingIsExact's).
	s, url := startSim(t, sim.Config{Truth: truth, QPS: 2000, Extras: true})
	c := newClient(url, 1000, nil)
	db, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := Run(context.Background(), Options{Client: c, DB: db, WithManager: true, CountRestricted: true, External: true})
	if err != nil {
		t.Fatal(err)
	}
	compareOrg(t, &truth.Org, &res.Snapshot.Org, true, true)
	if got := len(res.Snapshot.Org.External); got != len(truth.Org.External) || got == 0 {
		t.Errorf("%d external contacts, want %d", got, len(truth.Org.External))
	}
	rc := res.Snapshot.Receipt
	if !rc.Complete {
		t.Errorf("receipt not complete: %v", rc.Problems)
	}
	if rc.People != 2000 || rc.OrgCount != 2000 || rc.Departments != 120 {
		t.Errorf("receipt counts people %d org %d depts %d", rc.People, rc.OrgCount, rc.Departments)
	}
	if rc.Restricted != len(truth.Restricted) || rc.Restricted == 0 {
		t.Errorf("restricted %d, want %d", rc.Restricted, len(truth.Restricted))
	}
	if rc.Retries != 0 {
		t.Errorf("%d retries without faults", rc.Retries)
	}
	// Every v2/user/list call asked for restricted staff and pages of 100:
	// the count of pages is exactly the minimum.
	minPages := 0
	for _, d := range truth.Org.Depts {
		minPages += max(1, (d.OwningMemberCount+99)/100)
	}
	if got := s.Calls()["/topapi/v2/user/list"]; got != minPages {
		t.Errorf("v2/user/list called %d times, want %d", got, minPages)
	}
	// Stored and reloaded, the snapshot is the same.
	if err := Save(context.Background(), db, res, time.Now()); err != nil {
		t.Fatal(err)
	}
	back, err := db.LoadSnapshot(context.Background(), res.Snapshot.ID)
	if err != nil {
		t.Fatal(err)
	}
	compareOrg(t, &truth.Org, &back.Org, true, true)
	if back.Receipt == nil || !back.Receipt.Complete {
		t.Errorf("stored receipt %+v", back.Receipt)
	}
}

// TestFidelityUnderFaults pulls through transient errors, 5xx pages,
// connection resets, throttling bursts and tokens expiring mid-run.
func TestFidelityUnderFaults(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 2000, Depts: 120, Seed: 2})
	s, url := startSim(t, sim.Config{Truth: truth, QPS: 400, StringNumbers: true, EmptyFields: "omit", ExpiredTokenCode: "42001",
		Faults: sim.Faults{TransientRate: 0.05, HTTP5xxRate: 0.02, ResetRate: 0.02, ThrottleBurst: 150 * time.Millisecond, ThrottleEvery: 2 * time.Second, TokenTTL: 1500 * time.Millisecond}})
	var logs strings.Builder
	var logMu = make(chan struct{}, 1)
	c := newClient(url, 400, func(f string, a ...any) {
		logMu <- struct{}{}
		fmt.Fprintf(&logs, f+"\n", a...)
		<-logMu
	})
	ctx := context.Background()
	done := make(chan struct{})
	go func() { // expire tokens now and then as well
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				s.ExpireTokens()
			}
		}
	}()
	res, err := Run(ctx, Options{Client: c})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	compareOrg(t, &truth.Org, &res.Snapshot.Org, false, false)
	t.Logf("stats %+v", res.Stats)
	rc := res.Snapshot.Receipt
	if !rc.Complete {
		t.Errorf("receipt not complete: %v", rc.Problems)
	}
	st := res.Stats
	if st.Retries < 20 || st.Throttled < 1 || st.Tokens < 2 {
		t.Errorf("faults were not exercised: %+v", st)
	}
	app := sim.DefaultApp()
	if strings.Contains(logs.String(), app.Secret) {
		t.Error("the app secret appears in the log")
	}
	if strings.Contains(logs.String(), "access_token=") && !strings.Contains(logs.String(), "access_token=REDACTED") {
		t.Error("an access token appears in the log")
	}
	if !strings.Contains(logs.String(), "retry") {
		t.Errorf("no retry logged: %.500s", logs.String())
	}
}

func TestRestrictedRange(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 300, Depts: 30, Seed: 1})
	// Range: the first-level departments but the first one.
	tree := dingbook.NewTree(truth.Org.Depts)
	top := tree.Children(dingbook.RootDeptID)
	if len(top) < 3 {
		t.Fatalf("generator gave %d top departments", len(top))
	}
	app := sim.DefaultApp()
	app.RangeDepts = top[1:]
	_, url := startSim(t, sim.Config{Truth: truth, Apps: []sim.App{app}, QPS: 200})
	c := newClient(url, 200, nil)
	res, err := Run(context.Background(), Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	rc := res.Snapshot.Receipt
	if rc.Complete {
		t.Fatal("a pull of a restricted range claims to be complete")
	}
	outside := map[int64]bool{dingbook.RootDeptID: true}
	for _, id := range tree.Descendants(top[0]) {
		outside[id] = true
	}
	got := map[int64]bool{}
	for _, g := range rc.OutOfRange {
		got[g.DeptID] = true
	}
	if !reflect.DeepEqual(got, outside) {
		t.Errorf("out of range %v, want %v", got, outside)
	}
	var text = strings.Join(rc.Problems, "\n")
	if !strings.Contains(text, "通讯录权限范围") || !strings.Contains(text, fmt.Sprint(top[0])) {
		t.Errorf("problems do not name the department and the remedy:\n%s", text)
	}
	if rc.OrgCount != 300 || rc.People >= 300 {
		t.Errorf("org count %d, people %d", rc.OrgCount, rc.People)
	}
	err = IncompleteError(rc)
	if dingbook.ErrorCode(err) != dingbook.EINCOMPLETE {
		t.Errorf("code %s", dingbook.ErrorCode(err))
	}
}

func TestHiddenFieldsMakeIncomplete(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 100, Depts: 8, Seed: 3})
	app := sim.DefaultApp()
	app.NoMobileField = true
	_, url := startSim(t, sim.Config{Truth: truth, Apps: []sim.App{app}, QPS: 200})
	res, err := Run(context.Background(), Options{Client: newClient(url, 200, nil)})
	if err != nil {
		t.Fatal(err)
	}
	rc := res.Snapshot.Receipt
	if rc.Complete || !reflect.DeepEqual(rc.HiddenFields, []string{"mobile", "state_code"}) {
		t.Errorf("complete %v hidden %v", rc.Complete, rc.HiddenFields)
	}
	if !strings.Contains(strings.Join(rc.Problems, "\n"), "企业员工手机号信息") {
		t.Errorf("problems %v", rc.Problems)
	}
}

// TestFreshIgnoresCheckpoint: an unfinished run is resumed, unless Fresh.
func TestFreshIgnoresCheckpoint(t *testing.T) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 120, Depts: 10, Seed: 4})
	_, url := startSim(t, sim.Config{Truth: truth, QPS: 500})
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A run that is not saved stays resumable.
	first, err := Run(ctx, Options{Client: newClient(url, 500, nil), DB: db})
	if err != nil || first.Resumed {
		t.Fatalf("%v %v", err, first.Resumed)
	}
	again, err := Run(ctx, Options{Client: newClient(url, 500, nil), DB: db})
	if err != nil || !again.Resumed || again.Stats.Calls[dingtalk.APIUserList] != 0 {
		t.Fatalf("second run: %v resumed=%v calls=%v", err, again.Resumed, again.Stats.Calls)
	}
	compareOrg(t, &truth.Org, &again.Snapshot.Org, false, false)
	fresh, err := Run(ctx, Options{Client: newClient(url, 500, nil), DB: db, Fresh: true})
	if err != nil || fresh.Resumed || fresh.Stats.Calls[dingtalk.APIUserList] < 10 {
		t.Fatalf("fresh run: %v resumed=%v calls=%v", err, fresh.Resumed, fresh.Stats.Calls)
	}
	if err := Save(ctx, db, fresh, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, left, err := db.PullCheckpoints(ctx); err != nil || left != 0 {
		t.Errorf("%d checkpoint rows left (%v)", left, err)
	}
}
