package export

import (
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// TestHeadcount: the cached ancestor chains count what a walk of the tree
// for every person counts: direct members, and members of each subtree
// once however many of its departments they are in; a department the
// tree does not know and a cycle in the tree included.
func TestHeadcount(t *testing.T) {
	org := gen.Generate(gen.Options{Users: 3000, Seed: 9}).Org
	org.Depts = append(org.Depts, dingbook.Department{ID: 901, ParentID: 902, Name: "甲"}, dingbook.Department{ID: 902, ParentID: 901, Name: "乙"})
	org.People[0].Depts = append(org.People[0].Depts, dingbook.Membership{DeptID: 901}, dingbook.Membership{DeptID: 902}, dingbook.Membership{DeptID: 777})
	tree := dingbook.NewTree(org.Depts)
	h := newHeadcount(tree)
	direct, total := map[int64]int{}, map[int64]int{}
	multi := 0
	for i := range org.People {
		p := &org.People[i]
		h.add(p)
		if len(p.Depts) > 1 {
			multi++
		}
		var seen []int64
		for _, m := range p.Depts {
			direct[m.DeptID]++
			for cur := tree.Dept(m.DeptID); cur != nil; cur = tree.Dept(cur.ParentID) {
				dup := false
				for _, s := range seen {
					dup = dup || s == cur.ID
				}
				if dup {
					break
				}
				seen = append(seen, cur.ID)
			}
		}
		for _, id := range seen {
			total[id]++
		}
	}
	if multi == 0 {
		t.Fatal("vacuous: nobody is in two departments")
	}
	for _, id := range append(tree.Descendants(dingbook.RootDeptID), 901, 902, 777) {
		d, tot := h.counts(id)
		if d != direct[id] || tot != total[id] {
			t.Errorf("dept %d: counted %d direct, %d total; want %d, %d", id, d, tot, direct[id], total[id])
		}
	}
	if d, tot := h.counts(901); d != 1 || tot != 1 {
		t.Errorf("cycle: %d, %d", d, tot)
	}
}
