// Package policy reads dingbook's export policy: which profiles and fields
// may be exported, which legal bases are accepted, how long exports may be
// kept, whether unencrypted output or hidden mobiles are allowed, who may
// export, and the company name and DPO contact printed in notices.
//
// The policy is a YAML file at $DINGBOOK_HOME/policy.yaml or the path given
// with --policy. A missing file means Default(): the safe defaults. Load
// reports errors with line numbers. The policy's Hash lets the audit log
// notice when it changes.
//
// Example:
//
//	company: PT Contoh Indonesia / 示例科技有限公司
//	dpo_contact: dpo@example.com
//	default_profile: minimal
//	allowed_profiles: [minimal, contact]
//	profiles:
//	  contact: [name, dept, title, mobile, org_email]
//	sensitive_fields: [work_place]
//	retention: {default: 30d, max: 90d}
//	snapshot_keep: 90d    # default: retention.max; purge deletes older snapshots
//	allow_unencrypted: false
//	allow_hidden_mobiles: false
//	default_basis: hr-management
//	exporters: [hr-admin, alice]
//	country: ID
//	sheets:
//	  allowed_domains: [contoh.co.id]
//	  allowed_emails: [auditor@partner.example]
//	  processor_contract: "Google Workspace DPA, signed 2026-01-10"
//	  processor_country: US
//	  cross_border_ref: "UU PDP Art. 56 contract clauses, ref XB-2026-03"
//	  keep: 30d
package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"gopkg.in/yaml.v3"
)

// Bases are the accepted legal bases (PIPL Art. 13, UU PDP Art. 20).
var Bases = []string{"hr-management", "consent", "contract", "legal-obligation", "legitimate-interest"}

// FileName is the policy's name inside the state directory.
const FileName = "policy.yaml"

// Duration is a retention period written as 30d, 12h, 2w (or Go syntax
// such as 36h30m). "forever" and zero are refused.
type Duration time.Duration

// ParseKeep parses a retention period: a positive number followed by h
// (hours), d (days) or w (weeks), or a Go duration. "forever", "never",
// "0" and negative values are refused.
func ParseKeep(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	switch s {
	case "", "forever", "never", "infinite", "inf", "unlimited":
		return 0, fmt.Errorf("retention %q is not a period: give one such as 30d, 72h or 2w (keeping data forever is not allowed)", s)
	}
	unit := s[len(s)-1]
	var mult time.Duration
	switch unit {
	case 'd':
		mult = 24 * time.Hour
	case 'w':
		mult = 7 * 24 * time.Hour
	}
	if mult != 0 {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		// !(n > 0) also refuses NaN; a period that rounds to zero is
		// refused rather than replaced by the default.
		if err != nil || !(n > 0) || n > 36500 || time.Duration(n*float64(mult)) <= 0 {
			return 0, fmt.Errorf("retention %q is not a positive number of days or weeks, such as 30d or 2w", s)
		}
		return time.Duration(n * float64(mult)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q is not a period such as 30d, 72h or 2w", s)
	}
	return d, nil
}

// FormatKeep writes d as days when whole, else as hours.
func FormatKeep(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseKeep(n.Value)
	if err != nil {
		// A TypeError lets the decoder go on and report every problem.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return FormatKeep(time.Duration(d)), nil }

// MarshalJSON writes the period as text ("30d").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(FormatKeep(time.Duration(d))) }

// Retention is the default and maximum lifetime of an export.
type Retention struct {
	Default Duration `yaml:"default" json:"default"`
	Max     Duration `yaml:"max" json:"max"`
}

// Policy is a loaded export policy.
type Policy struct {
	Company    string `yaml:"company" json:"company"`
	DPOContact string `yaml:"dpo_contact" json:"dpo_contact"`
	// DefaultProfile is used when a command names no profile and no fields.
	DefaultProfile string `yaml:"default_profile" json:"default_profile"`
	// AllowedProfiles may be exported.
	AllowedProfiles []string `yaml:"allowed_profiles" json:"allowed_profiles"`
	// Profiles redefine or add named field sets (merged over
	// dingbook.Profiles).
	Profiles map[string][]string `yaml:"profiles,omitempty" json:"profiles"`
	// AllowedFields, when set, lists every field that may be exported
	// ("extension.*" allows all custom fields). When empty, the fields of
	// the allowed profiles may be exported (custom fields when "full" is
	// allowed, since the full profile includes them).
	AllowedFields []string `yaml:"allowed_fields,omitempty" json:"allowed_fields,omitempty"`
	// SensitiveFields marks more fields sensitive (they then need
	// --justify).
	SensitiveFields []string `yaml:"sensitive_fields,omitempty" json:"sensitive_fields,omitempty"`
	// JustifyClasses are the field classes that need --justify (default:
	// personal and sensitive). Work fields never need one.
	JustifyClasses []string  `yaml:"justify_classes,omitempty" json:"justify_classes"`
	Retention      Retention `yaml:"retention" json:"retention"`
	// SnapshotKeep is how long stored snapshots are kept: 'dingbook purge'
	// deletes older ones (the latest is always kept). Default: the
	// retention maximum, so a snapshot lives no longer than an export may.
	SnapshotKeep       Duration `yaml:"snapshot_keep" json:"snapshot_keep"`
	AllowUnencrypted   bool     `yaml:"allow_unencrypted" json:"allow_unencrypted"`
	AllowHiddenMobiles bool     `yaml:"allow_hidden_mobiles" json:"allow_hidden_mobiles"`
	DefaultBasis       string   `yaml:"default_basis" json:"default_basis"`
	// AllowedBases limits the legal bases (default: all of Bases).
	AllowedBases []string `yaml:"allowed_bases,omitempty" json:"allowed_bases"`
	// Exporters are the OS users who may export; empty means anyone.
	Exporters []string `yaml:"exporters,omitempty" json:"exporters,omitempty"`
	// Country is the company's country (ISO 3166-1 alpha-2, e.g. CN,
	// ID); a processor elsewhere means a cross-border transfer. Empty:
	// unknown, so every processor counts as cross-border.
	Country string `yaml:"country,omitempty" json:"country,omitempty"`
	// Sheets governs dingbook push --sheets.
	Sheets Sheets `yaml:"sheets" json:"sheets"`
	// Serve governs the portal of 'dingbook serve'.
	Serve Serve `yaml:"serve" json:"serve"`
	// Requests governs the portal's export requests.
	Requests Requests `yaml:"requests" json:"requests"`

	// Transfers (R-RECIPIENT, R-XBORDER, R-PIA-GATE, R-LOG-RETAIN): see
	// transfer.go; an export's --recipient-country is compared with Country.
	ExternalRecipients Recipients  `yaml:"external_recipients" json:"external_recipients"`
	XBorder            CrossBorder `yaml:"cross_border" json:"cross_border"`
	PIA                PIA         `yaml:"pia" json:"pia"`
	AuditRetention     Duration    `yaml:"audit_retention" json:"audit_retention"`

	// Source is the file the policy came from, or "built-in defaults".
	Source string `yaml:"-" json:"source"`
	// Hash is the SHA-256 (hex) of the file's bytes, or of the defaults.
	Hash string `yaml:"-" json:"hash"`
}

// Sheets governs pushes to Google Sheets. Google is a processor for the
// company: a push needs the processor contract's reference, and a
// cross-border reference when ProcessorCountry differs from the company's
// Country. Sharing is denied unless listed: never "anyone", a domain only
// when in AllowedDomains, a person or group only when in AllowedEmails or
// at an allowed domain.
type Sheets struct {
	AllowedDomains []string `yaml:"allowed_domains,omitempty" json:"allowed_domains"`
	AllowedEmails  []string `yaml:"allowed_emails,omitempty" json:"allowed_emails"`
	// ProcessorContract references the data-processing agreement with
	// Google (PIPL Art. 21, UU PDP Art. 51); required to push.
	ProcessorContract string `yaml:"processor_contract,omitempty" json:"processor_contract"`
	// ProcessorCountry is where Google processes the data (default US).
	ProcessorCountry string `yaml:"processor_country,omitempty" json:"processor_country"`
	// CrossBorderRef references the transfer mechanism and consent
	// (PIPL Art. 38/39, UU PDP Art. 56); required when the processor's
	// country differs from the company's.
	CrossBorderRef string `yaml:"cross_border_ref,omitempty" json:"cross_border_ref"`
	// Keep is how long pushed rows may stay in a sheet after the last
	// push (default: retention.default; at most retention.max); purge
	// then clears them.
	Keep Duration `yaml:"keep,omitempty" json:"keep"`
}

// DefaultQuotaPerHour is the portal's default quota of person views and
// searches per person and hour.
const DefaultQuotaPerHour = 200

// DefaultShareHours is how long a business card's share link works
// unless the policy says otherwise (serve.share_hours).
const DefaultShareHours = 24

// Serve governs the portal ('dingbook serve').
type Serve struct {
	// QuotaPerHour is how many person views and searches one person may
	// make in an hour of the clock (default 200); past it, browsing
	// pauses until the hour ends and their admins get a work notice.
	QuotaPerHour int `yaml:"quota_per_hour" json:"quota_per_hour"`
	// PullDailyAt is when 'dingbook serve' pulls every day ("02:00", the
	// server's local time); empty: no scheduled pull.
	PullDailyAt string `yaml:"pull_daily_at,omitempty" json:"pull_daily_at,omitempty"`
	// ShareHours is how long a business card's share link works (default
	// 24).
	ShareHours int `yaml:"share_hours" json:"share_hours"`
	// Approvers (DingTalk userids) may approve every export request, beside
	// the admins DingTalk names; the role never widens what they see in
	// the directory. Auditors may read the audit log (as the primary admin
	// may).
	Approvers []string `yaml:"approvers,omitempty" json:"approvers"`
	Auditors  []string `yaml:"auditors,omitempty" json:"auditors"`
	// SessionIdle and SessionAbsolute end a portal session after this long
	// without use (default 30m) or after login (default 12h).
	SessionIdle     Duration `yaml:"session_idle" json:"session_idle"`
	SessionAbsolute Duration `yaml:"session_absolute" json:"session_absolute"`
	// SubAdminsMayPull false narrows the sub-admins' rights: only the
	// primary admin (and the schedule) may then start a pull. Absent: true.
	// The policy can narrow DingTalk's admin rights, never widen them.
	SubAdminsMayPull *bool `yaml:"sub_admins_may_pull,omitempty" json:"sub_admins_may_pull,omitempty"`
	// ExternalShareSubdepartments: an external contact shared with a
	// department (share_dept_ids) is visible to the members of its
	// sub-departments too (absent: true; serve.md §B leaves DingTalk's
	// own rule unconfirmed).
	ExternalShareSubdepartments *bool `yaml:"external_share_subdepartments,omitempty" json:"external_share_subdepartments,omitempty"`
	// RevisionsKeep is how long the live directory's revisions (the
	// CardDAV sync tokens) are kept (default 30d): each complete pull
	// prunes older ones; a device whose token is older syncs afresh.
	RevisionsKeep Duration `yaml:"revisions_keep" json:"revisions_keep"`
}

// DefaultRevisionsKeep is how long the live directory's revisions are
// kept unless the policy says otherwise (serve.revisions_keep).
const DefaultRevisionsKeep = 30 * 24 * time.Hour

// Defaults of the portal's session limits.
const (
	DefaultSessionIdle     = 30 * time.Minute
	DefaultSessionAbsolute = 12 * time.Hour
)

// SubAdminsPull reports whether sub-admins may start a pull (the policy
// says nothing, or true).
func (s Serve) SubAdminsPull() bool { return s.SubAdminsMayPull == nil || *s.SubAdminsMayPull }

// badUserID reports whether a policy entry cannot be a DingTalk userid:
// empty, or with spaces, commas or control characters.
func badUserID(u string) bool {
	return u == "" || len(u) > 64 || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == ',' || r == 0x7f })
}

// ShareSubdepartments reports ExternalShareSubdepartments with its
// default (true).
func (s Serve) ShareSubdepartments() bool {
	return s.ExternalShareSubdepartments == nil || *s.ExternalShareSubdepartments
}

// PullTime returns PullDailyAt as hours and minutes (ok false when unset
// or malformed).
func (s Serve) PullTime() (hour, minute int, ok bool) {
	t, err := time.Parse("15:04", s.PullDailyAt)
	if err != nil || len(s.PullDailyAt) != 5 {
		return 0, 0, false
	}
	return t.Hour(), t.Minute(), true
}

// Defaults of the export requests' rules.
const (
	DefaultRequestMaxDays   = 3
	DefaultTwoApproversOver = 500
	DefaultGrantDownloads   = 1
)

// Requests governs export requests ('dingbook serve'): how many days a
// requester may ask for (default 3, the grant's 72 h), above how many
// people (default 500) two different approvers are needed, how many
// downloads a grant allows (default 1) and the confidentiality terms a
// grantee accepts before the download.
type Requests struct {
	MaxDays          int   `yaml:"max_days" json:"max_days"`
	TwoApproversOver int   `yaml:"two_approvers_over" json:"two_approvers_over"`
	Downloads        int   `yaml:"downloads" json:"downloads"`
	Terms            Terms `yaml:"terms" json:"terms"`
}

// Terms are the confidentiality terms in English, Indonesian and Chinese,
// with their version (an acceptance records both the version and the
// SHA-256 of the text shown). Absent: the built-in DefaultTerms.
type Terms struct {
	Version string `yaml:"version" json:"version"`
	EN      string `yaml:"en" json:"en"`
	ID      string `yaml:"id" json:"id"`
	ZH      string `yaml:"zh" json:"zh"`
}

// Text returns the terms in lang ("en", "id" or "zh"; anything else:
// English) and the language chosen.
func (t Terms) Text(lang string) (string, string) {
	switch lang {
	case "id":
		return t.ID, "id"
	case "zh":
		return t.ZH, "zh"
	}
	return t.EN, "en"
}

// DefaultTerms are the built-in confidentiality terms (version "1").
var DefaultTerms = Terms{
	Version: "1",
	EN: "I will use this address-book data only for the purpose stated in my request and approved. " +
		"I will keep it confidential and encrypted, will not copy it, pass it on, sell it or use it for marketing, " +
		"and will delete the file and every copy by its expiry. I will report a loss or suspected leak to the data protection officer at once.",
	ID: "Saya akan menggunakan data buku alamat ini hanya untuk tujuan yang dinyatakan dalam permintaan saya dan yang disetujui. " +
		"Saya akan menjaga kerahasiaannya dan menyimpannya terenkripsi, tidak akan menyalin, meneruskan, menjual, atau menggunakannya untuk pemasaran, " +
		"dan akan menghapus berkas beserta semua salinannya paling lambat pada tanggal kedaluwarsanya. Saya akan segera melaporkan kehilangan atau dugaan kebocoran kepada pejabat pelindungan data pribadi.",
	ZH: "本人仅将本通讯录数据用于申请中所述并经批准的目的。本人将对其保密并加密存放，不复制、不转交、不出售、不用于营销，" +
		"并在到期前删除该文件及其所有副本。如有遗失或疑似泄露，本人将立即报告个人信息保护负责人。",
}

// CrossBorder reports whether pushing to Google is a cross-border
// transfer under this policy.
func (p *Policy) CrossBorder() bool {
	return p.Country == "" || !strings.EqualFold(p.Country, p.Sheets.ProcessorCountry)
}

// ShareAllowed reports whether a permission of a pushed sheet is within
// the policy: typ is user, group, domain or anyone.
func (p *Policy) ShareAllowed(typ, domain, email string) bool {
	domainOK := func(d string) bool {
		return d != "" && slices.ContainsFunc(p.Sheets.AllowedDomains, func(a string) bool { return strings.EqualFold(a, d) })
	}
	switch typ {
	case "domain":
		return domainOK(domain)
	case "user", "group":
		if slices.ContainsFunc(p.Sheets.AllowedEmails, func(a string) bool { return strings.EqualFold(a, email) }) {
			return true
		}
		_, d, ok := strings.Cut(email, "@")
		return ok && domainOK(d)
	}
	return false // anyone, and any type Drive adds later
}

// Default returns the safe defaults used when no policy file exists.
func Default() *Policy {
	p := &Policy{}
	p.fill()
	p.Source = "built-in defaults"
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	p.Hash = hex.EncodeToString(sum[:])
	return p
}

func (p *Policy) fill() {
	if p.DefaultProfile == "" {
		p.DefaultProfile = "minimal"
	}
	if len(p.AllowedProfiles) == 0 {
		p.AllowedProfiles = []string{"minimal", "contact", "full"}
	}
	merged := map[string][]string{}
	for k, v := range dingbook.Profiles {
		merged[k] = slices.Clone(v)
	}
	for k, v := range p.Profiles {
		merged[k] = v
	}
	p.Profiles = merged
	if len(p.JustifyClasses) == 0 {
		p.JustifyClasses = []string{string(dingbook.ClassPersonal), string(dingbook.ClassSensitive)}
	}
	if p.Retention.Default == 0 {
		p.Retention.Default = Duration(30 * 24 * time.Hour)
	}
	if p.Retention.Max == 0 {
		p.Retention.Max = Duration(90 * 24 * time.Hour)
	}
	if p.SnapshotKeep == 0 {
		p.SnapshotKeep = p.Retention.Max
	}
	if p.DefaultBasis == "" {
		p.DefaultBasis = "hr-management"
	}
	if len(p.AllowedBases) == 0 {
		p.AllowedBases = slices.Clone(Bases)
	}
	if p.Company == "" {
		p.Company = "(company not set in policy.yaml)"
	}
	if p.DPOContact == "" {
		p.DPOContact = "(DPO contact not set in policy.yaml)"
	}
	if p.Sheets.ProcessorCountry == "" {
		p.Sheets.ProcessorCountry = "US"
	}
	if p.Serve.QuotaPerHour == 0 {
		p.Serve.QuotaPerHour = DefaultQuotaPerHour
	}
	if p.Serve.ShareHours == 0 {
		p.Serve.ShareHours = DefaultShareHours
	}
	if p.Serve.Approvers == nil {
		p.Serve.Approvers = []string{}
	}
	if p.Serve.Auditors == nil {
		p.Serve.Auditors = []string{}
	}
	if p.Serve.SessionIdle == 0 {
		p.Serve.SessionIdle = Duration(DefaultSessionIdle)
	}
	if p.Serve.SessionAbsolute == 0 {
		p.Serve.SessionAbsolute = Duration(DefaultSessionAbsolute)
	}
	if p.Serve.RevisionsKeep == 0 {
		p.Serve.RevisionsKeep = Duration(DefaultRevisionsKeep)
	}
	if p.Requests.MaxDays == 0 {
		p.Requests.MaxDays = DefaultRequestMaxDays
	}
	if p.Requests.TwoApproversOver == 0 {
		p.Requests.TwoApproversOver = DefaultTwoApproversOver
	}
	if p.Requests.Downloads == 0 {
		p.Requests.Downloads = DefaultGrantDownloads
	}
	if p.Requests.Terms == (Terms{}) {
		p.Requests.Terms = DefaultTerms
	}
	if p.Sheets.Keep == 0 {
		p.Sheets.Keep = p.Retention.Default
	}
	p.fillTransfers()
}

// Problem is one error found in a policy file.
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// Load reads the policy at path. A missing file gives Default() when
// missingOK is true (the $DINGBOOK_HOME/policy.yaml case) and an error
// otherwise (an explicit --policy). Every problem found is reported in one
// *dingbook.Error, each with its line number.
func Load(path string, missingOK bool) (*Policy, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && missingOK {
		return Default(), nil
	}
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read the policy file " + path, Hint: "check the policy file's path", Field: "policy", Err: err}
	}
	p, problems := Parse(b)
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, pr := range problems {
			lines[i] = path + ": " + pr.String()
		}
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "invalid policy file:\n" + strings.Join(lines, "\n"),
			Hint: "fix the policy file ('dingbook policy check " + path + "' lists every problem); see 'dingbook policy show' for the defaults"}
	}
	p.Source = path
	return p, nil
}

// Parse parses a policy document and validates it, returning every problem.
func Parse(b []byte) (*Policy, []Problem) {
	var problems []Problem
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, []Problem{yamlProblem(err)}
	}
	p := &Policy{}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(p); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				for _, e := range te.Errors {
					problems = append(problems, textProblem(e))
				}
			} else {
				problems = append(problems, yamlProblem(err))
			}
		}
	}
	line := func(key string) int { return keyLine(&root, key) }
	// Validate what the file says before defaults are filled in.
	for name, fields := range p.Profiles {
		if len(fields) == 0 {
			// "contact:" with its list mis-indented would empty the profile.
			problems = append(problems, Problem{keyLine(&root, "profiles", name), fmt.Sprintf("profile %q lists no fields", name)})
		}
		for _, f := range fields {
			if _, ok := dingbook.FieldByKey(f); !ok {
				problems = append(problems, Problem{keyLine(&root, "profiles", name), fmt.Sprintf("profile %q: unknown field %q", name, f)})
			}
		}
	}
	for _, f := range p.AllowedFields {
		if _, ok := dingbook.FieldByKey(f); !ok && f != "extension.*" {
			problems = append(problems, Problem{line("allowed_fields"), fmt.Sprintf("allowed_fields: unknown field %q", f)})
		}
	}
	for _, f := range p.SensitiveFields {
		if _, ok := dingbook.FieldByKey(f); !ok {
			problems = append(problems, Problem{line("sensitive_fields"), fmt.Sprintf("sensitive_fields: unknown field %q", f)})
		}
	}
	for _, c := range p.JustifyClasses {
		if c != string(dingbook.ClassPersonal) && c != string(dingbook.ClassSensitive) && c != string(dingbook.ClassWork) {
			problems = append(problems, Problem{line("justify_classes"), fmt.Sprintf("justify_classes: unknown class %q (use personal, sensitive, work)", c)})
		}
	}
	for _, b := range p.AllowedBases {
		if !slices.Contains(Bases, b) {
			problems = append(problems, Problem{line("allowed_bases"), fmt.Sprintf("allowed_bases: unknown legal basis %q (use %s)", b, strings.Join(Bases, ", "))})
		}
	}
	if p.DefaultBasis != "" && !slices.Contains(Bases, p.DefaultBasis) {
		problems = append(problems, Problem{line("default_basis"), fmt.Sprintf("default_basis: unknown legal basis %q (use %s)", p.DefaultBasis, strings.Join(Bases, ", "))})
	}
	if p.Serve.QuotaPerHour < 0 {
		problems = append(problems, Problem{keyLine(&root, "serve", "quota_per_hour"), fmt.Sprintf("serve.quota_per_hour %d must be a positive number of views and searches per hour (or absent: %d)", p.Serve.QuotaPerHour, DefaultQuotaPerHour)})
	}
	if p.Serve.ShareHours < 0 || p.Serve.ShareHours > 24*365 {
		problems = append(problems, Problem{keyLine(&root, "serve", "share_hours"), fmt.Sprintf("serve.share_hours %d must be a number of hours from 1 to 8760 (or absent: %d)", p.Serve.ShareHours, DefaultShareHours)})
	}
	if p.Requests.MaxDays < 0 {
		problems = append(problems, Problem{keyLine(&root, "requests", "max_days"), fmt.Sprintf("requests.max_days %d must be a positive number of days (or absent: %d)", p.Requests.MaxDays, DefaultRequestMaxDays)})
	}
	if p.Requests.TwoApproversOver < 0 {
		problems = append(problems, Problem{keyLine(&root, "requests", "two_approvers_over"), fmt.Sprintf("requests.two_approvers_over %d must be a positive number of people (or absent: %d)", p.Requests.TwoApproversOver, DefaultTwoApproversOver)})
	}
	if p.Requests.Downloads < 0 {
		problems = append(problems, Problem{keyLine(&root, "requests", "downloads"), fmt.Sprintf("requests.downloads %d must be a positive number of downloads (or absent: %d)", p.Requests.Downloads, DefaultGrantDownloads)})
	}
	if t := p.Requests.Terms; t != (Terms{}) && (strings.TrimSpace(t.Version) == "" || strings.TrimSpace(t.EN) == "" || strings.TrimSpace(t.ID) == "" || strings.TrimSpace(t.ZH) == "") {
		problems = append(problems, Problem{keyLine(&root, "requests", "terms"), "requests.terms needs a version and the text in en, id and zh (or leave it out for the built-in terms, version 1)"})
	}
	if _, _, ok := p.Serve.PullTime(); !ok && p.Serve.PullDailyAt != "" {
		problems = append(problems, Problem{keyLine(&root, "serve", "pull_daily_at"), fmt.Sprintf("serve.pull_daily_at %q is not a time of day such as \"02:00\" (24-hour HH:MM)", p.Serve.PullDailyAt)})
	}
	for _, key := range []string{"approvers", "auditors"} {
		list := p.Serve.Approvers
		if key == "auditors" {
			list = p.Serve.Auditors
		}
		for _, u := range list {
			if badUserID(u) {
				problems = append(problems, Problem{keyLine(&root, "serve", key), fmt.Sprintf("serve.%s: %q is not a DingTalk userid (no spaces or commas, at most 64 characters)", key, u)})
			}
		}
	}
	p.fill()
	if p.Serve.SessionIdle > p.Serve.SessionAbsolute {
		problems = append(problems, Problem{keyLine(&root, "serve", "session_idle"), fmt.Sprintf("serve.session_idle %s is longer than serve.session_absolute %s", FormatKeep(time.Duration(p.Serve.SessionIdle)), FormatKeep(time.Duration(p.Serve.SessionAbsolute)))})
	}
	for _, name := range p.AllowedProfiles {
		if _, ok := p.Profiles[name]; !ok {
			problems = append(problems, Problem{line("allowed_profiles"), fmt.Sprintf("allowed_profiles: profile %q is not defined", name)})
		}
	}
	if _, ok := p.Profiles[p.DefaultProfile]; !ok {
		problems = append(problems, Problem{line("default_profile"), fmt.Sprintf("default_profile %q is not defined", p.DefaultProfile)})
	} else if !slices.Contains(p.AllowedProfiles, p.DefaultProfile) {
		problems = append(problems, Problem{line("default_profile"), fmt.Sprintf("default_profile %q is not in allowed_profiles", p.DefaultProfile)})
	}
	for _, d := range p.Sheets.AllowedDomains {
		if d == "" || strings.ContainsAny(d, "@ /") {
			problems = append(problems, Problem{keyLine(&root, "sheets", "allowed_domains"), fmt.Sprintf("sheets.allowed_domains: %q is not a domain such as contoh.co.id", d)})
		}
	}
	for _, e := range p.Sheets.AllowedEmails {
		if !strings.Contains(e, "@") {
			problems = append(problems, Problem{keyLine(&root, "sheets", "allowed_emails"), fmt.Sprintf("sheets.allowed_emails: %q is not an e-mail address", e)})
		}
	}
	if p.Sheets.Keep > p.Retention.Max {
		problems = append(problems, Problem{keyLine(&root, "sheets", "keep"), fmt.Sprintf("sheets.keep %s is longer than retention.max %s", FormatKeep(time.Duration(p.Sheets.Keep)), FormatKeep(time.Duration(p.Retention.Max)))})
	}
	if p.Retention.Default > p.Retention.Max {
		problems = append(problems, Problem{line("retention"), fmt.Sprintf("retention: default %s is longer than max %s", FormatKeep(time.Duration(p.Retention.Default)), FormatKeep(time.Duration(p.Retention.Max)))})
	}
	if slices.Contains(Bases, p.DefaultBasis) && !p.BasisAllowed(p.DefaultBasis) {
		problems = append(problems, Problem{line("default_basis"), fmt.Sprintf("default_basis %q is not in allowed_bases", p.DefaultBasis)})
	}
	problems = append(problems, p.checkTransfers(line)...)
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	sum := sha256.Sum256(b)
	p.Hash = hex.EncodeToString(sum[:])
	return p, problems
}

func yamlProblem(err error) Problem {
	return textProblem(strings.TrimPrefix(err.Error(), "yaml: "))
}

// textProblem turns "line 3: ..." into a Problem.
func textProblem(s string) Problem {
	s = strings.TrimPrefix(s, "yaml: ")
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return Problem{n, strings.TrimSpace(rest[i+1:])}
			}
		}
	}
	return Problem{Message: s}
}

// keyLine finds the line of a key path (top-level key, then nested keys);
// it falls back to the deepest key found.
func keyLine(root *yaml.Node, keys ...string) int {
	if root == nil || len(root.Content) == 0 {
		return 0
	}
	m, line := root.Content[0], 0
	for _, key := range keys {
		if m.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				line, m, found = m.Content[i].Line, m.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// Path returns the policy path: explicit if set, else home/policy.yaml.
func Path(explicit, home string) (string, bool) {
	if explicit != "" {
		return explicit, false
	}
	return filepath.Join(home, FileName), true
}

// Class returns a field's class under this policy (the policy may mark
// more fields sensitive), and false for an unknown field.
func (p *Policy) Class(key string) (dingbook.FieldClass, bool) {
	f, ok := dingbook.FieldByKey(key)
	if !ok {
		return "", false
	}
	if slices.Contains(p.SensitiveFields, key) {
		return dingbook.ClassSensitive, true
	}
	return f.Class, true
}

// NeedsJustification reports whether key's class requires --justify.
func (p *Policy) NeedsJustification(key string) bool {
	c, ok := p.Class(key)
	if !ok {
		return true
	}
	return slices.Contains(p.JustifyClasses, string(c))
}

// FieldAllowed reports whether key may be exported at all.
func (p *Policy) FieldAllowed(key string) bool {
	if len(p.AllowedFields) > 0 {
		if slices.Contains(p.AllowedFields, key) {
			return true
		}
		return strings.HasPrefix(key, dingbook.ExtensionPrefix) && slices.Contains(p.AllowedFields, "extension.*")
	}
	for _, name := range p.AllowedProfiles {
		if slices.Contains(p.Profiles[name], key) {
			return true
		}
	}
	// The export layer's "full" profile adds every custom field present.
	return strings.HasPrefix(key, dingbook.ExtensionPrefix) && slices.Contains(p.AllowedProfiles, "full")
}

// ProfileAllowed reports whether the named profile may be exported.
func (p *Policy) ProfileAllowed(name string) bool { return slices.Contains(p.AllowedProfiles, name) }

// ProfileFields returns a profile's fields under this policy.
func (p *Policy) ProfileFields(name string) ([]string, bool) {
	f, ok := p.Profiles[name]
	return f, ok
}

// ActorAllowed reports whether the OS user may run exports.
func (p *Policy) ActorAllowed(actor string) bool {
	return len(p.Exporters) == 0 || slices.Contains(p.Exporters, actor)
}

// BasisAllowed reports whether basis is accepted.
func (p *Policy) BasisAllowed(basis string) bool { return slices.Contains(p.AllowedBases, basis) }

// YAML renders the effective policy (defaults filled in) as YAML.
func (p *Policy) YAML() []byte {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.Encode(p)
	enc.Close()
	return buf.Bytes()
}
