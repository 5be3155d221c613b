package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

func init() {
	Register(&Command{Name: "requests", Short: "the portal's export requests: list, show, approve, deny", Run: runRequests})
}

func runRequests(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "requests", []subcommand{
		{"list", "list [--state pending|approved|denied|expired] [--json]", requestsList},
		{"show", "show ID [--json]", requestsShow},
		{"approve", "approve ID [--departments IDS] [--fields LIST] [--days N] [--policy FILE] [--json]", requestsApprove},
		{"deny", "deny ID --reason TEXT [--json]", requestsDeny},
	}, args)
}

// operator is the CLI's session: the OS user at the terminal, who holds
// the state directory and decides as an approver (never their own
// request, never twice).
func operator(env *Env) *app.Session {
	return &app.Session{UserID: env.Actor}
}

// cliRequests opens the requests' use cases for the operator; the caller
// closes the App.
func cliRequests(ctx context.Context, env *Env, policyPath string) (*app.App, *app.Requests, error) {
	a, pol, err := openWithPolicy(ctx, env, policyPath)
	if err != nil {
		return nil, nil, err
	}
	return a, &app.Requests{App: a, Policy: pol, Operator: true}, nil
}

func requestsList(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "requests list", "requests list [--state pending|approved|denied|expired] [--json]")
	state := fs.String("state", "", "only requests in this state")
	asJSON := fs.Bool("json", false, `write {"requests": [...]} as the portal's GET /api/v1/requests`)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("requests list: unexpected argument %q", fs.Arg(0)), Hint: "use 'dingbook requests show ID' for one request"}
	}
	if err := checkState("requests list", *state, app.RequestPending, app.RequestApproved, app.RequestDenied, app.RequestExpired); err != nil {
		return err
	}
	a, rq, err := cliRequests(ctx, env, "")
	if err != nil {
		return err
	}
	defer a.Close()
	all, err := rq.List(ctx, operator(env), "approver")
	if err != nil {
		return err
	}
	list := []app.ExportRequest{}
	for _, er := range all {
		if *state == "" || er.State == *state {
			list = append(list, er)
		}
	}
	if *asJSON {
		return printJSON(env, map[string]any{"requests": list})
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tREQUESTER\tPEOPLE\tDAYS\tAPPROVALS\tFIELDS\tPURPOSE")
	for _, er := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d/%d\t%s\t%s\n", er.ID, er.State, er.Requester, er.People, er.Days, len(er.Approvals), er.Needs, strings.Join(er.Resolved, ","), er.Purpose)
	}
	return tw.Flush()
}

func requestsShow(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "requests show", "requests show ID [--json]")
	return onRequest(ctx, env, fs, args, nil, func(rq *app.Requests, id string) (*app.ExportRequest, error) {
		return rq.Get(ctx, id)
	})
}

// onRequest parses fs (adding --json) with its one request id, opens the
// requests for the operator (policy file *policyPath, read once parsed;
// nil: the default), runs fn on the id and prints the request fn returns.
func onRequest(ctx context.Context, env *Env, fs *flag.FlagSet, args []string, policyPath *string, fn func(rq *app.Requests, id string) (*app.ExportRequest, error)) error {
	asJSON := fs.Bool("json", false, "write the request as JSON")
	id, err := oneArg(fs, args, "request id", "'dingbook requests list' shows them")
	if err != nil {
		return err
	}
	path := ""
	if policyPath != nil {
		path = *policyPath
	}
	a, rq, err := cliRequests(ctx, env, path)
	if err != nil {
		return err
	}
	defer a.Close()
	er, err := fn(rq, id)
	if err != nil {
		return err
	}
	return printRequest(env, er, *asJSON)
}

// printRequest writes a request as JSON or as lines of text.
func printRequest(env *Env, er *app.ExportRequest, asJSON bool) error {
	if asJSON {
		return printJSON(env, er)
	}
	w := env.Stdout
	fmt.Fprintf(w, "request    %s (%s)\n", er.ID, er.State)
	fmt.Fprintf(w, "requester  %s, %s\n", er.Requester, er.Created.Local().Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "scope      departments %v, people %v (%d people)\n", er.Departments, er.UserIDs, er.People)
	fmt.Fprintf(w, "fields     %s\n", strings.Join(er.Resolved, ", "))
	fmt.Fprintf(w, "formats    %s; %d days\n", strings.Join(er.Formats, ", "), er.Days)
	fmt.Fprintf(w, "purpose    %s (basis %s)\n", er.Purpose, er.Basis)
	if er.Justification != "" {
		fmt.Fprintf(w, "justified  %s\n", er.Justification)
	}
	fmt.Fprintf(w, "approvers  %s (%d needed)\n", strings.Join(er.Approvers, ", "), er.Needs)
	for _, ap := range er.Approvals {
		fmt.Fprintf(w, "approved   by %s at %s\n", ap.By, ap.At.Local().Format("2006-01-02 15:04"))
	}
	if g := er.Granted; g != nil {
		fmt.Fprintf(w, "granted    departments %v, fields %s, %d days\n", g.Departments, strings.Join(g.Fields, ", "), g.Days)
	}
	if er.State == app.RequestDenied {
		fmt.Fprintf(w, "denied     by %s: %s\n", er.DeniedBy, er.Reason)
	}
	return nil
}

func requestsApprove(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "requests approve", "requests approve ID [--departments IDS] [--fields LIST] [--days N] [--policy FILE] [--json]")
	depts := fs.String("departments", "", "approve only these of the requested departments (dept_ids, comma-separated)")
	fields := fs.String("fields", "", "approve only these of the requested fields (comma-separated)")
	days := fs.Int("days", 0, "approve fewer days than asked for")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	return onRequest(ctx, env, fs, args, policyPath, func(rq *app.Requests, id string) (*app.ExportRequest, error) {
		n := app.Approval{Fields: splitList(*fields), Days: *days}
		for _, d := range splitList(*depts) {
			v, err := strconv.ParseInt(d, 10, 64)
			if err != nil {
				return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--departments: %q is not a dept_id", d), Hint: "give the numeric dept_ids, e.g. --departments 400001,400002"}
			}
			n.Departments = append(n.Departments, v)
		}
		er, err := rq.Approve(ctx, operator(env), id, n)
		if err == nil && er.State == app.RequestApproved {
			fmt.Fprintf(env.Stderr, "dingbook: approved %s; %s's grant is listed by 'dingbook grants list'\n", er.ID, er.Requester)
		} else if err == nil {
			fmt.Fprintf(env.Stderr, "dingbook: approval recorded; %s needs %d more approver(s)\n", er.ID, er.Needs-len(er.Approvals))
		}
		return er, err
	})
}

func requestsDeny(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "requests deny", "requests deny ID --reason TEXT [--json]")
	reason := fs.String("reason", "", "why (the requester sees it; required)")
	return onRequest(ctx, env, fs, args, nil, func(rq *app.Requests, id string) (*app.ExportRequest, error) {
		return rq.Deny(ctx, operator(env), id, *reason)
	})
}
