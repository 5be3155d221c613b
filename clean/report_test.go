package clean

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/testorg"
)

var person = testorg.Person

func smallOrg() *dingbook.Org { return testorg.Small() }

func TestDuplicatesAndProblems(t *testing.T) {
	org := smallOrg()
	r, got := found(t, org)
	want := map[dingbook.Problem][]string{
		dingbook.ProblemDuplicateName:    {"a", "b"},
		dingbook.ProblemDuplicateMobile:  {"a", "b"},
		dingbook.ProblemDuplicateEmail:   {"a", "b"},
		dingbook.ProblemManagerNotFound:  {"c"},
		dingbook.ProblemMissingTitle:     {"c"},
		dingbook.ProblemHiddenMobile:     {"d"},
		dingbook.ProblemMissingEmail:     {},
		dingbook.ProblemInvalidEmail:     {"d"},
		dingbook.ProblemInactive:         {"d"},
		dingbook.ProblemInvalidPhone:     {"z"},
		dingbook.ProblemMissingJobNumber: {"z"},
		dingbook.ProblemMissingMobile:    {},
	}
	for p, ids := range want {
		if d := diff(ids, got[p]); d != "" {
			t.Errorf("%s: %s", p, d)
		}
	}
	if r.People != 5 || r.PeopleWithProblems != 5 {
		t.Errorf("people %d, with problems %d", r.People, r.PeopleWithProblems)
	}
	if r.GroupCounts[dingbook.ProblemDuplicateName] != 1 || r.GroupCounts[dingbook.ProblemDuplicateMobile] != 1 || r.GroupCounts[dingbook.ProblemDuplicateEmail] != 1 {
		t.Errorf("group counts %v", r.GroupCounts)
	}
	for _, g := range r.DuplicateGroups {
		if len(g.Members) != 2 || g.Members[0].UserID != "a" || g.Members[1].UserID != "b" || g.Members[0].Name != "张三" {
			t.Errorf("group %+v", g)
		}
		if g.Problem == dingbook.ProblemDuplicateMobile && g.Key != "+8613800138000" {
			t.Errorf("mobile group key %q", g.Key)
		}
		if g.Problem == dingbook.ProblemDuplicateName && g.DeptID != 2 {
			t.Errorf("name group dept %d", g.DeptID)
		}
	}
	if r.Totals.People != 5 || r.Totals.DuplicateGroups != 3 || r.Totals.Problems[dingbook.ProblemInactive] != 1 {
		t.Errorf("totals %+v", r.Totals)
	}
	if !reflect.DeepEqual(r.MissingManagers, map[string]int{"gone": 1}) {
		t.Errorf("missing managers %v", r.MissingManagers)
	}
	// Departments: direct members and rates.
	byID := map[int64]DeptQuality{}
	for _, d := range r.Departments {
		byID[d.DeptID] = d
	}
	if d := byID[3]; d.Members != 3 || d.WithMobile != 2 || d.WithEmail != 3 || d.WithTitle != 2 || d.WithJobNumber != 3 || d.Path != "销售部" {
		t.Errorf("dept 3 = %+v", d)
	}
	if d := byID[2]; d.Members != 3 || d.WithJobNumber != 2 || d.JobNumberRate < 0.66 || d.JobNumberRate > 0.67 {
		t.Errorf("dept 2 = %+v", d)
	}
	if d := byID[1]; d.Members != 0 || d.MobileRate != 1 {
		t.Errorf("root = %+v", d)
	}
	// Problems for a person outside the analysed directory.
	x := person("x", "外人", 2)
	x.Mobile, x.Email, x.ManagerUserID = "13800138000", "x@example.com", "a"
	if s := r.Problems(&x); s != 0 {
		t.Errorf("outsider problems %v", s.List())
	}
	x.ManagerUserID = "nobody"
	if s := r.Problems(&x); !s.Has(dingbook.ProblemManagerNotFound) {
		t.Errorf("outsider with a missing manager: %v", s.List())
	}
}

func TestSameUserIDTwiceIsOnePerson(t *testing.T) {
	org := smallOrg()
	again := org.People[2] // c listed again (as a raw per-department listing would)
	org.People = append(org.People, again)
	r, got := found(t, org)
	if r.People != 5 {
		t.Fatalf("people = %d, want 5", r.People)
	}
	if d := diff([]string{"c"}, got[dingbook.ProblemManagerNotFound]); d != "" {
		t.Fatal(d)
	}
	if len(got[dingbook.ProblemDuplicateMobile]) != 2 {
		t.Fatalf("duplicate-mobile %v", got[dingbook.ProblemDuplicateMobile])
	}
}

func TestImportedRowsWithoutUserID(t *testing.T) {
	org := smallOrg()
	for i := range org.People {
		org.People[i].UserID = ""
		org.People[i].ManagerUserID = ""
	}
	// An identical copy of row 3 (李四): distinct rows, so duplicates.
	org.People = append(org.People, org.People[2])
	r, err := Analyze(context.Background(), dingbook.OrgDirectory{Org: org}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.People != 6 {
		t.Fatalf("people %d", r.People)
	}
	var rows []int
	r.EachPersonProblems(context.Background(), dingbook.OrgDirectory{Org: org}, func(pp PersonProblems) error {
		if containsP(pp.Problems, dingbook.ProblemDuplicateMobile) {
			rows = append(rows, pp.Row)
		}
		return nil
	})
	if !reflect.DeepEqual(rows, []int{1, 2, 3, 6}) {
		t.Fatalf("duplicate-mobile rows %v, want [1 2 3 6]", rows)
	}
	if r.Counts[dingbook.ProblemDuplicateMobile] != 4 || r.Counts[dingbook.ProblemDuplicateName] != 4 || r.Counts[dingbook.ProblemMissingTitle] != 2 {
		t.Fatalf("counts %v", r.Counts)
	}
}

func containsP(ps []dingbook.Problem, p dingbook.Problem) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func TestDedupe(t *testing.T) {
	mk := func(name, job, mobile string, dept int64) dingbook.Person {
		p := dingbook.Person{Name: name, JobNumber: job, Mobile: mobile, StateCode: "86", Depts: []dingbook.Membership{{DeptID: dept}}}
		return p
	}
	base := func() *dingbook.Org {
		a := mk("张三", "A1", "13800138000", 2)
		a.Title = "工程师"
		b := mk("张三", "A1", "", 3) // same job number
		b.Email = "zs@example.com"
		b.Title = "经理" // conflict
		c := mk("李四", "", "13900139000", 2)
		d := mk("李四 ", "", "139 0013 9000", 4) // same mobile and name
		e := mk("李四", "", "13900139000", 5)    // same again
		f := mk("王五", "", "13900139000", 2)    // same mobile, other name: not merged
		g := mk("赵六", "A1", "", 2)             // same job number as a: merged by job number
		g.UserID = "u-g"                       // but it has a userid: never merged
		return &dingbook.Org{People: []dingbook.Person{a, b, c, d, e, f, g}}
	}
	org := base()
	merges, err := Dedupe(org, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(org.People) != 4 || len(merges) != 2 {
		t.Fatalf("people %d merges %+v", len(org.People), merges)
	}
	m0, m1 := merges[0], merges[1]
	if m0.Rule != RuleJobNumber || m0.Kept != 1 || !reflect.DeepEqual(m0.Merged, []int{2}) || !reflect.DeepEqual(m0.Depts, []int64{2, 3}) || !reflect.DeepEqual(m0.Conflicts, []string{"title"}) {
		t.Errorf("merge 0 = %+v", m0)
	}
	if m1.Rule != RuleMobileName || m1.Kept != 3 || !reflect.DeepEqual(m1.Merged, []int{4, 5}) || !reflect.DeepEqual(m1.Depts, []int64{2, 4, 5}) || m1.Key != "+8613900139000 / 李四" {
		t.Errorf("merge 1 = %+v", m1)
	}
	if p := org.People[0]; p.Email != "zs@example.com" || p.Title != "工程师" {
		t.Errorf("merged person %+v", p)
	}
	if !strings.Contains(m1.String(), "rows 4, 5 merged into row 3") {
		t.Errorf("String = %q", m1.String())
	}

	org = base()
	merges, _ = Dedupe(org, RuleMobileName)
	if len(merges) != 1 || len(org.People) != 5 {
		t.Errorf("mobile-name only: %d people, merges %+v", len(org.People), merges)
	}
	org = base()
	merges, _ = Dedupe(org, RuleJobNumber)
	if len(merges) != 1 || len(org.People) != 6 {
		t.Errorf("job-number only: %d people, merges %+v", len(org.People), merges)
	}
	_, err = Dedupe(base(), "email")
	if err == nil || dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(dingbook.ErrorHint(err), RuleMobileName) {
		t.Errorf("bad rule: %v", err)
	}
}

func TestWriteJSON(t *testing.T) {
	org := smallOrg()
	r, dir := analyzed(t, org)
	var buf bytes.Buffer
	if err := r.WriteJSON(context.Background(), &buf, dir); err != nil {
		t.Fatal(err)
	}
	var out struct {
		People             []PersonProblems         `json:"persons"`
		Counts             map[dingbook.Problem]int `json:"counts"`
		DuplicateGroups    []DuplicateGroup         `json:"duplicate_groups"`
		Departments        []DeptQuality            `json:"departments"`
		PeopleWithProblems int                      `json:"people_with_problems"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(out.People) != 5 || out.People[4].UserID != "z" || !reflect.DeepEqual(out.People[4].Problems, []dingbook.Problem{dingbook.ProblemInvalidPhone, dingbook.ProblemMissingJobNumber}) {
		t.Errorf("people %+v", out.People)
	}
	if len(out.Counts) != len(dingbook.AllProblems) || out.Counts[dingbook.ProblemDuplicateEmail] != 2 || len(out.DuplicateGroups) != 3 || len(out.Departments) != 3 {
		t.Errorf("summary %+v", out)
	}
	if out.DuplicateGroups[0].Members[1].Name != "张三" {
		t.Errorf("member names not filled: %+v", out.DuplicateGroups[0])
	}
	text := reportText(t, r, dir)
	for _, s := range []string{"duplicate-mobile +8613800138000: a (张三), b (张三)", "invalid-phone,missing-job-number", "研发部"} {
		if !strings.Contains(text, s) {
			t.Errorf("text report lacks %q:\n%s", s, text)
		}
	}
}

// TestKeyTextsWithCrowdedBits: whether or not first holders keep their
// key text (a tiny bit table makes almost every key "maybe seen"), the
// groups and their keys are the same.
func TestKeyTextsWithCrowdedBits(t *testing.T) {
	truth := smallOrg()
	run := func(bits int) []DuplicateGroup {
		a := NewAnalyzer(Options{})
		if bits > 0 {
			a.bits = make([]uint64, bits)
		}
		for i := range truth.People {
			a.Add(&truth.People[i])
		}
		return plainGroups(t, a.Report(truth.Depts).DuplicateGroups)
	}
	want, got := run(0), run(1)
	if !reflect.DeepEqual(want, got) || len(want) != 3 {
		t.Fatalf("groups differ:\n%+v\n%+v", want, got)
	}
	for _, g := range got {
		if g.Key == "" || (g.Problem == dingbook.ProblemDuplicateName && g.DeptID != 2) {
			t.Errorf("group %+v", g)
		}
	}
}

// plainGroups returns groups as plain values with every member (as the
// JSON report has them), without the store that names them.
func plainGroups(t *testing.T, groups []DuplicateGroup) []DuplicateGroup {
	t.Helper()
	out := make([]DuplicateGroup, len(groups))
	for i, g := range groups {
		out[i] = DuplicateGroup{Problem: g.Problem, Key: g.Key, DeptID: g.DeptID}
		g.EachMember(func(m Member) error { out[i].Members = append(out[i].Members, m); return nil })
		if len(out[i].Members) != g.Len() {
			t.Fatalf("group %d: %d members given, Len %d", i, len(out[i].Members), g.Len())
		}
	}
	return out
}

// TestTextColumnsAlign: in the text report, names in Chinese (two
// terminal columns a character) and in Latin letters line up, and a value
// longer than its column still leaves two spaces before the next.
func TestTextColumnsAlign(t *testing.T) {
	org := &dingbook.Org{Name: "示例", Depts: []dingbook.Department{{ID: 1, Name: "示例"}, {ID: 2, Name: "研发部", ParentID: 1}},
		People: []dingbook.Person{
			{UserID: "u1", Name: "欧阳娜娜", Active: true, Depts: []dingbook.Membership{{DeptID: 2}}},
			{UserID: "u2", Name: "Budi Santoso", Active: true, Depts: []dingbook.Membership{{DeptID: 1}}},
			{UserID: "a-very-long-userid-beyond-its-column", Name: "李", Active: true, Depts: []dingbook.Membership{{DeptID: 2}}},
		}}
	r, dir := analyzed(t, org)
	text := reportText(t, r, dir)
	_, people, ok := strings.Cut(text, "People with problems")
	if !ok {
		t.Fatal(text)
	}
	col := map[string]int{}
	for _, line := range strings.Split(people, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing spaces: %q", line)
		}
		for _, name := range []string{"欧阳娜娜", "Budi Santoso"} {
			if before, _, ok := strings.Cut(line, "missing-mobile"); ok && strings.Contains(line, name) {
				col[name] = cellWidth(before)
			}
		}
		if strings.Contains(line, "a-very-long-userid-beyond-its-column") && !strings.Contains(line, "column  李") {
			t.Errorf("overlong cell not followed by two spaces: %q", line)
		}
	}
	if len(col) != 2 || col["欧阳娜娜"] != col["Budi Santoso"] {
		t.Errorf("problems start at columns %v:\n%s", col, people)
	}
}

// TestBigGroupIsCapped: a duplicate group of 25 people names its first
// MaxGroupMembersShown members in the text report and the Quality sheet
// and counts the rest; the JSON report keeps every member.
func TestBigGroupIsCapped(t *testing.T) {
	org := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{{ID: 1, Name: "测试"}}}
	for i := 0; i < 25; i++ {
		org.People = append(org.People, person(fmt.Sprintf("u%02d", i), "张伟", 1))
	}
	r, dir := analyzed(t, org)
	text := reportText(t, r, dir)
	want := "duplicate-name 张伟: (department 1) u00 (张伟), u01 (张伟), u02 (张伟), u03 (张伟), u04 (张伟), u05 (张伟), u06 (张伟), u07 (张伟), u08 (张伟), u09 (张伟), … and 15 more\n"
	if !strings.Contains(text, want) || strings.Contains(text, "u10 (张伟),") || !strings.Contains(text, "--report FILE.json") {
		t.Errorf("text report does not cap the group at %d members:\n%s", MaxGroupMembersShown, text)
	}
	// The Quality sheet's detail (export's qualitySheet) is this list.
	if detail := r.DuplicateGroups[0].MemberList("; "); !strings.HasSuffix(detail, "; u09 (张伟); … and 15 more") || strings.Contains(detail, "u10") {
		t.Errorf("member list not capped: %q", detail)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(context.Background(), &js, dir); err != nil {
		t.Fatal(err)
	}
	var out struct {
		DuplicateGroups []DuplicateGroup `json:"duplicate_groups"`
	}
	if err := json.Unmarshal(js.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.DuplicateGroups) != 1 || len(out.DuplicateGroups[0].Members) != 25 {
		t.Fatalf("JSON report should list all 25 members: %+v", out.DuplicateGroups)
	}
	for i, m := range out.DuplicateGroups[0].Members {
		if m.UserID != fmt.Sprintf("u%02d", i) || m.Name != "张伟" || m.Row != i+1 {
			t.Errorf("JSON member %d: %+v", i, m)
		}
	}
	// In memory the group names only the members shown; the rest are
	// ordinals, counted by Len.
	if g := &r.DuplicateGroups[0]; len(g.Members) != MaxGroupMembersShown || g.Len() != 25 {
		t.Errorf("group holds %d members, Len %d; want %d and 25", len(g.Members), g.Len(), MaxGroupMembersShown)
	}
}

// TestGroupOrderIsStable: groups that share their first member come in
// the same order on every run (problem, then key, then department),
// although the analysis hashes with a new random seed each time.
func TestGroupOrderIsStable(t *testing.T) {
	org := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{{ID: 1, Name: "测试"}, {ID: 2, Name: "甲"}, {ID: 3, Name: "乙"}, {ID: 4, Name: "丙"}}}
	a := person("a", "张三", 4, 3, 2)
	a.Mobile, a.Email, a.OrgEmail = "13800138000", "a@example.com", "z@example.com"
	org.People = append(org.People, a)
	for i, d := range []int64{2, 3, 4} {
		p := person(fmt.Sprint("b", i), "张三", d)
		p.Email, p.OrgEmail, p.Mobile = "a@example.com", "z@example.com", "13800138000"
		org.People = append(org.People, p)
	}
	want := []string{"duplicate-mobile +8613800138000 0", "duplicate-email a@example.com 0", "duplicate-email z@example.com 0",
		"duplicate-name 张三 2", "duplicate-name 张三 3", "duplicate-name 张三 4"}
	for run := range 20 {
		r, _ := analyzed(t, org)
		var got []string
		for _, g := range r.DuplicateGroups {
			got = append(got, fmt.Sprintf("%s %s %d", g.Problem, g.Key, g.DeptID))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("run %d: groups in the order\n%q\nwant\n%q", run, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 15: "15", 999: "999", 1000: "1,000", 99990: "99,990", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestMergeStringIsCapped: a merge of 25 identical rows names its first
// MaxGroupMembersShown merged rows on the terminal; Merged keeps them all.
func TestMergeStringIsCapped(t *testing.T) {
	org := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{{ID: 1, Name: "测试"}}}
	for i := 0; i < 26; i++ {
		p := person("", "张伟", 1)
		p.JobNumber = "J1"
		org.People = append(org.People, p)
	}
	merges, err := Dedupe(org, RuleJobNumber)
	if err != nil || len(merges) != 1 || len(merges[0].Merged) != 25 {
		t.Fatalf("merges %+v %v", merges, err)
	}
	want := "rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … and 15 more merged into row 1 (张伟, rule job-number: J1)"
	if s := merges[0].String(); s != want {
		t.Errorf("String = %q\nwant     %q", s, want)
	}
}

// analyzed analyzes org with the default options.
func analyzed(t *testing.T, org *dingbook.Org) (*Report, dingbook.OrgDirectory) {
	t.Helper()
	dir := dingbook.OrgDirectory{Org: org}
	r, err := Analyze(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

// reportText is r's text report.
func reportText(t *testing.T, r *Report, dir dingbook.OrgDirectory) string {
	t.Helper()
	var text bytes.Buffer
	if err := r.WriteText(context.Background(), &text, dir); err != nil {
		t.Fatal(err)
	}
	return text.String()
}

// TestJSONGroupsStreamed: WriteJSON writes the duplicate groups one at a
// time into the summary, and the bytes are those of MarshalIndent of the
// whole report (every member of every group), with and without groups.
func TestJSONGroupsStreamed(t *testing.T) {
	big := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{{ID: 1, Name: "测试"}}}
	for i := 0; i < 25; i++ {
		big.People = append(big.People, person(fmt.Sprintf("u%02d", i), "张伟", 1))
	}
	none := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{{ID: 1, Name: "测试"}}, People: []dingbook.Person{person("a", "甲", 1)}}
	for name, org := range map[string]*dingbook.Org{"small": smallOrg(), "big group": big, "no group": none} {
		r, dir := analyzed(t, org)
		var js bytes.Buffer
		if err := r.WriteJSON(context.Background(), &js, dir); err != nil {
			t.Fatal(err)
		}
		whole, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want := string(whole[:len(whole)-2]) + ",\n  \"persons\": ["
		if !strings.HasPrefix(js.String(), want) {
			t.Errorf("%s: WriteJSON starts\n%.2000s\nwant\n%.2000s", name, js.String(), want)
		}
		if n := strings.Count(want, `"row"`); name == "big group" && n != 25 {
			t.Errorf("%s: %d members in the summary, want 25", name, n)
		}
	}
}
