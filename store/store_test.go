package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	db, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.LatestSnapshotID(ctx); !errors.Is(err, store.ErrNoSnapshot) {
		t.Fatalf("empty db: got %v", err)
	}
	org := dingbook.Org{Name: "示例公司", CorpID: "ding1",
		Depts: []dingbook.Department{{ID: 1, Name: "示例公司"}, {ID: 2, Name: "技术部", ParentID: 1, Order: 176294576350761512}},
		People: []dingbook.Person{
			{UserID: "u1", Name: "欧阳娜娜", Mobile: "13800138000", StateCode: "86", Extension: map[string]string{"爱好": "旅游"},
				Depts: []dingbook.Membership{{DeptID: 2, Order: 179997318850453160, Leader: true}}, Active: true},
			{UserID: "", Name: "Siti"},
		},
		External: []dingbook.ExternalContact{{UserID: "x1", Name: "外部"}},
	}
	s := &dingbook.Snapshot{Source: "test", TakenAt: time.Unix(1700000000, 0).UTC(), Org: org, Receipt: &dingbook.Receipt{Complete: true, People: 2}}
	if err := db.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	id, err := db.LatestSnapshotID(ctx)
	if err != nil || id != s.ID {
		t.Fatalf("latest = %d, %v; want %d", id, err, s.ID)
	}
	got, err := db.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Org, org) {
		t.Fatalf("org mismatch:\n got %+v\nwant %+v", got.Org, org)
	}
	if !got.Receipt.Complete || got.Receipt.People != 2 {
		t.Fatalf("receipt %+v", got.Receipt)
	}
	for _, p := range []string{dir, filepath.Join(dir, store.DBName)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	d, err := db.Directory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	d.EachPerson(ctx, func(*dingbook.Person) error { n++; return nil })
	if n != 2 || len(d.Departments()) != 2 {
		t.Fatalf("directory: %d people, %d depts", n, len(d.Departments()))
	}
}

// TestEachPersonDecodes: the people streamed from a snapshot equal those
// saved, field by field, kept across rows (the fast decoder must copy out
// of the row buffer the database reuses), including text that
// encoding/json escapes (<, >, &, quotes, control characters, U+2028) and
// generated orgs with every kind of field.
func TestEachPersonDecodes(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org := gen.Generate(gen.Options{Users: 3000, Seed: 11}).Org
	org.People[0].Name = "A<b>&\"c\"\\\n\t\u2028😀"
	org.People[0].Extension = map[string]string{"k\"ey": "v<al>", "空": ""}
	org.People[1].HiredDate = -1
	s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org}
	if err := db.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	d, err := db.Directory(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []dingbook.Person
	if err := d.EachPerson(ctx, func(p *dingbook.Person) error { got = append(got, *p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(org.People) {
		t.Fatalf("%d people, want %d", len(got), len(org.People))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], org.People[i]) {
			t.Fatalf("person %d:\n got %+v\nwant %+v", i, got[i], org.People[i])
		}
	}
}

// TestMissingManagers: a snapshot records the manager_userids that name
// nobody, the same ones the cleaner finds; a snapshot saved before the
// record existed says it does not know.
func TestMissingManagers(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org := gen.Generate(gen.Options{Users: 2000, Seed: 12}).Org
	org.People[5].ManagerUserID = " " + org.People[6].UserID // not an exact match: names nobody
	s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org}
	if err := db.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	d, err := db.Directory(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := d.MissingManagers(ctx)
	if err != nil || !ok {
		t.Fatalf("MissingManagers: %v, %v", ok, err)
	}
	rep, err := clean.Analyze(ctx, d, clean.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for id := range rep.MissingManagers {
		want = append(want, id)
	}
	slices.Sort(want)
	if len(want) < 2 || !slices.Equal(got, want) {
		t.Fatalf("recorded %q, the cleaner finds %q", got, want)
	}
	// A snapshot saved before the list was recorded, made with the real
	// sqlite3 program (only store runs SQL in dingbook).
	if out, err := exec.Command("sqlite3", filepath.Join(db.Dir, store.DBName), fmt.Sprintf("UPDATE snapshot SET missing_managers = NULL WHERE id = %d;", s.ID)).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 (Debian package sqlite3): %v %s", err, out)
	}
	if _, ok, err := d.MissingManagers(ctx); ok || err != nil {
		t.Fatalf("an old snapshot: ok=%v err=%v, want not known", ok, err)
	}
	n := 0
	if err := d.EachUserID(ctx, func(string) error { n++; return nil }); err != nil || n != len(org.People) {
		t.Fatalf("EachUserID listed %d (%v), want %d", n, err, len(org.People))
	}
}
