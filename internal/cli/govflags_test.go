package cli

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

func newGovDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func lastGovRecord(t *testing.T, db *store.DB) audit.Record {
	t.Helper()
	recs, err := audit.List(context.Background(), db, audit.Filter{Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("no audit record: %v", err)
	}
	return recs[0]
}

func TestPassphraseSources(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pass.txt")
	os.WriteFile(pf, []byte("file-pass-phrase-123\r\n"), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == PassphraseEnv {
				return v
			}
			return ""
		}
	}
	p, src, err := ResolvePassphrase(PassphraseInput{File: pf, Getenv: env("env-pass-phrase-123")})
	if err != nil || p != "file-pass-phrase-123" || !strings.Contains(src, "pass.txt") {
		t.Fatalf("file: %q %q %v", p, src, err)
	}
	p, _, err = ResolvePassphrase(PassphraseInput{Getenv: env("env-pass-phrase-123")})
	if err != nil || p != "env-pass-phrase-123" {
		t.Fatalf("env: %q %v", p, err)
	}
	p, _, err = ResolvePassphrase(PassphraseInput{Getenv: env("")})
	if err != nil || p != "" {
		t.Fatalf("none: %q %v", p, err)
	}
	if _, _, err := ResolvePassphrase(PassphraseInput{Ask: true}); err == nil || !strings.Contains(err.Error(), "terminal") {
		t.Fatalf("ask without tty: %v", err)
	}
	p, _, err = ResolvePassphrase(PassphraseInput{Ask: true, StdinIsTTY: true, Prompt: func() (string, error) { return "typed-pass-phrase-1", nil }})
	if err != nil || p != "typed-pass-phrase-1" {
		t.Fatalf("prompt: %v", err)
	}
	if _, _, err := ResolvePassphrase(PassphraseInput{Getenv: env("短密码")}); err == nil || strings.Contains(err.Error(), "短密码") {
		t.Fatalf("non-ASCII env: %v", err)
	}
}

func TestFlagsApplyAndRefuse(t *testing.T) {
	db := newGovDB(t)
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	f := addGovFlags(fs, true)
	if err := fs.Parse([]string{"--purpose", "audit", "--keep", "forever", "--justify", "j"}); err != nil {
		t.Fatal(err)
	}
	req := &govern.Request{Action: "export", Actor: "u"}
	err := f.Apply(req, func(string) string { return "" }, false, nil)
	if err == nil || !strings.Contains(err.Error(), "forever") {
		t.Fatalf("--keep forever accepted: %v", err)
	}
	if err2 := govern.Refuse(context.Background(), db, policy.Default(), req, err); err2 != err {
		t.Fatal("Refuse changed the error")
	}
	if r := lastGovRecord(t, db); r.Outcome != "refused" || r.Purpose != "audit" || !strings.Contains(r.Reason, "forever") {
		t.Fatalf("%+v", r)
	}
	fs = flag.NewFlagSet("export", flag.ContinueOnError)
	f = addGovFlags(fs, true)
	fs.Parse([]string{"--purpose", "p", "--keep", "2w", "--age-recipient", "age1xyz"})
	req = &govern.Request{Action: "export"}
	if err := f.Apply(req, func(string) string { return "" }, false, nil); err != nil {
		t.Fatal(err)
	}
	if req.Keep != 14*24*time.Hour || req.Encrypt != "age" || req.Passphrase != "" || req.Purpose != "p" {
		t.Fatalf("%+v", req)
	}
}

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int // 0: the default
		// limit is the soft memory limit, 0 for none
		limit int64
	}{
		{[]string{"convert", "--purpose", "p", "in.xlsx", "out.vcf"}, StreamGCPercent, streamMemoryLimit},
		{[]string{"convert", "in.csv", "OUT.XLSX"}, qualityGCPercent, streamXLSXMemoryLimit},
		{[]string{"convert", "--fields", "name,manager_userid", "in.csv", "OUT.XLSX"}, qualityGCPercent, 0}, // read whole
		{[]string{"convert", "--no-quality", "in.csv", "out.xlsx"}, 0, 0},
		{[]string{"export", "--from", "in.xlsx", "--format", "csv,vcf"}, StreamGCPercent, streamMemoryLimit},
		{[]string{"export", "--from=in.xlsx", "-format=jsonl"}, StreamGCPercent, streamMemoryLimit},
		{[]string{"export", "--from", "in.xlsx"}, qualityGCPercent, streamXLSXMemoryLimit}, // the default format is xlsx
		{[]string{"export", "--from", "in.xlsx", "--format", "xlsx,csv,jsonl,vcf"}, qualityGCPercent, streamXLSXMemoryLimit},
		{[]string{"export", "--from", "in.xlsx", "--dedupe", "default"}, qualityGCPercent, 0}, // read whole
		{[]string{"export", "--purpose", "p"}, qualityGCPercent, 0},                           // a snapshot
		{[]string{"export", "--format", "csv"}, 0, 0},                                         // a snapshot, not a file
		{[]string{"export", "--format", "xlsx", "--no-quality"}, 0, 0},
		{[]string{"quality", "--json"}, analyzeGCPercent, 0},
		{[]string{"convert", "--dedupe", "default", "in.xlsx", "out.vcf"}, 0, 0},                // read whole
		{[]string{"export", "--from", "in.xlsx", "--format", "vcf", "--profile", "full"}, 0, 0}, // manager_userid: whole
		{[]string{"export", "--from", "in.xlsx", "--format", "csv", "--fields", "name,manager_userid"}, 0, 0},
		{[]string{"pull"}, 0, 0},
		{nil, 0, 0},
	} {
		pct, ok := GCPercent(c.args)
		if !ok {
			pct = 0
		}
		if pct != c.want {
			t.Errorf("%v: %d (%v), want %d", c.args, pct, ok, c.want)
		}
		// A soft memory limit goes with a streamed member file.
		if limit, ok := MemoryLimit(c.args); ok != (c.limit != 0) || limit != c.limit {
			t.Errorf("%v: memory limit %d (%v), want %d", c.args, limit, ok, c.limit)
		}
	}
}

// TestHintNamesTheFlag: govern's hints are worded for any front end; the
// CLI adds the flag of the request option the error names.
func TestHintNamesTheFlag(t *testing.T) {
	pol := policy.Default()
	_, err := govern.Resolve(pol, &govern.Request{Action: "export", Purpose: "p", Basis: "whim"})
	if err == nil || strings.Contains(dingbook.ErrorHint(err), "--") || dingbook.ErrorField(err) != "basis" {
		t.Fatalf("govern's hint: %v / %q / field %q", err, dingbook.ErrorHint(err), dingbook.ErrorField(err))
	}
	var b strings.Builder
	if code := report(&b, err); code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	out := b.String()
	if !strings.Contains(out, "dingbook: hint: choose a legal basis: ") || !strings.Contains(out, "dingbook: hint: (on the command line: --basis)") {
		t.Fatalf("printed:\n%s", out)
	}
}
