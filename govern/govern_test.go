package govern_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
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

const marker = "PLAINTEXT-MARKER-欧阳娜娜-13800138000"

func newDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test (scripts/test.sh installs it)", name)
	}
	return p
}

// produceFiles writes a CSV (with the marker) and a vCard into dir.
func produceFiles(t *testing.T) func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
	return func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
		csv := "\ufeff姓名,部门,手机\r\n" + marker + ",技术部,13800138000\r\nSiti Rahayu,Penjualan,+6281234567890\r\n"
		if err := os.WriteFile(filepath.Join(dir, "技术部通讯录.csv"), []byte(csv), 0o600); err != nil {
			return nil, err
		}
		vcf := strings.Repeat("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:"+marker+"\r\nEND:VCARD\r\n", 2000)
		if err := os.WriteFile(filepath.Join(dir, "people.vcf"), []byte(vcf), 0o600); err != nil {
			return nil, err
		}
		return &govern.Produced{Files: []govern.ProducedFile{{Path: "技术部通讯录.csv", Format: "csv", Rows: 2}, {Path: filepath.Join(dir, "people.vcf"), Rows: 2000}},
			Rows: 2, DeptScope: []string{"2"}}, nil
	}
}

// findMarker walks roots and returns the files that contain the marker.
func findMarker(t *testing.T, roots ...string) []string {
	t.Helper()
	var hits []string
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(marker)) {
				hits = append(hits, p)
			}
			return nil
		})
	}
	return hits
}

func tmpDirs(t *testing.T, home string) []string {
	m, _ := filepath.Glob(filepath.Join(home, govern.TmpDirName, "export-*"))
	return m
}

func lastRecord(t *testing.T, db *store.DB) audit.Record {
	t.Helper()
	recs, err := audit.List(context.Background(), db, audit.Filter{Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("no audit record: %v", err)
	}
	return recs[0]
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestRunZipBundle(t *testing.T) {
	sz := tool(t, "7zz")
	db := newDB(t)
	out := filepath.Join(t.TempDir(), "out")
	pol := policy.Default()
	pol.Company, pol.DPOContact = "PT Contoh Indonesia", "dpo@contoh.co.id"
	req := &govern.Request{Action: "export", Actor: "hr-admin", Purpose: "migrate to the new HR system", Profile: "contact",
		Justification: "payroll needs mobiles", Keep: 7 * 24 * time.Hour, OutDir: out, Snapshot: 3, Tenant: "ding123", Masks: []string{"mobile"}}
	res, err := govern.Run(context.Background(), db, pol, req, produceFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Passphrase) < 22 {
		t.Fatalf("generated passphrase too short: %d", len(res.Passphrase))
	}
	if filepath.Base(res.BundlePath) != "dingbook-"+res.ExportID+".zip" {
		t.Fatalf("bundle name %s", res.BundlePath)
	}
	st, err := os.Stat(res.BundlePath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("bundle mode %v %v", st.Mode(), err)
	}
	if d := time.Until(res.Expires); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Fatalf("expiry %v", res.Expires)
	}
	list, _ := exec.Command(sz, "l", "-slt", "-p"+res.Passphrase, res.BundlePath).CombinedOutput()
	if n := strings.Count(string(list), "AES-256"); n != 4 {
		t.Fatalf("want 4 AES-256 entries:\n%s", list)
	}
	if strings.Contains(string(list), "技术部") {
		t.Fatal("entry names are not neutral")
	}
	x := filepath.Join(t.TempDir(), "x")
	if o, err := exec.Command(sz, "x", "-p"+res.Passphrase, "-o"+x, res.BundlePath).CombinedOutput(); err != nil {
		t.Fatalf("7zz x: %v\n%s", err, o)
	}
	var man govern.Manifest
	mb, _ := os.ReadFile(filepath.Join(x, "manifest.json"))
	if err := json.Unmarshal(mb, &man); err != nil {
		t.Fatal(err)
	}
	if man.Schema != 1 || man.Purpose != req.Purpose || man.Basis != "hr-management" || man.Tenant != "ding123" || man.Snapshot != 3 ||
		len(man.Fields) != len(dingbook.Profiles["contact"]) || man.Rows != 2 || len(man.Files) != 2 || !man.Expires.Equal(res.Expires) || man.DeptScope[0] != "2" {
		t.Fatalf("manifest: %s", mb)
	}
	for _, f := range man.Files {
		b, err := os.ReadFile(filepath.Join(x, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if sha(b) != f.SHA256 || int64(len(b)) != f.Bytes {
			t.Fatalf("%s: manifest hash does not match the extracted file", f.Name)
		}
		if !strings.HasPrefix(f.Name, "export-"+res.ExportID) {
			t.Fatalf("entry name %s not neutral", f.Name)
		}
	}
	if man.Files[0].Format != "csv" || man.Files[1].Format != "vcf" {
		t.Fatalf("formats %+v", man.Files)
	}
	notice, _ := os.ReadFile(filepath.Join(x, "NOTICE.txt"))
	for _, want := range []string{"PT Contoh Indonesia", "dpo@contoh.co.id", "marketing", "pemasaran", "营销", req.Purpose, res.Expires.UTC().Format("2006-01-02")} {
		if !bytes.Contains(notice, []byte(want)) {
			t.Errorf("NOTICE.txt lacks %q", want)
		}
	}
	cmd := exec.Command(sz, "t", "-pNotThePassphrase123", res.BundlePath)
	cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("wrong passphrase: exit %d, want 2", cmd.ProcessState.ExitCode())
	}
	// Audit record, export registry, nothing left behind.
	r := lastRecord(t, db)
	bb, _ := os.ReadFile(res.BundlePath)
	if r.Outcome != "ok" || r.ExportID != res.ExportID || r.Seal != "zip" || r.Rows != 2 || r.Outputs[0].SHA256 != sha(bb) ||
		r.Justification != req.Justification || r.Masks[0] != "mobile" || len(r.Outputs) != 3 {
		t.Fatalf("audit record %+v", r)
	}
	exps, _ := govern.ListExports(context.Background(), db, time.Now())
	if len(exps) != 1 || exps[0].State != govern.StatePresent || exps[0].Path != res.BundlePath {
		t.Fatalf("exports %+v", exps)
	}
	if v, _ := audit.Verify(context.Background(), db); !v.OK {
		t.Fatalf("verify: %+v", v)
	}
	if d := tmpDirs(t, db.Dir); len(d) != 0 {
		t.Fatalf("private dirs left: %v", d)
	}
	if hits := findMarker(t, db.Dir, out); len(hits) != 0 {
		t.Fatalf("plaintext left on disk: %v", hits)
	}
	if bytes.Contains(bb, []byte("Siti")) {
		t.Fatal("bundle holds plaintext")
	}
}

func TestRunAgeRecipient(t *testing.T) {
	age, keygen := tool(t, "age"), tool(t, "age-keygen")
	tool(t, "tar")
	db := newDB(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "key.txt")
	if o, err := exec.Command(keygen, "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	pub, _ := exec.Command(keygen, "-y", key).Output()
	req := &govern.Request{Action: "convert", Actor: "u", Purpose: "p", Encrypt: "age", AgeRecipients: []string{strings.TrimSpace(string(pub))}, OutDir: dir}
	res, err := govern.Run(context.Background(), db, policy.Default(), req, produceFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Passphrase != "" || !strings.HasSuffix(res.BundlePath, ".tar.age") {
		t.Fatalf("result %+v", res)
	}
	tarFile := filepath.Join(dir, "b.tar")
	if o, err := exec.Command(age, "-d", "-i", key, "-o", tarFile, res.BundlePath).CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v %s", err, o)
	}
	x := filepath.Join(dir, "x")
	os.Mkdir(x, 0o700)
	if o, err := exec.Command("tar", "-xf", tarFile, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, o)
	}
	var man govern.Manifest
	mb, _ := os.ReadFile(filepath.Join(x, "manifest.json"))
	json.Unmarshal(mb, &man)
	if man.Seal != "age" || len(man.Files) != 2 {
		t.Fatalf("manifest %s", mb)
	}
	for _, f := range man.Files {
		b, _ := os.ReadFile(filepath.Join(x, f.Name))
		if sha(b) != f.SHA256 {
			t.Fatalf("%s hash mismatch", f.Name)
		}
	}
}

func TestUserPassphraseAndNone(t *testing.T) {
	sz := tool(t, "7zz")
	db := newDB(t)
	out := t.TempDir()
	req := &govern.Request{Action: "export", Actor: "u", Purpose: "p", Passphrase: "my-own-pass-phrase-2026", PassphraseSource: "test", OutDir: out}
	res, err := govern.Run(context.Background(), db, policy.Default(), req, produceFiles(t))
	if err != nil || res.Passphrase != "" {
		t.Fatalf("%v %+v", err, res)
	}
	if o, err := exec.Command(sz, "t", "-pmy-own-pass-phrase-2026", res.BundlePath).CombinedOutput(); err != nil {
		t.Fatalf("7zz t: %v %s", err, o)
	}
	// A bad passphrase is refused and recorded, and never echoed.
	req = &govern.Request{Action: "export", Actor: "u", Purpose: "p", Passphrase: "密码太短", PassphraseSource: "$DINGBOOK_PASSPHRASE", OutDir: out}
	_, err = govern.Run(context.Background(), db, policy.Default(), req, produceFiles(t))
	if err == nil || strings.Contains(err.Error(), "密码") || !strings.Contains(err.Error(), "DINGBOOK_PASSPHRASE") {
		t.Fatalf("bad passphrase: %v", err)
	}
	if r := lastRecord(t, db); r.Outcome != "refused" {
		t.Fatalf("not recorded: %+v", r)
	}
	// Unencrypted where the policy allows it: a plain zip, recorded as such.
	pol := policy.Default()
	pol.AllowUnencrypted = true
	req = &govern.Request{Action: "export", Actor: "u", Purpose: "p", Encrypt: "none", OutDir: out}
	res, err = govern.Run(context.Background(), db, pol, req, produceFiles(t))
	if err != nil || res.Passphrase != "" {
		t.Fatal(err)
	}
	if o, err := exec.Command(sz, "t", res.BundlePath).CombinedOutput(); err != nil || bytes.Contains(o, []byte("AES")) {
		t.Fatalf("plain zip: %v %s", err, o)
	}
	if r := lastRecord(t, db); r.Seal != "none" || r.Outcome != "ok" {
		t.Fatalf("%+v", r)
	}
}

func TestRefusalsRecorded(t *testing.T) {
	strict := policy.Default()
	strict.Exporters = []string{"hr-admin"}
	strict.AllowedProfiles = []string{"minimal", "contact"}
	cases := []struct {
		name string
		pol  *policy.Policy
		req  govern.Request
		code string
		want string
	}{
		{"no purpose", nil, govern.Request{}, dingbook.EPOLICY, "no purpose"},
		{"blank purpose", nil, govern.Request{Purpose: "  "}, dingbook.EPOLICY, "no purpose"},
		{"unknown basis", nil, govern.Request{Purpose: "p", Basis: "because"}, dingbook.EINVALID, "legal basis"},
		{"field not allowed", strict, govern.Request{Actor: "hr-admin", Purpose: "p", Fields: []string{"name", "extension.身份证"}, Justification: "j"}, dingbook.EPOLICY, `"extension.身份证" is not allowed`},
		{"unknown field", nil, govern.Request{Purpose: "p", Fields: []string{"shoe_size"}}, dingbook.EPOLICY, "unknown field"},
		{"profile not allowed", strict, govern.Request{Actor: "hr-admin", Purpose: "p", Profile: "full", Justification: "j"}, dingbook.EPOLICY, `profile "full" is not allowed`},
		{"personal without justify", nil, govern.Request{Purpose: "p", Fields: []string{"name", "mobile"}}, dingbook.EPOLICY, "a justification"},
		{"sensitive without justify", nil, govern.Request{Purpose: "p", Profile: "full"}, dingbook.EPOLICY, "a justification"},
		{"hidden mobiles not allowed", nil, govern.Request{Purpose: "p", Profile: "contact", Justification: "j", IncludeHiddenMobiles: true}, dingbook.EPOLICY, "hid"},
		{"keep too long", nil, govern.Request{Purpose: "p", Keep: 91 * 24 * time.Hour}, dingbook.EPOLICY, "maximum retention"},
		{"unencrypted", nil, govern.Request{Purpose: "p", Encrypt: "none"}, dingbook.EPOLICY, "unencrypted"},
		{"actor", strict, govern.Request{Actor: "mallory", Purpose: "p"}, dingbook.EPOLICY, `"mallory" may not export`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			out := t.TempDir()
			pol := c.pol
			if pol == nil {
				pol = policy.Default()
			}
			req := c.req
			req.Action = "export"
			if req.Actor == "" {
				req.Actor = "someone"
			}
			req.OutDir = out
			called := false
			_, err := govern.Run(context.Background(), db, pol, &req, func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
				called = true
				return produceFiles(t)(ctx, dir, dec)
			})
			if err == nil || called {
				t.Fatalf("not refused (err %v, produce called %v)", err, called)
			}
			if dingbook.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.want) || dingbook.ErrorHint(err) == "" {
				t.Fatalf("got %q (%s, hint %q), want code %s containing %q", err, dingbook.ErrorCode(err), dingbook.ErrorHint(err), c.code, c.want)
			}
			r := lastRecord(t, db)
			if r.Outcome != "refused" || r.Reason != err.Error() || r.Actor != req.Actor || r.Action != "export" {
				t.Fatalf("refusal record %+v", r)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("refused export wrote %d files", len(ents))
			}
		})
	}
	// Allowed: hidden mobiles with policy + justification → Decision says so.
	pol := policy.Default()
	pol.AllowHiddenMobiles = true
	var inside *govern.Decision
	_, err := govern.Run(context.Background(), newDB(t), pol, &govern.Request{Action: "export", Actor: "u", Purpose: "p", Profile: "contact", Justification: "j", IncludeHiddenMobiles: true, OutDir: t.TempDir()},
		func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
			inside = dec
			return produceFiles(t)(ctx, dir, dec)
		})
	if err != nil || inside == nil || !inside.IncludeHiddenMobiles || inside.Profile != "contact" {
		t.Fatalf("decision passed to produce: %v %+v", err, inside)
	}
	d, err := govern.Resolve(pol, &govern.Request{Action: "export", Purpose: "p", Profile: "contact", Justification: "j", IncludeHiddenMobiles: true})
	if err != nil || !d.IncludeHiddenMobiles || d.Keep != 30*24*time.Hour || d.Encrypt != "zip" || d.Basis != "hr-management" {
		t.Fatalf("%v %+v", err, d)
	}
	// Import needs a purpose too; pull does not.
	if _, err := govern.Resolve(policy.Default(), &govern.Request{Action: "import"}); dingbook.ErrorCode(err) != dingbook.EPOLICY {
		t.Fatalf("import without purpose: %v", err)
	}
	if _, err := govern.Resolve(policy.Default(), &govern.Request{Action: "pull"}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	// Default: minimal profile, no justification needed.
	d, err = govern.Resolve(policy.Default(), &govern.Request{Action: "export", Purpose: "p"})
	if err != nil || d.Profile != "minimal" || len(d.Fields) != len(dingbook.Profiles["minimal"]) {
		t.Fatalf("%v %+v", err, d)
	}
}

func TestProduceFailureLeavesNothing(t *testing.T) {
	db := newDB(t)
	out := t.TempDir()
	_, err := govern.Run(context.Background(), db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: out},
		func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
			produceFiles(t)(ctx, dir, dec)
			return nil, fmt.Errorf("row 3: bad mobile of %s", marker)
		})
	if err == nil {
		t.Fatal("no error")
	}
	r := lastRecord(t, db)
	if r.Outcome != "failed" || strings.Contains(r.Reason, marker) || r.Details["stage"] != "export" {
		t.Fatalf("failure record %+v", r)
	}
	if hits := findMarker(t, db.Dir, out); len(hits) != 0 {
		t.Fatalf("plaintext left (the audit log must not quote the error either): %v", hits)
	}
	if d := tmpDirs(t, db.Dir); len(d) != 0 {
		t.Fatalf("private dirs left: %v", d)
	}
	// Files outside the private directory are refused.
	outside := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(outside, []byte("x"), 0o600)
	_, err = govern.Run(context.Background(), db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: out},
		func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
			return &govern.Produced{Files: []govern.ProducedFile{{Path: outside}}}, nil
		})
	if err == nil || !strings.Contains(err.Error(), "outside the private directory") {
		t.Fatalf("outside file: %v", err)
	}
}

func TestPanicWipes(t *testing.T) {
	db := newDB(t)
	var dirSeen string
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		govern.Run(context.Background(), db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: t.TempDir()},
			func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
				dirSeen = dir
				produceFiles(t)(ctx, dir, dec)
				panic("boom")
			})
	}()
	if _, err := os.Stat(dirSeen); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("private dir survived a panic: %v", err)
	}
	if r := lastRecord(t, db); r.Outcome != "failed" {
		t.Fatalf("%+v", r)
	}
}

// TestCancelWipesAtOnce: cancelling the context removes the plaintext
// while the producer is still running, not only when it returns.
func TestCancelWipesAtOnce(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	wipedDuring := false
	_, err := govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: t.TempDir()},
		func(pctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
			p := filepath.Join(dir, "big.csv")
			os.WriteFile(p, []byte(marker), 0o600)
			cancel()
			<-pctx.Done()
			for i := 0; i < 200; i++ {
				if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
					wipedDuring = true
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			return nil, pctx.Err()
		})
	if !errors.Is(err, context.Canceled) || !wipedDuring {
		t.Fatalf("err %v, wiped while running %v", err, wipedDuring)
	}
	if r := lastRecord(t, db); r.Outcome != "failed" || !strings.Contains(r.Reason, "interrupted") {
		t.Fatalf("%+v", r)
	}
	if hits := findMarker(t, db.Dir); len(hits) != 0 {
		t.Fatal(hits)
	}
}

func TestPolicyChangeRecorded(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	if _, err := govern.LoadPolicy(ctx, db, "", "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := govern.LoadPolicy(ctx, db, "", "u"); err != nil {
		t.Fatal(err)
	}
	recs, _ := audit.List(ctx, db, audit.Filter{Action: audit.ActionPolicyChange})
	if len(recs) != 1 || recs[0].PolicyHash != policy.Default().Hash {
		t.Fatalf("first load: %d records", len(recs))
	}
	os.WriteFile(filepath.Join(db.Dir, policy.FileName), []byte("retention: {default: 10d, max: 20d}\n"), 0o600)
	pol, err := govern.LoadPolicy(ctx, db, "", "u")
	if err != nil {
		t.Fatal(err)
	}
	govern.LoadPolicy(ctx, db, "", "u")
	recs, _ = audit.List(ctx, db, audit.Filter{Action: audit.ActionPolicyChange})
	if len(recs) != 2 || recs[1].PolicyHash != pol.Hash || recs[1].Details["previous_hash"] != policy.Default().Hash {
		t.Fatalf("change: %+v", recs)
	}
	os.WriteFile(filepath.Join(db.Dir, policy.FileName), []byte("retention: {default: 100d, max: 20d}\n"), 0o600)
	if _, err := govern.LoadPolicy(ctx, db, "", "u"); err == nil {
		t.Fatal("invalid policy loaded")
	}
}

func TestPurge(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	t0 := time.Now().Add(-48 * time.Hour)
	clock := func() time.Time { return t0 }
	res, err := govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", Keep: time.Hour, OutDir: t.TempDir(), Now: clock}, produceFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	keep, err := govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: t.TempDir()}, produceFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	// Three snapshots: two old, one recent; and a policy keeping 30d.
	for i, age := range []time.Duration{100 * 24 * time.Hour, 60 * 24 * time.Hour, 24 * time.Hour} {
		s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now().Add(-age), Org: dingbook.Org{Name: fmt.Sprintf("org %d", i)}}
		if err := db.SaveSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	pol := policy.Default()
	pol.SnapshotKeep = policy.Duration(30 * 24 * time.Hour)
	exps, _ := govern.ListExports(ctx, db, time.Now())
	if exps[0].State != govern.StateExpired || exps[1].State != govern.StatePresent {
		t.Fatalf("states %+v", exps)
	}
	before, _, _ := audit.Head(ctx, db)
	items, err := govern.Purge(ctx, db, pol, govern.PurgeOptions{DryRun: true, Actor: "u"})
	if err != nil || len(items) != 3 {
		t.Fatalf("dry run: %v %+v", err, items)
	}
	if after, _, _ := audit.Head(ctx, db); after != before {
		t.Fatal("dry run wrote audit records")
	}
	if _, err := os.Stat(res.BundlePath); err != nil {
		t.Fatal("dry run deleted the bundle")
	}
	items, err = govern.Purge(ctx, db, pol, govern.PurgeOptions{Actor: "u"})
	if err != nil || len(items) != 3 {
		t.Fatalf("purge: %v %+v", err, items)
	}
	if _, err := os.Stat(res.BundlePath); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("expired bundle not deleted")
	}
	if _, err := os.Stat(keep.BundlePath); err != nil {
		t.Fatal("live bundle deleted")
	}
	snaps, _ := db.Snapshots(ctx)
	if len(snaps) != 1 || snaps[0].OrgName != "org 2" {
		t.Fatalf("snapshots left %+v", snaps)
	}
	recs, _ := audit.List(ctx, db, audit.Filter{Action: audit.ActionPurge})
	if len(recs) != 3 || recs[0].ExportID != res.ExportID || recs[0].Outputs[0].SHA256 != res.BundleSHA256 {
		t.Fatalf("purge records %+v", recs)
	}
	exps, _ = govern.ListExports(ctx, db, time.Now())
	if exps[0].State != govern.StatePurged {
		t.Fatalf("state after purge %+v", exps[0])
	}
	os.Remove(keep.BundlePath)
	exps, _ = govern.ListExports(ctx, db, time.Now())
	if exps[1].State != govern.StateMissing {
		t.Fatalf("missing state %+v", exps[1])
	}
	// Only the latest snapshot is left; even a very short keep keeps it.
	pol.SnapshotKeep = policy.Duration(time.Second)
	items, _ = govern.Purge(ctx, db, pol, govern.PurgeOptions{Actor: "u"})
	if len(items) != 0 {
		t.Fatalf("latest snapshot purged: %+v", items)
	}
	if v, _ := audit.Verify(ctx, db); !v.OK {
		t.Fatalf("verify %+v", v)
	}
}

func TestGuard(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	ran := false
	err := govern.Guard(ctx, db, policy.Default(), &govern.Request{Action: "import", Actor: "u", Source: "file:members.xlsx"}, func(ctx context.Context, dec *govern.Decision) (*govern.Produced, error) {
		ran = true
		return nil, nil
	})
	if err == nil || ran || dingbook.ErrorCode(err) != dingbook.EPOLICY {
		t.Fatalf("import without purpose: %v ran=%v", err, ran)
	}
	if r := lastRecord(t, db); r.Outcome != "refused" || r.Action != "import" {
		t.Fatalf("%+v", r)
	}
	err = govern.Guard(ctx, db, policy.Default(), &govern.Request{Action: "import", Actor: "u", Purpose: "load the console file", Source: "file:members.xlsx"}, func(ctx context.Context, dec *govern.Decision) (*govern.Produced, error) {
		return &govern.Produced{Rows: 120, Snapshot: 7, Tenant: "ding1"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, db); r.Outcome != "ok" || r.Rows != 120 || r.Snapshot != 7 || r.Basis != "hr-management" || r.Source != "file:members.xlsx" {
		t.Fatalf("%+v", r)
	}
	err = govern.Guard(ctx, db, policy.Default(), &govern.Request{Action: "pull", Actor: "u"}, func(ctx context.Context, dec *govern.Decision) (*govern.Produced, error) {
		return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: "gettoken: appkey rejected"}
	})
	if dingbook.ErrorCode(err) != dingbook.EAUTH {
		t.Fatalf("pull error not passed through: %v", err)
	}
	if r := lastRecord(t, db); r.Outcome != "failed" || r.Reason != "pull failed (auth)" {
		t.Fatalf("%+v", r)
	}
}

func BenchmarkRun50MB(b *testing.B) {
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "home"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	line := []byte("欧阳娜娜,技术部,工程师,13800138000,nana@example.com\r\n")
	const size = 50 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, err := govern.Run(context.Background(), db, policy.Default(), &govern.Request{Action: "export", Actor: "b", Purpose: "bench", OutDir: b.TempDir()},
			func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
				f, err := os.Create(filepath.Join(dir, "big.csv"))
				if err != nil {
					return nil, err
				}
				chunk := bytes.Repeat(line, 1024)
				for n := 0; n < size; n += len(chunk) {
					f.Write(chunk)
				}
				f.Close()
				return &govern.Produced{Files: []govern.ProducedFile{{Path: "big.csv", Rows: size / len(line)}}}, nil
			})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestProducedFieldsChecked: fields the export layer adds on its own
// (e.g. custom fields of the full profile) are held to the policy.
func TestProducedFieldsChecked(t *testing.T) {
	db := newDB(t)
	out := t.TempDir()
	pol := policy.Default()
	pol.AllowedFields = []string{"name", "dept", "title", "telephone", "org_email", "job_number"}
	_, err := govern.Run(context.Background(), db, pol, &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: out},
		func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
			p, err := produceFiles(t)(ctx, dir, dec)
			if err == nil {
				p.Fields = []string{"name", "dept", "extension.身份证"}
			}
			return p, err
		})
	if dingbook.ErrorCode(err) != dingbook.EPOLICY || !strings.Contains(err.Error(), "extension.身份证") {
		t.Fatalf("added field not refused: %v", err)
	}
	if r := lastRecord(t, db); r.Outcome != "refused" {
		t.Fatalf("%+v", r)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatal("bundle written")
	}
	if hits := findMarker(t, db.Dir, out); len(hits) != 0 {
		t.Fatal(hits)
	}
}

// TestHintsWithoutFlags: every refusal of Resolve says what to change in
// words for any front end (no CLI flag), and names the request option.
func TestHintsWithoutFlags(t *testing.T) {
	pol := policy.Default()
	for _, req := range []govern.Request{
		{Action: "export"},
		{Action: "export", Purpose: "p", Basis: "whim"},
		{Action: "export", Purpose: "p", Profile: "nosuch"},
		{Action: "export", Purpose: "p", Fields: []string{"name", "mobile"}},
		{Action: "export", Purpose: "p", IncludeHiddenMobiles: true, Justification: "j"},
		{Action: "export", Purpose: "p", Keep: 10 * time.Minute},
		{Action: "export", Purpose: "p", Keep: 9999 * time.Hour},
		{Action: "export", Purpose: "p", Encrypt: "rot13"},
		{Action: "export", Purpose: "p", Encrypt: "none"},
	} {
		_, err := govern.Resolve(pol, &req)
		if err == nil {
			t.Fatalf("%+v not refused", req)
		}
		if h := dingbook.ErrorHint(err); h == "" || strings.Contains(h, "--") || dingbook.ErrorField(err) == "" {
			t.Errorf("%v: hint %q, field %q", err, h, dingbook.ErrorField(err))
		}
	}
}

// TestRunDecided: a decision made before (the front end decides before it
// opens the source) is the one produce gets and the record holds; Run
// does not decide a second time.
func TestRunDecided(t *testing.T) {
	db := newDB(t)
	pol := policy.Default()
	req := &govern.Request{Action: "export", Actor: "u", Purpose: "p", Profile: "contact", Justification: "j", OutDir: t.TempDir()}
	dec, err := govern.Resolve(pol, req)
	if err != nil {
		t.Fatal(err)
	}
	dec.Fields = dec.Fields[:2] // not what a second Resolve would say
	var got *govern.Decision
	res, err := govern.RunDecided(context.Background(), db, pol, req, dec, func(ctx context.Context, dir string, d *govern.Decision) (*govern.Produced, error) {
		got = d
		return produceFiles(t)(ctx, dir, d)
	})
	if err != nil || got != dec || res.Decision != dec {
		t.Fatalf("%v: produce got %p, result %p, want %p", err, got, res.Decision, dec)
	}
	if r := lastRecord(t, db); r.Outcome != "ok" || strings.Join(r.Fields, ",") != strings.Join(dec.Fields, ",") {
		t.Fatalf("record fields %v, want the decision's %v", r.Fields, dec.Fields)
	}
}

// TestResolveSelfHostedPush: a push into the company's own server (CardDAV)
// needs no processor contract; a push to Google still does.
func TestResolveSelfHostedPush(t *testing.T) {
	pol := policy.Default()
	req := &govern.Request{Action: "push", Actor: "alice", Purpose: "phone directory"}
	if _, err := govern.Resolve(pol, req); err == nil || !strings.Contains(err.Error(), "processor contract") {
		t.Fatalf("push to Google without a contract: %v", err)
	}
	req.SelfHosted = true
	if _, err := govern.Resolve(pol, req); err != nil {
		t.Fatalf("self-hosted push: %v", err)
	}
}
