package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/govern"
)

func init() {
	Register(&Command{Name: "import", Short: "load an admin-console member file (xlsx/csv) into a snapshot", Run: runImport})
}

// importSummary is the --json output of dingbook import.
type importSummary struct {
	SnapshotID  int64             `json:"snapshot_id"`
	Source      string            `json:"source"`
	People      int               `json:"people"`
	Departments int               `json:"departments"`
	File        string            `json:"file"`
	Sheet       string            `json:"sheet,omitempty"`
	Encoding    string            `json:"encoding"`
	Delimiter   string            `json:"delimiter,omitempty"`
	HeaderRow   int               `json:"header_row"`
	Columns     map[string]string `json:"columns"`
	Unknown     []string          `json:"unknown_headers"`
	Skipped     []string          `json:"skipped_rows"`
	Warnings    []string          `json:"warnings"`
}

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "import", "import --purpose TEXT [--basis BASIS] [--map '<header>=<field>']... [--sheet NAME] [--company NAME] [--encoding ENC] [--dedupe RULE] [--allow-empty] [--json] FILE")
	gf := addGovFlags(fs, false)
	var cons consoleFlags
	cons.register(fs, "encoding")
	dedupe := &cons.dedupe
	jsonOut := fs.Bool("json", false, "print a JSON summary on stdout")
	region := fs.String("region", "CN", "default phone region for --dedupe mobile matching")
	allowEmpty := fs.Bool("allow-empty", false, "store a file without members (a header only) as a snapshot, which then becomes the latest")
	files, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	co, err := cons.options()
	if err != nil {
		return err
	}
	if *region, err = checkRegion(*region); err != nil {
		return err
	}
	if len(files) != 1 {
		return dingbook.Errorf(dingbook.EINVALID, "import needs exactly one FILE, got %d", len(files)).
			WithHint("run 'dingbook import staff.xlsx' with the member file exported from the DingTalk admin console")
	}
	path := env.Path(files[0])
	a, pol, err := openWithPolicy(ctx, env, gf.Policy)
	if err != nil {
		return err
	}
	defer a.Close()
	req := &govern.Request{Action: "import", Actor: env.Actor, Source: "file:" + filepath.Base(path), Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return a.Refuse(ctx, pol, req, err)
	}
	ir, err := a.Import(ctx, pol, app.ImportOptions{Request: req, File: app.FileSource{Path: path, Console: co, Dedupe: *dedupe},
		Region: *region, AllowEmpty: *allowEmpty, Hooks: memberHooks(env)})
	if err != nil {
		return err
	}
	org, rep, snap := ir.Org, ir.Report, ir.Snapshot
	if *jsonOut {
		sum := importSummary{SnapshotID: snap.ID, Source: snap.Source, People: len(org.People), Departments: len(org.Depts),
			File: rep.File, Sheet: rep.Sheet, Encoding: rep.Encoding, Delimiter: rep.Delimiter, HeaderRow: rep.HeaderRow,
			Columns: rep.Columns, Unknown: nonNil(rep.Unknown), Skipped: nonNil(rep.Skipped), Warnings: nonNil(rep.Warnings)}
		return printJSON(env, sum)
	}
	fmt.Fprintf(env.Stderr, "dingbook: imported %d people in %d departments from %s (header row %d, %s) into snapshot %d\n",
		len(org.People), len(org.Depts), filepath.Base(path), rep.HeaderRow, rep.Encoding, snap.ID)
	if len(rep.Unknown) > 0 {
		fmt.Fprintf(env.Stderr, "dingbook: kept %d unknown column(s) as custom fields: %s\n", len(rep.Unknown), summarize(rep.Unknown, 10))
	}
	const show = 20
	for i, s := range rep.Skipped {
		if i == show {
			fmt.Fprintf(env.Stderr, "dingbook: … %d more skipped rows (see --json)\n", len(rep.Skipped)-show)
			break
		}
		fmt.Fprintf(env.Stderr, "dingbook: skipped %s\n", s)
	}
	for i, w := range rep.Warnings {
		if i == show {
			fmt.Fprintf(env.Stderr, "dingbook: … %d more warnings (see --json)\n", len(rep.Warnings)-show)
			break
		}
		fmt.Fprintf(env.Stderr, "dingbook: warning: %s\n", w)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
