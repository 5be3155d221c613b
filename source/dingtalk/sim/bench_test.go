package sim_test

import (
	"net/http/httptest"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// Config.Org without a Truth: member counts are computed, restricted
// staff come from Person.Restricted, and the caller's org is not modified.
func TestConfigOrg(t *testing.T) {
	org := &dingbook.Org{
		Name:  "T",
		Depts: []dingbook.Department{{ID: 1, Name: "T"}, {ID: 5, Name: "A", ParentID: 1}},
		People: []dingbook.Person{
			{UserID: "a", Name: "A", Active: true, Depts: []dingbook.Membership{{DeptID: 5}}},
			{UserID: "b", Name: "B", Active: true, Restricted: true, Depts: []dingbook.Membership{{DeptID: 5}, {DeptID: 1}}},
		},
	}
	h := newSim(t, sim.Config{Org: org})
	tok := h.token()
	g := h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": 1}).result()
	if numStr(g["member_count"]) != "2" || numStr(g["owning_member_count"]) != "1" {
		t.Errorf("root counts %v", g)
	}
	if org.Depts[0].MemberCount != 0 {
		t.Error("the caller's org was modified")
	}
	l := pageAll(t, h, tok, 5, 10, nil)
	if len(l) != 1 || l[0]["userid"] != "a" {
		t.Errorf("restricted b listed without contain_access_limit: %v", l)
	}
}

func BenchmarkNew500k(b *testing.B) {
	tr := gen.Generate(gen.Options{Users: 500000, Depts: 20000, Seed: 1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sim.New(sim.Config{Truth: tr})
	}
}

// BenchmarkWalk20k pulls a 20,000-person org the way a client must
// (listsub walk + v2/user/list pages of 100) over real HTTP.
func BenchmarkWalk20k(b *testing.B) {
	tr := gen.Generate(gen.Options{Users: 20000, Depts: 800, Seed: 1})
	ts := httptest.NewServer(sim.New(sim.Config{Truth: tr, QPS: -1}))
	defer ts.Close()
	t := &testing.T{}
	h := &harness{t: t, ts: ts}
	tok := h.token()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		for _, d := range walkDepts(t, h, tok) {
			n += len(pageAll(t, h, tok, d, 100, map[string]any{"contain_access_limit": true}))
		}
		if n < 20000 {
			b.Fatalf("walked %d", n)
		}
	}
}
