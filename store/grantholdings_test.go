package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// Holdings of grants recorded before migration 016 had the grant's id as
// ref: the migration gives each its bundle's export id (the export
// registered with the same audit record) and keeps the grant's id in
// grant_id, so FindHoldings finds it by either; a holding without an
// export keeps its ref. Incidents recorded before it cover their one
// holding.
func TestGrantHoldingsMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	bundled := &Holding{Kind: KindGrant, Ref: "20261101-000000-ab12", GrantID: "g-1", Time: at, AuditSeq: 7}
	err = db.Write(ctx, func(tx *Tx) error {
		return tx.RegisterExport(ExportRow{ID: bundled.Ref, Created: at, Actor: "emp", Action: "export", Path: "/x.zip", Expires: at.Add(time.Hour), AuditSeq: 7}, bundled, []uint64{1, 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	bare := &Holding{Kind: KindGrant, Ref: "g-2", Time: at}
	if err := db.AddHolding(ctx, bare, []uint64{3}); err != nil {
		t.Fatal(err)
	}
	other := &Holding{Kind: KindShare, Ref: "s-1", Time: at}
	if err := db.AddHolding(ctx, other, []uint64{4}); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		return tx.AddIncident(&Incident{ID: "inc-1", OpenedAt: at, DiscoveredAt: at, Deadline: at, Description: "lost", HoldingID: bundled.ID})
	}); err != nil {
		t.Fatal(err)
	}
	// the database as it was before 016
	db = reopenAfter(t, db, `UPDATE holding SET ref = grant_id WHERE grant_id <> ''`, `DROP INDEX holding_grant`, `ALTER TABLE holding DROP COLUMN grant_id`,
		`ALTER TABLE incident DROP COLUMN holding_ids`, `DELETE FROM schema_migration WHERE name LIKE '%016_grant_holdings.sql'`)
	defer db.Close()
	for _, c := range []struct{ ref, wantRef, wantGrant string }{
		{"g-1", "20261101-000000-ab12", "g-1"}, {"20261101-000000-ab12", "20261101-000000-ab12", "g-1"}, {"g-2", "g-2", "g-2"},
	} {
		hs, err := db.FindHoldings(ctx, KindGrant, c.ref)
		if err != nil || len(hs) != 1 || hs[0].Ref != c.wantRef || hs[0].GrantID != c.wantGrant {
			t.Errorf("holdings of grant %s after the migration: %v %+v, want ref %s grant %s", c.ref, err, hs, c.wantRef, c.wantGrant)
		}
	}
	if h, err := db.FindHolding(ctx, KindShare, "s-1"); err != nil || h.GrantID != "" {
		t.Errorf("the share's holding %v %+v", err, h)
	}
	if in, err := db.FindIncident(ctx, "inc-1"); err != nil || !slices.Equal(in.HoldingIDs, []int64{bundled.ID}) {
		t.Errorf("the old incident %v %+v", err, in)
	}
	// a new bundle of grant g-1 is a second holding of it; revoking the
	// grant's holdings revokes both, not the others
	if err := db.Write(ctx, func(tx *Tx) error {
		return tx.RegisterExport(ExportRow{ID: "20261101-010000-cd34", Created: at, Path: "/y.zip", Expires: at.Add(time.Hour)},
			&Holding{Kind: KindGrant, Ref: "20261101-010000-cd34", GrantID: "g-1", Time: at.Add(time.Hour)}, []uint64{1})
	}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Write(ctx, func(tx *Tx) (err error) { n, err = tx.RevokeHoldingsOf(KindGrant, "g-1", at); return err }); err != nil || n != 2 {
		t.Fatalf("revoked %d of grant g-1's holdings: %v", n, err)
	}
	if hs, _ := db.FindHoldings(ctx, KindGrant, "g-2"); hs[0].Revoked != nil {
		t.Error("another grant's holding was revoked")
	}
}
