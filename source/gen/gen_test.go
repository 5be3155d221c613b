package gen_test

import (
	"net/mail"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/nyaruka/phonenumbers"
)

func validPhone(stateCode, mobile string) bool {
	num, err := phonenumbers.Parse("+"+stateCode+mobile, "")
	return err == nil && phonenumbers.IsValidNumber(num)
}

func e164(stateCode, mobile string) string {
	if stateCode == "" {
		stateCode = "86"
	}
	num, err := phonenumbers.Parse("+"+stateCode+mobile, "")
	if err != nil {
		return "raw:" + stateCode + mobile
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

func validEmail(e string) bool {
	e = strings.TrimSpace(e)
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	at := strings.LastIndex(e, "@")
	return at > 0 && strings.Contains(e[at+1:], ".")
}

// recompute derives every problem from the data with quality.go's
// definitions, independently of the generator.
func recompute(org *dingbook.Org) map[dingbook.Problem][]string {
	out := map[dingbook.Problem][]string{}
	add := func(p dingbook.Problem, u string) { out[p] = append(out[p], u) }
	ids := map[string]bool{}
	for _, p := range org.People {
		ids[p.UserID] = true
	}
	mobiles := map[string]map[string]bool{}
	emails := map[string]map[string]bool{}
	names := map[string]map[string]bool{}
	put := func(m map[string]map[string]bool, k, u string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][u] = true
	}
	for _, p := range org.People {
		if p.Mobile == "" && !p.HideMobile {
			add(dingbook.ProblemMissingMobile, p.UserID)
		}
		if p.HideMobile {
			add(dingbook.ProblemHiddenMobile, p.UserID)
		}
		if p.Email == "" && p.OrgEmail == "" {
			add(dingbook.ProblemMissingEmail, p.UserID)
		}
		if p.Mobile != "" {
			sc := p.StateCode
			if sc == "" {
				sc = "86"
			}
			if !validPhone(sc, p.Mobile) {
				add(dingbook.ProblemInvalidPhone, p.UserID)
			}
			put(mobiles, e164(p.StateCode, p.Mobile), p.UserID)
		}
		if (p.Email != "" && !validEmail(p.Email)) || (p.OrgEmail != "" && !validEmail(p.OrgEmail)) {
			add(dingbook.ProblemInvalidEmail, p.UserID)
		}
		for _, e := range []string{p.Email, p.OrgEmail} {
			if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
				put(emails, e, p.UserID)
			}
		}
		if strings.TrimSpace(p.Title) == "" {
			add(dingbook.ProblemMissingTitle, p.UserID)
		}
		if strings.TrimSpace(p.JobNumber) == "" {
			add(dingbook.ProblemMissingJobNumber, p.UserID)
		}
		if p.ManagerUserID != "" && !ids[p.ManagerUserID] {
			add(dingbook.ProblemManagerNotFound, p.UserID)
		}
		if !p.Active {
			add(dingbook.ProblemInactive, p.UserID)
		}
		for _, m := range p.Depts {
			put(names, strings.TrimSpace(p.Name)+"\x00"+itoa(m.DeptID), p.UserID)
		}
	}
	dup := func(p dingbook.Problem, m map[string]map[string]bool) {
		seen := map[string]bool{}
		for _, us := range m {
			if len(us) < 2 {
				continue
			}
			for u := range us {
				if !seen[u] {
					seen[u] = true
					add(p, u)
				}
			}
		}
	}
	dup(dingbook.ProblemDuplicateMobile, mobiles)
	dup(dingbook.ProblemDuplicateEmail, emails)
	dup(dingbook.ProblemDuplicateName, names)
	for p := range out {
		sort.Strings(out[p])
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func checkTruth(t *testing.T, tr *gen.Truth) {
	t.Helper()
	got := recompute(&tr.Org)
	for _, p := range dingbook.AllProblems {
		want := tr.Problems[p]
		if !reflect.DeepEqual(got[p], want) {
			t.Errorf("%s: truth lists %d people, the data has %d (truth %v…, data %v…)", p, len(want), len(got[p]), head(want), head(got[p]))
		}
	}
	for p := range tr.Problems {
		known := false
		for _, q := range dingbook.AllProblems {
			known = known || p == q
		}
		if !known {
			t.Errorf("truth has unknown problem %q", p)
		}
	}
}

func head(l []string) []string {
	if len(l) > 5 {
		return l[:5]
	}
	return l
}

func TestDeterministic(t *testing.T) {
	opts := gen.Options{Users: 3000, Depts: 120, Seed: 42}
	a, b := gen.Generate(opts), gen.Generate(opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same options gave different orgs")
	}
	c := gen.Generate(gen.Options{Users: 3000, Depts: 120, Seed: 43})
	if reflect.DeepEqual(a.Org.People, c.Org.People) {
		t.Fatal("different seeds gave the same people")
	}
}

func TestLargeOrg(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 20000, Depts: 800, Seed: 7})
	org := &tr.Org
	if len(org.People) != 20000 || len(org.Depts) != 800 {
		t.Fatalf("got %d people, %d departments", len(org.People), len(org.Depts))
	}
	if org.Name != gen.DefaultCorpName || org.Depts[0].ID != dingbook.RootDeptID || org.Depts[0].ParentID != 0 {
		t.Fatalf("root: %+v, org %q", org.Depts[0], org.Name)
	}
	// depth ≤ 6 and reached; unique sibling names; names with - and ,
	tree := dingbook.NewTree(org.Depts)
	maxDepth, odd := 0, 0
	sib := map[string]bool{}
	for _, d := range org.Depts {
		depth := len(tree.Path(d.ID)) + 1
		if d.ID == dingbook.RootDeptID {
			depth = 1
		}
		maxDepth = max(maxDepth, depth)
		if strings.ContainsAny(d.Name, "-,") {
			odd++
		}
		k := itoa(d.ParentID) + "/" + d.Name
		if sib[k] {
			t.Errorf("two departments named %q under %d", d.Name, d.ParentID)
		}
		sib[k] = true
	}
	if maxDepth != gen.MaxDepth {
		t.Errorf("max depth %d, want %d", maxDepth, gen.MaxDepth)
	}
	if odd < 3 || odd > 20 {
		t.Errorf("%d department names with '-' or ',', want a few", odd)
	}
	multi, leaders, managers, hidden, restricted, compound, mononym, english, indo := 0, 0, 0, 0, 0, 0, 0, 0, 0
	ids := map[string]bool{}
	for _, p := range org.People {
		ids[p.UserID] = true
	}
	for _, p := range org.People {
		if len(p.Depts) > 1 {
			multi++
		}
		for _, m := range p.Depts {
			if m.Order <= 1<<53 {
				t.Fatalf("%s: order %d not above 2^53", p.UserID, m.Order)
			}
			if m.Leader {
				leaders++
			}
		}
		if p.ManagerUserID != "" && ids[p.ManagerUserID] {
			managers++
		}
		if p.HideMobile {
			hidden++
		}
		if p.Restricted {
			restricted++
		}
		for _, s := range gen.CompoundSurnames {
			if strings.HasPrefix(p.Name, s) {
				compound++
			}
		}
		if p.StateCode == "62" {
			indo++
			if !strings.Contains(p.Name, " ") {
				mononym++
			}
		}
		if strings.Contains(p.Name, " ") && p.StateCode == "86" {
			english++
		}
	}
	rate := func(n int) float64 { return float64(n) / float64(len(org.People)) }
	if r := rate(multi); r < 0.03 || r > 0.07 {
		t.Errorf("multi-department rate %.3f, want ≈5%%", r)
	}
	if r := rate(restricted); r < 0.015 || r > 0.025 || len(tr.Restricted) != restricted {
		t.Errorf("restricted %d (truth %d), want ≈2%%", restricted, len(tr.Restricted))
	}
	if r := rate(hidden); r < 0.015 || r > 0.025 {
		t.Errorf("hidden mobiles rate %.3f, want ≈2%%", r)
	}
	if leaders < 700 || rate(managers) < 0.5 {
		t.Errorf("%d leaders, %d people with a real manager", leaders, managers)
	}
	if compound < 50 || mononym < 50 || english < 500 || indo < 1000 {
		t.Errorf("compound surnames %d, Indonesian %d (mononyms %d), English %d", compound, indo, mononym, english)
	}
	for _, p := range dingbook.AllProblems {
		if n := len(tr.Problems[p]); n < 100 || n > 800 {
			t.Errorf("%s: %d people, want ≈1–3%%", p, n)
		}
	}
	checkTruth(t, tr)
	// member counts: root holds everyone
	if org.Depts[0].MemberCount != len(org.People) {
		t.Errorf("root member_count %d, want %d", org.Depts[0].MemberCount, len(org.People))
	}
	own := 0
	for _, d := range org.Depts {
		own += d.OwningMemberCount
	}
	memberships := 0
	for _, p := range org.People {
		memberships += len(p.Depts)
	}
	if own != memberships {
		t.Errorf("owning_member_count sums to %d, memberships %d", own, memberships)
	}
}

func TestPhonesValid(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 5000, Depts: 200, Seed: 3})
	bad := map[string]bool{}
	for _, u := range tr.Problems[dingbook.ProblemInvalidPhone] {
		bad[u] = true
	}
	cn, id := 0, 0
	for _, p := range tr.Org.People {
		if p.Mobile == "" {
			continue
		}
		valid := validPhone(p.StateCode, p.Mobile)
		if valid == bad[p.UserID] {
			t.Errorf("%s: +%s %s valid=%v but invalid-phone=%v", p.UserID, p.StateCode, p.Mobile, valid, bad[p.UserID])
		}
		if valid && p.StateCode == "86" {
			cn++
			if len(p.Mobile) != 11 || p.Mobile[0] != '1' {
				t.Errorf("CN mobile %q", p.Mobile)
			}
		}
		if valid && p.StateCode == "62" {
			id++
			if p.Mobile[0] != '8' {
				t.Errorf("ID mobile %q", p.Mobile)
			}
		}
	}
	if cn < 3000 || id < 400 {
		t.Errorf("%d valid CN and %d valid ID mobiles", cn, id)
	}
	for _, e := range tr.Org.External {
		if !validPhone(e.StateCode, e.Mobile) {
			t.Errorf("external %s: invalid +%s %s", e.UserID, e.StateCode, e.Mobile)
		}
	}
}

func TestSmallOrgs(t *testing.T) {
	for _, o := range []gen.Options{
		{Users: 30, Depts: 5, Seed: 1},
		{Users: 200, Depts: 20, Seed: 1},
		{Users: 200, Depts: 20, Seed: 99},
		{Users: 0, Depts: 1},
		{Users: 1, Depts: 1},
		{Users: 40, Depts: 60, Seed: 5},
	} {
		tr := gen.Generate(o)
		if len(tr.Org.People) != o.Users || len(tr.Org.Depts) != o.Depts {
			t.Errorf("%+v: %d people %d depts", o, len(tr.Org.People), len(tr.Org.Depts))
		}
		checkTruth(t, tr)
		if o.Users >= 200 {
			for _, p := range dingbook.AllProblems {
				if len(tr.Problems[p]) == 0 {
					t.Errorf("%+v: no %s", o, p)
				}
			}
		}
		if o.Users >= 30 && len(tr.Restricted) == 0 {
			t.Errorf("%+v: no restricted staff", o)
		}
	}
}

func BenchmarkGenerate500k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		tr := gen.Generate(gen.Options{Users: 500000, Depts: 20000, Seed: int64(i)})
		if len(tr.Org.People) != 500000 {
			b.Fatal("short")
		}
	}
}

// The truth holds for many seeds and shapes, not just the ones above.
func TestTruthAcrossSeeds(t *testing.T) {
	for seed := int64(100); seed < 108; seed++ {
		o := gen.Options{Users: 1500 + int(seed%3)*400, Depts: 10 + int(seed%5)*30, Seed: seed}
		tr := gen.Generate(o)
		checkTruth(t, tr)
		for _, p := range dingbook.AllProblems {
			if len(tr.Problems[p]) == 0 {
				t.Errorf("%+v: no %s", o, p)
			}
		}
	}
}

// The generated external contacts have followers and some are shared with
// a colleague or a department that exist, the same for the same seed.
func TestExternalShares(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 200, Depts: 20, Seed: 1})
	people, depts := map[string]bool{}, map[int64]bool{}
	for _, p := range tr.Org.People {
		people[p.UserID] = true
	}
	for _, d := range tr.Org.Depts {
		depts[d.ID] = true
	}
	users, ds := 0, 0
	for _, e := range tr.Org.External {
		if !people[e.FollowerUserID] {
			t.Errorf("%s: follower %q is nobody", e.UserID, e.FollowerUserID)
		}
		for _, u := range e.ShareUserIDs {
			users++
			if !people[u] {
				t.Errorf("%s: shared with nobody %q", e.UserID, u)
			}
		}
		for _, d := range e.ShareDeptIDs {
			ds++
			if !depts[d] || d == tr.Org.Depts[0].ID {
				t.Errorf("%s: shared with department %d", e.UserID, d)
			}
		}
	}
	if users == 0 || ds == 0 {
		t.Errorf("%d shares with people, %d with departments", users, ds)
	}
	if again := gen.Generate(gen.Options{Users: 200, Depts: 20, Seed: 1}); !reflect.DeepEqual(again.Org.External, tr.Org.External) {
		t.Error("external contacts differ for the same seed")
	}
}
