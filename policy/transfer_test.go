package policy

import (
	"strings"
	"testing"
	"time"
)

func TestTransferPolicy(t *testing.T) {
	p, probs := Parse([]byte("company: ACME / 示例\ncountry: cn\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if p.Country != "CN" || p.PIA.LargeScale != 10000 || !*p.XBorder.ConsentRequired || len(p.ExternalRecipients.Require) != 2 ||
		time.Duration(p.AuditRetention) != MinAuditRetention || len(p.PIA.Triggers) != 4 {
		t.Fatalf("defaults: %+v", p)
	}
	if !p.IsCompany("acme") || !p.IsCompany("示例") || !p.IsCompany("") || p.IsCompany("ACME Jakarta") {
		t.Fatal("IsCompany")
	}
	_, probs = Parse([]byte(`country: China
external_recipients: {require: [contract, signature]}
cross_border: {mechanisms: [standard-contract, handshake]}
pia:
  triggers: [sensitive, moon]
  references:
    - {ref: P1, expires: next year}
    - {expires: 2027-01-01}
audit_retention: 730d
`))
	var all []string
	for _, pr := range probs {
		all = append(all, pr.String())
	}
	got := strings.Join(all, "\n")
	for _, want := range []string{"line 1: country \"CHINA\"", "line 2: external_recipients.require: unknown reference \"signature\"", "line 3: cross_border.mechanisms: unknown mechanism \"handshake\"",
		"pia.triggers: unknown trigger \"moon\"", "P1: expires \"next year\"", "an entry has no ref", "line 9: audit_retention 730d is shorter than the 3 years"} {
		if !strings.Contains(got, want) {
			t.Fatalf("problems lack %q:\n%s", want, got)
		}
	}
}
