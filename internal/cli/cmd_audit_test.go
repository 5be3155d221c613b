package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

type govEnv struct {
	*Env
	home           string
	stdout, stderr *bytes.Buffer
}

func newGovEnv(t *testing.T) *govEnv {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	var o, e bytes.Buffer
	env := &Env{Stdout: &o, Stderr: &e, Stdin: strings.NewReader(""), Actor: "tester", Now: time.Now,
		Getenv: func(k string) string {
			if k == "DINGBOOK_HOME" {
				return home
			}
			return ""
		}}
	return &govEnv{env, home, &o, &e}
}

func (g *govEnv) run(args ...string) int {
	g.stdout.Reset()
	g.stderr.Reset()
	return Main(context.Background(), args, g.Env)
}

// seedExports writes two exports through govern.Run: one expired.
func seedExports(t *testing.T, g *govEnv) []*govern.Result {
	t.Helper()
	db, err := store.Open(context.Background(), g.home)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []*govern.Result
	for i, keep := range []time.Duration{time.Hour, 24 * time.Hour} {
		start := time.Now().Add(-2 * time.Hour)
		if i == 1 {
			start = time.Now()
		}
		res, err := govern.Run(context.Background(), db, policy.Default(), &govern.Request{Action: "export", Actor: "tester", Purpose: "quarterly HR audit",
			Keep: keep, OutDir: filepath.Join(g.home, "..", "out"), Now: func() time.Time { return start }},
			func(ctx context.Context, dir string) (*govern.Produced, error) {
				os.WriteFile(filepath.Join(dir, "a.csv"), []byte("name\r\nSiti\r\n"), 0o600)
				return &govern.Produced{Files: []govern.ProducedFile{{Path: "a.csv", Rows: 1}}, Rows: 1}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res)
	}
	return out
}

func TestAuditCommands(t *testing.T) {
	g := newGovEnv(t)
	seedExports(t, g)
	if code := g.run("audit", "verify"); code != 0 || !strings.Contains(g.stdout.String(), "audit log OK: 3 records") {
		t.Fatalf("verify: %d %s %s", code, g.stdout, g.stderr)
	}
	if code := g.run("audit", "head"); code != 0 {
		t.Fatal(g.stderr)
	}
	head := strings.Fields(g.stdout.String())
	if len(head) != 2 || head[0] != "3" || len(head[1]) != 64 {
		t.Fatalf("head %q", g.stdout)
	}
	if code := g.run("audit", "verify", "--head", head[1]); code != 0 {
		t.Fatalf("verify --head: %s", g.stderr)
	}
	if code := g.run("audit", "list"); code != 0 || strings.Count(g.stdout.String(), "\n") != 4 || !strings.Contains(g.stdout.String(), "policy-change") {
		t.Fatalf("list:\n%s", g.stdout)
	}
	if code := g.run("audit", "show", "2"); code != 0 {
		t.Fatal(g.stderr)
	}
	var rec struct {
		Seq     int64  `json:"seq"`
		Purpose string `json:"purpose"`
		Hash    string `json:"hash"`
	}
	if err := json.Unmarshal(g.stdout.Bytes(), &rec); err != nil || rec.Seq != 2 || rec.Purpose != "quarterly HR audit" || rec.Hash == "" {
		t.Fatalf("show: %v %s", err, g.stdout)
	}
	if code := g.run("audit", "show", "99"); code != ExitNotFound {
		t.Fatalf("show 99: exit %d", code)
	}
	if code := g.run("audit", "report", "--since", "30d", "--format", "csv"); code != 0 {
		t.Fatal(g.stderr)
	}
	rows, err := csv.NewReader(g.stdout).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "seq" {
		t.Fatalf("csv report: %v %v", err, rows)
	}
	if code := g.run("audit", "report", "--format", "json"); code != 0 || !strings.Contains(g.stdout.String(), `"export/ok": 2`) {
		t.Fatalf("json report: %s", g.stdout)
	}
	if code := g.run("audit", "report"); code != 0 || !strings.Contains(g.stdout.String(), "Totals:") {
		t.Fatalf("table report: %s", g.stdout)
	}
	if code := g.run("audit", "report", "--format", "pdf"); code != ExitUsage {
		t.Fatalf("bad format: exit %d", code)
	}
	if code := g.run("audit", "frobnicate"); code != ExitUsage {
		t.Fatalf("bad subcommand: exit %d", code)
	}

	// Tamper with the real sqlite3 program; verify must fail and name the record.
	sq, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("sqlite3 is required (Debian package sqlite3)")
	}
	dbFile := filepath.Join(g.home, store.DBName)
	if o, err := exec.Command(sq, dbFile, `DROP TRIGGER audit_log_no_update; UPDATE audit_log SET data = replace(data, '"rows":1', '"rows":0') WHERE seq = 2;`).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, o)
	}
	if code := g.run("audit", "verify"); code != ExitError || !strings.Contains(g.stderr.String(), "record 2") || !strings.Contains(g.stderr.String(), "hint:") {
		t.Fatalf("tampered verify: exit %d\n%s", code, g.stderr)
	}
}

func TestExportsAndPurgeCommands(t *testing.T) {
	g := newGovEnv(t)
	res := seedExports(t, g)
	if code := g.run("exports", "list"); code != 0 {
		t.Fatal(g.stderr)
	}
	out := g.stdout.String()
	if !strings.Contains(out, res[0].ExportID) || !strings.Contains(out, "expired") || !strings.Contains(out, "present") {
		t.Fatalf("exports list:\n%s", out)
	}
	if code := g.run("purge", "--dry-run"); code != 0 || !strings.Contains(g.stdout.String(), "would delete export "+res[0].ExportID) {
		t.Fatalf("dry run: %s %s", g.stdout, g.stderr)
	}
	if _, err := os.Stat(res[0].BundlePath); err != nil {
		t.Fatal("dry run deleted the bundle")
	}
	if code := g.run("purge"); code != 0 || !strings.Contains(g.stdout.String(), "deleted export "+res[0].ExportID) {
		t.Fatalf("purge: %s %s", g.stdout, g.stderr)
	}
	if _, err := os.Stat(res[0].BundlePath); !os.IsNotExist(err) {
		t.Fatal("expired bundle still there")
	}
	g.run("exports", "--json")
	var exps []govern.Export
	if err := json.Unmarshal(g.stdout.Bytes(), &exps); err != nil || len(exps) != 2 || exps[0].State != "purged" || exps[1].State != "present" {
		t.Fatalf("exports json: %v %s", err, g.stdout)
	}
	if code := g.run("audit", "list", "--action", "purge"); code != 0 || !strings.Contains(g.stdout.String(), res[0].ExportID) {
		t.Fatalf("purge not audited: %s", g.stdout)
	}
	if code := g.run("audit", "verify"); code != 0 {
		t.Fatal(g.stderr)
	}
}

func TestPolicyCommands(t *testing.T) {
	g := newGovEnv(t)
	if code := g.run("policy", "show"); code != 0 || !strings.Contains(g.stdout.String(), "built-in defaults") || !strings.Contains(g.stdout.String(), "allow_unencrypted: false") {
		t.Fatalf("show: %s %s", g.stdout, g.stderr)
	}
	if code := g.run("policy", "check"); code != 0 {
		t.Fatalf("check defaults: %s", g.stderr)
	}
	bad := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(bad, []byte("company: X\nretention:\n  max: forever\nallowed_profiles: [nope]\n"), 0o600)
	if code := g.run("policy", "check", bad); code != ExitUsage || !strings.Contains(g.stderr.String(), "line 3") || !strings.Contains(g.stderr.String(), "line 4") {
		t.Fatalf("check bad: %d %s", code, g.stderr)
	}
	good := filepath.Join(g.home, policy.FileName)
	os.WriteFile(good, []byte("company: PT Contoh\ndpo_contact: dpo@contoh.co.id\nallow_unencrypted: true\n"), 0o600)
	if code := g.run("policy", "check", good); code != 0 {
		t.Fatal(g.stderr)
	}
	if code := g.run("policy", "show", "--json"); code != 0 || !strings.Contains(g.stdout.String(), `"company": "PT Contoh"`) {
		t.Fatalf("show json: %s", g.stdout)
	}
	// The change from the defaults to the file is on record.
	g.run("audit", "list", "--action", "policy-change")
	if n := strings.Count(g.stdout.String(), "policy-change"); n != 2 {
		t.Fatalf("policy changes recorded: %d\n%s", n, g.stdout)
	}
	if code := g.run("policy"); code != ExitUsage {
		t.Fatal("policy without subcommand accepted")
	}
}

// TestDeletedTailAndAnchorRefused is the tampering of issue 15: with the
// guard triggers dropped, the newest records deleted and audit.head
// removed, the next export must not write a fresh anchor over the gap: it
// is refused (no bundle), verify fails, and only a recorded
// acknowledgement lets dingbook write again.
func TestDeletedTailAndAnchorRefused(t *testing.T) {
	g := newGovEnv(t)
	seedExports(t, g) // records 1 (policy), 2 and 3 (exports)
	saveSnapshot(t, g.Env, gen.Generate(gen.Options{Users: 20, Seed: 2}).Org)
	sq, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("the sqlite3 CLI is required (Debian package sqlite3)")
	}
	script := "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; DELETE FROM audit_log WHERE seq >= 3;"
	if out, err := exec.Command(sq, filepath.Join(g.home, store.DBName), script).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(g.home, "audit.head")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bundles")
	export := []string{"export", "--purpose", "after the tampering", "--justify", "the test checks every field", "--out", out}
	if code := g.run(export...); code == 0 || !strings.Contains(g.stderr.String(), "refuses to record this export") ||
		!strings.Contains(g.stderr.String(), "audit.head is missing although the log has 2 records") || !strings.Contains(g.stderr.String(), "dingbook audit acknowledge --reason") {
		t.Fatalf("export after the tampering: exit %d\n%s", code, g.stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) != 0 {
		t.Fatalf("a refused export left %v", m)
	}
	if _, err := os.Stat(filepath.Join(g.home, "audit.head")); !os.IsNotExist(err) {
		t.Fatalf("audit.head was written again: %v", err)
	}
	if code := g.run("audit", "verify"); code == 0 || !strings.Contains(g.stderr.String(), "audit.head is missing") {
		t.Fatalf("verify after the tampering: exit %d %s%s", code, g.stdout, g.stderr)
	}
	if code := g.run("audit", "acknowledge"); code != ExitUsage {
		t.Fatalf("acknowledge without --reason: exit %d %s", code, g.stderr)
	}
	if code := g.run("audit", "acknowledge", "--reason", "records 3+ deleted by a test; reported to the DPO"); code != 0 || !strings.Contains(g.stderr.String(), "audit record 3") {
		t.Fatalf("acknowledge: exit %d %s", code, g.stderr)
	}
	if code := g.run("audit", "verify"); code != 0 || !strings.Contains(g.stdout.String(), "acknowledged gap between the log and audit.head: record 3") {
		t.Fatalf("verify after the acknowledgement: exit %d %s%s", code, g.stdout, g.stderr)
	}
	if code := g.run("audit", "show", "3"); code != 0 || !strings.Contains(g.stdout.String(), `"action": "audit-acknowledge"`) || !strings.Contains(g.stdout.String(), "missing although the log has 2 records") {
		t.Fatalf("show 3: %s", g.stdout)
	}
	if code := g.run(export...); code != 0 {
		t.Fatalf("export after the acknowledgement: exit %d %s", code, g.stderr)
	}
}
