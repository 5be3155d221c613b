package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/normalize"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "quality", Short: "report missing, invalid and duplicate data of a snapshot or a file", Run: runQuality})
}

// runQuality prints the quality report of a snapshot (default: the
// newest) or of a file (--from: a console member file, or an exact org in
// JSON/YAML). The report goes to stdout (text, or JSON with --json); one
// summary line goes to stderr. --fail-on makes the exit status 1 (after
// printing the report) when any listed problem occurs.
func runQuality(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "quality", "quality [--snapshot ID | --from FILE [--sheet NAME] [--map H=F]... [--company NAME] [--encoding ENC]] [--region CN] [--dedupe RULE] [--report FILE.json [--overwrite]] [--json] [--fail-on PROBLEM,...]")
	snapID := fs.Int64("snapshot", 0, "report on snapshot `ID` (default: the newest)")
	from := fs.String("from", "", "report on a `FILE` instead: a console member file (.xlsx/.csv) or an org in .json/.yaml")
	region := fs.String("region", normalize.DefaultRegion, "default `REGION` for mobiles without a state code (ISO 3166, e.g. CN, ID)")
	var cons consoleFlags
	cons.register(fs, "encoding")
	dedupe := &cons.dedupe
	reportPath := fs.String("report", "", "also write the JSON report to `FILE.json` (mode 0600); it quotes only the fields of the policy's default profile and no hidden mobile")
	force := overwriteFlag(env, fs, "replace an existing --report file")
	jsonOut := fs.Bool("json", false, "print the report as JSON instead of text")
	failOn := fs.String("fail-on", "", "exit with status 1 if any of these comma-separated `PROBLEMS` occurs (e.g. missing-mobile,duplicate-mobile)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "quality takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "use --from FILE for a file, --snapshot ID for a snapshot"}
	}
	if *from != "" && *snapID != 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--from and --snapshot exclude each other", Hint: "choose either a file (--from) or a snapshot (--snapshot)"}
	}
	reg, err := checkRegion(*region)
	if err != nil {
		return err
	}
	failSet, err := clean.ParseProblems(*failOn)
	if err != nil {
		return err
	}
	if *dedupe != "" && *dedupe != clean.RuleJobNumber && *dedupe != clean.RuleMobileName && *dedupe != clean.RuleDefault {
		_, err := clean.Dedupe(&dingbook.Org{}, *dedupe)
		return err
	}

	qo := app.QualityOptions{Snapshot: *snapID, Dedupe: *dedupe, Region: reg, Shareable: *reportPath != "", Hooks: memberHooks(env)}
	var q *app.QualityResult
	if *from != "" {
		co, err := cons.options()
		if err != nil {
			return err
		}
		home, err := store.Home(env.Getenv)
		if err != nil {
			return err
		}
		qo.File = &app.FileSource{Path: env.Path(*from), Console: co}
		q, err = app.QualityOf(ctx, home, qo)
		if err != nil {
			return err
		}
	} else {
		a, err := openApp(ctx, env)
		if err != nil {
			return err
		}
		defer a.Close()
		if q, err = a.Quality(ctx, qo); err != nil {
			return err
		}
	}
	rep, dir := q.Report, q.Dir
	if *reportPath != "" {
		// The file leaves the terminal: like an export, it quotes only
		// the fields the policy's default profile exports, and never a
		// hidden mobile (an analysis of its own).
		path := env.Path(*reportPath)
		frep := q.Shared
		f, err := fileutil.Create(path, *force)
		if err != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot write the report %s", path), Hint: "choose another file name, or pass --overwrite to replace it", Err: err}
		}
		if err := frep.WriteJSON(ctx, f, dir); err != nil {
			f.Abort()
			return err
		}
		if err := f.Commit(); err != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot write the report %s", path), Hint: "check the directory's free space and permissions", Err: err}
		}
		quoted := "no field values (counts, rows and problems only)"
		if len(frep.QuotedFields) > 0 {
			quoted = "values of " + strings.Join(frep.QuotedFields, ", ") + " only"
		}
		fmt.Fprintf(env.Stderr, "dingbook: wrote %s: it quotes %s, as the policy's default profile %q allows, and no hidden mobile\n", path, quoted, q.Profile)
	}
	if *jsonOut {
		err = rep.WriteJSON(ctx, env.Stdout, dir)
	} else {
		err = rep.WriteText(ctx, env.Stdout, dir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: quality: %s\n", rep.Summary())
	if q.People > 0 && q.WithManager == 0 {
		fmt.Fprintln(env.Stderr, "dingbook: note: nobody has a manager_userid, so manager-not-found was not checked; DingTalk returns managers only to 'dingbook pull --with-manager'")
	}

	if failSet != 0 {
		var tripped []string
		for _, p := range failSet.List() {
			if n := rep.Counts[p]; n > 0 {
				tripped = append(tripped, fmt.Sprintf("%s (%d)", p, n))
			}
		}
		if len(tripped) > 0 {
			fmt.Fprintf(env.Stderr, "dingbook: quality: failing because of %s\n", strings.Join(tripped, ", "))
			return ErrSilent
		}
	}
	return nil
}
