package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "audit", Short: "the audit log: list, show N, verify, head, report, acknowledge, who-has, subject-report, export", Run: runAudit})
}

// govSince parses --since: a period back from now (30d, 12h, 2w) or a
// date (2026-01-31) or an RFC 3339 time.
func govSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := parseLocalTime(s); ok {
		return t, nil
	}
	d, err := policy.ParseKeep(s)
	if err != nil {
		return time.Time{}, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--since %q is neither a period nor a date", s), Hint: "use --since 30d, --since 12h or --since 2026-01-31"}
	}
	return now.Add(-d), nil
}

func runAudit(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "audit", []subcommand{
		{"list", "list [--since 30d] [--action export] [--limit N] [--json]", auditList},
		{"show", "show [--json] N", auditShow},
		{"verify", "verify [--head HASH] [--json]", auditVerify},
		{"head", "head [--json]", auditHead},
		{"report", "report [--since 30d] [--until DATE] [--action A] [--format table|csv|json] [--json]", auditReport},
		{"acknowledge", "acknowledge --reason TEXT", auditAcknowledge},
		{"who-has", "who-has USERID|MOBILE|EMAIL [--since 90d] [--json]", auditWhoHas},
		{"subject-report", "subject-report USERID|MOBILE|EMAIL --lang en|id|zh [--out FILE]", auditSubjectReport},
		{"export", "export [--since 1y|DATE] --format jsonl [--out FILE]", auditExport},
	}, args)
}

func auditList(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit list", "audit list [--since 30d] [--action export] [--limit N] [--json]")
	since := fs.String("since", "", "only records since this period (30d) or date")
	action := fs.String("action", "", "only this action (export, convert, import, pull, purge, policy-change)")
	limit := fs.Int("limit", 0, "only the last N records")
	asJSON := fs.Bool("json", false, "write JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	t, err := govSince(*since, env.Now())
	if err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	recs, err := a.AuditRecords(ctx, audit.Filter{Since: t, Action: *action, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		return audit.NewReport(t, env.Now(), recs).Write(env.Stdout, "json")
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tOUTCOME\tROWS\tEXPORT\tPURPOSE / REASON")
	for _, r := range recs {
		why := r.Purpose
		if r.Reason != "" {
			why = strings.TrimSpace(strings.TrimSuffix(why+" / "+r.Reason, " / "))
			why = strings.TrimPrefix(why, "/ ")
		}
		if n := []rune(why); len(n) > 70 {
			why = string(n[:69]) + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Seq, r.Time.Local().Format("2006-01-02 15:04:05"), r.Actor, r.Action, r.Outcome, r.Rows, govDash(r.ExportID), strings.ReplaceAll(why, "\n", " "))
	}
	return tw.Flush()
}

func govDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditShow(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit show", "audit show [--json] N   (the record, always as JSON)")
	fs.Bool("json", true, "write JSON (the only output of audit show)")
	args, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "audit show needs one record number", Hint: "run 'dingbook audit list' and pick a SEQ"}
	}
	seq, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || seq < 1 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("audit show: %q is not a record number", args[0]), Hint: "run 'dingbook audit list' and pick a SEQ"}
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.AuditRecord(ctx, seq)
	if err != nil {
		return err
	}
	out := struct {
		Seq      int64  `json:"seq"`
		PrevHash string `json:"prev_hash"`
		Hash     string `json:"hash"`
		audit.Record
	}{r.Seq, r.PrevHash, r.Hash, r}
	return printJSON(env, out)
}

func auditVerify(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit verify", "audit verify [--head HASH] [--json]")
	anchor := fs.String("head", "", "also check that this head hash (from 'dingbook audit head', kept elsewhere) is in the log")
	asJSON := fs.Bool("json", false, "write the result as JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.VerifyAudit(ctx, *anchor)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(env, res); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(env.Stdout, "audit log OK: %d records, head %d %s\n", res.Records, res.HeadSeq, res.HeadHash)
		for _, seq := range res.Acknowledged {
			fmt.Fprintf(env.Stdout, "acknowledged gap between the log and %s: record %d ('dingbook audit show %d')\n", audit.HeadFile, seq, seq)
		}
	}
	if !res.OK {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("audit log verification failed at record %d: %s", res.FirstBad, res.Problem),
			Hint: "the audit log was tampered with or damaged; keep a copy of " + store.DBName + " for investigation and inform the data protection officer"}
	}
	return nil
}

// auditAcknowledge records, with a reason, the gap between the log and its
// anchor that makes dingbook refuse to write; audit verify then passes
// again, and lists the acknowledgement.
func auditAcknowledge(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit acknowledge", "audit acknowledge --reason TEXT")
	reason := fs.String("reason", "", "what was investigated and why dingbook may write again (recorded)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.AcknowledgeAudit(ctx, env.Actor, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: recorded as audit record %d: %s\n", r.Seq, r.Details["gap"])
	return nil
}

func auditHead(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit head", "audit head [--json]")
	asJSON := fs.Bool("json", false, `write {"seq", "hash"} as JSON`)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	seq, hash, err := a.AuditHead(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		}{seq, hash})
	}
	fmt.Fprintf(env.Stdout, "%d %s\n", seq, hash)
	return nil
}

func auditReport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit report", "audit report [--since 30d] [--until DATE] [--action A] [--format table|csv|json] [--json]")
	since := fs.String("since", "30d", "period back from now (30d) or a date")
	until := fs.String("until", "", "end date (default now)")
	action := fs.String("action", "", "only this action")
	format := fs.String("format", "table", "table, csv or json")
	asJSON := fs.Bool("json", false, "write JSON (the same as --format json)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	*format = strings.ToLower(*format)
	if *asJSON {
		if *format != "table" && *format != "json" {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--json and --format %s conflict", *format), Hint: "give one of them"}
		}
		*format = "json"
	}
	now := env.Now()
	s, err := govSince(*since, now)
	if err != nil {
		return err
	}
	u := now
	if *until != "" {
		if u, err = govSince(*until, now); err != nil {
			return err
		}
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--format %q is not known", *format), Hint: "use --format table, csv or json"}
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	recs, err := a.AuditRecords(ctx, audit.Filter{Since: s, Until: u.Add(time.Nanosecond), Action: *action})
	if err != nil {
		return err
	}
	return audit.NewReport(s, u, recs).Write(env.Stdout, *format)
}
