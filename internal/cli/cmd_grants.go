package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

func init() {
	Register(&Command{Name: "grants", Short: "the portal's grants (approved requests): list, revoke", Run: runGrants})
}

func runGrants(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "grants", []subcommand{
		{"list", "list [--state active|used|revoked|expired] [--json]", grantsList},
		{"revoke", "revoke ID [--reason TEXT] [--json]", grantsRevoke},
	}, args)
}

// cliGrants opens the grants' use cases for the operator; the caller
// closes the App.
func cliGrants(ctx context.Context, env *Env) (*app.App, *app.Grants, error) {
	a, pol, err := openWithPolicy(ctx, env, "")
	if err != nil {
		return nil, nil, err
	}
	return a, &app.Grants{App: a, Policy: pol, Operator: true}, nil
}

func grantsList(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "grants list", "grants list [--state active|used|revoked|expired] [--json]")
	state := fs.String("state", "", "only grants in this state")
	asJSON := fs.Bool("json", false, `write {"grants": [...]} as the portal's GET /api/v1/grants`)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("grants list: unexpected argument %q", fs.Arg(0)), Hint: "use 'dingbook grants list [--state STATE]'"}
	}
	if err := checkState("grants list", *state, app.GrantActive, app.GrantUsed, app.GrantRevoked, app.GrantExpired); err != nil {
		return err
	}
	a, gs, err := cliGrants(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	all, err := gs.List(ctx, operator(env), "approver")
	if err != nil {
		return err
	}
	list := []app.Grant{}
	for _, g := range all {
		if *state == "" || g.State == *state {
			list = append(list, g)
		}
	}
	if *asJSON {
		return printJSON(env, map[string]any{"grants": list})
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tGRANTEE\tREQUEST\tEXPIRES\tDOWNLOADS LEFT\tTERMS")
	for _, g := range list {
		terms := "-"
		if g.Terms != nil {
			terms = "v" + g.Terms.Version
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", g.ID, g.State, g.Grantee, g.RequestID, g.ExpiresAt.Local().Format("2006-01-02 15:04"), g.DownloadsLeft, g.Downloads, terms)
	}
	return tw.Flush()
}

func grantsRevoke(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "grants revoke", "grants revoke ID [--reason TEXT] [--json]")
	reason := fs.String("reason", "", "why (goes into the audit log)")
	asJSON := fs.Bool("json", false, "write the grant as JSON")
	id, err := oneArg(fs, args, "grant id", "'dingbook grants list --state active' shows them")
	if err != nil {
		return err
	}
	a, gs, err := cliGrants(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	g, err := gs.Revoke(ctx, operator(env), id, *reason)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, g)
	}
	fmt.Fprintf(env.Stdout, "dingbook: revoked %s (%s's grant); its download links answer 410 Gone\n", g.ID, g.Grantee)
	return nil
}

// checkState refuses a --state that is none of states (a typo would list
// nothing, as if there were nothing to list).
func checkState(cmd, state string, states ...string) error {
	if state == "" || slices.Contains(states, state) {
		return nil
	}
	return &dingbook.Error{Code: dingbook.EINVALID, Field: "state", Message: fmt.Sprintf("%s: --state %q is not one of %s", cmd, state, strings.Join(states, ", ")),
		Hint: "use --state " + states[0] + ", or leave --state out to list all"}
}
