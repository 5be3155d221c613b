package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/source/gen"
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
	region := fs.String("region", clean.DefaultRegion, "default `REGION` for mobiles without a state code (ISO 3166, e.g. CN, ID)")
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

	var dir dingbook.Directory
	source := ""
	sizeHint := 0
	var org *dingbook.Org
	if *from != "" {
		path := env.Path(*from)
		source = "file:" + filepath.Base(path)
		co, err := cons.options()
		if err != nil {
			return err
		}
		if co.TmpDir, err = tmpRoot(env); err != nil {
			return err
		}
		org, err = readOrgFile(ctx, path, co)
		if err != nil {
			return err
		}
	} else {
		home, err := store.Home(env.Getenv)
		if err != nil {
			return err
		}
		db, err := store.Open(ctx, home)
		if err != nil {
			return err
		}
		defer db.Close()
		id, err := snapshotID(ctx, db, *snapID)
		if err != nil {
			return err
		}
		source = fmt.Sprintf("snapshot:%d", id)
		if infos, err := db.Snapshots(ctx); err == nil {
			for _, si := range infos {
				if si.ID == id {
					sizeHint = si.People
				}
			}
		}
		if *dedupe != "" {
			s, err := db.LoadSnapshot(ctx, id)
			if err != nil {
				return err
			}
			org = &s.Org
		} else {
			sd, err := db.Directory(ctx, id)
			if err != nil {
				return err
			}
			dir = sd
		}
	}
	var merges []clean.Merge
	if org != nil {
		if *dedupe != "" {
			if merges, err = dedupeRows(env, org, *dedupe, reg); err != nil {
				return err
			}
		}
		dir = dingbook.OrgDirectory{Org: org}
	}

	mc := &managerCounter{Directory: dir}
	rep, err := clean.Analyze(ctx, mc, clean.Options{Region: reg, SizeHint: sizeHint})
	if err != nil {
		return err
	}
	rep.Source = source
	rep.Merges = merges

	if *reportPath != "" {
		// The file leaves the terminal: like an export, it quotes only
		// the fields the policy's default profile exports, and never a
		// hidden mobile (an analysis of its own).
		path := env.Path(*reportPath)
		pol, visible, err := defaultProfileFields(env)
		if err != nil {
			return err
		}
		frep, err := clean.Analyze(ctx, dir, clean.Options{Region: reg, SizeHint: sizeHint, Select: withoutHiddenMobile, Visible: slices.Clone(visible)})
		if err != nil {
			return err
		}
		frep.Source, frep.Merges = source, restrictMerges(merges, visible)
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
		fmt.Fprintf(env.Stderr, "dingbook: wrote %s: it quotes %s, as the policy's default profile %q allows, and no hidden mobile\n", path, quoted, pol.DefaultProfile)
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
	if mc.people > 0 && mc.withManager == 0 {
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

// defaultProfileFields loads the policy of DINGBOOK_HOME and returns it
// with the fields of its default profile: what a report that leaves the
// export path (quality --report, diff) may quote.
func defaultProfileFields(env *Env) (*policy.Policy, []string, error) {
	home, err := store.Home(env.Getenv)
	if err != nil {
		return nil, nil, err
	}
	pp, missingOK := policy.Path("", home)
	pol, err := policy.Load(pp, missingOK)
	if err != nil {
		return nil, nil, err
	}
	fields, _ := pol.ProfileFields(pol.DefaultProfile)
	return pol, fields, nil
}

// withoutHiddenMobile is Options.Select for a report written to a file:
// everybody, without the mobile they hid in DingTalk.
func withoutHiddenMobile(p *dingbook.Person) *dingbook.Person {
	if !p.HideMobile || p.Mobile == "" {
		return p
	}
	q := *p
	q.Mobile, q.StateCode = "", ""
	return &q
}

// restrictMerges returns merges as a report limited to the visible
// fields may quote them: a merge's key (a job number, or a mobile and a
// name) and name only when those fields are visible.
func restrictMerges(merges []clean.Merge, visible []string) []clean.Merge {
	has := func(k string) bool { return slices.Contains(visible, k) }
	out := slices.Clone(merges)
	for i := range out {
		m := &out[i]
		if !(m.Rule == clean.RuleJobNumber && has("job_number") || m.Rule == clean.RuleMobileName && has("mobile") && has("name")) {
			m.Key = ""
		}
		if !has("name") {
			m.Name = ""
		}
	}
	return out
}

// readOrgFile reads --from: an exact org (.json, .yaml, .yml) or a
// console member file (anything else).
func readOrgFile(ctx context.Context, path string, co console.Options) (*dingbook.Org, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".yaml", ".yml":
		t, err := gen.Load(path)
		if err != nil {
			return nil, err
		}
		return &t.Org, nil
	}
	org, _, err := console.ReadFileContext(ctx, path, co)
	if err != nil {
		return nil, err
	}
	if org == nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s: no members read", path), Hint: "pass the member file exported from the DingTalk admin console (.xlsx or .csv)"}
	}
	return org, nil
}

// managerCounter counts, while the cleaner streams the people, how many have
// a manager_userid: a snapshot pulled without --with-manager has none, and
// then manager-not-found says nothing.
type managerCounter struct {
	dingbook.Directory
	people, withManager int
}

func (m *managerCounter) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	m.people, m.withManager = 0, 0
	return m.Directory.EachPerson(ctx, func(p *dingbook.Person) error {
		m.people++
		if p.ManagerUserID != "" {
			m.withManager++
		}
		return fn(p)
	})
}
