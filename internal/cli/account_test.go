package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
	home      string
	now       time.Time
	out, errb *bytes.Buffer
	t         *testing.T
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
	table := string(a.must("audit", "who-has", x.Email))
	for _, w := range []string{"KIND", e1.ExportID + " ", "grant-1", "share-1", "PT Mitra Payroll", "true"} {
		if !strings.Contains(table, w) {
			t.Fatalf("who-has table lacks %q:\n%s", w, table)
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
	// Read every hash blob with the real sqlite3 program.
	hexes, err := exec.Command("sqlite3", filepath.Join(a.home, store.DBName), "SELECT hex(hashes) FROM holding_hash;").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 (Debian package sqlite3): %v %s", err, hexes)
	}
	var blobs [][]byte
	for _, line := range strings.Fields(string(hexes)) {
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	if len(blobs) == 0 {
		t.Fatal("no holding hashes stored")
	}
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

func TestBreach(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 40, Seed: 21})
	saveSnapshot(t, a.Env, truth.Org)
	active, _ := uniquePeople(&truth.Org)
	if len(active) < 4 {
		t.Fatal("too few people")
	}
	affected := active[:3]
	db := a.db()
	key, _ := store.HolderKey(a.home)
	h := store.NewHasher(key)
	var sums []uint64
	for _, p := range affected {
		sums = append(sums, h.Sum(p.UserID))
	}
	sums = append(sums, h.Sum("someone-who-left"))
	if err := db.AddHolding(context.Background(), &store.Holding{Kind: store.KindGrant, Ref: "grant-9", Time: a.now.Add(-time.Hour), Purpose: "payroll vendor download",
		Recipient: "PT Gaji", Fields: []string{"name", "mobile", "email"}, Expires: a.now.Add(48 * time.Hour)}, sums); err != nil {
		t.Fatal(err)
	}
	discovered := a.now.Add(-2 * time.Hour)
	var start BreachStartSummary
	if err := json.Unmarshal(a.must("breach", "start", "--grant", "grant-9", "--discovered-at", discovered.Format(time.RFC3339),
		"--description", "download link posted in a public chat group", "--json"), &start); err != nil {
		t.Fatal(err)
	}
	if start.People != 4 || !slices.Equal(start.Fields, []string{"name", "mobile", "email"}) || start.Deadline != discovered.Add(72*time.Hour).UTC().Format(time.RFC3339) || !strings.HasPrefix(start.ID, "inc-") {
		t.Fatalf("breach start: %+v", start)
	}
	// Revoked: the holding says so, and who-has still lists it.
	g, err := db.FindHolding(context.Background(), store.KindGrant, "grant-9")
	if err != nil || g.Revoked == nil {
		t.Fatalf("grant not revoked: %+v %v", g, err)
	}
	// The clock, 10 hours later.
	a.now = a.now.Add(10 * time.Hour)
	a.must("breach", "list")
	if !strings.Contains(a.out.String(), start.ID) || !strings.Contains(a.out.String(), "60.0h left") {
		t.Fatalf("breach list:\n%s", a.out)
	}
	items := []string{
		"en:1. Personal data involved", "en:2. When and how", "en:3. Cause", "en:4. Possible consequences", "en:5. Remedies", "en:6. What the affected people can do", "en:7. Contact", "en:60.0 hours left", "en:Mobile",
		"id:Data pribadi yang terungkap", "id:Kapan dan bagaimana", "id:Penyebab", "id:Kemungkinan akibat", "id:Upaya penanganan dan pemulihan", "id:Kontak", "id:sisa 60.0 jam",
		"zh:涉及的个人信息种类", "zh:发生时间与经过", "zh:原因", "zh:可能造成的危害", "zh:补救措施", "zh:个人可采取", "zh:联系方式", "zh:剩余 60.0 小时", "zh:手机",
	}
	out := filepath.Join(a.Dir, "notices")
	for _, lang := range account.Langs {
		var rep account.Report
		if err := json.Unmarshal(a.must("breach", "report", start.ID, "--lang", lang, "--out", out, "--json"), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.People != 3 || rep.Unresolved != 1 || rep.HoursLeft != 60 || len(rep.Files) != 3 {
			t.Fatalf("report %s: %+v", lang, rep)
		}
		auth, _ := os.ReadFile(filepath.Join(out, "incident-"+start.ID+"-authority."+lang+".txt"))
		for _, it := range items {
			if l, text, _ := strings.Cut(it, ":"); l == lang && !strings.Contains(string(auth), text) {
				t.Fatalf("authority notice (%s) lacks %q:\n%s", lang, text, auth)
			}
		}
		if !strings.Contains(string(auth), "download link posted in a public chat group") || !strings.Contains(string(auth), "grant-9") {
			t.Fatalf("authority notice (%s) lacks the how:\n%s", lang, auth)
		}
		notice, _ := os.ReadFile(filepath.Join(out, "incident-"+start.ID+"-notice."+lang+".txt"))
		if !strings.Contains(string(notice), "«name»") {
			t.Fatalf("person notice (%s) has no mail-merge placeholder:\n%s", lang, notice)
		}
	}
	// The mail-merge list: exactly the affected people, 0600.
	csvPath := filepath.Join(out, "incident-"+start.ID+"-people.csv")
	st, err := os.Stat(csvPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("people.csv: %v %v", st, err)
	}
	b, _ := os.ReadFile(csvPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\r\n")
	if len(lines) != 4 {
		t.Fatalf("people.csv has %d lines:\n%s", len(lines), b)
	}
	for _, p := range affected {
		if !strings.Contains(string(b), `"`+p.UserID+`","`+p.Name+`","`+p.Email+`"`) {
			t.Fatalf("people.csv lacks %s:\n%s", p.UserID, b)
		}
	}
	if strings.Contains(string(b), active[3].UserID) {
		t.Fatal("people.csv lists someone not affected")
	}
	// All of it is in the audit chain, which still verifies.
	recs, _ := audit.List(context.Background(), db, audit.Filter{Action: account.ActionBreachStart})
	if len(recs) != 1 || recs[0].Details["incident"] != start.ID || recs[0].Details["revoked"] != "grant grant-9" || recs[0].Rows != 4 {
		t.Fatalf("breach-start record: %+v", recs)
	}
	if recs, _ := audit.List(context.Background(), db, audit.Filter{Action: account.ActionBreachReport}); len(recs) != 3 {
		t.Fatalf("breach-report records: %d", len(recs))
	}
	a.must("audit", "verify")
	// Past the deadline the clock says so.
	a.now = a.now.Add(70 * time.Hour)
	a.must("breach", "list")
	if !strings.Contains(a.out.String(), "OVERDUE 10.0h") {
		t.Fatalf("breach list after the deadline:\n%s", a.out)
	}
	// Closing takes it off the list (not off the record).
	if code := a.run("breach", "close", start.ID); code != ExitUsage || !strings.Contains(a.errb.String(), "--reason") {
		t.Fatalf("close without a reason: %d %s", code, a.errb)
	}
	a.must("breach", "close", start.ID, "--reason", "authority and 3 people notified")
	a.must("breach", "list")
	if strings.Contains(a.out.String(), start.ID) {
		t.Fatalf("a closed incident is listed:\n%s", a.out)
	}
	a.must("breach", "list", "--all")
	if !strings.Contains(a.out.String(), start.ID) {
		t.Fatalf("breach list --all lacks the closed incident:\n%s", a.out)
	}
	if code := a.run("breach", "close", start.ID, "--reason", "again"); code != ExitUsage {
		t.Fatalf("closing twice: %d", code)
	}
	if recs, _ := audit.List(context.Background(), db, audit.Filter{Action: account.ActionBreachClose}); len(recs) != 1 || recs[0].Reason != "authority and 3 people notified" {
		t.Fatalf("breach-close records: %+v", recs)
	}
	// Bad input names the flag.
	if code := a.run("breach", "start", "--bundle", "nope", "--discovered-at", "yesterday", "--description", "x"); code != ExitUsage || !strings.Contains(a.errb.String(), "--discovered-at") {
		t.Fatalf("bad --discovered-at: %d %s", code, a.errb)
	}
	if code := a.run("breach", "start", "--bundle", "nope", "--discovered-at", "2026-11-26 09:00", "--description", "x"); code != ExitNotFound {
		t.Fatalf("unknown bundle: %d %s", code, a.errb)
	}
	if code := a.run("breach", "start", "--bundle", "b", "--grant", "g", "--discovered-at", "2026-11-26 09:00", "--description", "x"); code != ExitUsage || !strings.Contains(a.errb.String(), "give one of") {
		t.Fatalf("two items: %d %s", code, a.errb)
	}
	if code := a.run("breach", "start", "--grant", "grant-9", "--discovered-at", a.now.Add(time.Hour).Format(time.RFC3339), "--description", "x"); code != ExitUsage || !strings.Contains(a.errb.String(), "in the future") {
		t.Fatalf("future discovery: %d %s", code, a.errb)
	}
	if code := a.run("breach"); code != ExitUsage || !strings.Contains(a.errb.String(), "start|report|list|close") {
		t.Fatalf("breach without a subcommand: %d %s", code, a.errb)
	}
	if code := a.run("consent", "frob"); code != ExitUsage || !strings.Contains(a.errb.String(), `unknown consent subcommand "frob"`) {
		t.Fatalf("consent frob: %d %s", code, a.errb)
	}
	if code := a.run("audit", "frob"); code != ExitUsage || !strings.Contains(a.errb.String(), `unknown audit subcommand "frob"`) || !strings.Contains(a.errb.String(), "|who-has|subject-report|export'") {
		t.Fatalf("audit frob: %d %s", code, a.errb)
	}
}

func TestBreachOnBundle(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 25, Seed: 8})
	saveSnapshot(t, a.Env, truth.Org)
	e := a.export("--format", "csv", "--profile", "contact")
	var start BreachStartSummary
	json.Unmarshal(a.must("breach", "start", "--bundle", e.ExportID, "--discovered-at", a.now.Format(time.RFC3339), "--description", "laptop stolen", "--json"), &start)
	if start.People != e.Rows || !slices.Equal(start.Fields, e.Fields) {
		t.Fatalf("breach on bundle: %+v, export %d rows %v", start, e.Rows, e.Fields)
	}
}

const transferPolicy = `company: 示例科技有限公司 / PT Contoh Indonesia
dpo_contact: dpo@example.com
country: CN
pia:
  large_scale: 30
  references:
    - {ref: PIA-OLD, expires: 2026-01-01}
    - {ref: PIA-OK, expires: 2027-12-31}
`

func TestTransferRefusals(t *testing.T) {
	a := newAcctEnv(t)
	os.MkdirAll(a.home, 0o700)
	os.WriteFile(filepath.Join(a.home, "policy.yaml"), []byte(transferPolicy), 0o600)
	truth := gen.Generate(gen.Options{Users: 40, Seed: 2})
	saveSnapshot(t, a.Env, truth.Org)
	base := []string{"export", "--purpose", "vendor onboarding", "--format", "csv", "--out", "out", "--json"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"external recipient without contract", []string{"--recipient", "PT Mitra Payroll", "--consent-ref", "C-1", "--pia", "PIA-OK"}, "no contract reference"},
		{"external recipient without consent", []string{"--recipient", "PT Mitra Payroll", "--contract", "DPA-1", "--pia", "PIA-OK"}, "separate consent"},
		{"cross-border without mechanism", []string{"--recipient-country", "ID", "--contract", "SCC-1", "--consent-ref", "C-2", "--pia", "PIA-OK"}, "needs a transfer mechanism"},
		{"cross-border with an unknown mechanism", []string{"--recipient-country", "ID", "--mechanism", "handshake", "--contract", "X", "--consent-ref", "C-2", "--pia", "PIA-OK"}, "not accepted"},
		{"cross-border without consent", []string{"--recipient-country", "ID", "--mechanism", "standard-contract", "--contract", "SCC-1", "--pia", "PIA-OK"}, "separate consent"},
		{"sensitive field without PIA", []string{"--fields", "name,remark", "--justify", "needed", "--include-inactive", "--dept", "1"}, "impact assessment first: sensitive"},
		{"cross-border without PIA", []string{"--recipient-country", "ID", "--mechanism", "standard-contract", "--contract", "SCC-1", "--consent-ref", "C-2"}, "impact assessment first: cross-border"},
		{"large scale without PIA", []string{"--include-inactive"}, "impact assessment first: large-scale (40 people, more than 30)"},
		{"expired PIA", []string{"--fields", "name,remark", "--justify", "needed", "--pia", "PIA-OLD"}, `impact assessment "PIA-OLD" expired on 2026-01-01`},
		{"unknown PIA", []string{"--fields", "name,remark", "--justify", "needed", "--pia", "PIA-NEW"}, "is not listed in the policy"},
	}
	for i, c := range cases {
		if code := a.run(append(slices.Clone(base), c.args...)...); code != ExitPolicy || !strings.Contains(a.errb.String(), c.want) {
			t.Fatalf("%s: exit %d, want %d with %q:\n%s", c.name, code, ExitPolicy, c.want, a.errb)
		}
		recs, err := audit.List(context.Background(), a.db(), audit.Filter{Action: "export"})
		if err != nil {
			t.Fatal(err)
		}
		var refused []audit.Record
		for _, r := range recs {
			if r.Outcome == audit.OutcomeRefused {
				refused = append(refused, r)
			}
		}
		if len(refused) != i+1 || !strings.Contains(refused[i].Reason, c.want) {
			t.Fatalf("%s: refusal not audited: %d refusals, last %+v", c.name, len(refused), refused[len(refused)-1])
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(a.Dir, "out")); len(ents) != 0 {
		t.Fatalf("a refused export left files: %v", ents)
	}
	// With every reference the same transfer goes, and the manifest,
	// NOTICE and audit record carry them.
	var sum ExportSummary
	if err := json.Unmarshal(a.must(append(slices.Clone(base), "--recipient", "PT Mitra Payroll", "--recipient-country", "ID", "--mechanism", "standard-contract",
		"--contract", "SCC-2026-04", "--consent-ref", "CONS-88", "--pia", "PIA-OK", "--include-inactive")...), &sum); err != nil {
		t.Fatal(err)
	}
	_, dir := unbundle(t, sum.Bundle)
	man, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	notice, _ := os.ReadFile(filepath.Join(dir, "NOTICE.txt"))
	for _, w := range []string{`"recipient": "PT Mitra Payroll"`, `"recipient_country": "ID"`, `"mechanism": "standard-contract"`, `"contract": "SCC-2026-04"`, `"consent_ref": "CONS-88"`, `"pia": "PIA-OK"`} {
		if !strings.Contains(string(man), w) {
			t.Fatalf("manifest lacks %s:\n%s", w, man)
		}
	}
	for _, w := range []string{"Recipient: PT Mitra Payroll; country: ID; contract/mechanism: standard-contract SCC-2026-04; consent: CONS-88; impact assessment: PIA-OK", "Penerima: PT Mitra Payroll", "接收方：PT Mitra Payroll"} {
		if !strings.Contains(string(notice), w) {
			t.Fatalf("NOTICE lacks %s:\n%s", w, notice)
		}
	}
	r, _ := audit.Get(context.Background(), a.db(), sum.AuditSeq)
	if r.Recipient != "PT Mitra Payroll" || r.RecipientCountry != "ID" || r.Contract != "SCC-2026-04" || r.Mechanism != "standard-contract" || r.ConsentRef != "CONS-88" || r.PIA != "PIA-OK" {
		t.Fatalf("audit record: %+v", r)
	}
	// The company itself (either of its names) is no external recipient.
	a.must("export", "--purpose", "internal", "--format", "csv", "--out", "own", "--recipient", "PT Contoh Indonesia", "--pia", "PIA-OK")
	// A policy below three years of audit retention is refused.
	os.WriteFile(filepath.Join(a.home, "policy.yaml"), []byte(transferPolicy+"audit_retention: 365d\n"), 0o600)
	if code := a.run("policy", "check", filepath.Join(a.home, "policy.yaml")); code == 0 || !strings.Contains(a.errb.String()+a.out.String(), "shorter than the 3 years") {
		t.Fatalf("audit_retention 365d: exit %d %s %s", code, a.out, a.errb)
	}
}

func TestConsentJob(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 40, Seed: 9})
	saveSnapshot(t, a.Env, truth.Org)
	active, _ := uniquePeople(&truth.Org)
	x, y, z := active[0], active[1], active[2]
	csvFile := filepath.Join(a.Dir, "consents.csv")
	os.WriteFile(csvFile, []byte("person,purpose,state,time,reference,fields\r\n"+
		x.UserID+",Staff App,given,2026-10-01,F-1,\r\n"+
		y.UserID+",staff app,given,2026-10-01,F-2,\r\n"+
		z.UserID+",staff app,given,2026-10-01,F-3,name dept\r\n"+
		y.UserID+",staff app,withdrawn,2026-11-01T09:00:00Z,F-2b,\r\n"), 0o600)
	a.must("consent", "import", csvFile)
	a.must("consent", "list", "--purpose", "staff app", "--profile", "contact", "--json")
	var list []ConsentListItem
	json.Unmarshal(a.out.Bytes(), &list)
	states := map[string]string{}
	for _, c := range list {
		states[c.Person] = c.State + map[bool]string{true: "+reconsent"}[c.Reconsent]
	}
	if states[x.UserID] != "given" || states[y.UserID] != "withdrawn" || states[z.UserID] != "given+reconsent" {
		t.Fatalf("consent list: %v", states)
	}
	args := []string{"export", "--basis", "consent", "--purpose", "Staff  App", "--format", "xlsx,csv", "--profile", "contact", "--justify", "app", "--out", "c", "--json"}
	var s ExportSummary
	if err := json.Unmarshal(a.must(args...), &s); err != nil {
		t.Fatal(err)
	}
	if s.Quality == nil || s.Quality.People != s.Rows {
		t.Fatalf("the quality report of a consent job covers %+v people, want the %d exported", s.Quality, s.Rows)
	}
	if s.Rows != 1 || s.LeftOut.NoConsent == 0 || !strings.Contains(a.errb.String(), fmt.Sprintf("left out %d people without a current consent", s.LeftOut.NoConsent)) {
		t.Fatalf("consent job: rows %d, left out %+v\n%s", s.Rows, s.LeftOut, a.errb)
	}
	if res := whoHas(t, a, x.UserID); len(res.Holdings) != 1 || res.Holdings[0].ID != s.ExportID {
		t.Fatalf("the consenting person is not in the consent job: %+v", res)
	}
	for _, p := range []dingbook.Person{y, z} {
		for _, h := range whoHas(t, a, p.UserID).Holdings {
			if h.ID == s.ExportID {
				t.Fatalf("%s (withdrawn or needing re-consent) is in the consent job", p.UserID)
			}
		}
	}
	r, _ := audit.Get(context.Background(), a.db(), s.AuditSeq)
	if r.Details["left_out_no_consent"] != strconv.Itoa(s.LeftOut.NoConsent) || r.Details["needs_reconsent"] != "1" {
		t.Fatalf("consent job audit details: %v", r.Details)
	}
	// A withdrawal from the command line takes x out too.
	a.must("consent", "withdraw", x.UserID, "--purpose", "staff app", "--reference", "mail 12")
	json.Unmarshal(a.must(append(args[:len(args)-3], "--out", "d", "--json")...), &s)
	if s.Rows != 0 {
		t.Fatalf("after withdrawal: %d rows", s.Rows)
	}
	// R-RECONSENT: a consent given to a profile covers its fields as they
	// were; when the policy changes the profile, the person needs fresh
	// consent and is left out.
	a.now = a.now.Add(24 * time.Hour)
	os.WriteFile(csvFile, []byte("person,purpose,state,time,reference,profile\r\n"+x.UserID+",staff app,given,2026-11-27,F-9,contact\r\n"), 0o600)
	a.must("consent", "import", csvFile)
	json.Unmarshal(a.must(append(args[:len(args)-3], "--out", "e", "--json")...), &s)
	if s.Rows != 1 {
		t.Fatalf("consent to the contact profile: %d rows", s.Rows)
	}
	os.MkdirAll(a.home, 0o700)
	os.WriteFile(filepath.Join(a.home, "policy.yaml"), []byte("profiles:\n  contact: [name, dept, title, mobile, telephone, email, org_email, job_number, work_place]\n"), 0o600)
	a.must("consent", "list", "--purpose", "staff app", "--profile", "contact")
	if !strings.Contains(a.out.String(), x.UserID) || !strings.Contains(a.out.String(), "needed") {
		t.Fatalf("consent list after the profile changed:\n%s", a.out)
	}
	json.Unmarshal(a.must(append(args[:len(args)-3], "--out", "f", "--json")...), &s)
	r, _ = audit.Get(context.Background(), a.db(), s.AuditSeq)
	if s.Rows != 0 || r.Details["needs_reconsent"] != "2" {
		t.Fatalf("after the profile changed: %d rows, details %v", s.Rows, r.Details)
	}
	// A bad consent file names the row and column.
	os.WriteFile(csvFile, []byte("person,purpose,state,time,reference\r\nu1,app,maybe,2026-10-01,\r\n"), 0o600)
	if code := a.run("consent", "import", csvFile); code != ExitUsage || !strings.Contains(a.errb.String(), "row 2: column state") {
		t.Fatalf("bad consent file: %d %s", code, a.errb)
	}
}

func TestWipe(t *testing.T) {
	a := newAcctEnv(t)
	truth := gen.Generate(gen.Options{Users: 30, Seed: 6, CorpName: "示例科技"})
	truth.Org.CorpID = "ding-corp-77"
	saveSnapshot(t, a.Env, truth.Org)
	// Bundles inside the state directory too, so the scan sees them.
	var bundles []string
	for _, f := range []string{"csv", "jsonl"} {
		var s ExportSummary
		json.Unmarshal(a.must(withGov("export", "--json", "--format", f, "--out", filepath.Join(a.home, "bundles"))...), &s)
		bundles = append(bundles, s.Bundle)
	}
	// A temporary directory left by a killed export.
	os.MkdirAll(filepath.Join(a.home, "tmp", "export-123", "data"), 0o700)
	os.WriteFile(filepath.Join(a.home, "tmp", "export-123", "data", "x.csv"), []byte(truth.Org.People[0].Name), 0o600)
	a.must("audit", "verify")

	if code := a.run("wipe", "--all", "--confirm", "someone-else"); code != ExitUsage {
		t.Fatalf("wipe with the wrong tenant: exit %d", code)
	}
	if code := a.run("wipe", "--confirm", "ding-corp-77"); code != ExitUsage {
		t.Fatalf("wipe without --all: exit %d", code)
	}
	var res account.WipeResult
	if err := json.Unmarshal(a.must("wipe", "--all", "--confirm", "ding-corp-77", "--json"), &res); err != nil {
		t.Fatal(err)
	}
	if res.Snapshots != 1 || res.People != 30 || res.Bundles != 2 || res.TmpEntries != 1 || res.HeadHash == "" || res.HeadHash == res.HeadBefore {
		t.Fatalf("wipe: %+v", res)
	}
	// Nothing but the database, its head anchor and the holder key (and
	// the empty bundle folder) is left, and the database holds nobody.
	var left []string
	filepath.Walk(a.home, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(a.home, p)
			left = append(left, rel)
		}
		return nil
	})
	slices.Sort(left)
	for _, f := range left {
		switch f {
		case store.DBName, store.DBName + "-wal", store.DBName + "-shm", audit.HeadFile, store.HolderKeyFile:
		default:
			t.Fatalf("wipe left %s (all: %v)", f, left)
		}
	}
	var data []byte
	for _, f := range left {
		b, _ := os.ReadFile(filepath.Join(a.home, f))
		data = append(data, b...)
	}
	for _, p := range truth.Org.People[:10] {
		for _, v := range []string{p.Name, p.Mobile, p.Email} {
			if v != "" && bytes.Contains(data, []byte(v)) {
				t.Fatalf("the state directory still holds %q after the wipe", v)
			}
		}
	}
	for _, b := range bundles {
		if _, err := os.Stat(b); err == nil {
			t.Fatalf("bundle %s survived", b)
		}
	}
	// The chain is intact and ends with the wipe record.
	a.must("audit", "verify", "--head", res.HeadHash)
	recs, _ := audit.List(context.Background(), a.db(), audit.Filter{Action: account.ActionWipe})
	if len(recs) != 1 || recs[0].Hash != res.HeadHash || recs[0].Details["head_before"] != res.HeadBefore || recs[0].Details["bundles"] != "2" {
		t.Fatalf("wipe record: %+v", recs)
	}
	if snaps, err := a.db().Snapshots(context.Background()); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after wipe: %v %v", snaps, err)
	}
}

// People from a member file without userids are recorded by mobile (or
// e-mail), and found by it.
func TestWhoHasConvertWithoutUserIDs(t *testing.T) {
	a := newAcctEnv(t)
	in := filepath.Join(a.Dir, "m.csv")
	os.WriteFile(in, []byte("姓名,手机,邮箱\r\n张三,13800138000,zhang@example.com\r\n李四,13900139000,\r\n王五,,wang@example.com\r\n"), 0o600)
	var sum ExportSummary
	if err := json.Unmarshal(a.must(withGov("convert", in, filepath.Join(a.Dir, "c.vcf"), "--json")...), &sum); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"13800138000": 1, "+86 139 0013 9000": 1, "WANG@example.com": 1, "13700137000": 0, "nobody@example.com": 0} {
		res := whoHas(t, a, q)
		if len(res.Holdings) != want || want == 1 && (res.Holdings[0].ID != sum.ExportID || res.Holdings[0].Kind != "export") {
			t.Fatalf("who-has %q after convert: %+v, want %d holding(s) of %s", q, res.Holdings, want, sum.ExportID)
		}
	}
	h, err := a.db().FindHolding(context.Background(), store.KindExport, sum.ExportID)
	if err != nil || h.People != 3 {
		t.Fatalf("convert holding: %+v %v", h, err)
	}
}
