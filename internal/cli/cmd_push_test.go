package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/sink/gsheets"
	"github.com/dingbook/dingbook/sink/gsheets/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

const pushPolicy = `company: PT Contoh
country: ID
sheets:
  allowed_domains: [contoh.co.id]
  processor_contract: "Workspace DPA 2026-01"
  cross_border_ref: "XB-2026-03"
`

// pushEnv is exportEnv plus the Google simulator, a service-account key
// for it and a policy that allows pushes.
func pushEnv(t *testing.T) (*Env, *bytes.Buffer, *bytes.Buffer, *sim.Server) {
	t.Helper()
	env, out, errb := exportEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Options{Now: func() time.Time { return env.Now() }})
	s.AddServiceAccount("sync@p.iam.gserviceaccount.com", &key.PublicKey, "admin@contoh.co.id")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	keyPath := filepath.Join(t.TempDir(), "key.json")
	os.WriteFile(keyPath, sim.KeyJSON("sync@p.iam.gserviceaccount.com", srv.URL+"/token", key), 0o600)
	home := env.Getenv("DINGBOOK_HOME")
	os.WriteFile(filepath.Join(home, "policy.yaml"), []byte(pushPolicy), 0o600)
	base := env.Getenv
	env.Getenv = func(k string) string {
		switch k {
		case gsheets.CredentialsEnv:
			return keyPath
		case gsheets.SheetsBaseEnv, gsheets.DriveBaseEnv:
			return srv.URL
		}
		return base(k)
	}
	return env, out, errb, s
}

func runPushJSON(t *testing.T, env *Env, out *bytes.Buffer, args ...string) PushSummary {
	t.Helper()
	out.Reset()
	if err := Main(context.Background(), append([]string{"push", "--json", "--purpose", "phones stay current", "--impersonate", "admin@contoh.co.id"}, args...), env); err != 0 {
		t.Fatalf("push %v: exit %d: %s", args, err, env.Stderr.(*bytes.Buffer))
	}
	if keys := jsonKeys(t, out.Bytes()); keys != "added,changed,reads,removed,rows,sharing,spreadsheet_id,writes" {
		t.Fatalf("--json keys %v", keys)
	}
	var s PushSummary
	json.Unmarshal(out.Bytes(), &s)
	return s
}

// governedRows is the view push must produce: active people, the
// policy's default (minimal) fields, as export computes them.
func governedRows(t *testing.T, org *dingbook.Org) [][]string {
	fields := dingbook.Profiles["minimal"]
	rows := [][]string{append([]string{gsheets.KeyHeader}, export.Headers(fields, "zh")...)}
	_, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{Fields: fields, HideHiddenMobiles: true,
		Rows: func(userid string, cells []string) error {
			rows = append(rows, append([]string{app.KeyHash(org.CorpID, userid)}, cells...))
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func sameRows(t *testing.T, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("sheet has %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g := append([]string(nil), got[i]...)
		for len(g) < len(want[i]) {
			g = append(g, "")
		}
		if !slices.Equal(g, want[i]) {
			t.Fatalf("row %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func lastAudit(t *testing.T, env *Env) audit.Record {
	t.Helper()
	db, err := store.Open(context.Background(), env.Getenv("DINGBOOK_HOME"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := audit.List(context.Background(), db, audit.Filter{Action: audit.ActionPush})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no push records: %v", err)
	}
	return recs[len(recs)-1]
}

func TestPushCommand(t *testing.T) {
	env, out, errb, s := pushEnv(t)
	truth := gen.Generate(gen.Options{Users: 150, Seed: 9})
	org := truth.Org
	saveSnapshot(t, env, org)

	// First push: a new sheet with exactly the governed rows.
	sum := runPushJSON(t, env, out, "--sheets-create", "Direktori Kontak")
	want := governedRows(t, &org)
	active := 0
	for _, p := range org.People {
		if p.Active {
			active++
		}
	}
	if sum.SpreadsheetID == "" || sum.Rows != active || sum.Added != active || len(want) != active+1 {
		t.Fatalf("first push %+v (active %d)", sum, active)
	}
	sameRows(t, s.Strings(sum.SpreadsheetID), want)
	id := sum.SpreadsheetID
	rec := lastAudit(t, env)
	if rec.Outcome != audit.OutcomeOK || rec.Details["spreadsheet_id"] != id || rec.Rows != active || rec.Expires == nil ||
		!slices.Equal(rec.Fields, dingbook.Profiles["minimal"]) || !strings.Contains(rec.Details["sharing"], "user:owner:admin@contoh.co.id") {
		t.Fatalf("audit record %+v", rec)
	}

	// Nothing changed: nothing written.
	sum = runPushJSON(t, env, out, "--sheets", id)
	if sum.Writes != 0 || sum.Added+sum.Changed+sum.Removed != 0 {
		t.Fatalf("unchanged push %+v", sum)
	}

	// One person changes title, one leaves: at most 2 writes.
	var changed, left string
	org2 := org
	org2.People = nil
	for _, p := range org.People {
		switch {
		case p.Active && changed == "":
			changed = p.UserID
			p.Title = "=HYPERLINK(\"http://x\")"
		case p.Active && left == "":
			left = p.UserID
			continue
		}
		org2.People = append(org2.People, p)
	}
	saveSnapshot(t, env, org2)
	// --dry-run shows the change and writes nothing.
	sum = runPushJSON(t, env, out, "--sheets", id, "--dry-run")
	if sum.Changed != 1 || sum.Removed != 1 || sum.Writes != 0 {
		t.Fatalf("dry run %+v", sum)
	}
	sameRows(t, s.Strings(id), want)
	sum = runPushJSON(t, env, out, "--sheets", id)
	if sum.Changed != 1 || sum.Removed != 1 || sum.Added != 0 || sum.Writes > 2 {
		t.Fatalf("diff push %+v", sum)
	}
	want2 := governedRows(t, &org2)
	sameRows(t, s.Strings(id), want2)
	for _, r := range s.Values(id) {
		for _, c := range r {
			if c.Kind != "string" && c.Kind != "" {
				t.Fatalf("a %s cell: %q", c.Kind, c.Value)
			}
		}
	}

	// Shared with anyone: refused, exit 6, audited with the sharing.
	s.Share(id, sim.Permission{Type: "anyone", Role: "reader"})
	errb.Reset()
	code := Main(context.Background(), []string{"push", "--sheets", id, "--purpose", "phones", "--impersonate", "admin@contoh.co.id"}, env)
	if code != 6 || !strings.Contains(errb.String(), "anyone:reader") {
		t.Fatalf("anyone: exit %d: %s", code, errb)
	}
	rec = lastAudit(t, env)
	if rec.Outcome != audit.OutcomeRefused || !strings.Contains(rec.Details["sharing"], "anyone:reader") || rec.Details["writes"] != "0" {
		t.Fatalf("refusal record %+v", rec)
	}
	sameRows(t, s.Strings(id), want2)

	// A sheet without the marker: refused.
	foreign := s.NewSpreadsheet("admin@contoh.co.id", "Team", [][]string{{"x"}})
	code = Main(context.Background(), []string{"push", "--sheets", foreign, "--purpose", "phones", "--impersonate", "admin@contoh.co.id"}, env)
	if code != 6 || lastAudit(t, env).Outcome != audit.OutcomeRefused {
		t.Fatalf("foreign: exit %d", code)
	}
	if got := s.Strings(foreign); len(got) != 1 || got[0][0] != "x" {
		t.Fatalf("foreign sheet written: %v", got)
	}
}

func TestPushPolicyRefusals(t *testing.T) {
	env, out, errb, s := pushEnv(t)
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 20, Seed: 2}).Org)
	home := env.Getenv("DINGBOOK_HOME")
	run := func(args ...string) int {
		errb.Reset()
		return Main(context.Background(), append([]string{"push", "--impersonate", "admin@contoh.co.id"}, args...), env)
	}
	// No purpose.
	if code := run("--sheets-create", "x"); code != 6 || !strings.Contains(errb.String(), "purpose") {
		t.Fatalf("no purpose: %d %s", code, errb)
	}
	// A domain outside the allowed list.
	sum := runPushJSON(t, env, out, "--sheets-create", "x")
	s.Share(sum.SpreadsheetID, sim.Permission{Type: "domain", Role: "reader", Domain: "other.example"})
	s.Share(sum.SpreadsheetID, sim.Permission{Type: "user", Role: "reader", EmailAddress: "staf@contoh.co.id"})
	if code := run("--sheets", sum.SpreadsheetID, "--purpose", "p"); code != 6 || !strings.Contains(errb.String(), "domain:reader:other.example") || strings.Contains(errb.String(), "staf@") {
		t.Fatalf("other domain: %d %s", code, errb)
	}
	// No processor contract in the policy.
	os.WriteFile(filepath.Join(home, "policy.yaml"), []byte("country: ID\n"), 0o600)
	if code := run("--sheets-create", "y", "--purpose", "p"); code != 6 || !strings.Contains(errb.String(), "processor contract") {
		t.Fatalf("no contract: %d %s", code, errb)
	}
	// A contract but a transfer abroad without its reference.
	os.WriteFile(filepath.Join(home, "policy.yaml"), []byte("country: CN\nsheets:\n  processor_contract: DPA\n"), 0o600)
	if code := run("--sheets-create", "y", "--purpose", "p"); code != 6 || !strings.Contains(errb.String(), "cross-border") {
		t.Fatalf("cross-border: %d %s", code, errb)
	}
	// Sensitive fields need an impact assessment (--pia), as for export.
	os.WriteFile(filepath.Join(home, "policy.yaml"), []byte("country: CN\nsheets:\n  processor_contract: DPA\n  cross_border_ref: SCC-1\n"), 0o600)
	if code := run("--sheets-create", "z", "--purpose", "p", "--fields", "name,remark", "--justify", "j"); code != 6 || !strings.Contains(errb.String(), "impact assessment first: sensitive") {
		t.Fatalf("sensitive without --pia: %d %s", code, errb)
	}
	if code := run("--sheets-create", "z", "--purpose", "p", "--fields", "name,remark", "--justify", "j", "--pia", "PIA-1"); code != 0 {
		t.Fatalf("sensitive with --pia: %d %s", code, errb)
	}
	// Flags.
	if code := run("--purpose", "p"); code != 2 {
		t.Fatalf("no target: %d", code)
	}
	if code := run("--sheets", "a", "--sheets-create", "b", "--purpose", "p"); code != 2 {
		t.Fatalf("both targets: %d", code)
	}
	if len(s.Files()) != 2 {
		t.Errorf("%d files created, want 2", len(s.Files()))
	}
}

func TestPurgeClearsExpiredSheet(t *testing.T) {
	env, out, errb, s := pushEnv(t)
	org := gen.Generate(gen.Options{Users: 30, Seed: 5}).Org
	saveSnapshot(t, env, org)
	id := runPushJSON(t, env, out, "--sheets-create", "x").SpreadsheetID
	purge := func(args ...string) string {
		out.Reset()
		errb.Reset()
		if code := Main(context.Background(), append([]string{"purge"}, args...), env); code != 0 {
			t.Fatalf("purge %v: exit %d: %s", args, code, errb)
		}
		return out.String()
	}
	// Within the retention (policy default 30d): nothing to clear.
	if got := purge("--dry-run"); strings.Contains(got, id) {
		t.Fatalf("cleared too early: %s", got)
	}
	start := env.Now()
	env.Now = func() time.Time { return start.Add(31 * 24 * time.Hour) }
	if got := purge("--dry-run"); !strings.Contains(got, "would delete sheet "+id) {
		t.Fatalf("dry run: %s", got)
	}
	if n := len(s.Values(id)); n < 2 {
		t.Fatalf("dry run cleared the sheet: %d rows", n)
	}
	purge()
	want := governedRows(t, &org)
	sameRows(t, s.Strings(id), want[:1]) // the header stays
	recs := func() []audit.Record {
		db, _ := store.Open(context.Background(), env.Getenv("DINGBOOK_HOME"))
		defer db.Close()
		r, _ := audit.List(context.Background(), db, audit.Filter{Action: audit.ActionPurge})
		return r
	}
	r := recs()
	if len(r) != 1 || r[0].Details["kind"] != "sheet" || r[0].Details["spreadsheet_id"] != id || r[0].Rows != len(want)-1 {
		t.Fatalf("purge records %+v", r)
	}
	// Cleared once: the next purge has nothing to do.
	if got := purge(); strings.Contains(got, id) {
		t.Fatalf("cleared twice: %s", got)
	}
	// A new push fills the sheet again and starts a new retention.
	runPushJSON(t, env, out, "--sheets", id)
	sameRows(t, s.Strings(id), want)
	if got := purge(); strings.Contains(got, id) {
		t.Fatalf("cleared a fresh push: %s", got)
	}
}

// TestSimServesGoogle runs "dingbook sim --google-key" and pushes to it
// with the variables it prints, as a person would in two terminals.
func TestSimServesGoogle(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "sa.json")
	base, _, _, stop := runSimCmd(t, "--users", "30", "--google-key", keyPath, "--google-subject", "admin@contoh.co.id")
	defer stop()
	st, err := os.Stat(keyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	env, out, errb := exportEnv(t)
	os.WriteFile(filepath.Join(env.Getenv("DINGBOOK_HOME"), "policy.yaml"), []byte(pushPolicy), 0o600)
	env.Now = time.Now // the simulator runs on the real clock
	baseEnv := env.Getenv
	env.Getenv = func(k string) string {
		switch k {
		case gsheets.CredentialsEnv:
			return keyPath
		case gsheets.SheetsBaseEnv, gsheets.DriveBaseEnv:
			return base
		}
		return baseEnv(k)
	}
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 30, Seed: 1}).Org)
	sum := runPushJSON(t, env, out, "--sheets-create", "demo")
	if sum.SpreadsheetID == "" || sum.Added == 0 {
		t.Fatalf("push to dingbook sim: %+v %s", sum, errb)
	}
}

// TestPushHiddenMobilesAndDept: the contact profile with --justify, hidden
// mobiles left out, --dept limiting the rows, every cell a string.
func TestPushHiddenMobilesAndDept(t *testing.T) {
	env, out, _, s := pushEnv(t)
	org := gen.Generate(gen.Options{Users: 200, Depts: 12, Seed: 3}).Org
	saveSnapshot(t, env, org)
	byKey := map[string]dingbook.Person{}
	for _, p := range org.People {
		byKey[app.KeyHash(org.CorpID, p.UserID)] = p
	}
	sum := runPushJSON(t, env, out, "--sheets-create", "x", "--profile", "contact", "--justify", "staff call each other")
	rows := s.Strings(sum.SpreadsheetID)
	mobileCol := slices.Index(rows[0], export.Headers([]string{"mobile"}, "zh")[0])
	hiddenSeen, shown := 0, 0
	for _, r := range rows[1:] {
		p, ok := byKey[r[0]]
		if !ok || !p.Active {
			t.Fatalf("row %q is not an active person", r)
		}
		cell := ""
		if mobileCol < len(r) {
			cell = r[mobileCol]
		}
		switch {
		case p.HideMobile && p.Mobile != "":
			hiddenSeen++
			if cell != "" {
				t.Fatalf("%s hid their mobile, the sheet shows %q", p.UserID, cell)
			}
		case p.Mobile != "":
			shown++
			if cell != export.ConsoleMobile(&p) {
				t.Fatalf("%s: mobile %q, want %q", p.UserID, cell, export.ConsoleMobile(&p))
			}
		}
	}
	if hiddenSeen == 0 || shown == 0 {
		t.Fatalf("the org has %d hidden and %d shown mobiles among the rows: the test proves nothing", hiddenSeen, shown)
	}

	// --dept: only that department's subtree.
	dept := org.Depts[1]
	in := map[int64]bool{}
	for _, id := range dingbook.NewTree(org.Depts).Descendants(dept.ID) {
		in[id] = true
	}
	want := 0
	for _, p := range org.People {
		if p.Active && slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return in[m.DeptID] }) {
			want++
		}
	}
	sum = runPushJSON(t, env, out, "--sheets", sum.SpreadsheetID, "--profile", "contact", "--justify", "j", "--dept", strconv.FormatInt(dept.ID, 10))
	if sum.Rows != want || want == 0 || want == len(rows)-1 || len(s.Strings(sum.SpreadsheetID)) != want+1 {
		t.Fatalf("--dept %d: %+v, want %d rows", dept.ID, sum, want)
	}
}

// jsonKeys lists the keys of the JSON object b, sorted and joined with ",".
func jsonKeys(t *testing.T, b []byte) string {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("--json: %v: %s", err, b)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
