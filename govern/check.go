// Package govern wraps every export in dingbook's governance: it checks a
// request against the policy (purpose, legal basis, minimum data,
// justification, hidden mobiles, retention, encryption, who may export),
// runs the caller's export inside a private 0700 directory that is wiped on
// every path, seals the files with a manifest and a notice into one bundle
// (AES-256 zip, age, or plain zip where allowed), registers the bundle for
// retention and appends an audit record, also for refused and failed
// attempts.
//
// Exporters use it through a callback:
//
//	res, err := govern.Run(ctx, db, pol, req, func(ctx context.Context, dir string) (*govern.Produced, error) {
//		files, err := export.Run(ctx, ..., dir) // writes plaintext into dir only
//		...
//		return &govern.Produced{Files: ..., Rows: n}, nil
//	})
//
// Commands that write no bundle (import, pull) use Guard. Sweep removes
// private directories left behind by a killed process; Purge deletes
// expired bundles and old snapshots.
package govern

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/seal"
	"github.com/dingbook/dingbook/store"
)

// Request is what a command asks to do.
type Request struct {
	// Action is "export", "convert", "import", "pull", "purge" or
	// "policy-change" (the audit.Action* constants).
	Action string
	// Actor is who asks (the CLI gives the OS user).
	Actor string
	// Purpose, Basis and Justification are the stated purpose, the legal
	// basis (empty: the policy's default) and the justification (the CLI's
	// --purpose, --basis and --justify).
	Purpose, Basis, Justification string
	// Fields are field keys (dingbook.FieldByKey); empty means the
	// profile's fields.
	Fields []string
	// Profile is the named field set (empty: the policy's default when
	// Fields is empty too).
	Profile string
	// DeptScope are the departments exported (ids preferred), with their
	// sub-departments.
	DeptScope []string
	// Masks lists masked fields (e.g. "mobile"; the CLI's --mask).
	Masks []string
	// IncludeHiddenMobiles asks for mobiles people hid in DingTalk.
	IncludeHiddenMobiles bool
	// SelfHosted marks a push into a system the company runs itself (a
	// CardDAV server): no processor contract or processor cross-border
	// reference is needed (the sheets section's Google rules).
	SelfHosted bool
	// Keep is how long the bundle may be kept; 0 means the policy's default
	// (the CLI's --keep).
	Keep time.Duration
	// Encrypt is "zip" (default), "age" or "none".
	Encrypt string
	// AgeRecipients are age public keys; empty with Encrypt "age" means a
	// passphrase (scrypt).
	AgeRecipients []string
	// Passphrase protects the bundle; "" makes Run generate one (returned
	// in Result.Passphrase, to be shown once). PassphraseSource names where
	// it came from, for error messages ("DINGBOOK_PASSPHRASE", "--passphrase-file F").
	Passphrase       string
	PassphraseSource string
	// OutDir is where the bundle goes (created 0700 if missing).
	OutDir string
	// BundleBase names the bundle file without its extension (default
	// "dingbook-<export id>"); convert uses the OUT name the user gave.
	BundleBase string
	// Overwrite replaces an existing bundle of the same name (convert
	// --overwrite); otherwise an existing file is refused.
	Overwrite bool
	// OutHint is the remedy when the bundle cannot be written (default:
	// "choose a writable output directory"); convert names OUT instead.
	OutHint string
	// Snapshot and Tenant identify the data exported; Source is e.g. the
	// converted file's name or "dingtalk:<base url>".
	Snapshot int64
	Tenant   string
	Source   string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Transfer names the recipient and the references a transfer needs.
	Transfer
	// Grant names the portal grant a download serves (nil otherwise):
	// the manifest and NOTICE name it, and the holding is of kind
	// store.KindGrant (ref the export id, GrantID the grant's id) rather
	// than an export's.
	Grant *GrantRef
	// Recording, when set, runs inside the transaction that records the
	// bundle and registers its holding (a grant's check that it is still
	// live): its error undoes both, the bundle is deleted and the export
	// recorded as failed.
	Recording func(*store.Tx) error
}

// GrantRef is the grant behind a portal download, as the manifest names
// it.
type GrantRef struct {
	ID           string    `json:"id"`
	Request      string    `json:"request_id"`
	Grantee      string    `json:"grantee"`
	Approvers    []string  `json:"approvers"`
	Expires      time.Time `json:"expires_at"`
	TermsVersion string    `json:"terms_version"`
}

func (r *Request) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Decision is the resolved request: what the export layer must do. It is
// the one authority on the field list: Fields (plus, with AllExtensions,
// the data's custom fields) is what the export writes.
type Decision struct {
	Profile string   `json:"profile,omitempty"`
	Fields  []string `json:"fields"`
	Basis   string   `json:"basis"`
	// IncludeHiddenMobiles: the export layer writes mobiles with
	// hide_mobile=true only when this is true.
	IncludeHiddenMobiles bool `json:"include_hidden_mobiles"`
	// AllExtensions: the profile ("full") also takes every custom field
	// the data holds (extension.<name>), known only once it is read.
	AllExtensions bool          `json:"-"`
	Keep          time.Duration `json:"keep_ns"`
	Encrypt       string        `json:"encrypt"`
}

// needsPurpose reports whether the action must declare a purpose and basis.
func needsPurpose(action string) bool {
	return action == audit.ActionExport || action == audit.ActionConvert || action == audit.ActionImport || action == audit.ActionPush
}

// writesData reports whether the action writes personal data out.
func writesData(action string) bool {
	return action == audit.ActionExport || action == audit.ActionConvert || action == audit.ActionPush
}

// MinKeep is the shortest --keep accepted.
const MinKeep = time.Hour

func refuse(format string, args ...any) *dingbook.Error {
	return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf(format, args...)}
}

// Resolve checks req against pol and fills in the defaults (basis,
// profile, fields, retention, encryption).
func Resolve(pol *policy.Policy, req *Request) (*Decision, error) {
	act := req.Action
	d := &Decision{Basis: req.Basis, Profile: req.Profile, Keep: req.Keep, Encrypt: req.Encrypt}
	if writesData(act) && !pol.ActorAllowed(req.Actor) {
		return nil, refuse("%s refused: user %q may not export (policy %s allows only: %s)", act, req.Actor, pol.Source, strings.Join(pol.Exporters, ", ")).
			WithHint("ask the data protection officer to add %q to 'exporters' in the policy file, or run as an allowed user", req.Actor)
	}
	if needsPurpose(act) {
		if strings.TrimSpace(req.Purpose) == "" {
			return nil, refuse("%s refused: no purpose given", act).
				WithHint("say why the data is needed, e.g. \"migrate the address book to the new HR system\"").WithField("purpose")
		}
		if d.Basis == "" {
			d.Basis = pol.DefaultBasis
		}
		if !slices.Contains(policy.Bases, d.Basis) {
			return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: unknown legal basis %q", act, d.Basis)}).
				WithHint("choose a legal basis: %s", strings.Join(policy.Bases, ", ")).WithField("basis")
		}
		if !pol.BasisAllowed(d.Basis) {
			return nil, refuse("%s refused: legal basis %q is not allowed by the policy (%s)", act, d.Basis, pol.Source).
				WithHint("choose a legal basis the policy allows: %s", strings.Join(pol.AllowedBases, ", ")).WithField("basis")
		}
	}
	if !writesData(act) {
		return d, nil
	}
	// Minimum data: profile and fields.
	if req.Profile != "" && len(req.Fields) > 0 {
		return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: both a list of fields and a profile given", act)}).
			WithHint("choose either the fields or a profile").WithField("fields")
	}
	if d.Profile == "" && len(req.Fields) == 0 {
		d.Profile = pol.DefaultProfile
	}
	if d.Profile != "" {
		pf, ok := pol.ProfileFields(d.Profile)
		if !ok {
			names := make([]string, 0, len(pol.Profiles))
			for n := range pol.Profiles {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: unknown profile %q", act, d.Profile)}).
				WithHint("choose a profile: %s", strings.Join(names, ", ")).WithField("profile")
		}
		if !pol.ProfileAllowed(d.Profile) {
			return nil, refuse("%s refused: profile %q is not allowed by the policy (%s)", act, d.Profile, pol.Source).
				WithHint("choose a profile the policy allows (%s), or ask the data protection officer to allow %q", strings.Join(pol.AllowedProfiles, ", "), d.Profile).WithField("profile")
		}
		d.Fields = slices.Clone(pf)
		d.AllExtensions = d.Profile == "full"
	}
	if len(req.Fields) > 0 {
		d.Fields = nil
		for _, f := range req.Fields {
			if !slices.Contains(d.Fields, f) {
				d.Fields = append(d.Fields, f)
			}
		}
	}
	var unknown, refused, needJustify []string
	for _, f := range d.Fields {
		if _, ok := dingbook.FieldByKey(f); !ok {
			unknown = append(unknown, f)
			continue
		}
		if !pol.FieldAllowed(f) {
			refused = append(refused, f)
			continue
		}
		if pol.NeedsJustification(f) {
			needJustify = append(needJustify, f)
		}
	}
	if len(unknown) > 0 {
		return nil, refuse("%s refused: unknown field%s", act, quoteList(unknown)).
			WithHint("choose fields from the policy's field list; custom fields are written extension.<name>").WithField("fields")
	}
	if len(refused) > 0 {
		verb := "is"
		if len(refused) > 1 {
			verb = "are"
		}
		return nil, refuse("%s refused: field%s %s not allowed by the policy (%s)", act, quoteList(refused), verb, pol.Source).
			WithHint("leave %s out of the fields, or ask the data protection officer to allow it in the policy file", strings.Join(refused, ", ")).WithField("fields")
	}
	justified := strings.TrimSpace(req.Justification) != ""
	if len(needJustify) > 0 && !justified {
		verb := "needs"
		if len(needJustify) > 1 {
			verb = "need"
		}
		return nil, refuse("%s refused: personal or sensitive field%s %s a justification", act, quoteList(needJustify), verb).
			WithHint("give a justification saying why these fields are needed (it goes into the audit log), or choose the minimal profile").WithField("justification")
	}
	if req.IncludeHiddenMobiles {
		if !pol.AllowHiddenMobiles {
			return nil, refuse("%s refused: the policy (%s) does not allow exporting mobiles that people hid in DingTalk", act, pol.Source).
				WithHint("do not ask for hidden mobiles: they are left out; the policy must set allow_hidden_mobiles: true first").WithField("include_hidden_mobiles")
		}
		if !justified {
			return nil, refuse("%s refused: including hidden mobiles needs a justification", act).
				WithHint("give a justification saying why hidden mobiles are needed").WithField("justification")
		}
		d.IncludeHiddenMobiles = slices.Contains(d.Fields, "mobile") || slices.Contains(d.Fields, "mobile_e164")
	}
	// Retention.
	max := time.Duration(pol.Retention.Max)
	if act == audit.ActionPush && d.Keep == 0 {
		d.Keep = time.Duration(pol.Sheets.Keep)
	}
	switch {
	case d.Keep < 0:
		return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: the retention period must be positive", act)}).WithHint("give a retention period such as 30d").WithField("keep")
	case d.Keep == 0:
		d.Keep = time.Duration(pol.Retention.Default)
	case d.Keep < MinKeep:
		return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: a retention of %s is shorter than the minimum of %s", act, policy.FormatKeep(d.Keep), policy.FormatKeep(MinKeep))}).
			WithHint("keep it for 1h or more (the bundle would expire before it could be opened)").WithField("keep")
	case d.Keep > max:
		return nil, refuse("%s refused: a retention of %s is longer than the policy's maximum retention of %s", act, policy.FormatKeep(d.Keep), policy.FormatKeep(max)).
			WithHint("keep it for %s or less; keeping exports forever is not allowed", policy.FormatKeep(max)).WithField("keep")
	}
	if d.Keep > max {
		d.Keep = max
	}
	if act == audit.ActionPush {
		if !req.SelfHosted {
			if err := checkProcessor(pol); err != nil {
				return d, err
			}
		}
		return d, checkTransfer(pol, req, d.Fields, -1, req.now())
	}
	// Encryption.
	if d.Encrypt == "" {
		d.Encrypt = seal.KindZip
	}
	if !seal.ValidKind(d.Encrypt) {
		return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: unknown encryption %q", act, d.Encrypt)}).WithHint("choose the encryption zip (AES-256, opens in 7-Zip), age or none").WithField("encrypt")
	}
	if d.Encrypt == seal.KindNone && !pol.AllowUnencrypted {
		return nil, refuse("%s refused: unencrypted output is not allowed by the policy (%s)", act, pol.Source).
			WithHint("choose an encryption (the default is an AES-256 zip that 7-Zip opens with the passphrase)").WithField("encrypt")
	}
	if len(req.AgeRecipients) > 0 && d.Encrypt != seal.KindAge {
		return nil, (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: age recipients need the age encryption", act)}).WithHint("choose the age encryption for recipients").WithField("encrypt")
	}
	if err := checkTransfer(pol, req, d.Fields, -1, req.now()); err != nil {
		return nil, err
	}
	return d, nil
}

// checkProcessor holds a push to the policy's processor rules: Google
// processes the rows for the company, so the contract must be on record,
// and a transfer abroad needs its mechanism and consent reference.
func checkProcessor(pol *policy.Policy) error {
	if strings.TrimSpace(pol.Sheets.ProcessorContract) == "" {
		return refuse("push refused: Google would process the directory for the company, and the policy (%s) records no processor contract", pol.Source).
			WithHint("set sheets.processor_contract in the policy file to the reference of the data-processing agreement with Google")
	}
	if pol.CrossBorder() && strings.TrimSpace(pol.Sheets.CrossBorderRef) == "" {
		from := pol.Country
		if from == "" {
			from = "an unknown country (policy 'country' is not set)"
		}
		return refuse("push refused: Google processes in %s and the company is in %s, a cross-border transfer without a reference in the policy (%s)", pol.Sheets.ProcessorCountry, from, pol.Source).
			WithHint("set sheets.cross_border_ref to the transfer mechanism and consent reference (e.g. the CAC standard contract filing), or set 'country' when Google processes in the company's country")
	}
	return nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) > 1 {
		return "s " + strings.Join(q, ", ")
	}
	return " " + q[0]
}

// CheckFields holds the fields an action wrote, or is about to write, to
// the policy (Run checks what an export wrote; push checks its view
// before writing).
func CheckFields(pol *policy.Policy, req *Request, fields []string) error {
	var refused, needJustify []string
	for _, f := range fields {
		switch {
		case !pol.FieldAllowed(f):
			refused = append(refused, f)
		case pol.NeedsJustification(f):
			needJustify = append(needJustify, f)
		}
	}
	if len(refused) > 0 {
		return refuse("%s refused: the export wrote field%s, which the policy (%s) does not allow", req.Action, quoteList(refused), pol.Source).
			WithHint("choose the fields, leaving out %s", strings.Join(refused, ", ")).WithField("fields")
	}
	if len(needJustify) > 0 && strings.TrimSpace(req.Justification) == "" {
		return refuse("%s refused: the export wrote personal or sensitive field%s without a justification", req.Action, quoteList(needJustify)).
			WithHint("give a justification saying why these fields are needed, or choose fewer fields").WithField("justification")
	}
	return nil
}
