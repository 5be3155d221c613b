package app_test

import (
	"context"
	"slices"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// TestBookCards: the book rendered a card at a time (AddressBookCards)
// and one card alone (BookCard) are BookWithExternal's, for every viewer,
// with external contacts, after an event revision; a card out of sight
// or unknown is nil.
func TestBookCards(t *testing.T) {
	ctx := context.Background()
	a := externalApp(t)
	p := *personOf(dirOrg(), "carol")
	before := p
	p.Title = "Changed"
	addEvent(t, a, "ev-1", []store.PersonChange{{UserID: p.UserID, Op: store.OpUpsert, After: &p, Before: &before}}, nil)
	pol := policy.Default()
	checked := 0
	for who, s := range dirSessions() {
		b, err := a.BookWithExternal(ctx, s, pol)
		if err != nil {
			t.Fatal(err)
		}
		bc, err := a.AddressBookCards(ctx, s, pol)
		if err != nil {
			t.Fatal(err)
		}
		var got []app.BookCard
		for c := range bc.All {
			got = append(got, *c)
		}
		if !slices.Equal(got, b.Cards) || bc.Version() != b.Version() || bc.Len() != len(b.Cards) || bc.CTag() != b.CTag {
			t.Errorf("%s: cards one at a time %d (Len %d, version %s), the book %d (version %s)", who, len(got), bc.Len(), bc.Version(), len(b.Cards), b.Version())
		}
		for _, c := range b.Cards {
			one, err := a.BookCard(ctx, s, pol, c.Name)
			if err != nil || one == nil || *one != c {
				t.Errorf("%s: BookCard(%s) = %+v, %v", who, c.Name, one, err)
			}
			if in := bc.Card(c.Name); in == nil || *in != c {
				t.Errorf("%s: BookCards.Card(%s) = %+v", who, c.Name, in)
			}
			checked++
		}
		for _, q := range dirOrg().People {
			name := q.UserID + ".vcf"
			if b.Card(name) == nil {
				if one, err := a.BookCard(ctx, s, pol, name); one != nil || err != nil {
					t.Errorf("%s: BookCard(%s) of someone not in the book: %+v %v", who, name, one, err)
				}
				if in := bc.Card(name); in != nil {
					t.Errorf("%s: BookCards.Card(%s) of someone not in the book: %+v", who, name, in)
				}
			}
		}
		for _, name := range []string{"nobody.vcf", "external-x9.vcf", "carol", "", "external-x3.vcf"} {
			if b.Card(name) == nil {
				if one, err := a.BookCard(ctx, s, pol, name); one != nil || err != nil {
					t.Errorf("%s: BookCard(%q): %+v %v", who, name, one, err)
				}
				if in := bc.Card(name); in != nil {
					t.Errorf("%s: BookCards.Card(%q): %+v", who, name, in)
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d cards checked", checked)
	}
}

// externalApp is an App over dirOrg's complete snapshot with three
// external contacts: x1 shared with department 3, x2 with bob, x3 with
// nobody (bob, in department 3, sees x1 and x2).
func externalApp(t *testing.T) *app.App {
	t.Helper()
	org := dirOrg()
	org.External = []dingbook.ExternalContact{
		{UserID: "x1", Name: "客户一", CompanyName: "甲公司", FollowerUserID: "alice", ShareDeptIDs: []int64{3}},
		{UserID: "x2", Name: "客户二", FollowerUserID: "carol", ShareUserIDs: []string{"bob"}},
		{UserID: "x3", Name: "客户三", FollowerUserID: "carol"},
	}
	return appOver(t, org)
}
