package store_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
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
	if _, err := db.LatestSnapshotID(ctx); !store.IsNoSnapshot(err) {
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
