package store

import (
	"context"
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
