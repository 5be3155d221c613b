package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dingbook/dingbook/store"
)

// TestHeldRolesOf: one person's held roles are their sessions' and app
// passwords' distinct rows, as HeldRoles lists them, and no one else's.
func TestHeldRolesOf(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	err = db.Write(ctx, func(tx *store.Tx) error {
		for i, s := range []store.Session{
			{ID: "s1", UserID: "ann", Roles: []string{"admin", "employee"}, AdminScope: []int64{}},
			{ID: "s2", UserID: "ann", Roles: []string{"admin", "employee"}, AdminScope: []int64{}},
			{ID: "s3", UserID: "bo", Roles: []string{"employee"}, AdminScope: []int64{}},
		} {
			s.Via, s.Created, s.Seen = "browser", now, now.Add(time.Duration(i))
			if err := tx.AddSession(s); err != nil {
				return err
			}
		}
		for _, p := range []store.AppPassword{
			{ID: "p1", UserID: "ann", Hash: "h1", Roles: []string{"employee", "sub-admin"}, AdminScope: []int64{3}},
			{ID: "p2", UserID: "cy", Hash: "h2", Roles: []string{"employee"}, AdminScope: []int64{}},
		} {
			p.Created = now
			if err := tx.AddAppPassword(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := db.HeldRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ann", "bo", "cy", "nobody"} {
		got, err := db.HeldRolesOf(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.DeleteFunc(slices.Clone(all), func(h store.HeldRoles) bool { return h.UserID != u })
		if len(got) != len(want) || !slices.EqualFunc(got, want, func(a, b store.HeldRoles) bool {
			return a.UserID == b.UserID && slices.Equal(a.Roles, b.Roles) && slices.Equal(a.AdminScope, b.AdminScope)
		}) {
			t.Errorf("%s: %+v, want %+v", u, got, want)
		}
	}
	if ann, _ := db.HeldRolesOf(ctx, "ann"); len(ann) != 2 {
		t.Errorf("ann's distinct rows: %+v", ann)
	}
}
