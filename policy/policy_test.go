package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
)

func TestDefaults(t *testing.T) {
	p := Default()
	if p.DefaultProfile != "minimal" || p.AllowUnencrypted || p.AllowHiddenMobiles || p.DefaultBasis != "hr-management" {
		t.Fatalf("unsafe defaults: %+v", p)
	}
	if time.Duration(p.Retention.Max) != 90*24*time.Hour || time.Duration(p.Retention.Default) != 30*24*time.Hour {
		t.Fatalf("retention %+v", p.Retention)
	}
	for _, prof := range []string{"minimal", "contact", "full"} {
		if !p.ProfileAllowed(prof) {
			t.Errorf("profile %s not allowed", prof)
		}
	}
	if !p.NeedsJustification("mobile") || !p.NeedsJustification("remark") || !p.NeedsJustification("extension.爱好") || p.NeedsJustification("title") {
		t.Fatal("justification classes wrong")
	}
	if !p.FieldAllowed("mobile") || !p.FieldAllowed("extension.爱好") {
		t.Fatal("field allowance wrong: full profile fields (custom fields included) allowed")
	}
	p.AllowedProfiles = []string{"minimal", "contact"}
	if p.FieldAllowed("extension.爱好") || p.FieldAllowed("remark") || !p.FieldAllowed("mobile") {
		t.Fatal("without full, custom fields and remark must be refused")
	}
	if !p.ActorAllowed("anyone") {
		t.Fatal("default policy should allow any OS user")
	}
	if p.Hash == "" || Default().Hash != p.Hash {
		t.Fatal("default hash unstable")
	}
	dir := t.TempDir()
	got, err := Load(filepath.Join(dir, "policy.yaml"), true)
	if err != nil || got.Hash != p.Hash {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.yaml"), false); err == nil {
		t.Fatal("explicit missing policy accepted")
	}
}

func TestParseKeep(t *testing.T) {
	good := map[string]time.Duration{"30d": 30 * 24 * time.Hour, "72h": 72 * time.Hour, "2w": 14 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute}
	for s, want := range good {
		if d, err := ParseKeep(s); err != nil || d != want {
			t.Errorf("ParseKeep(%q) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"forever", "", "0d", "-3d", "abc", "10y", "0"} {
		if _, err := ParseKeep(s); err == nil {
			t.Errorf("ParseKeep(%q) accepted", s)
		}
	}
	if FormatKeep(30*24*time.Hour) != "30d" || FormatKeep(5*time.Hour) != "5h" {
		t.Fatal("FormatKeep")
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	doc := `company: PT Contoh Indonesia / 示例科技
dpo_contact: dpo@example.com
allowed_profiles: [minimal, contact, hr]
profiles:
  hr: [name, dept, hired_date, extension.工牌]
allowed_fields: [name, dept, title, telephone, org_email, job_number, mobile, email, hired_date, "extension.*"]
sensitive_fields: [title]
retention: {default: 7d, max: 2w}
snapshot_keep: 90d
allow_unencrypted: true
default_basis: contract
exporters: [hr-admin]
`
	os.WriteFile(path, []byte(doc), 0o600)
	p, err := Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Company != "PT Contoh Indonesia / 示例科技" || !p.AllowUnencrypted || p.DefaultBasis != "contract" || p.Source != path {
		t.Fatalf("%+v", p)
	}
	if time.Duration(p.Retention.Max) != 14*24*time.Hour || time.Duration(p.SnapshotKeep) != 90*24*time.Hour {
		t.Fatalf("retention %+v keep %v", p.Retention, p.SnapshotKeep)
	}
	if !p.FieldAllowed("extension.工牌") || p.FieldAllowed("remark") || !p.NeedsJustification("title") {
		t.Fatal("field rules")
	}
	if p.ActorAllowed("mallory") || !p.ActorAllowed("hr-admin") {
		t.Fatal("exporters")
	}
	if f, _ := p.ProfileFields("minimal"); len(f) != len(dingbook.Profiles["minimal"]) {
		t.Fatal("built-in profile lost")
	}
	if p.Hash == Default().Hash {
		t.Fatal("file hash equals default hash")
	}
	// Show/parse round trip: the rendered YAML loads again.
	p2, problems := Parse(p.YAML())
	if len(problems) > 0 || p2.Company != p.Company || p2.Retention != p.Retention {
		t.Fatalf("round trip: %v", problems)
	}
}

func TestProblemsHaveLines(t *testing.T) {
	doc := `company: X
allowed_profiles: [minimal, secret]
retention:
  default: 100d
  max: 30d
default_basis: because
unknown_key: 1
profiles:
  contact: [name, shoe_size]
`
	_, problems := Parse([]byte(doc))
	want := map[int]string{2: `profile "secret" is not defined`, 3: "longer than max", 7: "unknown_key", 9: `unknown field "shoe_size"`}
	for line, text := range want {
		found := false
		for _, p := range problems {
			if p.Line == line && strings.Contains(p.Message, text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem at line %d containing %q; got %v", line, text, problems)
		}
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte(doc), 0o600)
	_, err := Load(path, false)
	if err == nil || !strings.Contains(err.Error(), path+": line 2:") || dingbook.ErrorHint(err) == "" {
		t.Fatalf("Load error: %v", err)
	}
	if _, problems := Parse([]byte("retention: {max: forever}\n")); len(problems) != 1 || problems[0].Line != 1 || !strings.Contains(problems[0].Message, "forever") {
		t.Fatalf("forever: %v", problems)
	}
	if _, problems := Parse([]byte("company: [unclosed\n")); len(problems) == 0 || problems[0].Line == 0 {
		t.Fatalf("syntax error: %v", problems)
	}
}

func TestSheetsPolicy(t *testing.T) {
	p := Default()
	// Safe defaults: nothing shared, no contract, Google counted abroad.
	if p.Sheets.ProcessorContract != "" || len(p.Sheets.AllowedDomains)+len(p.Sheets.AllowedEmails) != 0 ||
		p.Sheets.ProcessorCountry != "US" || time.Duration(p.Sheets.Keep) != 30*24*time.Hour || !p.CrossBorder() {
		t.Fatalf("sheets defaults %+v", p.Sheets)
	}
	for _, c := range [][3]string{{"anyone", "", ""}, {"domain", "contoh.co.id", ""}, {"user", "", "a@contoh.co.id"}} {
		if p.ShareAllowed(c[0], c[1], c[2]) {
			t.Errorf("default policy allows %v", c)
		}
	}
	src := "country: us\nretention: {default: 10d, max: 20d}\nsheets:\n  allowed_domains: [Contoh.co.id]\n  allowed_emails: [Auditor@partner.example]\n  processor_contract: DPA-1\n"
	q, problems := Parse([]byte(src))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if q.CrossBorder() || time.Duration(q.Sheets.Keep) != 10*24*time.Hour {
		t.Errorf("country US and Google in US is not cross-border; keep follows retention.default: %+v", q.Sheets)
	}
	cases := []struct {
		typ, domain, email string
		ok                 bool
	}{
		{"anyone", "", "", false},
		{"domain", "contoh.co.id", "", true},
		{"domain", "other.example", "", false},
		{"user", "", "staf@CONTOH.co.id", true},
		{"group", "", "all@contoh.co.id", true},
		{"user", "", "auditor@partner.example", true},
		{"user", "", "someone@partner.example", false},
		{"user", "", "contoh.co.id", false},
	}
	for _, c := range cases {
		if got := q.ShareAllowed(c.typ, c.domain, c.email); got != c.ok {
			t.Errorf("ShareAllowed(%s, %s, %s) = %v", c.typ, c.domain, c.email, got)
		}
	}
	_, problems = Parse([]byte("retention: {max: 20d}\nsheets:\n  allowed_domains: [\"@x.com\"]\n  allowed_emails: [nobody]\n  keep: 30d\n"))
	got := ""
	for _, pr := range problems {
		got += pr.String() + "\n"
	}
	for _, want := range []string{"line 3: sheets.allowed_domains", "line 4: sheets.allowed_emails", "line 5: sheets.keep 30d is longer than retention.max 20d"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if y := string(Default().YAML()); !strings.Contains(y, "sheets:") || !strings.Contains(y, "processor_country: US") {
		t.Errorf("policy show lacks the sheets section:\n%s", y)
	}
}

// snapshot_keep defaults to the retention maximum (snapshots are not kept
// forever), follows a file's own maximum, and is shown.
func TestSnapshotKeepDefault(t *testing.T) {
	if d := time.Duration(Default().SnapshotKeep); d != 90*24*time.Hour {
		t.Fatalf("default snapshot_keep %v", d)
	}
	p, problems := Parse([]byte("retention: {default: 7d, max: 14d}\n"))
	if len(problems) > 0 || time.Duration(p.SnapshotKeep) != 14*24*time.Hour {
		t.Fatalf("%v %v", problems, p.SnapshotKeep)
	}
	if !strings.Contains(string(p.YAML()), "snapshot_keep: 14d") {
		t.Fatalf("not shown:\n%s", p.YAML())
	}
}

// serve.quota_per_hour defaults to 200, follows the file, is shown by
// 'policy show', and a negative quota is a problem on its line.
func TestServeQuota(t *testing.T) {
	if q := Default().Serve.QuotaPerHour; q != 200 {
		t.Fatalf("default quota %d", q)
	}
	if y := string(Default().YAML()); !strings.Contains(y, "quota_per_hour: 200") {
		t.Fatalf("policy show lacks the quota:\n%s", y)
	}
	p, problems := Parse([]byte("serve:\n  quota_per_hour: 50\n"))
	if len(problems) > 0 || p.Serve.QuotaPerHour != 50 {
		t.Fatalf("%v %d", problems, p.Serve.QuotaPerHour)
	}
	_, problems = Parse([]byte("company: x\nserve:\n  quota_per_hour: -3\n"))
	if len(problems) != 1 || problems[0].Line != 3 || !strings.Contains(problems[0].Message, "serve.quota_per_hour -3") {
		t.Fatalf("negative quota: %v", problems)
	}
}

// serve.share_hours (a card's share link) defaults to 24, follows the
// file, is shown by 'policy show'; a negative or over a year is a problem
// on its line.
func TestServeShareHours(t *testing.T) {
	if h := Default().Serve.ShareHours; h != 24 {
		t.Fatalf("default share_hours %d", h)
	}
	if y := string(Default().YAML()); !strings.Contains(y, "share_hours: 24") {
		t.Fatalf("policy show lacks share_hours:\n%s", y)
	}
	p, problems := Parse([]byte("serve:\n  share_hours: 2\n"))
	if len(problems) > 0 || p.Serve.ShareHours != 2 {
		t.Fatalf("%v %d", problems, p.Serve.ShareHours)
	}
	for _, bad := range []string{"-1", "8761"} {
		_, problems = Parse([]byte("company: x\nserve:\n  share_hours: " + bad + "\n"))
		if len(problems) != 1 || problems[0].Line != 3 || !strings.Contains(problems[0].Message, "serve.share_hours "+bad) {
			t.Errorf("share_hours %s: %v", bad, problems)
		}
	}
}

// requests.max_days and requests.two_approvers_over default to 3 and
// 500, follow the file, are shown by 'policy show'; negatives are
// problems on their lines.
func TestRequestRules(t *testing.T) {
	if r := Default().Requests; r.MaxDays != 3 || r.TwoApproversOver != 500 {
		t.Fatalf("defaults %+v", r)
	}
	if y := string(Default().YAML()); !strings.Contains(y, "max_days: 3") || !strings.Contains(y, "two_approvers_over: 500") {
		t.Fatalf("policy show lacks the request rules:\n%s", y)
	}
	p, problems := Parse([]byte("requests:\n  max_days: 7\n  two_approvers_over: 20\n"))
	if len(problems) > 0 || p.Requests.MaxDays != 7 || p.Requests.TwoApproversOver != 20 {
		t.Fatalf("%v %+v", problems, p.Requests)
	}
	_, problems = Parse([]byte("company: x\nrequests:\n  max_days: -1\n  two_approvers_over: -5\n"))
	if len(problems) != 2 || problems[0].Line != 3 || problems[1].Line != 4 || !strings.Contains(problems[0].Message, "requests.max_days -1") {
		t.Fatalf("negatives: %v", problems)
	}
}

// serve.pull_daily_at is a 24-hour HH:MM time; anything else is a problem
// on its line.
func TestServePullDailyAt(t *testing.T) {
	p, problems := Parse([]byte("serve:\n  pull_daily_at: \"02:30\"\n"))
	if h, m, ok := p.Serve.PullTime(); len(problems) > 0 || h != 2 || m != 30 || !ok {
		t.Fatalf("%v %d:%d %v", problems, h, m, ok)
	}
	if _, _, ok := Default().Serve.PullTime(); ok {
		t.Fatal("the defaults schedule a pull")
	}
	for _, bad := range []string{"2:30", "25:00", "02:60", "daily", "02:30:00"} {
		_, problems := Parse([]byte("serve:\n  pull_daily_at: \"" + bad + "\"\n"))
		if len(problems) != 1 || problems[0].Line != 2 || !strings.Contains(problems[0].Message, "pull_daily_at") {
			t.Errorf("%q: %v", bad, problems)
		}
	}
}

// serve.approvers, serve.auditors, the session limits and
// sub_admins_may_pull: defaults, the file's values, and a bad entry named
// on its line.
func TestServeRolesAndSessions(t *testing.T) {
	d := Default()
	if time.Duration(d.Serve.SessionIdle) != 30*time.Minute || time.Duration(d.Serve.SessionAbsolute) != 12*time.Hour ||
		len(d.Serve.Approvers) != 0 || len(d.Serve.Auditors) != 0 || !d.Serve.SubAdminsPull() {
		t.Fatalf("defaults: %+v", d.Serve)
	}
	if time.Duration(d.Serve.RevisionsKeep) != 30*24*time.Hour || !strings.Contains(string(d.YAML()), "revisions_keep: 30d") {
		t.Errorf("serve.revisions_keep's default: %v\n%s", time.Duration(d.Serve.RevisionsKeep), d.YAML())
	}
	if p, problems := Parse([]byte("serve:\n  revisions_keep: 7d\n")); len(problems) > 0 || time.Duration(p.Serve.RevisionsKeep) != 7*24*time.Hour {
		t.Errorf("serve.revisions_keep 7d: %v %v", time.Duration(p.Serve.RevisionsKeep), problems)
	}
	if y := string(d.YAML()); !strings.Contains(y, "session_idle: 30m") || !strings.Contains(y, "session_absolute: 12h") {
		t.Fatalf("policy show lacks the session limits:\n%s", y)
	}
	p, problems := Parse([]byte("serve:\n  approvers: [dpo01, hr02]\n  auditors: [aud01]\n  session_idle: 15m\n  session_absolute: 8h\n  sub_admins_may_pull: false\n"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if strings.Join(p.Serve.Approvers, ",") != "dpo01,hr02" || strings.Join(p.Serve.Auditors, ",") != "aud01" ||
		time.Duration(p.Serve.SessionIdle) != 15*time.Minute || time.Duration(p.Serve.SessionAbsolute) != 8*time.Hour || p.Serve.SubAdminsPull() {
		t.Fatalf("parsed: %+v", p.Serve)
	}
	for doc, want := range map[string]string{
		"company: x\nserve:\n  approvers: [ok1, \"bad one\"]\n": `line 3: serve.approvers: "bad one" is not a DingTalk userid`,
		"serve:\n  auditors: [\"\"]\n":                          `line 2: serve.auditors: "" is not a DingTalk userid`,
		"serve:\n  session_idle: 13h\n":                         "line 2: serve.session_idle 13h is longer than serve.session_absolute 12h",
		"serve:\n  session_absolute: forever\n":                 "line 2:",
	} {
		_, problems := Parse([]byte(doc))
		if len(problems) != 1 || !strings.HasPrefix(problems[0].String(), want) {
			t.Errorf("%q: %v, want %q", doc, problems, want)
		}
	}
}

// serve.external_share_subdepartments defaults to true and follows the file.
func TestExternalShareSubdepartments(t *testing.T) {
	if !Default().Serve.ShareSubdepartments() {
		t.Error("default: sub-departments not included")
	}
	p, problems := Parse([]byte("serve:\n  external_share_subdepartments: false\n"))
	if len(problems) > 0 || p.Serve.ShareSubdepartments() {
		t.Fatalf("%v %v", problems, p.Serve.ShareSubdepartments())
	}
	p, problems = Parse([]byte("serve:\n  external_share_subdepartments: true\n"))
	if len(problems) > 0 || !p.Serve.ShareSubdepartments() {
		t.Fatalf("%v %v", problems, p.Serve.ShareSubdepartments())
	}
}

// requests.downloads defaults to 1 and requests.terms to the built-in
// version 1; a policy's own terms need a version and all three texts.
func TestGrantPolicy(t *testing.T) {
	if r := Default().Requests; r.Downloads != 1 || r.Terms != DefaultTerms || r.Terms.Version != "1" {
		t.Fatalf("defaults %+v", r)
	}
	p, problems := Parse([]byte("requests:\n  downloads: 2\n  terms:\n    version: \"2026-11\"\n    en: Keep it secret.\n    id: Rahasiakan.\n    zh: 请保密。\n"))
	if len(problems) > 0 || p.Requests.Downloads != 2 || p.Requests.Terms.Version != "2026-11" {
		t.Fatalf("%v %+v", problems, p.Requests)
	}
	if text, lang := p.Requests.Terms.Text("zh"); text != "请保密。" || lang != "zh" {
		t.Fatalf("zh terms %q %q", text, lang)
	}
	if text, lang := p.Requests.Terms.Text("fr"); text != "Keep it secret." || lang != "en" {
		t.Fatalf("fallback terms %q %q", text, lang)
	}
	_, problems = Parse([]byte("company: x\nrequests:\n  downloads: -1\n  terms:\n    version: \"2\"\n    en: only English\n"))
	if len(problems) != 2 || problems[0].Line != 3 || problems[1].Line != 4 || !strings.Contains(problems[1].Message, "requests.terms") {
		t.Fatalf("problems %+v", problems)
	}
}
