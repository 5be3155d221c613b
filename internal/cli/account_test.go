package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/account"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// acctEnv is a CLI environment with a clock the test moves.
type acctEnv struct {
	*Env
	home        string
	now         time.Time
	out, errb   *bytes.Buffer
	t           *testing.T
	policyExtra string
}

func newAcctEnv(t *testing.T) *acctEnv {
	t.Helper()
	a := &acctEnv{home: filepath.Join(t.TempDir(), "home"), now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), out: &bytes.Buffer{}, errb: &bytes.Buffer{}, t: t}
	a.Env = &Env{Stdin: strings.NewReader(""), Stdout: a.out, Stderr: a.errb, Actor: "tester", Dir: t.TempDir(),
		Now: func() time.Time { return a.now },
		Getenv: func(k string) string {
			switch k {
			case "DINGBOOK_HOME":
				return a.home
			case "DINGBOOK_PASSPHRASE":
				return testPassphrase
			}
			return ""
		}}
	return a
}

// run runs a command and returns its exit code.
func (a *acctEnv) run(args ...string) int {
	a.out.Reset()
	a.errb.Reset()
	return Main(context.Background(), args, a.Env)
}

// must runs a command that must succeed.
func (a *acctEnv) must(args ...string) []byte {
	a.t.Helper()
	if code := a.run(args...); code != 0 {
		a.t.Fatalf("%v: exit %d\n%s", args, code, a.errb)
	}
	return slices.Clone(a.out.Bytes())
}

func (a *acctEnv) db() *store.DB {
	a.t.Helper()
	db, err := store.Open(context.Background(), a.home)
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { db.Close() })
	return db
}

// uniquePeople returns active people whose mobile and e-mail nobody else
// in org has, and one inactive person.
func uniquePeople(org *dingbook.Org) (active []dingbook.Person, inactive dingbook.Person) {
	mob, mail := map[string]int{}, map[string]int{}
	for _, p := range org.People {
		mob[p.Mobile]++
		mail[strings.ToLower(p.Email)]++
	}
	for _, p := range org.People {
		if p.UserID == "" || p.Mobile == "" || p.Email == "" || mob[p.Mobile] > 1 || mail[strings.ToLower(p.Email)] > 1 {
			continue
		}
		if p.Active {
			active = append(active, p)
		} else if inactive.UserID == "" {
			inactive = p
		}
	}
	return active, inactive
}

func (a *acctEnv) export(args ...string) ExportSummary {
	a.t.Helper()
	var sum ExportSummary
	if err := json.Unmarshal(a.must(withGov(append([]string{"export", "--json", "--out", "out"}, args...)...)...), &sum); err != nil {
		a.t.Fatal(err)
	}
	return sum
}

func whoHas(t *testing.T, a *acctEnv, q string) account.WhoHasResult {
	t.Helper()
	var res account.WhoHasResult
	b := a.must("audit", "who-has", q, "--json")
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("who-has %s: %v\n%s", q, err, b)
	}
	// The contract: exactly these keys.
	var raw struct {
		Person   string           `json:"person"`
		Holdings []map[string]any `json:"holdings"`
	}
	json.Unmarshal(b, &raw)
	for _, h := range raw.Holdings {
		var keys []string
		for k := range h {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"expires_at", "fields", "id", "kind", "purged", "purpose", "recipient", "time"}; !slices.Equal(keys, want) {
			t.Fatalf("who-has --json holding keys %v, want %v", keys, want)
		}
	}
	return res
}

func TestWhoHas(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 60, Seed: 11})
	saveSnapshot(t, a.Env, truth.Org)
	active, inactive := uniquePeople(&truth.Org)
	if len(active) < 2 || inactive.UserID == "" {
		t.Fatalf("the generated org lacks unique people: %d active, inactive %q", len(active), inactive.UserID)
	}
	x := active[0]

	// Three bundles; the first expires in an hour and is purged.
	e1 := a.export("--format", "csv", "--profile", "contact", "--keep", "1h")
	a.now = a.now.Add(10 * time.Minute)
	e2 := a.export("--format", "jsonl", "--profile", "contact")
	a.now = a.now.Add(10 * time.Minute)
	e3 := a.export("--format", "xlsx", "--profile", "minimal", "--recipient", "PT Mitra Payroll", "--contract", "DPA-7", "--consent-ref", "CONS-3")
	a.now = a.now.Add(2 * time.Hour)
	a.must("purge")

	// A grant and a card share, recorded through the store as the server
	// will record them.
	db := a.db()
	key, err := store.HolderKey(a.home)
	if err != nil {
		t.Fatal(err)
	}
	h := store.NewHasher(key)
	for _, g := range []struct {
		kind, ref string
		who       []dingbook.Person
	}{{store.KindGrant, "grant-1", []dingbook.Person{x, active[1]}}, {store.KindShare, "share-1", []dingbook.Person{x}}} {
		var sums []uint64
		for _, p := range g.who {
			sums = append(sums, h.Sum(p.UserID))
		}
		if err := db.AddHolding(context.Background(), &store.Holding{Kind: g.kind, Ref: g.ref, Time: a.now, Purpose: "server " + g.kind,
			Recipient: "card app", Fields: []string{"name", "mobile"}, Expires: a.now.Add(24 * time.Hour)}, sums); err != nil {
			t.Fatal(err)
		}
	}

	type got struct {
		kind, id string
		purged   bool
	}
	want := []got{{"export", e1.ExportID, true}, {"export", e2.ExportID, false}, {"export", e3.ExportID, false}, {"grant", "grant-1", false}, {"share", "share-1", false}}
	for _, q := range []string{x.UserID, x.Mobile, "+" + nonEmptyStr(x.StateCode, "86") + " " + x.Mobile, strings.ToUpper(x.Email)} {
		res := whoHas(t, a, q)
		var g []got
		for _, h := range res.Holdings {
			g = append(g, got{h.Kind, h.ID, h.Purged})
		}
		if res.Person != x.UserID || !slices.Equal(g, want) {
			t.Fatalf("who-has %q: person %q, holdings %+v, want %q %+v", q, res.Person, g, x.UserID, want)
		}
		if r := res.Holdings[2]; r.Recipient != "PT Mitra Payroll" || !slices.Equal(r.Fields, []string{"name", "dept", "title", "telephone", "org_email", "job_number"}) || r.Purpose != "unit test" || r.ExpiresAt == "" {
			t.Fatalf("who-has holding %+v", r)
		}
	}
	// Someone in no holding: in the snapshot, never exported (inactive).
	if res := whoHas(t, a, inactive.UserID); res.Person != inactive.UserID || len(res.Holdings) != 0 {
		t.Fatalf("who-has for a person in nothing: %+v", res)
	}
	if res := whoHas(t, a, "nobody-at-all"); len(res.Holdings) != 0 {
		t.Fatalf("who-has for an unknown id: %+v", res)
	}
	// --since leaves out what came before.
	if res := whoHas(t, a, x.UserID); len(res.Holdings) != 5 {
		t.Fatal(res)
	}
	a.must("audit", "who-has", x.UserID, "--since", "1h", "--json")
	var recent account.WhoHasResult
	json.Unmarshal(a.out.Bytes(), &recent)
	if len(recent.Holdings) != 2 {
		t.Fatalf("--since 1h: %+v", recent.Holdings)
	}

	// The store holds keyed hashes: not the userids, and useless without
	// the key.
	rows, err := db.QueryContext(context.Background(), `SELECT hashes FROM holding_hash`)
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		blobs = append(blobs, b)
	}
	rows.Close()
	has := func(v uint64) bool {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], v)
		for _, b := range blobs {
			for i := 0; i+8 <= len(b); i += 8 {
				if bytes.Equal(b[i:i+8], k[:]) {
					return true
				}
			}
		}
		return false
	}
	plain := sha256.Sum256([]byte(x.UserID))
	other := hmac.New(sha256.New, bytes.Repeat([]byte{7}, 32))
	other.Write([]byte(x.UserID))
	switch {
	case len(blobs) == 0:
		t.Fatal("no hashes stored")
	case bytes.Contains(bytes.Join(blobs, nil), []byte(x.UserID)):
		t.Fatal("a userid is stored in the clear")
	case has(binary.BigEndian.Uint64(plain[:])) || has(binary.BigEndian.Uint64(other.Sum(nil))):
		t.Fatal("the stored hashes match without the key")
	case !has(h.Sum(x.UserID)):
		t.Fatal("the stored hashes do not match with the key")
	}
	if st, err := os.Stat(filepath.Join(a.home, store.HolderKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("holders.key: %v %v", st, err)
	}
	// The key never goes into a bundle.
	files, dir := unbundle(t, e2.Bundle)
	_ = files
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if b, _ := os.ReadFile(p); info != nil && !info.IsDir() && bytes.Contains(b, key) {
			t.Fatalf("%s holds the holder key", p)
		}
		return nil
	})
}

func nonEmptyStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestSubjectReport(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 30, Seed: 3})
	saveSnapshot(t, a.Env, truth.Org)
	active, _ := uniquePeople(&truth.Org)
	x := active[0]
	e := a.export("--format", "csv", "--profile", "contact")
	for lang, want := range map[string][]string{
		"en": {"What we hold about you", "Who received your data", x.Name, x.Mobile, e.ExportID, "unit test", "must be deleted by"},
		"id": {"Data Anda yang kami simpan", "Siapa yang menerima", x.Name, e.ExportID, "wajib dihapus paling lambat"},
		"zh": {"我们持有的您的个人信息", "提供给了谁", x.Name, e.ExportID, "应删除期限"},
	} {
		text := string(a.must("audit", "subject-report", x.UserID, "--lang", lang))
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Fatalf("subject-report --lang %s lacks %q:\n%s", lang, w, text)
			}
		}
	}
	recs, _ := audit.List(context.Background(), a.db(), audit.Filter{Action: account.ActionSubjectReport})
	if len(recs) != 3 || strings.Contains(recs[0].Details["person_hmac"], x.UserID) {
		t.Fatalf("subject reports recorded: %+v", recs)
	}
	if code := a.run("audit", "subject-report", x.UserID, "--lang", "fr"); code != ExitUsage {
		t.Fatalf("--lang fr: exit %d", code)
	}
}

func TestAuditExportVerifiesElsewhere(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 20, Seed: 5})
	saveSnapshot(t, a.Env, truth.Org)
	a.export("--format", "csv")
	a.export("--format", "jsonl", "--profile", "contact")
	out := filepath.Join(a.Dir, "audit.jsonl")
	a.must("audit", "export", "--format", "jsonl", "--out", out)
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("audit export file: %v %v", st, err)
	}
	// An auditor's own check, in Python: every hash recomputed, every
	// link followed, the last line's head matched.
	script := `
import hashlib, json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
head, recs = lines[-1], lines[:-1]
prev = recs[0]["prev_hash"]
for r in recs:
    assert r["prev_hash"] == prev, r["seq"]
    h = hashlib.sha256(b"dingbook-audit-v1\x00" + str(r["seq"]).encode() + b"\x00" + r["prev_hash"].encode() + b"\x00" + r["data"].encode()).hexdigest()
    assert h == r["hash"], r["seq"]
    prev = h
assert head["head"]["hash"] == prev and head["records"] == len(recs), head
print(len(recs), head["retention"])
`
	py, err := exec.Command("/usr/bin/python3", "-c", script, out).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 check of the exported chain: %v\n%s", err, py)
	}
	if !strings.Contains(string(py), "1096d") {
		t.Fatalf("python3: %s", py)
	}
	// A tampered line fails the same check.
	b, _ := os.ReadFile(out)
	bad := bytes.Replace(b, []byte(`\"rows\":`), []byte(`\"rows\":1`), 1)
	os.WriteFile(out, bad, 0o600)
	if _, err := exec.Command("/usr/bin/python3", "-c", script, out).CombinedOutput(); err == nil {
		t.Fatal("the python check passed a tampered export")
	}
}
