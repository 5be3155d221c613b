package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/pull"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "pull", Short: "pull the address book from DingTalk into a snapshot, with a completeness receipt", Run: runPull})
}

// PullSummary is what pull --json prints.
type PullSummary struct {
	SnapshotID   int64               `json:"snapshot_id"`
	Departments  int                 `json:"departments"`
	People       int                 `json:"people"`
	APICalls     int                 `json:"api_calls"`
	Retries      int                 `json:"retries"`
	Complete     bool                `json:"complete"`
	Stored       bool                `json:"stored"`
	Resumed      bool                `json:"resumed"`
	OrgCount     int                 `json:"org_count"`
	Restricted   int                 `json:"restricted"`
	Problems     []string            `json:"problems"`
	OutOfRange   []dingbook.RangeGap `json:"out_of_range,omitempty"`
	HiddenFields []string            `json:"hidden_fields,omitempty"`
	External     int                 `json:"external_contacts"`
	CallsPerAPI  map[string]int      `json:"calls_per_api"`
	DurationMS   int64               `json:"duration_ms"`
}

func runPull(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "pull", "pull [--json] [--allow-partial] [--with-manager] [--external] [--count-restricted] [--fresh] [--qps N] [--config-profile NAME] [--config FILE]")
	var cf credFlags
	cf.register(env, fs)
	jsonOut := fs.Bool("json", false, "print a machine-readable summary on stdout")
	allowPartial := fs.Bool("allow-partial", false, "store a snapshot that cannot vouch for completeness (marked incomplete) and exit 0")
	withManager := fs.Bool("with-manager", false, "fetch manager_userid with one v2/user/get per person")
	external := fs.Bool("external", false, "also fetch the external contacts (外部联系人)")
	countRestricted := fs.Bool("count-restricted", false, "list every department a second time without access-restricted staff to count them")
	fresh := fs.Bool("fresh", false, "ignore an interrupted pull's checkpoint and start over")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "pull takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "run 'dingbook pull -h'"}
	}
	client, cred, err := newClient(env, &cf)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()

	bar := newProgressBar(env)
	opt := pull.Options{
		Client: client, DB: db, WithManager: *withManager, External: *external,
		CountRestricted: *countRestricted, Fresh: *fresh, Now: env.Now,
	}
	if bar != nil {
		opt.Progress = bar.update
	}
	pol, err := loadPolicy(ctx, env, db, "")
	if err != nil {
		return err
	}
	req := &govern.Request{Action: "pull", Actor: env.Actor, Source: "dingtalk:" + cred.BaseURL, Now: env.Now}
	err = govern.Guard(ctx, db, pol, req, func(ctx context.Context) (*govern.Produced, error) {
		return pullAndStore(ctx, env, db, opt, bar, cred, *allowPartial, *jsonOut)
	})
	if err != nil && ctx.Err() != nil {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: "pull interrupted; the departments fetched so far are kept",
			Hint: "run 'dingbook pull' again: it resumes where it stopped, without fetching finished departments again ('--fresh' starts over)"}
	}
	return err
}

// pullAndStore runs the pull, prints the receipt, stores the snapshot when
// it is complete (or --allow-partial) and prints the --json summary. The
// audit record (govern.Guard) gets the people count and snapshot id.
func pullAndStore(ctx context.Context, env *Env, db *store.DB, opt pull.Options, bar *progressBar, cred *Credentials, allowPartial, jsonOut bool) (*govern.Produced, error) {
	res, err := pull.Run(ctx, opt)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return nil, err
	}
	rc := res.Snapshot.Receipt
	if res.Resumed {
		fmt.Fprintln(env.Stderr, "dingbook: resumed an interrupted pull (finished departments were not fetched again)")
	}
	printReceipt(env.Stderr, res, cred)
	stored := rc.Complete || allowPartial
	if stored {
		if err := pull.Save(ctx, db, res, env.Now()); err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stderr, "dingbook: stored snapshot %d\n", res.Snapshot.ID)
	}
	if jsonOut {
		s := PullSummary{
			SnapshotID: res.Snapshot.ID, Departments: rc.Departments, People: rc.People, APICalls: rc.APICalls,
			Retries: rc.Retries, Complete: rc.Complete, Stored: stored, Resumed: res.Resumed, OrgCount: rc.OrgCount,
			Restricted: rc.Restricted, Problems: rc.Problems, OutOfRange: rc.OutOfRange, HiddenFields: rc.HiddenFields,
			External: len(res.Snapshot.Org.External), CallsPerAPI: res.Stats.Calls, DurationMS: rc.Duration.Milliseconds(),
		}
		if s.Problems == nil {
			s.Problems = []string{}
		}
		if err := printJSON(env, s); err != nil {
			return nil, err
		}
	}
	if !rc.Complete && !allowPartial {
		return nil, pull.IncompleteError(rc)
	}
	tenant := res.Snapshot.Org.CorpID
	if tenant == "" {
		tenant = res.Snapshot.Org.Name
	}
	return &govern.Produced{Rows: rc.People, Snapshot: res.Snapshot.ID, Tenant: tenant}, nil
}

// printReceipt writes the completeness receipt for humans.
func printReceipt(w io.Writer, res *pull.Result, cred *Credentials) {
	rc := res.Snapshot.Receipt
	org := &res.Snapshot.Org
	fmt.Fprintf(w, "Completeness receipt for %q (%s)\n", org.Name, cred)
	fmt.Fprintf(w, "  departments pulled   %d\n", rc.Departments)
	fmt.Fprintf(w, "  people pulled        %d\n", rc.People)
	if rc.OrgCount >= 0 {
		mark := "matches"
		if rc.OrgCount != rc.People {
			mark = "DOES NOT MATCH"
		}
		fmt.Fprintf(w, "  DingTalk headcount   %d (user/count, only_active=false): %s\n", rc.OrgCount, mark)
	} else {
		fmt.Fprintf(w, "  DingTalk headcount   not available\n")
	}
	mismatch := 0
	for _, d := range org.Depts {
		if d.OwningMemberCount >= 0 && d.OwningMemberCount != rc.PeoplePerDept[d.ID] {
			mismatch++
		}
	}
	fmt.Fprintf(w, "  per department       %d of %d match department/get's owning_member_count\n", len(org.Depts)-mismatch, len(org.Depts))
	if len(rc.OutOfRange) > 0 {
		fmt.Fprintf(w, "  outside the range    %d department(s):", len(rc.OutOfRange))
		for i, g := range rc.OutOfRange {
			if i == 10 {
				fmt.Fprintf(w, " …")
				break
			}
			if g.Name != "" {
				fmt.Fprintf(w, " %d %s;", g.DeptID, g.Name)
			} else {
				fmt.Fprintf(w, " %d;", g.DeptID)
			}
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "  outside the range    none\n")
	}
	if len(rc.HiddenFields) > 0 {
		fmt.Fprintf(w, "  fields not readable  %s\n", strings.Join(rc.HiddenFields, ", "))
	} else {
		fmt.Fprintf(w, "  fields not readable  none\n")
	}
	if rc.Restricted >= 0 {
		fmt.Fprintf(w, "  restricted staff     %d included (access-restricted, listed with contain_access_limit)\n", rc.Restricted)
	} else {
		fmt.Fprintf(w, "  restricted staff     included, not counted (pass --count-restricted to count them)\n")
	}
	fmt.Fprintf(w, "  hidden mobiles       %d\n", rc.HiddenMobiles)
	if len(org.External) > 0 {
		fmt.Fprintf(w, "  external contacts    %d\n", len(org.External))
	}
	apis := make([]string, 0, len(res.Stats.Calls))
	for a := range res.Stats.Calls {
		apis = append(apis, a)
	}
	sort.Strings(apis)
	var parts []string
	for _, a := range apis {
		parts = append(parts, fmt.Sprintf("%s %d", a, res.Stats.Calls[a]))
	}
	fmt.Fprintf(w, "  API calls            %d (%d retries) in %s: %s\n", rc.APICalls, rc.Retries, rc.Duration.Round(time.Millisecond), strings.Join(parts, ", "))
	if rc.Complete {
		fmt.Fprintf(w, "  COMPLETE: every department listed to the end, counts reconciled\n")
	} else {
		fmt.Fprintf(w, "  INCOMPLETE:\n")
		for _, p := range rc.Problems {
			fmt.Fprintf(w, "    - %s\n", p)
		}
	}
}

// progressBar draws pull progress on a terminal's stderr, at most every
// 100 ms; it is nil (silent) when stderr is not a terminal.
type progressBar struct {
	w     io.Writer
	width func() int
	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgressBar(env *Env) *progressBar {
	if !env.StderrIsTTY {
		return nil
	}
	return &progressBar{w: env.Stderr, width: env.width}
}

func (b *progressBar) update(p pull.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond && p.Phase != "done" {
		return
	}
	b.last = now
	const width = 24
	filled := 0
	if p.DeptsFound > 0 {
		filled = min(width, width*p.DeptsListed/p.DeptsFound)
	}
	line := fmt.Sprintf("[%s%s] %d/%d departments, %d people, %d calls (%s)",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.DeptsListed, p.DeptsFound, p.People, p.Calls, p.Phase)
	// One column short of the width: a line that fills the last column
	// wraps on some terminals.
	fmt.Fprintf(b.w, "\r\x1b[K%s", fitLine(line, b.width()-1))
	b.shown = true
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}
