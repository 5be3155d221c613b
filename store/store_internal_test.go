package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestAuditAppendOnly shows the audit log's triggers refuse UPDATE and
// DELETE through the driver (audit's TestTriggersRefuseChanges shows it
// through the sqlite3 program).
func TestAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		return tx.AppendAudit(AuditRow{Seq: 1, Time: "t", Actor: "a", Action: "export", Outcome: "ok", Data: "{}", PrevHash: "0", Hash: "h"})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sdb.Exec(`UPDATE audit_log SET actor = 'x' WHERE seq = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE allowed: %v", err)
	}
	if _, err := db.sdb.Exec(`DELETE FROM audit_log WHERE seq = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("DELETE allowed: %v", err)
	}
	if r, ok, err := db.AuditRecord(ctx, 1); err != nil || !ok || r.Actor != "a" {
		t.Fatalf("record 1 after refused changes: %+v %v %v", r, ok, err)
	}
}

// EachAudit's Last and Skip: a page of the log from its newest end, in
// seq order, by LIMIT/OFFSET; Skip past the end gives nothing.
func TestAuditPageSeek(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		for i := int64(1); i <= 12; i++ {
			if err := tx.AppendAudit(AuditRow{Seq: i, Time: "t", Actor: "a", Action: "export", Outcome: "ok", Data: "{}", PrevHash: "0", Hash: "h"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	page := func(last, skip int) []int64 {
		var seqs []int64
		if err := db.EachAudit(ctx, AuditQuery{Last: last, Skip: skip}, func(r AuditRow) error { seqs = append(seqs, r.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	for _, c := range []struct {
		last, skip int
		want       string
	}{{5, 0, "[8 9 10 11 12]"}, {5, 5, "[3 4 5 6 7]"}, {5, 10, "[1 2]"}, {5, 15, "[]"}} {
		if got := fmt.Sprint(page(c.last, c.skip)); got != c.want {
			t.Errorf("Last %d Skip %d: %s, want %s", c.last, c.skip, got, c.want)
		}
	}
}
