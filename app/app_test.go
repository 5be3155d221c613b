package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/pull"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test (scripts/test.sh installs it)", name)
	}
	return p
}

func newApp(t *testing.T) (*app.App, *dingbook.Snapshot) {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	truth := gen.Generate(gen.Options{Users: 300, Depts: 12, Seed: 7})
	snap := &dingbook.Snapshot{Source: "test", TakenAt: time.Now().UTC(), Org: truth.Org}
	if err := a.DB.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	return a, snap
}

// TestConcurrentExports runs two exports at once in one process through
// the use-case layer (no CLI): different profiles, formats and output
// directories. Each must produce its own bundle, which 7-Zip opens with
// its own passphrase and whose files hold what its decision says, and its
// own audit record naming that bundle; the chain must verify.
func TestConcurrentExports(t *testing.T) {
	sz := tool(t, "7zz")
	a, snap := newApp(t)
	ctx := context.Background()
	pol, err := a.Policy(ctx, "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		profile string
		formats []string
		pass    string
		out     string
		res     *app.ExportResult
		err     error
	}
	jobs := []*job{
		{profile: "minimal", formats: []string{"csv", "jsonl"}, pass: "first-pass-phrase-2026", out: filepath.Join(t.TempDir(), "a")},
		{profile: "contact", formats: []string{"xlsx", "vcf"}, pass: "second-pass-phrase-2026", out: filepath.Join(t.TempDir(), "b")},
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req := &govern.Request{Actor: "worker" + string(rune('1'+i)), Purpose: "concurrency test " + j.profile, Profile: j.profile,
				Justification: "test", Passphrase: j.pass, PassphraseSource: "the test", OutDir: j.out}
			j.res, j.err = a.Export(ctx, pol, app.ExportOptions{Request: req, Export: export.Options{Formats: j.formats, Headers: "en", Now: time.Now()}, Quality: true})
		}()
	}
	close(start)
	wg.Wait()

	seqs := map[int64]bool{}
	for _, j := range jobs {
		if j.err != nil {
			t.Fatalf("%s: %v", j.profile, j.err)
		}
		b := j.res.Bundle
		if filepath.Dir(b.BundlePath) != j.out || j.res.SnapshotID != snap.ID || b.Decision.Profile != j.profile {
			t.Fatalf("%s: bundle %s, snapshot %d, decision %+v", j.profile, b.BundlePath, j.res.SnapshotID, b.Decision)
		}
		seqs[b.AuditSeq] = true
		// 7-Zip opens it with its own passphrase, and only with that.
		x := t.TempDir()
		if o, err := exec.Command(sz, "x", "-p"+j.pass, "-o"+x, b.BundlePath).CombinedOutput(); err != nil {
			t.Fatalf("%s: 7zz x: %v\n%s", j.profile, err, o)
		}
		for _, other := range jobs {
			if other != j {
				if err := exec.Command(sz, "t", "-p"+other.pass, b.BundlePath).Run(); err == nil {
					t.Fatalf("%s opens with the other export's passphrase", j.profile)
				}
			}
		}
		var man govern.Manifest
		mb, err := os.ReadFile(filepath.Join(x, "manifest.json"))
		if err != nil || json.Unmarshal(mb, &man) != nil {
			t.Fatalf("%s: manifest: %v", j.profile, err)
		}
		want, _ := pol.ProfileFields(j.profile)
		if man.ExportID != b.ExportID || man.Profile != j.profile || strings.Join(man.Fields, ",") != strings.Join(want, ",") || len(man.Files) != len(j.formats) {
			t.Fatalf("%s: manifest %+v", j.profile, man)
		}
		for _, f := range man.Files {
			data, err := os.ReadFile(filepath.Join(x, f.Name))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 || f.Rows != j.res.Export.Rows {
				t.Fatalf("%s: %s hash or rows differ from the manifest", j.profile, f.Name)
			}
		}
		// Its own audit record names its bundle and decision.
		r, err := audit.Get(ctx, a.DB, b.AuditSeq)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != audit.OutcomeOK || r.ExportID != b.ExportID || r.Profile != j.profile || r.Purpose != "concurrency test "+j.profile ||
			len(r.Outputs) == 0 || r.Outputs[0].Path != b.BundlePath || r.Outputs[0].SHA256 != b.BundleSHA256 {
			t.Fatalf("%s: audit record %+v", j.profile, r)
		}
	}
	if len(seqs) != 2 || jobs[0].res.Bundle.ExportID == jobs[1].res.Bundle.ExportID {
		t.Fatalf("the two exports share a record or an id: %v", seqs)
	}
	v, err := audit.Verify(ctx, a.DB)
	if err != nil || !v.OK {
		t.Fatalf("audit verify: %v %+v", err, v)
	}
	// Nothing private is left behind.
	if ents, _ := os.ReadDir(a.TmpDir()); len(ents) != 0 {
		t.Fatalf("private directories left: %v", ents)
	}
}

// TestExportRefusedIsRecorded: a request the policy refuses reaches no
// source and writes nothing; the refusal is on record with the hint for
// any front end and the request option it is about.
func TestExportRefusedIsRecorded(t *testing.T) {
	a, _ := newApp(t)
	ctx := context.Background()
	pol, err := a.Policy(ctx, "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	req := &govern.Request{Actor: "tester", Purpose: "p", Basis: "whim", OutDir: out}
	_, refusal := a.Export(ctx, pol, app.ExportOptions{Request: req, Export: export.Options{Formats: []string{"csv"}}})
	if err := refusal; dingbook.ErrorCode(err) != dingbook.EINVALID || dingbook.ErrorField(err) != "basis" || strings.Contains(dingbook.ErrorHint(err), "--") {
		t.Fatalf("refusal: %v (field %q, hint %q)", err, dingbook.ErrorField(err), dingbook.ErrorHint(err))
	}
	recs, err := audit.List(ctx, a.DB, audit.Filter{Limit: 1})
	if err != nil || len(recs) != 1 || recs[0].Outcome != audit.OutcomeRefused || recs[0].Reason != refusal.Error() {
		t.Fatalf("record %+v %v", recs, err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused export made its output directory: %v", err)
	}
}

// simClient serves a small generated organisation from the DingTalk
// simulator and returns a client of it and its URL.
func simClient(t *testing.T) (*dingtalk.Client, string) {
	t.Helper()
	truth := gen.Generate(gen.Options{Users: 60, Depts: 5, Seed: 3})
	ts := httptest.NewServer(sim.New(sim.Config{Truth: truth, QPS: 500}))
	t.Cleanup(ts.Close)
	key := sim.DefaultApp()
	return dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: key.Key, AppSecret: key.Secret, QPS: 500}), ts.URL
}

// TestExportFromPull: an export whose source is a fresh pull runs Pull's
// guard-pull-save sequence (one pull record, the snapshot stored, the
// receipt handed to the hook) before the export's own record.
func TestExportFromPull(t *testing.T) {
	ctx := context.Background()
	a, err := app.Open(ctx, filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	client, simURL := simClient(t)
	pol, err := a.Policy(ctx, "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	var receipts int
	hooks := &app.Hooks{Pulled: func(res *pull.Result) { receipts++ }}
	req := &govern.Request{Actor: "tester", Purpose: "pull then export", Passphrase: "pull-export-pass-2026", OutDir: t.TempDir()}
	res, err := a.Export(ctx, pol, app.ExportOptions{Request: req, Export: export.Options{Formats: []string{"csv"}},
		Pull: &app.PullOptions{Client: client, BaseURL: simURL}, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	if receipts != 1 || res.Pull == nil || !res.Pull.Stored || res.SnapshotID != res.Pull.Snapshot.ID || res.Export.Rows == 0 {
		t.Fatalf("receipts %d, result %+v", receipts, res)
	}
	if id, err := a.DB.LatestSnapshotID(ctx); err != nil || id != res.SnapshotID {
		t.Fatalf("stored snapshot %d %v, exported %d", id, err, res.SnapshotID)
	}
	recs, err := a.AuditRecords(ctx, audit.Filter{Limit: 2})
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v %d records", err, len(recs))
	}
	pl, exp := recs[0], recs[1] // oldest first
	if exp.Action != "export" || exp.Outcome != audit.OutcomeOK || exp.Snapshot != res.SnapshotID ||
		pl.Action != "pull" || pl.Outcome != audit.OutcomeOK || pl.Snapshot != res.SnapshotID || pl.Source != "dingtalk:"+simURL {
		t.Fatalf("records: export %+v, pull %+v", exp, pl)
	}
}
