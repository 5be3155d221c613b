package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/csv"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/pull"
	"github.com/dingbook/dingbook/source/console"
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

func (f *exportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.fields, "fields", "", "ordered field keys, comma-separated (e.g. name,dept,mobile,extension.爱好)")
	fs.StringVar(&f.profile, "profile", "", "named field set: minimal, contact or full (default: the policy's default_profile)")
	fs.StringVar(&f.headers, "headers", "zh", "column header language: zh (as the console writes them), en or id")
	fs.StringVar(&f.mask, "mask", "", "fields to mask: mobile (keeps the first 3 and last 4 digits)")
	fs.StringVar(&f.encoding, "encoding", csv.UTF8BOM, "CSV encoding: utf-8-bom, utf-8, gb18030 or utf-16le")
	fs.BoolVar(&f.lf, "lf", false, "end CSV lines with LF instead of CRLF")
	fs.BoolVar(&f.keepFormula, "keep-formula-text", false, "xlsx: do not prefix ' to text starting with = + - @ (cells stay text, never formulas)")
	fs.StringVar(&f.vcardVersion, "vcard-version", "3.0", "vCard version: 3.0 (phones) or 4.0")
	fs.IntVar(&f.split, "split", 0, "vcf: at most N cards per file (for importers with limits); 0 = one file")
}

func (f *exportFlags) apply(o *export.Options) {
	o.Fields = splitList(f.fields)
	o.Profile = f.profile
	o.Headers = f.headers
	o.Mask = splitList(f.mask)
	o.CSV = csv.Options{Encoding: f.encoding, LF: f.lf}
	o.XLSX.KeepFormulaText = f.keepFormula
	o.VCard = app.VCard(f.vcardVersion)
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

// memberHooks are the hooks through which the CLI tells people on stderr
// what a member file's reader skipped or guessed, what --dedupe merged and
// a pull's receipt.
func memberHooks(env *Env) *app.Hooks {
	return &app.Hooks{
		MemberFile: func(path string, rep *console.Report) { printMemberReport(env, path, rep) },
		Merged: func(rule string, merges []clean.Merge) {
			for _, m := range merges {
				fmt.Fprintf(env.Stderr, "dingbook: dedupe: %s\n", m)
			}
			fmt.Fprintf(env.Stderr, "dingbook: --dedupe %s merged %d row group(s)\n", rule, len(merges))
		},
	}
}

// GCPercent is the collector's target (GOGC) that cmd/dingbook sets,
// once, for the command line args (without the program name), unless
// GOGC is set; ok is false when the default suits. The setting is
// process-wide, so it is made in main, never by a library during one job
// (concurrent jobs would undo each other's):
//
//   - 400 for a command that streams a member file without writing an
//     xlsx (convert to csv, vcf or jsonl; export --from FILE --format
//     without xlsx; not with --dedupe, which reads the file whole, nor
//     with manager_userid or the full profile, whose first pass keeps an
//     index of every userid and name), with MemoryLimit beside it. A stream's live heap is small (rows in flight, the
//     tree, a hash per userid), so the collector may run less often:
//     ~15% less CPU, ~100 MB more heap at most.
//   - 50 for an export or convert that writes an xlsx with its quality
//     report: the analysis's tables are big and pointer-free, so a lower
//     target keeps the heap near them instead of doubling it (~20% less
//     peak RSS at 200,000 people, at the same CPU), while the pass it
//     rides along with makes garbage fast enough that a lower one would
//     collect every few megabytes.
//   - 25 for quality, whose analysis is the whole job.
func GCPercent(args []string) (pct int, ok bool) {
	pct, _, ok = memorySettings(args)
	return pct, ok
}

// memorySettings is GCPercent, and whether the command streams a member
// file into an xlsx with its quality report (MemoryLimit).
func memorySettings(args []string) (pct int, streamedXLSX, ok bool) {
	if len(args) < 1 {
		return 0, false, false
	}
	value := func(name string) (string, bool) {
		for i, a := range args {
			a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v, true
			}
			if a == name && i+1 < len(args) {
				return args[i+1], true
			}
		}
		return "", false
	}
	noQuality := false
	for _, a := range args {
		switch strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-") {
		case "no-quality", "no-quality=true":
			noQuality = true
		}
	}
	// streams: the member file is streamed, not read whole (as
	// --dedupe, manager_userid and the full profile, which holds it, do).
	streams := func() bool {
		_, dedupe := value("dedupe")
		fields, _ := value("fields")
		profile, _ := value("profile")
		return !dedupe && !strings.Contains(fields, "manager_userid") && profile != "full"
	}
	switch args[0] {
	case "convert":
		last := strings.ToLower(args[len(args)-1])
		switch {
		case len(args) < 3 || strings.HasPrefix(last, "-"):
			return 0, false, false
		case !strings.HasSuffix(last, ".xlsx") && streams():
			return StreamGCPercent, false, true
		case !strings.HasSuffix(last, ".xlsx"):
			return 0, false, false // read whole
		case !noQuality:
			return qualityGCPercent, streams(), true
		}
	case "export":
		_, from := value("from")
		formats, set := value("format")
		xlsx := !set || strings.Contains(strings.ToLower(formats), "xlsx")
		switch {
		case from && !xlsx && streams():
			return StreamGCPercent, false, true
		case xlsx && !noQuality:
			return qualityGCPercent, from && streams(), true
		}
	case "quality":
		return analyzeGCPercent, false, true
	}
	return 0, false, false
}

// The collector's targets of GCPercent.
const (
	StreamGCPercent  = 400
	qualityGCPercent = 50
	analyzeGCPercent = 25
)

// MemoryLimit is the soft memory limit (GOMEMLIMIT) that cmd/dingbook
// sets, once, for the command line args unless GOMEMLIMIT is set; ok is
// false when none suits. A streamed member file runs with GOGC=400, which
// alone lets the heap grow to five times what is live, and a big
// workbook's shared strings are live throughout (tens of MB for a million
// people: 420 MB peak RSS for convert → vcf); a soft limit keeps the rarer
// collections while the heap is small and collects more often only near
// it (measured: 266 MB, no slower). A member file streamed into an xlsx
// with its quality report (GOGC=50) gets one too: the analysis's tables
// and the workbook's shared strings are live together (~200 MB for a
// million people, at most, the report's end included), and GOGC=50 alone
// lets the heap grow half as much again (1M people to xlsx, csv, jsonl
// and vcf: 507 → 340 MB peak RSS at 280 MiB, then 269 MB at 248 MiB once
// the live heap fell from ~234 to ~203 MB; no more CPU time, GC at 1-3%).
func MemoryLimit(args []string) (int64, bool) {
	switch pct, streamedXLSX, ok := memorySettings(args); {
	case ok && pct == StreamGCPercent:
		return streamMemoryLimit, true
	case ok && streamedXLSX:
		return streamXLSXMemoryLimit, true
	}
	return 0, false
}

// streamMemoryLimit is MemoryLimit's limit for a streamed member file,
// streamXLSXMemoryLimit for one streamed into an xlsx with its quality
// report.
const (
	streamMemoryLimit     = 256 << 20
	streamXLSXMemoryLimit = 248 << 20
)

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
	fs := NewFlags(env, "export", "export --purpose TEXT [--basis BASIS] [--justify TEXT] [--format xlsx,csv,vcf,jsonl] [--out DIR] [--dept NAME|PATH|ID]... [--no-subdepts] [--fields LIST | --profile NAME] [--headers zh|en|id] [--include-inactive] [--mask mobile] [--keep 30d] [--encrypt zip|age|none] [--snapshot ID | --pull | --from FILE] [--external] [--json]")
	gf := addGovFlags(fs, true)
	noQuality := fs.Bool("no-quality", false, "xlsx: leave out the status column, the highlighting of blank or invalid cells and the Quality sheet")
	region := fs.String("region", "CN", "default phone region for numbers without a country code (quality checks)")
	var ef exportFlags
	ef.register(fs)
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
	external := fs.Bool("external", false, "also write the external contacts (外部联系人) as vCards of the chosen fields, in a vcf file of their own; needs --basis consent and --consent-ref (those whose consent was withdrawn are left out)")
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
	ef.apply(&opts)

	a, pol, err := openWithPolicy(ctx, env, gf.Policy)
	if err != nil {
		return err
	}
	defer a.Close()
	req := &govern.Request{Action: "export", Actor: env.Actor, Fields: opts.Fields, Profile: ef.profile,
		DeptScope: depts, Masks: opts.Mask, OutDir: opts.Dir, Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return a.Refuse(ctx, pol, req, err)
	}
	if *dedupe != "" && *from == "" {
		return a.Refuse(ctx, pol, req, &dingbook.Error{Code: dingbook.EINVALID, Message: "--dedupe works only with --from FILE", Hint: "snapshots pulled from DingTalk are keyed by userid already"})
	}
	hooks := withProgress(env, memberHooks(env), *jsonOut)
	eo := app.ExportOptions{Request: req, Export: opts, Quality: !*noQuality, Split: ef.split, Snapshot: *snapID, Hooks: hooks, External: *external}
	switch {
	case *from != "":
		co, err := cons.options()
		if err != nil {
			return err
		}
		eo.File = &app.FileSource{Path: env.Path(*from), Name: *from, Console: co, Dedupe: *dedupe}
	case *doPull:
		client, cred, err := newClient(env, &cf)
		if err != nil {
			return err
		}
		hooks.Pulled = func(res *pull.Result) { printReceipt(env.Stderr, res, cred) }
		eo.Pull = &app.PullOptions{Client: client, BaseURL: cred.BaseURL}
	}
	res, err := a.Export(ctx, pol, eo)
	if err != nil {
		return err
	}
	if res.Pull != nil {
		fmt.Fprintf(env.Stderr, "dingbook: stored snapshot %d\n", res.Pull.Snapshot.ID)
	}
	sum := ExportSummary{Source: res.Source, SnapshotID: res.SnapshotID}
	gres, exp := res.Bundle, res.Export
	sum.Rows, sum.Fields, sum.DeptIDs, sum.LeftOut, sum.Quality = exp.Rows, exp.Fields, exp.Depts, exp.LeftOut, exp.Quality
	sum.GovernedSummary = governedSummary(gres, exp)
	printGoverned(env, gres, exp)
	if *jsonOut {
		return printJSON(env, sum)
	}
	return nil
}
