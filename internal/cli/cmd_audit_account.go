package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fileutil"
)

func auditWhoHas(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit who-has", "audit who-has USERID|MOBILE|EMAIL [--since 90d] [--json]")
	since := fs.String("since", "", "only holdings made since this period (90d) or date")
	asJSON := fs.Bool("json", false, "write JSON: {\"person\", \"holdings\": [{\"kind\", \"id\", \"time\", \"purpose\", \"recipient\", \"fields\", \"expires_at\", \"purged\"}]}")
	q, err := oneArg(fs, args, "person (a userid, a mobile or an e-mail)", "e.g. 'dingbook audit who-has manager4951' or 'dingbook audit who-has +8613800138000'")
	if err != nil {
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
	res, err := a.WhoHas(ctx, q, t)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, res)
	}
	fmt.Fprintf(env.Stderr, "dingbook: %s is in %d holding(s)\n", res.Person, len(res.Holdings))
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tTIME\tPURPOSE\tRECIPIENT\tFIELDS\tEXPIRES\tPURGED")
	for _, h := range res.Holdings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", h.Kind, h.ID, h.Time, h.Purpose, h.Recipient, strings.Join(h.Fields, ","), h.ExpiresAt, h.Purged)
	}
	return tw.Flush()
}

func auditSubjectReport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit subject-report", "audit subject-report USERID|MOBILE|EMAIL --lang en|id|zh [--out FILE]")
	lang := fs.String("lang", "en", "language: en, id or zh")
	out := fs.String("out", "", "write the answer to FILE (0600) instead of stdout")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	q, err := oneArg(fs, args, "person (a userid, a mobile or an e-mail)", "e.g. 'dingbook audit subject-report manager4951 --lang id'")
	if err != nil {
		return err
	}
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	text, err := a.SubjectReport(ctx, pol, q, *lang, env.Actor)
	if err != nil {
		return err
	}
	return writeOut(env, *out, text)
}

// writeOut writes text to stdout, or atomically to path (0600).
func writeOut(env *Env, path, text string) error {
	if path == "" {
		_, err := io.WriteString(env.Stdout, text)
		return err
	}
	p := env.Path(path)
	if err := fileutil.WriteFile(p, []byte(text), true); err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot write " + p, Hint: "choose a writable --out path", Err: err}
	}
	fmt.Fprintf(env.Stderr, "dingbook: wrote %s\n", p)
	return nil
}

func auditExport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "audit export", "audit export [--since 1y|DATE] --format jsonl [--out FILE]")
	since := fs.String("since", "", "only records since this period (365d) or date (default: all)")
	format := fs.String("format", "jsonl", "jsonl (one record a line, with the exact hashed data; the last line is the chain's head)")
	out := fs.String("out", "", "write to FILE (0600) instead of stdout")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if *format != "jsonl" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--format %q is not known", *format), Hint: "use --format jsonl"}
	}
	t, err := govSince(*since, env.Now())
	if err != nil {
		return err
	}
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	w, commit := io.Writer(env.Stdout), func() error { return nil }
	if *out != "" {
		p := env.Path(*out)
		f, err := fileutil.Create(p, true)
		if err != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot write " + p, Hint: "choose a writable --out path", Err: err}
		}
		defer f.Abort()
		w, commit = f, f.Commit
	}
	head, err := a.ExportAudit(ctx, pol, t, w)
	if err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: %d audit records, head %d %s\n", head.Records, head.Head.Seq, head.Head.Hash)
	return nil
}
