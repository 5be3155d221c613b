package app

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// TestDriftSkipsRenderExactly checks that treePair.cardDiffers, which
// renders only the cards of people whose records differ or whose
// departments show differently, reports exactly what cardDiffers, which
// renders every card across two trees, reports: over random changes to
// people (a field, a move to another department, a hidden mobile,
// restricted, senior) and to departments (a rename, a move, a removal, a
// new one, an order change that no card shows, the root renamed).
func TestDriftSkipsRenderExactly(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			org := gen.Generate(gen.Options{Users: 600, Depts: 40, Seed: int64(seed) + 1}).Org
			oldDepts := slices.Clone(org.Depts)
			newDepts := slices.Clone(org.Depts)
			pick := func() *dingbook.Department { return &newDepts[rng.IntN(len(newDepts))] }
			for range 1 + rng.IntN(3) {
				switch d := pick(); rng.IntN(5) {
				case 0:
					if d.ID != dingbook.RootDeptID { // the root: below
						d.Name += " renamed"
					}
				case 1:
					if p := pick(); p.ID != d.ID && d.ID != dingbook.RootDeptID {
						d.ParentID = p.ID // may make a cycle: Path stops at one
					}
				case 2:
					d.Order += 100 // not shown on a card
				case 3:
					if d.ID != dingbook.RootDeptID {
						newDepts = slices.DeleteFunc(newDepts, func(x dingbook.Department) bool { return x.ID == d.ID })
					}
				default:
					newDepts = append(newDepts, dingbook.Department{ID: 900000 + int64(rng.IntN(1000)), Name: "new", ParentID: dingbook.RootDeptID})
				}
			}
			if seed%4 == 3 {
				for i := range newDepts {
					if newDepts[i].ID == dingbook.RootDeptID {
						newDepts[i].Name += " Ltd"
					}
				}
			}
			ta, tb := dingbook.NewTree(oldDepts), dingbook.NewTree(newDepts)
			pair := newTreePair(ta, tb)
			var differ, same int
			for i := range org.People {
				before := trimmed(&org.People[i])
				after := trimmed(&org.People[i])
				after.Depts = slices.Clone(after.Depts)
				switch rng.IntN(12) {
				case 0:
					after.Title += " senior"
				case 1:
					after.Mobile = fmt.Sprint("1390000", rng.IntN(10000))
				case 2:
					after.HideMobile = !after.HideMobile
				case 3:
					after.Restricted = !after.Restricted
				case 4:
					after.Senior = !after.Senior
				case 5:
					after.Depts = []dingbook.Membership{{DeptID: newDepts[rng.IntN(len(newDepts))].ID}}
				case 6:
					after.Remark = "trimmed away" // not kept by the index
					after = trimmed(after)
				}
				want := cardDiffers(before, ta, after, tb)
				if got := pair.cardDiffers(before, after); got != want {
					t.Fatalf("%s: treePair says differs=%v, the full render %v", before.UserID, got, want)
				}
				if want {
					differ++
				} else {
					same++
				}
			}
			// a renamed root changes every card (the company)
			if differ == 0 || (same == 0) != (seed%4 == 3) {
				t.Fatalf("%d differ, %d same: the changes did not test what they meant to", differ, same)
			}
		})
	}
}
