package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/source/console"
)

func init() {
	Register(&Command{Name: "import", Short: "load an admin-console member file (xlsx/csv) into a snapshot", Run: runImport})
}

// headerMap is the repeatable --map '<header>=<field>' flag.
type headerMap map[string]string

func (m headerMap) String() string {
	parts := make([]string, 0, len(m))
	for h, k := range m {
		parts = append(parts, h+"="+k)
	}
	return strings.Join(parts, ",")
}

func (m headerMap) Set(v string) error {
	h, k, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(h) == "" || strings.TrimSpace(k) == "" {
		return fmt.Errorf("--map %q: want '<header>=<field>', e.g. '手机号=mobile'", v)
	}
	m[strings.TrimSpace(h)] = strings.TrimSpace(k)
	return nil
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
	fs := NewFlags(env, "import", "import --purpose TEXT [--basis BASIS] [--map '<header>=<field>']... [--sheet NAME] [--company NAME] [--json] FILE")
	gf := govern.AddFlags(fs, false)
	maps := headerMap{}
	fs.Var(maps, "map", "map a header dingbook does not know to a field, e.g. '手机号=mobile' or '爱好=extension.爱好' or 'Notes=-' to ignore it (repeatable)")
	sheet := fs.String("sheet", "", "the sheet to read (default: the first)")
	company := fs.String("company", "", "the organisation's name, for the root department (default: the file name)")
	jsonOut := fs.Bool("json", false, "print a JSON summary on stdout")
	dedupe := fs.String("dedupe", "", "merge rows that are the same person: job-number, mobile-name or default (job number, then mobile and name); every merge is reported")
	region := fs.String("region", "CN", "default phone region for --dedupe mobile matching")
	files, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return dingbook.Errorf(dingbook.EINVALID, "import needs exactly one FILE, got %d", len(files)).
			WithHint("run 'dingbook import staff.xlsx' with the member file exported from the DingTalk admin console")
	}
	path := env.Path(files[0])
	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	pol, err := loadPolicy(ctx, env, db, gf.Policy)
	if err != nil {
		return err
	}
	req := &govern.Request{Action: "import", Actor: env.Actor, Source: "file:" + filepath.Base(path), Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return govern.Refuse(ctx, db, pol, req, err)
	}
	var (
		org  *dingbook.Org
		rep  *console.Report
		snap *dingbook.Snapshot
	)
	err = govern.Guard(ctx, db, pol, req, func(ctx context.Context) (*govern.Produced, error) {
		var err error
		org, rep, err = console.ReadFileContext(ctx, path, console.Options{Map: maps, Sheet: *sheet, Company: *company, TmpDir: filepath.Join(db.Dir, govern.TmpDirName)})
		if err != nil {
			return nil, err
		}
		if *dedupe != "" {
			merges, err := clean.DedupeRegion(org, *dedupe, *region)
			if err != nil {
				return nil, err
			}
			for _, m := range merges {
				fmt.Fprintf(env.Stderr, "dingbook: merged %s\n", m)
				rep.Warnings = append(rep.Warnings, "merged "+m.String())
			}
			fmt.Fprintf(env.Stderr, "dingbook: --dedupe %s merged %d row group(s)\n", *dedupe, len(merges))
		}
		snap = &dingbook.Snapshot{Source: "file:" + filepath.Base(path), TakenAt: env.Now().UTC(), Org: *org}
		if err := db.SaveSnapshot(ctx, snap); err != nil {
			return nil, err
		}
		return &govern.Produced{Rows: len(org.People), Snapshot: snap.ID, Tenant: org.Name}, nil
	})
	if err != nil {
		return err
	}
	if *jsonOut {
		sum := importSummary{SnapshotID: snap.ID, Source: snap.Source, People: len(org.People), Departments: len(org.Depts),
			File: rep.File, Sheet: rep.Sheet, Encoding: rep.Encoding, Delimiter: rep.Delimiter, HeaderRow: rep.HeaderRow,
			Columns: rep.Columns, Unknown: nonNil(rep.Unknown), Skipped: nonNil(rep.Skipped), Warnings: nonNil(rep.Warnings)}
		return printJSON(env, sum)
	}
	fmt.Fprintf(env.Stderr, "dingbook: imported %d people in %d departments from %s (header row %d, %s) into snapshot %d\n",
		len(org.People), len(org.Depts), filepath.Base(path), rep.HeaderRow, rep.Encoding, snap.ID)
	if len(rep.Unknown) > 0 {
		fmt.Fprintf(env.Stderr, "dingbook: kept %d unknown column(s) as custom fields: %s\n", len(rep.Unknown), strings.Join(rep.Unknown, ", "))
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
