package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/csv"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/pull"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "export", Short: "export the address book to xlsx, csv, vcf or jsonl files", Run: runExport})
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// splitList splits "a,b, c" into its non-empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// exportFlags are the flags export and convert share.
type exportFlags struct {
	fields, profile, headers, mask, encoding, vcardVersion string
	lf, keepFormula                                        bool
	split                                                  int
}

func (f *exportFlags) register(fs *flag.FlagSet, defaultProfile string) {
	fs.StringVar(&f.fields, "fields", "", "ordered field keys, comma-separated (e.g. name,dept,mobile,extension.爱好)")
	fs.StringVar(&f.profile, "profile", "", "named field set: minimal, contact or full (default "+defaultProfile+")")
	fs.StringVar(&f.headers, "headers", "zh", "column header language: zh (as the console writes them), en or id")
	fs.StringVar(&f.mask, "mask", "", "fields to mask: mobile (keeps the first 3 and last 4 digits)")
	fs.StringVar(&f.encoding, "encoding", csv.UTF8BOM, "CSV encoding: utf-8-bom, utf-8, gb18030 or utf-16le")
	fs.BoolVar(&f.lf, "lf", false, "end CSV lines with LF instead of CRLF")
	fs.BoolVar(&f.keepFormula, "keep-formula-text", false, "xlsx: do not prefix ' to text starting with = + - @ (cells stay text, never formulas)")
	fs.StringVar(&f.vcardVersion, "vcard-version", "3.0", "vCard version: 3.0 (phones) or 4.0")
	fs.IntVar(&f.split, "split", 0, "vcf: at most N cards per file (for importers with limits); 0 = one file")
}

func (f *exportFlags) apply(o *export.Options, defaultProfile string) {
	o.Fields = splitList(f.fields)
	o.Profile = f.profile
	if len(o.Fields) == 0 && o.Profile == "" {
		o.Profile = defaultProfile
	}
	o.Headers = f.headers
	o.Mask = splitList(f.mask)
	o.CSV = csv.Options{Encoding: f.encoding, LF: f.lf}
	o.XLSX.KeepFormulaText = f.keepFormula
	version := f.vcardVersion
	o.VCard = func(w io.Writer, company, corpID string) (export.PersonWriter, error) {
		return vcard.New(w, vcard.Options{Version: version, Company: company, CorpID: corpID}), nil
	}
}

// ExportSummary is what export --json prints.
type ExportSummary struct {
	Source     string `json:"source"`
	SnapshotID int64  `json:"snapshot_id,omitempty"`
	GovernedSummary
	Rows    int            `json:"rows"`
	Fields  []string       `json:"fields"`
	DeptIDs []int64        `json:"dept_ids,omitempty"`
	LeftOut export.LeftOut `json:"left_out"`
	// Quality: the quality report's totals, when the xlsx carries it.
	Quality *clean.Totals `json:"quality,omitempty"`
}

// openSnapshot opens snapshot id, or the latest when id is 0, as a
// streamed directory, and returns the id.
func openSnapshot(ctx context.Context, db *store.DB, id int64) (*store.SnapshotDirectory, int64, error) {
	id, err := snapshotID(ctx, db, id)
	if err != nil {
		return nil, 0, err
	}
	sd, err := db.Directory(ctx, id)
	return sd, id, err
}

// readMemberFile reads an admin-console member file (source/console) and
// tells people on stderr what the reader skipped or guessed.
func readMemberFile(ctx context.Context, env *Env, path string, opts console.Options) (*dingbook.Org, error) {
	org, rep, err := console.ReadFileContext(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	printMemberReport(env, path, rep)
	return org, nil
}

// dedupedMemberFile reads a member file whole and merges the rows that are
// one person (--dedupe RULE), telling people on stderr about every merge.
func dedupedMemberFile(ctx context.Context, env *Env, path string, co console.Options, rule, region string) (*dingbook.Org, error) {
	org, err := readMemberFile(ctx, env, path, co)
	if err != nil {
		return nil, err
	}
	if _, err := dedupeRows(env, org, rule, region); err != nil {
		return nil, err
	}
	return org, nil
}

// dedupeRows merges the rows of org that are one person (--dedupe RULE) and
// tells people on stderr about every merge, in one wording for every
// command.
func dedupeRows(env *Env, org *dingbook.Org, rule, region string) ([]clean.Merge, error) {
	merges, err := clean.DedupeRegion(org, rule, region)
	if err != nil {
		return nil, err
	}
	for _, m := range merges {
		fmt.Fprintf(env.Stderr, "dingbook: dedupe: %s\n", m)
	}
	fmt.Fprintf(env.Stderr, "dingbook: --dedupe %s merged %d row group(s)\n", rule, len(merges))
	return merges, nil
}

// memberDirectory opens an admin-console member file as the source of an
// export. Without --dept, and unless manager_userid is among the fields,
// it streams the file (console.Stream): read once, in step with the
// writing, never held whole; the fields of profile "full" then come from
// the header (every custom column). A streamed read resolves a manager
// only to someone in the same or an earlier row, and --dept needs the
// whole tree, so those exports read the file whole. After export.Run,
// call done with whether it succeeded: it tells people what the reader
// skipped or guessed and closes the file.
func memberDirectory(ctx context.Context, env *Env, path string, co console.Options, opts *export.Options) (dingbook.Directory, func(ok bool), error) {
	whole := func() (dingbook.Directory, func(ok bool), error) {
		org, err := readMemberFile(ctx, env, path, co)
		if err != nil {
			return nil, nil, err
		}
		return dingbook.OrgDirectory{Org: org}, func(bool) {}, nil
	}
	if len(opts.Depts) > 0 || slices.Contains(opts.Fields, "manager_userid") {
		return whole()
	}
	st, err := console.Open(path, co)
	if err != nil {
		return nil, nil, err
	}
	if len(opts.Fields) == 0 {
		fields, err := export.ResolveFields(nil, opts.Profile, opts.Profiles, func() ([]string, error) { return st.ExtensionKeys(), nil })
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		if slices.Contains(fields, "manager_userid") {
			st.Close()
			return whole()
		}
		opts.Fields, opts.Profile = fields, ""
	}
	// A stream's live heap is small (rows in flight, the tree, a hash per
	// userid), so the collector may run less often: unless GOGC is set, the
	// pass runs with GOGC=400 (~15% less CPU, ~100 MB more heap at most).
	// Not with an xlsx: its quality report keeps tables of a hundred-odd
	// bytes a person, which GOGC=400 would let grow fivefold.
	gc := -1
	if os.Getenv("GOGC") == "" && !slices.Contains(opts.Formats, "xlsx") {
		gc = debug.SetGCPercent(streamGCPercent)
	}
	return st, func(ok bool) {
		if gc >= 0 {
			debug.SetGCPercent(gc)
		}
		if ok {
			printMemberReport(env, path, st.Report())
		}
		st.Close()
	}, nil
}

// streamGCPercent is GOGC while a member file is streamed.
const streamGCPercent = 400

// printMemberReport tells people on stderr what the reader skipped or
// guessed.
func printMemberReport(env *Env, path string, rep *console.Report) {
	if rep == nil {
		return
	}
	fmt.Fprintf(env.Stderr, "dingbook: read %d people from %s", rep.Rows, path)
	if rep.Sheet != "" {
		fmt.Fprintf(env.Stderr, " (sheet %q, header row %d)", rep.Sheet, rep.HeaderRow)
	}
	fmt.Fprintln(env.Stderr)
	if len(rep.Unknown) > 0 {
		fmt.Fprintf(env.Stderr, "dingbook: kept %d unknown column(s) as custom fields: %s\n", len(rep.Unknown), summarize(rep.Unknown, 10))
	}
	for i, w := range append(append([]string(nil), rep.Skipped...), rep.Warnings...) {
		if i == 20 {
			fmt.Fprintf(env.Stderr, "dingbook: … and %d more notes\n", len(rep.Skipped)+len(rep.Warnings)-20)
			break
		}
		fmt.Fprintf(env.Stderr, "dingbook: note: %s\n", w)
	}
}

// consoleFlags are the flags of every command that reads a console
// member file (import, quality, export --from, convert): --map, --sheet,
// --company, the file's encoding and --dedupe.
type consoleFlags struct {
	maps                             listFlag
	sheet, company, encoding, dedupe string
}

// register defines the flags; encodingFlag names the input encoding's
// flag: "encoding" where no output encoding exists (import, quality),
// "in-encoding" where --encoding is the CSV output's (export, convert).
func (c *consoleFlags) register(fs *flag.FlagSet, encodingFlag string) {
	fs.Var(&c.maps, "map", "map a column header to a field, e.g. --map '手机号码=mobile' or '爱好=extension.爱好', '-' ignores the column (repeatable)")
	fs.StringVar(&c.sheet, "sheet", "", "sheet of the member file to read (default: the first)")
	fs.StringVar(&c.company, "company", "", "company (root department) name of the member file (default: the file name)")
	fs.StringVar(&c.encoding, encodingFlag, "", "encoding of a CSV member file: "+strings.Join(console.Encodings, ", ")+" (default: detected)")
	fs.StringVar(&c.dedupe, "dedupe", "", "merge member-file rows that are one person: job-number, mobile-name or default (job number, then mobile and name); every merge is reported")
}

func (c *consoleFlags) options() (console.Options, error) {
	o := console.Options{Sheet: c.sheet, Company: c.company, Encoding: c.encoding}
	for _, m := range c.maps {
		h, k, ok := strings.Cut(m, "=")
		if !ok || strings.TrimSpace(h) == "" || strings.TrimSpace(k) == "" {
			return o, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--map %q is not '<header>=<field>'", m), Hint: "example: --map '手机号码=mobile'"}
		}
		if o.Map == nil {
			o.Map = map[string]string{}
		}
		o.Map[strings.TrimSpace(h)] = strings.TrimSpace(k)
	}
	return o, nil
}

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "export", "export --purpose TEXT [--basis BASIS] [--justify TEXT] [--format xlsx,csv,vcf,jsonl] [--out DIR] [--dept NAME|PATH|ID]... [--no-subdepts] [--fields LIST | --profile NAME] [--headers zh|en|id] [--include-inactive] [--mask mobile] [--keep 30d] [--encrypt zip|age|none] [--snapshot ID | --pull | --from FILE] [--json]")
	gf := govern.AddFlags(fs, true)
	noQuality := fs.Bool("no-quality", false, "xlsx: leave out the status column, the highlighting of blank or invalid cells and the Quality sheet")
	region := fs.String("region", "CN", "default phone region for numbers without a country code (quality checks)")
	var ef exportFlags
	ef.register(fs, export.DefaultProfile)
	formats := fs.String("format", "xlsx", "output formats, comma-separated: xlsx, csv, vcf, jsonl")
	out := fs.String("out", "dingbook-export", "output directory (created 0700)")
	var depts listFlag
	fs.Var(&depts, "dept", "department name, path (研发部/后端组) or id; repeatable; sub-departments included")
	noSub := fs.Bool("no-subdepts", false, "only direct members of --dept, not of its sub-departments")
	inactive := fs.Bool("include-inactive", false, "include people who have not activated DingTalk (left out by default)")
	snapID := fs.Int64("snapshot", 0, "export this snapshot id (default: the latest)")
	doPull := fs.Bool("pull", false, "pull from DingTalk first, then export that snapshot")
	from := fs.String("from", "", "export an admin-console member file (xlsx/csv) instead of a snapshot")
	jsonOut := fs.Bool("json", false, "print a machine-readable summary on stdout")
	var cons consoleFlags
	cons.register(fs, "in-encoding")
	dedupe := &cons.dedupe
	var cf credFlags
	fs.StringVar(&cf.config, "config", "", "with --pull: config file with profiles (default $DINGBOOK_HOME/config.yaml)")
	fs.StringVar(&cf.profile, "config-profile", "", "with --pull: profile of the config file to use")
	fs.IntVar(&cf.qps, "qps", 0, "with --pull: calls per second per DingTalk API")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "export takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "give departments with --dept; run 'dingbook export -h'"}
	}
	reg, err := checkRegion(*region)
	if err != nil {
		return err
	}
	*region = reg
	if err := checkSplit(ef.split, splitList(*formats)); err != nil {
		return err
	}
	if err := checkQPS(cf.qps); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*snapID != 0, *doPull, *from != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--snapshot, --pull and --from exclude each other", Hint: "choose one source"}
	}
	opts := export.Options{
		Dir: env.Path(*out), Formats: splitList(*formats), Depts: depts, NoSubdepts: *noSub,
		IncludeInactive: *inactive, Now: env.Now(), Region: *region,
	}
	ef.apply(&opts, "")

	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	pol, err := loadPolicy(ctx, env, db, gf.Policy)
	if err != nil {
		return err
	}
	req := &govern.Request{Action: "export", Actor: env.Actor, Fields: opts.Fields, Profile: ef.profile,
		DeptScope: depts, Masks: opts.Mask, OutDir: opts.Dir, Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return govern.Refuse(ctx, db, pol, req, err)
	}
	if *dedupe != "" && *from == "" {
		return govern.Refuse(ctx, db, pol, req, &dingbook.Error{Code: dingbook.EINVALID, Message: "--dedupe works only with --from FILE", Hint: "snapshots pulled from DingTalk are keyed by userid already"})
	}
	gx := &governedExport{db: db, pol: pol, req: req, quality: !*noQuality, region: *region, split: ef.split}
	if _, err := gx.decide(ctx, &opts); err != nil {
		return err
	}

	sum := ExportSummary{}
	var dir dingbook.Directory
	fromDone := func(bool) {}
	switch {
	case *from != "":
		co, err := cons.options()
		if err != nil {
			return err
		}
		co.TmpDir = filepath.Join(db.Dir, govern.TmpDirName)
		if *dedupe != "" {
			org, err := dedupedMemberFile(ctx, env, env.Path(*from), co, *dedupe, *region)
			if err != nil {
				return err
			}
			dir = dingbook.OrgDirectory{Org: org}
		} else {
			d, done, err := memberDirectory(ctx, env, env.Path(*from), co, &opts)
			if err != nil {
				return err
			}
			dir, fromDone = d, done
		}
		sum.Source = "file:" + *from
		req.Source = sum.Source
	case *doPull:
		client, cred, err := newClient(env, &cf)
		if err != nil {
			return err
		}
		var res *pull.Result
		preq := &govern.Request{Action: "pull", Actor: env.Actor, Source: "dingtalk:" + cred.BaseURL, Now: env.Now}
		err = govern.Guard(ctx, db, pol, preq, func(ctx context.Context) (*govern.Produced, error) {
			var err error
			res, err = pull.Run(ctx, pull.Options{Client: client, DB: db, Now: env.Now})
			if err != nil {
				return nil, err
			}
			printReceipt(env.Stderr, res, cred)
			if !res.Snapshot.Receipt.Complete {
				return nil, pull.IncompleteError(res.Snapshot.Receipt)
			}
			if err := pull.Save(ctx, db, res, env.Now()); err != nil {
				return nil, err
			}
			return &govern.Produced{Rows: res.Snapshot.Receipt.People, Snapshot: res.Snapshot.ID, Tenant: res.Snapshot.Org.CorpID}, nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "dingbook: stored snapshot %d\n", res.Snapshot.ID)
		dir = dingbook.OrgDirectory{Org: &res.Snapshot.Org}
		sum.Source, sum.SnapshotID = res.Snapshot.Source, res.Snapshot.ID
	default:
		sd, id, err := openSnapshot(ctx, db, *snapID)
		if err != nil {
			return err
		}
		dir = sd
		sum.Source, sum.SnapshotID = "snapshot:"+strconv.FormatInt(id, 10), id
	}

	if sum.SnapshotID != 0 {
		req.Snapshot, req.Source = sum.SnapshotID, sum.Source
	}
	if name, corp := dir.Info(); corp != "" {
		req.Tenant = corp
	} else {
		req.Tenant = name
	}
	gres, res, err := gx.run(ctx, dir, opts, fromDone)
	if err != nil {
		return err
	}
	sum.Rows, sum.Fields, sum.DeptIDs, sum.LeftOut, sum.Quality = res.Rows, res.Fields, res.Depts, res.LeftOut, res.Quality
	sum.GovernedSummary = governedSummary(gres, res)
	printGoverned(env, gres, res)
	if *jsonOut {
		return printJSON(env, sum)
	}
	return nil
}
