package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/audit"
)

// TestDemo runs 'dingbook demo' end to end on a small organisation: the
// simulator, a complete pull, the quality report, every format in the clear
// and a sealed bundle that 7-Zip opens; then the audit log records the pull
// and the export and verifies.
func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		Now: time.Now, Actor: "tester", Dir: dir}
	if code := Main(context.Background(), []string{"demo", "--users", "60", "--depts", "8", "--json"}, env); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, errb.String())
	}
	var sum DemoSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out.String())
	}
	var pull PullSummary
	json.Unmarshal(sum.Pull, &pull)
	if !pull.Complete || pull.People != 60 || pull.OrgCount != 60 {
		t.Fatalf("pull summary %+v", pull)
	}
	for _, f := range []string{"dingbook-demo.xlsx", "dingbook-demo.csv", "dingbook-demo.vcf", "dingbook-demo.jsonl", "quality.json"} {
		fi, err := os.Stat(filepath.Join(dir, "dingbook-demo", "files", f))
		if err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}
	vcf, _ := os.ReadFile(filepath.Join(dir, "dingbook-demo", "files", "dingbook-demo.vcf"))
	if n := strings.Count(string(vcf), "BEGIN:VCARD"); n != 60 {
		t.Errorf("%d cards, want 60", n)
	}
	var bundle GovernedSummary
	if err := json.Unmarshal(sum.Bundle, &bundle); err != nil || bundle.Seal != "zip" {
		t.Fatalf("bundle summary %s (%v)", sum.Bundle, err)
	}
	x := t.TempDir()
	if b, err := exec.Command("7zz", "x", "-y", "-p"+sum.Passphrase, "-o"+x, bundle.Bundle).CombinedOutput(); err != nil {
		t.Fatalf("7zz x: %v\n%s", err, b)
	}
	if b, err := exec.Command("7zz", "t", "-pwrong-passphrase-123", bundle.Bundle).CombinedOutput(); err == nil {
		t.Fatalf("7zz accepted a wrong passphrase:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(x, "manifest.json")); err != nil {
		t.Fatal("no manifest in the bundle")
	}
	// The audit log of the demo's state directory.
	state := sum.StateDir
	out.Reset()
	env.Getenv = func(k string) string {
		if k == "DINGBOOK_HOME" {
			return state
		}
		return ""
	}
	if code := Main(context.Background(), []string{"audit", "list", "--json"}, env); code != 0 {
		t.Fatalf("audit list: exit %d\n%s", code, errb.String())
	}
	var list struct {
		Records []audit.Record `json:"records"`
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatalf("audit list --json: %v\n%s", err, out.String())
	}
	seen := map[string]bool{}
	for _, r := range list.Records {
		seen[r.Action+"/"+r.Outcome] = true
	}
	for _, want := range []string{"pull/ok", "export/ok"} {
		if !seen[want] {
			t.Errorf("audit log lacks a %s record: %v", want, seen)
		}
	}
	if code := Main(context.Background(), []string{"audit", "verify"}, env); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, errb.String())
	}
}
