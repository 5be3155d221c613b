package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/account"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "breach", Short: "breach incidents: start (revoke, count, 72-hour clock), report (notices), list, close", Run: runBreach})
}

func runBreach(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "breach", []subcommand{
		{"start", "start --bundle ID|--grant ID|--share ID|--device ID --discovered-at TIME --description TEXT [--json]", breachStart},
		{"report", "report ID --lang en|id|zh [--out DIR] [--json]", breachReport},
		{"list", "list [--all] [--json]", breachList},
		{"close", "close ID --reason TEXT", breachClose},
	}, args)
}

// parseWhen parses a time flag (parseLocalTime) or says how to write one.
func parseWhen(flagName, s string) (time.Time, error) {
	if t, ok := parseLocalTime(s); ok {
		return t, nil
	}
	return time.Time{}, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s %q is not a time", flagName, s), Hint: "use e.g. " + flagName + " 2026-11-30T08:15:00+07:00 or \"2026-11-30 08:15\" (local time)"}
}

// BreachStartSummary is what breach start --json prints.
type BreachStartSummary struct {
	ID       string   `json:"id"`
	People   int      `json:"people"`
	Fields   []string `json:"fields"`
	Deadline string   `json:"deadline"`
}

func breachStart(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "breach start", "breach start --bundle ID|--grant ID|--share ID|--device ID --discovered-at TIME --description TEXT [--json]")
	refs := map[string]*string{}
	for _, k := range []struct{ flag, kind, help string }{
		{"bundle", store.KindExport, "the lost or exposed bundle: its export id ('dingbook exports' lists them)"},
		{"grant", store.KindGrant, "the exposed grant: its id (every bundle of it) or one bundle's export id; the grant is revoked"},
		{"share", store.KindShare, "the exposed card share (its links are disabled)"},
		{"device", store.KindDevice, "the lost CardDAV device (its app password is revoked)"},
	} {
		refs[k.kind] = fs.String(k.flag, "", k.help)
	}
	discovered := fs.String("discovered-at", "", "when the breach was discovered (RFC 3339, or \"2006-01-02 15:04\" local): the 72-hour clock starts then")
	desc := fs.String("description", "", "what happened (goes into the audit log and the notices: no personal data)")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "print {\"id\", \"people\", \"fields\", \"deadline\"}")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	var kind, ref string
	for k, v := range refs {
		if *v != "" {
			if kind != "" {
				return &dingbook.Error{Code: dingbook.EINVALID, Message: "give one of --bundle, --grant, --share, --device", Hint: "start one incident per lost item"}
			}
			kind, ref = k, *v
		}
	}
	if kind == "" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "breach start needs --bundle, --grant, --share or --device", Hint: "name what was lost, e.g. --bundle 20261126-102100-3fa9"}
	}
	var when time.Time
	if *discovered != "" {
		var err error
		if when, err = parseWhen("--discovered-at", *discovered); err != nil {
			return err
		}
	}
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	in, err := a.StartBreach(ctx, pol, account.BreachStart{Kind: kind, Ref: ref, DiscoveredAt: when, Description: *desc, Actor: env.Actor})
	if err != nil {
		return err
	}
	for _, r := range in.Revoked {
		fmt.Fprintf(env.Stderr, "dingbook: revoked %s\n", r)
	}
	fmt.Fprintf(env.Stderr, "dingbook: incident %s: %d people, fields %s; notify the authority and the people by %s (%.1f hours left): 'dingbook breach report %s --lang en|id|zh'\n",
		in.ID, in.People, strings.Join(in.Fields, ","), in.Deadline.Local().Format("2006-01-02 15:04"), account.HoursLeft(in, env.Now()), in.ID)
	if *asJSON {
		return printJSON(env, BreachStartSummary{ID: in.ID, People: in.People, Fields: nonNil(in.Fields), Deadline: in.Deadline.UTC().Format(time.RFC3339)})
	}
	fmt.Fprintln(env.Stdout, in.ID)
	return nil
}

func breachReport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "breach report", "breach report ID --lang en|id|zh [--out DIR] [--json]")
	lang := fs.String("lang", "en", "language of the notices: en, id or zh")
	out := fs.String("out", "breach", "directory for the notices and the mail-merge list (created 0700; files 0600)")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "print what was written as JSON")
	id, err := oneArg(fs, args, "incident id", "run 'dingbook breach list' to see the incidents")
	if err != nil {
		return err
	}
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.BreachReport(ctx, pol, id, *lang, env.Path(*out), env.Actor)
	if err != nil {
		return err
	}
	for _, f := range rep.Files {
		fmt.Fprintf(env.Stderr, "dingbook: wrote %s\n", f)
	}
	if rep.Unresolved > 0 {
		fmt.Fprintf(env.Stderr, "dingbook: %d of the people affected are in no stored snapshot any more: they cannot be written to from here\n", rep.Unresolved)
	}
	left := fmt.Sprintf("%.1f hours left", rep.HoursLeft)
	if rep.HoursLeft < 0 {
		left = fmt.Sprintf("OVERDUE by %.1f hours", -rep.HoursLeft)
	}
	fmt.Fprintf(env.Stderr, "dingbook: incident %s: %d people to notify; deadline %s (%s)\n", rep.Incident, rep.People, rep.Deadline, left)
	if *asJSON {
		return printJSON(env, rep)
	}
	return nil
}

func breachList(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "breach list", "breach list [--all] [--json]")
	all := fs.Bool("all", false, "also closed incidents")
	asJSON := fs.Bool("json", false, "write JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	items, err := a.Breaches(ctx, *all)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, items)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDISCOVERED\tDEADLINE\tCLOCK\tPEOPLE\tFIELDS")
	for _, it := range items {
		clock := fmt.Sprintf("%.1fh left", it.HoursLeft)
		if it.HoursLeft < 0 {
			clock = fmt.Sprintf("OVERDUE %.1fh", -it.HoursLeft)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.DiscoveredAt.Local().Format("2006-01-02 15:04"), it.Deadline.Local().Format("2006-01-02 15:04"), clock, it.People, strings.Join(it.Fields, ","))
	}
	return tw.Flush()
}

func breachClose(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "breach close", "breach close ID --reason TEXT")
	reason := fs.String("reason", "", "why the incident is closed (notices sent, or no breach after all)")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	id, err := oneArg(fs, args, "incident id", "run 'dingbook breach list' to see the incidents")
	if err != nil {
		return err
	}
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.CloseBreach(ctx, pol, id, *reason, env.Actor); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: closed incident %s\n", id)
	return nil
}
