package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "consent", Short: "the consent register: import FILE.csv, withdraw, list", Run: runConsent})
}

func runConsent(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "consent", []subcommand{
		{"import", "import FILE.csv [--policy FILE]   (columns: person,purpose,state,time,reference[,fields|profile])", consentImport},
		{"withdraw", "withdraw PERSON --purpose TEXT [--reference REF] [--at TIME]", consentWithdraw},
		{"list", "list [--purpose TEXT] [--person ID] [--fields LIST | --profile NAME] [--json]", consentList},
	}, args)
}

// consentColumns are the columns of a consent file; fields and profile
// are optional.
var consentColumns = []string{"person", "purpose", "state", "time", "reference", "fields", "profile"}

// readConsents parses a consent CSV (b, read from path): a header naming the columns (any
// order), then one entry a row. Errors name the file, row and column. A
// profile column is resolved to the profile's fields under pol now, so
// that a later change of the profile calls for fresh consent
// (R-RECONSENT).
func readConsents(path string, b []byte, pol *policy.Policy) ([]store.Consent, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	bad := func(row int, format string, args ...any) error {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s row %d: %s", path, row, fmt.Sprintf(format, args...)),
			Hint: "the file needs the columns person,purpose,state,time,reference (and optionally fields: keys separated by spaces, or profile: the profile consented to); state is given or withdrawn; time is RFC 3339 or a date"}
	}
	head, err := r.Read()
	if err != nil {
		return nil, bad(1, "no header: %v", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, c := range consentColumns[:5] {
		if _, ok := col[c]; !ok {
			return nil, bad(1, "column %q is missing", c)
		}
	}
	var out []store.Consent
	for row := 2; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad(row, "%v", err)
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if strings.Join(rec, "") == "" {
			continue
		}
		c := store.Consent{Person: get("person"), Purpose: get("purpose"), State: strings.ToLower(get("state")), Reference: get("reference")}
		switch {
		case c.Person == "":
			return nil, bad(row, "column person is empty")
		case c.Purpose == "":
			return nil, bad(row, "column purpose is empty")
		case c.State != store.ConsentGiven && c.State != store.ConsentWithdrawn:
			return nil, bad(row, "column state is %q, not given or withdrawn", get("state"))
		}
		var ok bool
		if c.Time, ok = parseLocalTime(get("time")); !ok {
			return nil, bad(row, "column time: %q is not a time such as 2026-11-30 or 2026-11-30T08:00:00Z", get("time"))
		}
		for _, k := range strings.FieldsFunc(get("fields"), func(r rune) bool { return r == ' ' || r == ';' || r == '|' }) {
			if _, ok := dingbook.FieldByKey(k); !ok {
				return nil, bad(row, "column fields: unknown field %q", k)
			}
			c.Fields = append(c.Fields, k)
		}
		if name := get("profile"); name != "" {
			pf, ok := pol.ProfileFields(name)
			if !ok {
				return nil, bad(row, "column profile: unknown profile %q", name)
			}
			c.Fields = append(c.Fields, pf...)
		}
		out = append(out, c)
	}
	return out, nil
}

func consentImport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "consent import", "consent import FILE.csv [--policy FILE]")
	policyPath := fs.String("policy", "", "policy file, for the profile column (default $DINGBOOK_HOME/policy.yaml)")
	path, err := oneArg(fs, args, "consent file", "e.g. 'dingbook consent import consents.csv' (columns person,purpose,state,time,reference[,fields|profile])")
	if err != nil {
		return err
	}
	path = env.Path(path)
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read " + path, Hint: "check the path of the consent file", Err: err}
	}
	cs, err := readConsents(path, b, pol)
	if err != nil {
		return err
	}
	n, err := a.ImportConsents(ctx, cs, path, b, env.Actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: imported %d consent entries (%d given, %d withdrawn)\n", len(cs), n[store.ConsentGiven], n[store.ConsentWithdrawn])
	return nil
}

func consentWithdraw(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "consent withdraw", "consent withdraw PERSON --purpose TEXT [--reference REF] [--at TIME]")
	purpose := fs.String("purpose", "", "the purpose the consent was given for (required)")
	ref := fs.String("reference", "", "reference of the withdrawal (ticket, letter)")
	at := fs.String("at", "", "when it was withdrawn (default now)")
	person, err := oneArg(fs, args, "person (userid or external contact id)", "e.g. 'dingbook consent withdraw manager4951 --purpose \"staff directory app\"'")
	if err != nil {
		return err
	}
	if strings.TrimSpace(*purpose) == "" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "consent withdraw needs --purpose", Hint: "give the purpose the consent was given for ('dingbook consent list --person " + person + "' shows them)"}
	}
	when := env.Now()
	if *at != "" {
		if when, err = parseWhen("--at", *at); err != nil {
			return err
		}
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.WithdrawConsent(ctx, person, *purpose, *ref, when, env.Actor); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: recorded the withdrawal; consent-based exports for %q leave %s out from now on\n", *purpose, person)
	return nil
}

// ConsentListItem is one line of consent list --json.
type ConsentListItem struct {
	store.Consent
	// Reconsent: the consent does not cover the fields asked about
	// (--fields/--profile): the person must consent again (R-RECONSENT).
	Reconsent bool `json:"reconsent,omitempty"`
}

func consentList(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "consent list", "consent list [--purpose TEXT] [--person ID] [--fields LIST | --profile NAME] [--json]")
	purpose := fs.String("purpose", "", "only this purpose")
	person := fs.String("person", "", "only this person")
	fields := fs.String("fields", "", "flag consents that do not cover these fields (re-consent needed)")
	profile := fs.String("profile", "", "flag consents that do not cover this profile's fields (re-consent needed)")
	policyPath := fs.String("policy", "", "policy file, for --profile (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "write JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	want := splitList(*fields)
	if *profile != "" {
		pol, err := loadPolicy(ctx, env, a, *policyPath)
		if err != nil {
			return err
		}
		pf, ok := pol.ProfileFields(*profile)
		if !ok {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("unknown profile %q", *profile), Hint: "see 'dingbook policy show' for the profiles"}
		}
		want = append(want, pf...)
	}
	cs, err := a.Consents(ctx, *purpose, *person)
	if err != nil {
		return err
	}
	items := make([]ConsentListItem, len(cs))
	for i, c := range cs {
		items[i] = ConsentListItem{Consent: c, Reconsent: len(want) > 0 && c.State == store.ConsentGiven && !c.Covers(want)}
	}
	if *asJSON {
		return printJSON(env, items)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PERSON\tPURPOSE\tSTATE\tTIME\tREFERENCE\tFIELDS\tRE-CONSENT")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Person, it.Purpose, it.State, it.Time.Local().Format("2006-01-02 15:04"), govDash(it.Reference),
			govDash(strings.Join(it.Fields, ",")), map[bool]string{true: "needed", false: "-"}[it.Reconsent])
	}
	return tw.Flush()
}
