package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/diff"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// TestDiffAfterChanges pulls, changes the simulated organisation through
// its Go API (a joiner, a leaver, a move, a title and a mobile change, a
// hidden mobile's change), pulls again and checks every line of 'diff'.
func TestDiffAfterChanges(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 150, Depts: 15, Seed: 4})
	s := sim.New(sim.Config{Truth: truth, QPS: 500})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	app := sim.DefaultApp()
	vars := map[string]string{"DINGBOOK_HOME": filepath.Join(t.TempDir(), "home"), "DINGTALK_API_BASE": ts.URL,
		"DINGTALK_APP_KEY": app.Key, "DINGTALK_APP_SECRET": app.Secret}
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] },
		Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }, Actor: "tester", Dir: t.TempDir()}
	run := func(args ...string) int {
		out.Reset()
		errb.Reset()
		return Main(context.Background(), args, env)
	}
	if code := run("pull", "--qps", "500"); code != ExitOK {
		t.Fatalf("pull: exit %d: %s", code, errb.String())
	}
	if code := run("diff"); code == ExitOK || !strings.Contains(errb.String(), "diff needs two snapshots") {
		t.Fatalf("diff with one snapshot: exit %d: %s", code, errb.String())
	}

	// pick people with one department, active, with a mobile
	var pick []dingbook.Person
	for _, p := range s.Org().People {
		if len(p.Depts) == 1 && p.Depts[0].DeptID != 1 && p.Active && p.Mobile != "" && !p.Restricted {
			pick = append(pick, p)
		}
	}
	leaver, mover, titled, mobiled, hidden := pick[0], pick[1], pick[2], pick[3], pick[4]
	var target int64
	for _, d := range s.Org().Depts {
		if d.ID != 1 && d.ID != mover.Depts[0].DeptID {
			target = d.ID
			break
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddUser(dingbook.Person{UserID: "joiner-1", Name: "周新人", Active: true, Mobile: "13700000001", StateCode: "86",
		Depts: []dingbook.Membership{{DeptID: target}}}))
	must(s.RemoveUser(leaver.UserID))
	must(s.MoveUser(mover.UserID, target))
	must(s.UpdateUser(titled.UserID, func(p *dingbook.Person) { p.Title = "首席架构师" }))
	must(s.UpdateUser(mobiled.UserID, func(p *dingbook.Person) { p.Mobile = "13700000002" }))
	must(s.UpdateUser(hidden.UserID, func(p *dingbook.Person) { p.HideMobile = true }))
	if code := run("pull", "--qps", "500"); code != ExitOK {
		t.Fatalf("second pull: exit %d: %s", code, errb.String())
	}
	must(s.UpdateUser(hidden.UserID, func(p *dingbook.Person) { p.Mobile = "13700000003" }))
	if code := run("pull", "--qps", "500"); code != ExitOK {
		t.Fatalf("third pull: exit %d: %s", code, errb.String())
	}

	// 1 → 2: everything but the hidden mobile's change
	if code := run("diff", "1", "2", "--json"); code != ExitOK {
		t.Fatalf("diff --json: exit %d: %s", code, errb.String())
	}
	var rep diff.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("diff --json is not a report: %v\n%s", err, out.String())
	}
	got := summarise(&rep)
	want := strings.Join([]string{
		"from 1 150 to 2 150",
		"joined joiner-1 周新人",
		"left " + leaver.UserID + " " + leaver.Name,
		"moved " + mover.UserID,
		"changed " + titled.UserID + " title=" + titled.Title + "→首席架构师",
		"changed " + mobiled.UserID + " mobile",
		"changed " + hidden.UserID + " mobile,state_code,hide_mobile",
		"quoted name,telephone,job_number,title,org_email,dept",
	}, "\n")
	if got != want {
		t.Fatalf("diff 1 2:\n%s\nwant:\n%s", got, want)
	}
	if rep.Moves[0].From == rep.Moves[0].To || !strings.Contains(rep.Joiners[0].Depts, rep.Moves[0].To) {
		t.Fatalf("move %+v, joiner %+v: the joiner went where the mover went", rep.Moves[0], rep.Joiners[0])
	}
	if strings.Contains(out.String(), "13700000002") || strings.Contains(out.String(), mobiled.Mobile) {
		t.Fatal("the report quotes a mobile, which the default profile does not export")
	}

	// default: the last two; a hidden mobile's change is not shown
	if code := run("diff"); code != ExitOK {
		t.Fatalf("diff: exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "snapshot 2 (") || !strings.Contains(out.String(), "0 joined, 0 left, 0 moved, 0 changed") ||
		!strings.Contains(errb.String(), "values shown for") {
		t.Fatalf("diff of 2 and 3 (a hidden mobile changed):\n%s%s", out.String(), errb.String())
	}
	// the text form of 1 → 2
	if code := run("diff", "1", "--json=false", "2"); code != ExitOK {
		t.Fatalf("diff 1 2: exit %d: %s", code, errb.String())
	}
	for _, line := range []string{"1 joined, 1 left, 1 moved, 3 changed", "  + 周新人 (joiner-1)", "  - " + leaver.Name + " (" + leaver.UserID + ")",
		"  ~ " + mover.Name, `title "` + titled.Title + `" → "首席架构师"`, "  * " + mobiled.Name + " (" + mobiled.UserID + ")  mobile\n"} {
		if !strings.Contains(out.String(), line) {
			t.Fatalf("diff text lacks %q:\n%s", line, out.String())
		}
	}
	for _, bad := range [][]string{{"diff", "1", "2", "3"}, {"diff", "x"}, {"diff", "9"}} {
		if code := run(bad...); code == ExitOK || !strings.Contains(errb.String(), "dingbook snapshots") {
			t.Fatalf("%v: exit %d: %s", bad, code, errb.String())
		}
	}
}

// summarise renders a report as comparable lines.
func summarise(r *diff.Report) string {
	var l []string
	l = append(l, "from "+itoa(r.From.Snapshot)+" "+itoa(int64(r.From.People))+" to "+itoa(r.To.Snapshot)+" "+itoa(int64(r.To.People)))
	for _, p := range r.Joiners {
		l = append(l, "joined "+p.UserID+" "+p.Name)
	}
	for _, p := range r.Leavers {
		l = append(l, "left "+p.UserID+" "+p.Name)
	}
	for _, m := range r.Moves {
		l = append(l, "moved "+m.UserID)
	}
	for _, c := range r.Changes {
		var f []string
		for _, x := range c.Fields {
			if x.Old != nil {
				f = append(f, x.Field+"="+*x.Old+"→"+*x.New)
			} else {
				f = append(f, x.Field)
			}
		}
		l = append(l, "changed "+c.UserID+" "+strings.Join(f, ","))
	}
	l = append(l, "quoted "+strings.Join(r.QuotedFields, ","))
	return strings.Join(l, "\n")
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
