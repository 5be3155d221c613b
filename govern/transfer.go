package govern

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
)

// Transfer is where an export goes and the references that make it
// lawful (the CLI's --recipient, --recipient-country, --contract,
// --mechanism, --consent-ref and --pia).
type Transfer struct {
	Recipient        string `json:"recipient,omitempty"`
	RecipientCountry string `json:"recipient_country,omitempty"`
	Contract         string `json:"contract,omitempty"`
	Mechanism        string `json:"mechanism,omitempty"`
	ConsentRef       string `json:"consent_ref,omitempty"`
	PIA              string `json:"pia,omitempty"`
}

// external reports whether t goes to an organisation other than the
// company.
func (t *Transfer) external(pol *policy.Policy) bool { return !pol.IsCompany(t.Recipient) }

// crossBorder reports whether t goes to another country than the
// company's.
func (t *Transfer) crossBorder(pol *policy.Policy) bool {
	return t.RecipientCountry != "" && !strings.EqualFold(t.RecipientCountry, pol.Country)
}

// checkTransfer applies R-RECIPIENT, R-XBORDER and R-PIA-GATE. rows < 0
// means the number of people is not known yet (Resolve); Run checks again
// with the rows written.
func checkTransfer(pol *policy.Policy, req *Request, fields []string, rows int, now time.Time) error {
	t := &req.Transfer
	act := req.Action
	if c := t.RecipientCountry; c != "" {
		if len(c) != 2 || !isLetter(c[0]) || !isLetter(c[1]) {
			return (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s refused: the recipient country %q is not a two-letter country code", act, c)}).
				WithHint("give the recipient's country as an ISO 3166 code such as ID or CN").WithField("recipient_country")
		}
		t.RecipientCountry = strings.ToUpper(c)
		if pol.Country == "" {
			return refuse("%s refused: the recipient country %s is given, but the policy (%s) does not say the company's country", act, t.RecipientCountry, pol.Source).
				WithHint("ask the data protection officer to set 'country: CN' (or ID, …) in the policy file")
		}
	}
	var triggers []string
	if t.external(pol) {
		triggers = append(triggers, "external")
		for _, need := range pol.ExternalRecipients.Require {
			switch {
			case need == "contract" && strings.TrimSpace(t.Contract) == "":
				return refuse("%s refused: %q is a recipient outside the company (%s) and no contract reference was given", act, t.Recipient, pol.Company).
					WithHint("give the contract reference: the data processing or sharing agreement with %s (PIPL Art. 23)", t.Recipient).WithField("contract")
			case need == "consent" && strings.TrimSpace(t.ConsentRef) == "":
				return refuse("%s refused: giving data to %q needs the people's separate consent and no consent reference was given", act, t.Recipient).
					WithHint("give the consent reference: the consent collected for this recipient (PIPL Art. 23)").WithField("consent_ref")
			}
		}
	}
	if t.crossBorder(pol) {
		triggers = append(triggers, "cross-border")
		switch {
		case t.Mechanism == "":
			return refuse("%s refused: the recipient is in %s, the company in %s: a cross-border transfer needs a transfer mechanism", act, t.RecipientCountry, pol.Country).
				WithHint("choose a transfer mechanism (%s) and give its reference as the contract (PIPL Art. 38, UU PDP Art. 56)", strings.Join(pol.XBorder.Mechanisms, ", ")).WithField("mechanism")
		case !slices.Contains(pol.XBorder.Mechanisms, t.Mechanism):
			return refuse("%s refused: transfer mechanism %q is not accepted by the policy (%s)", act, t.Mechanism, pol.Source).
				WithHint("choose a transfer mechanism the policy accepts: %s", strings.Join(pol.XBorder.Mechanisms, ", ")).WithField("mechanism")
		case strings.TrimSpace(t.Contract) == "":
			return refuse("%s refused: the cross-border transfer's %s has no reference", act, t.Mechanism).
				WithHint("give the contract reference: the %s's filing or certificate number", t.Mechanism).WithField("contract")
		case *pol.XBorder.ConsentRequired && strings.TrimSpace(t.ConsentRef) == "":
			return refuse("%s refused: a cross-border transfer needs the people's separate consent and no consent reference was given", act).
				WithHint("give the consent reference: the consent collected for the transfer to %s (PIPL Art. 39)", t.RecipientCountry).WithField("consent_ref")
		}
	}
	for _, f := range fields {
		if c, _ := pol.Class(f); c == dingbook.ClassSensitive {
			triggers = append(triggers, "sensitive")
			break
		}
	}
	if rows > pol.PIA.LargeScale {
		triggers = append(triggers, "large-scale")
	}
	triggers = slices.DeleteFunc(triggers, func(s string) bool { return !pol.PIATrigger(s) })
	if len(triggers) == 0 {
		return nil
	}
	ref := strings.TrimSpace(t.PIA)
	if ref == "" {
		why := strings.Join(triggers, ", ")
		if slices.Contains(triggers, "large-scale") {
			why += fmt.Sprintf(" (%d people, more than %d)", rows, pol.PIA.LargeScale)
		}
		return refuse("%s refused: this job needs an impact assessment first: %s", act, why).
			WithHint("give the reference of the personal information impact assessment that covers it (PIPL Art. 55, UU PDP Art. 34)").WithField("pia")
	}
	known, ok := pol.PIAKnown(ref)
	if !ok {
		return refuse("%s refused: impact assessment %q is not listed in the policy (%s)", act, ref, pol.Source).
			WithHint("give an impact-assessment reference listed under pia.references, or ask the data protection officer to add it").WithField("pia")
	}
	if known != nil && known.Expires != "" {
		exp, _ := time.Parse(time.DateOnly, known.Expires)
		if !now.Before(exp) {
			return refuse("%s refused: impact assessment %q expired on %s", act, ref, known.Expires).
				WithHint("renew the assessment and update its expiry under pia.references in the policy file")
		}
	}
	return nil
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
