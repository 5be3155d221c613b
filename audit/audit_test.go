package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/store"
)

func sqlite3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("the sqlite3 CLI is required for the tamper tests (Debian package sqlite3)")
	}
	return p
}

// newLog opens a fresh state database with n records.
func newLog(t *testing.T, n int) (*store.DB, string) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	db, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i := 1; i <= n; i++ {
		exp := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		r, err := audit.Append(context.Background(), db, audit.Record{
			Time: time.Date(2026, 11, i, 10, 0, 0, 0, time.UTC), Actor: "hr-admin", Action: audit.ActionExport,
			Purpose: fmt.Sprintf("purpose %d", i), Basis: "hr-management", Fields: []string{"name", "dept"},
			DeptScope: []string{"2"}, Rows: 10 * i, Seal: "zip", Expires: &exp,
			Outputs: []audit.Output{{Path: "/out/dingbook-x.zip", SHA256: strings.Repeat("ab", 32)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != int64(i) {
			t.Fatalf("record %d got seq %d", i, r.Seq)
		}
	}
	return db, filepath.Join(home, store.DBName)
}

// tamper runs SQL on the database file with the real sqlite3 program,
// dropping the append-only triggers first as an attacker would.
func tamper(t *testing.T, dbFile, sql string) {
	t.Helper()
	script := "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; " + sql
	out, err := exec.Command(sqlite3(t), dbFile, script).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
}

func TestChainVerifies(t *testing.T) {
	db, _ := newLog(t, 5)
	res, err := audit.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Records != 5 || res.HeadSeq != 5 {
		t.Fatalf("untouched log: %+v", res)
	}
	seq, head, _ := audit.Head(context.Background(), db)
	if seq != 5 || head != res.HeadHash {
		t.Fatalf("Head = %d %s, verify head %s", seq, head, res.HeadHash)
	}
	r3, err := audit.Get(context.Background(), db, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Purpose != "purpose 3" || r3.Rows != 30 || r3.Hash == "" || r3.Expires == nil {
		t.Fatalf("record 3 read back wrong: %+v", r3)
	}
	res, _ = audit.VerifyAgainst(context.Background(), db, r3.Hash)
	if !res.OK {
		t.Fatalf("anchor of record 3 not found: %+v", res)
	}
	res, _ = audit.VerifyAgainst(context.Background(), db, strings.Repeat("f", 64))
	if res.OK || !res.Anchor {
		t.Fatalf("an unknown anchor verified: %+v", res)
	}
	recs, err := audit.List(context.Background(), db, audit.Filter{Since: time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(recs) != 2 || recs[0].Seq != 4 {
		t.Fatalf("List since: %d records, %v", len(recs), err)
	}
	recs, _ = audit.List(context.Background(), db, audit.Filter{Limit: 2})
	if len(recs) != 2 || recs[1].Seq != 5 {
		t.Fatalf("List limit: %+v", recs)
	}
}

// TestTriggersRefuseChanges shows the append-only triggers work through
// the sqlite3 program (store's TestAuditAppendOnly shows it through the
// driver).
func TestTriggersRefuseChanges(t *testing.T) {
	db, file := newLog(t, 2)
	out, err := exec.Command(sqlite3(t), file, "UPDATE audit_log SET actor = 'x' WHERE seq = 1;").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("append-only")) {
		t.Fatalf("sqlite3 UPDATE allowed: %v %s", err, out)
	}
	out, err = exec.Command(sqlite3(t), file, "DELETE FROM audit_log WHERE seq = 2;").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("append-only")) {
		t.Fatalf("sqlite3 DELETE allowed: %v %s", err, out)
	}
	if res, err := audit.Verify(context.Background(), db); err != nil || !res.OK || res.Records != 2 {
		t.Fatalf("after refused changes: %+v %v", res, err)
	}
}

func TestTamperDetected(t *testing.T) {
	cases := []struct {
		name     string
		sql      string
		firstBad int64
		word     string
	}{
		{"edit data", `UPDATE audit_log SET data = replace(data, '"rows":30', '"rows":3') WHERE seq = 3;`, 3, "edited"},
		{"edit column", `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2;`, 2, "edited"},
		{"edit hash too", `UPDATE audit_log SET data = replace(data, 'purpose 4', 'purpose X'), hash = 'ab' WHERE seq = 4;`, 4, "edited"},
		{"delete middle", `DELETE FROM audit_log WHERE seq = 3;`, 3, "missing"},
		{"delete first", `DELETE FROM audit_log WHERE seq = 1;`, 1, "missing"},
		{"swap", `UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -2;`, 2, "does not link"},
		{"truncate tail", `DELETE FROM audit_log WHERE seq >= 4;`, 4, "truncated"},
		{"truncate all", `DELETE FROM audit_log;`, 1, "truncated"},
		{"renumber after delete", `DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2;`, 2, "does not link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, file := newLog(t, 5)
			tamper(t, file, c.sql)
			res, err := audit.Verify(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK {
				t.Fatalf("tampering (%s) not detected", c.sql)
			}
			if res.FirstBad != c.firstBad || !strings.Contains(res.Problem, c.word) || res.Anchor != (c.word == "truncated") {
				t.Fatalf("first bad = %d (%s, anchor %v), want %d with %q (a truncation is found only by the anchor)", res.FirstBad, res.Problem, res.Anchor, c.firstBad, c.word)
			}
		})
	}
}

// TestAppendAfterTamperStillFails: appending more records does not hide
// an earlier edit.
func TestAppendAfterTamperStillFails(t *testing.T) {
	db, file := newLog(t, 3)
	tamper(t, file, `UPDATE audit_log SET data = replace(data, 'purpose 2', 'purpose 9') WHERE seq = 2;`)
	if _, err := audit.Append(context.Background(), db, audit.Record{Actor: "a", Action: audit.ActionPull}); err != nil {
		t.Fatal(err)
	}
	res, _ := audit.Verify(context.Background(), db)
	if res.OK || res.FirstBad != 2 {
		t.Fatalf("got %+v", res)
	}
}

func TestNoPersonalDataShape(t *testing.T) {
	// The record type has no slot for people: only counts, names of
	// fields, ids and hashes. Check the JSON keys to keep it that way.
	b, _ := json.Marshal(audit.Record{Time: time.Now(), Actor: "a", Action: "export", Outcome: "ok", Fields: []string{"mobile"}, Rows: 1})
	var m map[string]any
	json.Unmarshal(b, &m)
	for k := range m {
		switch k {
		case "time", "actor", "action", "outcome", "fields", "rows":
		default:
			t.Errorf("unexpected key %q", k)
		}
	}
}

func TestReportFormats(t *testing.T) {
	db, _ := newLog(t, 3)
	audit.Append(context.Background(), db, audit.Record{Time: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), Actor: "bob", Action: audit.ActionExport, Outcome: audit.OutcomeRefused, Reason: "=HYPERLINK(\"x\") no purpose"})
	recs, _ := audit.List(context.Background(), db, audit.Filter{})
	rep := audit.NewReport(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), recs)
	if rep.Totals["export/ok"] != 3 || rep.Totals["export/refused"] != 1 || rep.Rows != 60 {
		t.Fatalf("totals %+v rows %d", rep.Totals, rep.Rows)
	}
	var tb, cb, jb bytes.Buffer
	if err := rep.Write(&tb, "table"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.String(), "export/refused") || !strings.Contains(tb.String(), "purpose 2") {
		t.Fatalf("table:\n%s", tb.String())
	}
	rep.Write(&cb, "csv")
	if lines := strings.Count(cb.String(), "\n"); lines != 5 {
		t.Fatalf("csv has %d lines:\n%s", lines, cb.String())
	}
	if !strings.Contains(cb.String(), `'=HYPERLINK`) {
		t.Fatalf("csv cell not neutralised:\n%s", cb.String())
	}
	rep.Write(&jb, "json")
	var j struct {
		Records []struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		} `json:"records"`
		Totals map[string]int `json:"totals"`
	}
	if err := json.Unmarshal(jb.Bytes(), &j); err != nil || len(j.Records) != 4 || j.Records[3].Seq != 4 || j.Records[3].Hash == "" {
		t.Fatalf("json: %v %s", err, jb.String())
	}
	if err := rep.Write(&jb, "xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

// TestConcurrentAppends: two processes' worth of handles appending at once
// keep one unbroken chain.
func TestConcurrentAppends(t *testing.T) {
	db, _ := newLog(t, 1)
	db2, err := store.Open(context.Background(), db.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	errs := make(chan error, 2)
	for _, h := range []*store.DB{db, db2} {
		go func(h *store.DB) {
			for i := 0; i < 15; i++ {
				if _, err := audit.Append(context.Background(), h, audit.Record{Actor: "c", Action: audit.ActionPull, Rows: i}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(h)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	res, err := audit.Verify(context.Background(), db)
	if err != nil || !res.OK || res.Records != 31 {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestReportCountsPushedRows(t *testing.T) {
	recs := []audit.Record{
		{Action: audit.ActionExport, Outcome: audit.OutcomeOK, Rows: 10},
		{Action: audit.ActionPush, Outcome: audit.OutcomeOK, Rows: 7, Details: map[string]string{"spreadsheet_id": "s"}},
		{Action: audit.ActionPush, Outcome: audit.OutcomeOK, Rows: 100, Details: map[string]string{"dry_run": "true"}},
		{Action: audit.ActionPush, Outcome: audit.OutcomeRefused, Rows: 1000},
	}
	if rep := audit.NewReport(time.Time{}, time.Now(), recs); rep.Rows != 17 || rep.Totals["push/ok"] != 2 {
		t.Fatalf("rows %d totals %v", rep.Rows, rep.Totals)
	}
}

// TestGetSeqs: the records of a list of seqs, read in batches of 500: each
// asked for that exists, by its seq, and nothing for a seq without one.
func TestGetSeqs(t *testing.T) {
	db, _ := newLog(t, 520)
	var seqs []int64
	for s := int64(520); s >= 1; s-- { // more than one batch
		seqs = append(seqs, s)
	}
	seqs = append(seqs, 9999)
	recs, err := audit.GetSeqs(context.Background(), db, seqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(seqs)-1 {
		t.Fatalf("%d records for %d seqs (one without a record)", len(recs), len(seqs))
	}
	for _, s := range seqs[:len(seqs)-1] {
		if r, ok := recs[s]; !ok || r.Seq != s || r.Purpose != fmt.Sprintf("purpose %d", s) {
			t.Errorf("seq %d: %v %+v", s, ok, r)
		}
	}
}
