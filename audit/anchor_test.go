package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/store"
)

// anchorLog is newLog with the path of its audit.head.
func anchorLog(t *testing.T, n int) (*store.DB, string) {
	t.Helper()
	db, file := newLog(t, n)
	return db, filepath.Join(filepath.Dir(file), audit.HeadFile)
}

func verifyOK(t *testing.T, db *store.DB) *audit.VerifyResult {
	t.Helper()
	res, err := audit.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("verify failed: %+v", res)
	}
	return res
}

// TestAnchorWriteFailureRollsBack: when audit.head cannot be written (a
// full disk), the record is not appended either, so the log and its
// anchor still agree and the next append works.
func TestAnchorWriteFailureRollsBack(t *testing.T) {
	db, head := anchorLog(t, 3)
	before, _ := os.ReadFile(head)
	restore := audit.SetWriteAnchor(func(string, []byte) error { return &os.PathError{Op: "write", Path: head, Err: syscall.ENOSPC} })
	_, err := audit.Append(context.Background(), db, audit.Record{Actor: "a", Action: audit.ActionExport})
	restore()
	if err == nil || !strings.Contains(err.Error(), "head anchor") || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append with a failing anchor write: %v", err)
	}
	if seq, _, _ := audit.Head(context.Background(), db); seq != 3 {
		t.Fatalf("the record was kept although its anchor was not written: head %d", seq)
	}
	if after, _ := os.ReadFile(head); string(after) != string(before) {
		t.Fatalf("anchor changed: %q → %q", before, after)
	}
	verifyOK(t, db)
	if r, err := audit.Append(context.Background(), db, audit.Record{Actor: "a", Action: audit.ActionExport}); err != nil || r.Seq != 4 {
		t.Fatalf("append after the disk is freed: %v %d", err, r.Seq)
	}
	verifyOK(t, db)
}

// TestLaggingAnchorRefusedUntilAcknowledged: an anchor behind the log (an
// old copy of audit.head, or one whose write failed) fails verify, saying
// which is behind, and stops every append until an administrator
// acknowledges the gap, which is recorded.
func TestLaggingAnchorRefusedUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	db, head := anchorLog(t, 3)
	if _, err := audit.Acknowledge(ctx, db, "admin", "nothing wrong"); err == nil || !strings.Contains(err.Error(), "nothing to acknowledge") {
		t.Fatalf("acknowledge without a gap: %v", err)
	}
	old, _ := os.ReadFile(head)
	if _, err := audit.Append(ctx, db, audit.Record{Actor: "a", Action: audit.ActionExport}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(head, old, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.FirstBad != 4 || !strings.Contains(res.Problem, "the anchor is behind the log") {
		t.Fatalf("verify of a lagging anchor: %+v", res)
	}
	if _, err := audit.Append(ctx, db, audit.Record{Actor: "a", Action: audit.ActionExport}); err == nil || !strings.Contains(err.Error(), "anchor is behind the log") || !strings.Contains(dingbook.ErrorHint(err), "dingbook audit acknowledge --reason") {
		t.Fatalf("append with a lagging anchor: %v", err)
	}
	if err := audit.CheckAnchor(ctx, db, audit.ActionExport); err == nil {
		t.Fatal("CheckAnchor passed with a lagging anchor")
	}
	if _, err := audit.Acknowledge(ctx, db, "admin", " "); err == nil {
		t.Fatal("acknowledged without a reason")
	}
	r, err := audit.Acknowledge(ctx, db, "admin", "disk was full on 2026-11-30; checked the exports")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 5 || r.Action != audit.ActionAcknowledge || !strings.Contains(r.Details["gap"], "names record 3, the log ends at record 4") || r.Details["log_seq"] != "4" {
		t.Fatalf("acknowledgement record: %+v", r)
	}
	got, err := audit.Get(ctx, db, 5)
	if err != nil || got.Reason != "disk was full on 2026-11-30; checked the exports" || got.Details["gap"] != r.Details["gap"] {
		t.Fatalf("stored acknowledgement: %+v %v", got, err)
	}
	if res := verifyOK(t, db); len(res.Acknowledged) != 1 || res.Acknowledged[0] != 5 {
		t.Fatalf("verify should list the acknowledgement: %+v", res)
	}
	if _, err := audit.Append(ctx, db, audit.Record{Actor: "a", Action: audit.ActionExport}); err != nil {
		t.Fatal(err)
	}
}

// TestAnchorAheadOrMissingRefused: a log shorter than its anchor, a
// missing and an unreadable anchor all stop appends.
func TestAnchorAheadOrMissingRefused(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(head string)
		want string
	}{
		"missing":    {func(h string) { os.Remove(h) }, "is missing although the log has 2 records"},
		"unreadable": {func(h string) { os.WriteFile(h, []byte("junk"), 0o600) }, "unreadable"},
		"ahead":      {func(h string) { os.WriteFile(h, []byte("7 "+strings.Repeat("0", 64)+"\n"), 0o600) }, "the log is behind its anchor"},
		"other hash": {func(h string) { os.WriteFile(h, []byte("2 "+strings.Repeat("0", 64)+"\n"), 0o600) }, "differs from the head anchor"},
	} {
		t.Run(name, func(t *testing.T) {
			db, head := anchorLog(t, 2)
			c.edit(head)
			if _, err := audit.Append(context.Background(), db, audit.Record{Actor: "a", Action: audit.ActionPull}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("append: %v, want %q", err, c.want)
			}
			if res, _ := audit.Verify(context.Background(), db); res.OK || !res.Anchor {
				t.Fatalf("verify: %+v, want an anchor disagreement", res)
			}
			if _, err := audit.Acknowledge(context.Background(), db, "admin", "investigated"); err != nil {
				t.Fatal(err)
			}
			verifyOK(t, db)
		})
	}
}
