package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
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

// TestDriftMatchesFullRender checks a bridge's drift end to end: the
// people it reports changed are exactly those whose card, rendered in
// full in both directories, differs (a title changed, a mobile hidden, a
// person restricted, one moved to another department, a department
// renamed and one moved under another, one's order changed), and the
// leavers and departments as before.
func TestDriftMatchesFullRender(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	org := gen.Generate(gen.Options{Users: 800, Depts: 40, Seed: 3}).Org
	base := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org, Receipt: &dingbook.Receipt{Complete: true}}
	if err := a.DB.SaveSnapshot(ctx, base); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Bridge(ctx, base.ID); err != nil {
		t.Fatal(err)
	}
	next := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org, Receipt: &dingbook.Receipt{Complete: true}}
	next.Org.Depts = slices.Clone(org.Depts)
	next.Org.People = slices.Clone(org.People)
	var roots []int // departments directly under the root
	for i, d := range next.Org.Depts {
		if d.ParentID == dingbook.RootDeptID && d.ID != dingbook.RootDeptID {
			roots = append(roots, i)
		}
	}
	if len(roots) < 3 {
		t.Fatalf("%d departments under the root: too few to test", len(roots))
	}
	next.Org.Depts[roots[0]].Name += " renamed"
	next.Org.Depts[roots[1]].ParentID = next.Org.Depts[roots[2]].ID
	next.Org.Depts[roots[2]].Order += 7 // not shown on a card
	for i := range next.Org.People {
		p := &next.Org.People[i]
		switch i % 50 {
		case 1:
			p.Title += " (acting)"
		case 2:
			p.HideMobile = !p.HideMobile
		case 3:
			p.Restricted = !p.Restricted
		case 4:
			p.Depts = []dingbook.Membership{{DeptID: next.Org.Depts[roots[2]].ID}}
		case 5:
			p.Remark = "not in the index" // trimmed: no drift
		}
	}
	next.Org.People = next.Org.People[:len(next.Org.People)-3] // three leavers
	if err := a.DB.SaveSnapshot(ctx, next); err != nil {
		t.Fatal(err)
	}
	r, err := a.Bridge(ctx, next.ID)
	if err != nil || r == nil {
		t.Fatalf("bridge: %v %v", r, err)
	}

	// the oracle: every card rendered in both trees
	ta, tb := dingbook.NewTree(org.Depts), dingbook.NewTree(next.Org.Depts)
	var want []string
	for i := range next.Org.People {
		if cardDiffers(trimmed(&org.People[i]), ta, trimmed(&next.Org.People[i]), tb) {
			want = append(want, next.Org.People[i].UserID)
		}
	}
	var got, gone []string
	for _, c := range r.People {
		if c.Op == store.OpRemove {
			gone = append(gone, c.UserID)
		} else {
			got = append(got, c.UserID)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the drift's changed people (%d) differ from the full render's (%d):\n%v\n%v", len(got), len(want), got, want)
	}
	if len(want) < 50 || len(want) == len(next.Org.People) {
		t.Errorf("%d of %d cards changed: the changes did not test what they meant to", len(want), len(next.Org.People))
	}
	if len(gone) != 3 || len(r.Depts) != 2 {
		t.Errorf("leavers %v, departments %+v: want 3 leavers and the 2 departments renamed or moved", gone, r.Depts)
	}
}
