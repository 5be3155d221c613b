package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Transfer mechanisms for a cross-border transfer (PIPL Art. 38, UU PDP
// Art. 56).
var Mechanisms = []string{"standard-contract", "certification", "assessment"}

// PIA triggers (PIPL Art. 55, UU PDP Art. 34).
var PIATriggers = []string{"sensitive", "external", "cross-border", "large-scale"}

// References an external recipient may need.
var RecipientRefs = []string{"contract", "consent"}

// MinAuditRetention is the shortest audit_retention a policy may set:
// three years (PIPL Art. 56), counting a leap day.
const MinAuditRetention = 1096 * 24 * time.Hour

// Recipients says what an export to an organisation other than the
// company needs (R-RECIPIENT).
type Recipients struct {
	// Require lists the references needed: contract (--contract), consent
	// (--consent-ref). Default: both.
	Require []string `yaml:"require,omitempty" json:"require"`
}

// CrossBorder says what an export to a recipient in another country than
// the company's needs (R-XBORDER).
type CrossBorder struct {
	// Mechanisms are the accepted --mechanism values (default: all of
	// Mechanisms).
	Mechanisms []string `yaml:"mechanisms,omitempty" json:"mechanisms"`
	// ConsentRequired asks for --consent-ref too (default true: PIPL Art.
	// 39 wants separate consent).
	ConsentRequired *bool `yaml:"consent_required,omitempty" json:"consent_required"`
}

// PIARef is a known impact-assessment reference.
type PIARef struct {
	Ref string `yaml:"ref" json:"ref"`
	// Expires is a date (2006-01-02); the assessment is void from then on.
	Expires string `yaml:"expires,omitempty" json:"expires,omitempty"`
}

// PIA is the impact-assessment gate (R-PIA-GATE).
type PIA struct {
	// Triggers that demand --pia (default: all of PIATriggers).
	Triggers []string `yaml:"triggers,omitempty" json:"triggers"`
	// LargeScale: more people than this is a large-scale job (default
	// 10,000).
	LargeScale int `yaml:"large_scale,omitempty" json:"large_scale"`
	// References, when set, are the only accepted --pia values.
	References []PIARef `yaml:"references,omitempty" json:"references,omitempty"`
}

func (p *Policy) fillTransfers() {
	p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
	if len(p.ExternalRecipients.Require) == 0 {
		p.ExternalRecipients.Require = slices.Clone(RecipientRefs)
	}
	if len(p.XBorder.Mechanisms) == 0 {
		p.XBorder.Mechanisms = slices.Clone(Mechanisms)
	}
	if p.XBorder.ConsentRequired == nil {
		t := true
		p.XBorder.ConsentRequired = &t
	}
	if len(p.PIA.Triggers) == 0 {
		p.PIA.Triggers = slices.Clone(PIATriggers)
	}
	if p.PIA.LargeScale <= 0 {
		p.PIA.LargeScale = 10000
	}
	if p.AuditRetention == 0 {
		p.AuditRetention = Duration(MinAuditRetention)
	}
}

func (p *Policy) checkTransfers(line func(string) int) []Problem {
	var out []Problem
	bad := func(key, format string, args ...any) {
		out = append(out, Problem{line(key), fmt.Sprintf(format, args...)})
	}
	if p.Country != "" && len(p.Country) != 2 {
		bad("country", "country %q is not a two-letter ISO 3166 code such as CN or ID", p.Country)
	}
	for _, r := range p.ExternalRecipients.Require {
		if !slices.Contains(RecipientRefs, r) {
			bad("external_recipients", "external_recipients.require: unknown reference %q (use %s)", r, strings.Join(RecipientRefs, ", "))
		}
	}
	for _, m := range p.XBorder.Mechanisms {
		if !slices.Contains(Mechanisms, m) {
			bad("cross_border", "cross_border.mechanisms: unknown mechanism %q (use %s)", m, strings.Join(Mechanisms, ", "))
		}
	}
	for _, t := range p.PIA.Triggers {
		if !slices.Contains(PIATriggers, t) {
			bad("pia", "pia.triggers: unknown trigger %q (use %s)", t, strings.Join(PIATriggers, ", "))
		}
	}
	for _, r := range p.PIA.References {
		if strings.TrimSpace(r.Ref) == "" {
			bad("pia", "pia.references: an entry has no ref")
		}
		if r.Expires != "" {
			if _, err := time.Parse(time.DateOnly, r.Expires); err != nil {
				bad("pia", "pia.references: %s: expires %q is not a date such as 2027-06-30", r.Ref, r.Expires)
			}
		}
	}
	if p.AuditRetention != 0 && time.Duration(p.AuditRetention) < MinAuditRetention {
		bad("audit_retention", "audit_retention %s is shorter than the 3 years the law asks for (PIPL Art. 56): use %s or more", FormatKeep(time.Duration(p.AuditRetention)), FormatKeep(MinAuditRetention))
	}
	return out
}

// IsCompany reports whether org names the company itself (its name, or
// one of the names policy.company lists separated by " / ").
func (p *Policy) IsCompany(org string) bool {
	org = strings.TrimSpace(org)
	if org == "" || strings.EqualFold(org, strings.TrimSpace(p.Company)) {
		return true
	}
	for _, part := range strings.Split(p.Company, "/") {
		if strings.EqualFold(org, strings.TrimSpace(part)) {
			return true
		}
	}
	return false
}

// PIATrigger reports whether the policy gates trigger t.
func (p *Policy) PIATrigger(t string) bool { return slices.Contains(p.PIA.Triggers, t) }

// PIAKnown returns the listed reference ref (nil when the policy lists
// references and ref is not among them, or lists none: then ok is
// whether any reference is accepted).
func (p *Policy) PIAKnown(ref string) (r *PIARef, ok bool) {
	if len(p.PIA.References) == 0 {
		return nil, true
	}
	for i := range p.PIA.References {
		if p.PIA.References[i].Ref == ref {
			return &p.PIA.References[i], true
		}
	}
	return nil, false
}
