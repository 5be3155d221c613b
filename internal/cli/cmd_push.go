package cli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/sink/gsheets"
)

func init() {
	Register(&Command{Name: "push", Short: "keep a Google Sheet equal to a governed view of the directory", Run: runPush})
}

// PushSummary is what push --json prints (a contract for scripts).
type PushSummary struct {
	SpreadsheetID string          `json:"spreadsheet_id"`
	Rows          int             `json:"rows"`
	Added         int             `json:"added"`
	Changed       int             `json:"changed"`
	Removed       int             `json:"removed"`
	Writes        int             `json:"writes"`
	Reads         int             `json:"reads"`
	Sharing       []gsheets.Share `json:"sharing"`
}

// pushTarget is where push writes; --sheets is the first kind, and a
// later --carddav URL adds another.
type pushTarget struct {
	sheets, sheetsCreate, sheetsFolder, impersonate string
}

func (t *pushTarget) register(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&t.sheets, "sheets", "", "push into this Google spreadsheet id (one dingbook created)")
	fs.StringVar(&t.sheetsCreate, "sheets-create", "", "create a new Google spreadsheet with this title and push into it")
	fs.StringVar(&t.sheetsFolder, "sheets-folder", "", "with --sheets-create: the Drive folder or shared drive id to create it in")
	fs.StringVar(&t.impersonate, "impersonate", "", "with a service-account key: act as this Workspace user (domain-wide delegation)")
}

func (t *pushTarget) check() error {
	switch {
	case t.sheets == "" && t.sheetsCreate == "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "push needs a target: --sheets SPREADSHEET_ID or --sheets-create TITLE", Hint: "run 'dingbook push -h'"}
	case t.sheets != "" && t.sheetsCreate != "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--sheets and --sheets-create exclude each other", Hint: "create once with --sheets-create, then push with --sheets ID"}
	case t.sheetsFolder != "" && t.sheetsCreate == "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--sheets-folder works only with --sheets-create", Hint: "an existing spreadsheet stays where it is"}
	}
	return nil
}

func runPush(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "push", "push (--sheets SPREADSHEET_ID | --sheets-create TITLE [--sheets-folder FOLDER_ID]) --purpose TEXT [--basis BASIS] [--justify TEXT] [--profile NAME | --fields LIST] [--headers zh|en|id] [--dept NAME|PATH|ID]... [--no-subdepts] [--include-inactive] [--include-hidden-mobiles] [--snapshot ID] [--impersonate EMAIL] [--dry-run] [--json]")
	gf := govern.AddFlags(fs, false)
	var tg pushTarget
	tg.register(fs)
	fields := fs.String("fields", "", "ordered field keys, comma-separated (e.g. name,dept,mobile)")
	profile := fs.String("profile", "", "named field set: minimal, contact or full (default: the policy's)")
	headers := fs.String("headers", "zh", "column header language: zh, en or id")
	var depts listFlag
	fs.Var(&depts, "dept", "department name, path (研发部/后端组) or id; repeatable; sub-departments included")
	noSub := fs.Bool("no-subdepts", false, "only direct members of --dept, not of its sub-departments")
	inactive := fs.Bool("include-inactive", false, "include people who have not activated DingTalk (left out by default)")
	hidden := fs.Bool("include-hidden-mobiles", false, "include mobiles people hid in DingTalk (needs policy allow_hidden_mobiles and --justify)")
	snapID := fs.Int64("snapshot", 0, "push this snapshot id (default: the latest)")
	dry := fs.Bool("dry-run", false, "read the sheet and show what would change; write nothing")
	jsonOut := fs.Bool("json", false, "print a machine-readable summary on stdout")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "push takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "run 'dingbook push -h'"}
	}
	if err := tg.check(); err != nil {
		return err
	}
	opts := export.Options{Fields: splitList(*fields), Profile: *profile, Headers: *headers, Depts: depts, NoSubdepts: *noSub, IncludeInactive: *inactive, Now: env.Now()}

	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	pol, err := loadPolicy(ctx, env, db, gf.Policy)
	if err != nil {
		return err
	}
	req := &govern.Request{Action: "push", Actor: env.Actor, Fields: opts.Fields, Profile: *profile, DeptScope: depts, Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return govern.Refuse(ctx, db, pol, req, err)
	}
	req.IncludeHiddenMobiles = *hidden
	gx := &governedExport{db: db, pol: pol, req: req}
	if _, err := gx.decide(ctx, &opts); err != nil {
		return err
	}

	dir, id, err := openSnapshot(ctx, db, *snapID)
	if err != nil {
		return err
	}
	req.Snapshot, req.Source = id, "snapshot:"+strconv.FormatInt(id, 10)
	name, corp := dir.Info()
	req.Tenant = cmp.Or(corp, name)

	client, identity, err := sheetsClient(env, tg.impersonate)
	if err != nil {
		return govern.Fail(ctx, db, pol, req, "credentials", err)
	}
	var res *gsheets.Result
	err = govern.Guard(ctx, db, pol, req, func(ctx context.Context) (*govern.Produced, error) {
		dec := govern.DecisionFrom(ctx)
		o := opts
		o.HideHiddenMobiles = dec == nil || !dec.IncludeHiddenMobiles
		var v gsheets.View
		exp, err := export.Run(ctx, dir, withRows(o, req.Tenant, &v))
		if err != nil {
			return nil, err
		}
		v.Header = export.Headers(exp.Fields, *headers)
		if err := govern.CheckFields(pol, req, exp.Fields); err != nil {
			return nil, err
		}
		p := &govern.Produced{Rows: exp.Rows, Fields: exp.Fields}
		for _, d := range exp.Depts {
			p.DeptScope = append(p.DeptScope, strconv.FormatInt(d, 10))
		}
		target := gsheets.Target{SpreadsheetID: tg.sheets, CreateTitle: tg.sheetsCreate, Folder: tg.sheetsFolder}
		res, err = client.Push(ctx, target, v, gsheets.Options{DryRun: *dry, Owner: keyHash(req.Tenant, ""), CheckSharing: func(s []gsheets.Share) error {
			return checkSharing(pol, s, identity)
		}})
		if res != nil {
			p.Details = pushDetails(res, *dry)
			if res.SpreadsheetID != "" {
				p.Outputs = []audit.Output{{Path: sheetURL(res.SpreadsheetID), Format: "gsheets", Rows: exp.Rows}}
			}
			if tg.impersonate != "" {
				p.Details["impersonate"] = tg.impersonate // purge clears the sheet as the same user
			}
		}
		return p, err
	})
	if err != nil {
		return err
	}
	verb := "pushed"
	if *dry {
		verb = "would push"
	}
	fmt.Fprintf(env.Stderr, "dingbook: %s %d rows to %s: %d added, %d changed, %d removed (%d writes, %d reads)\n", verb, res.Rows, sheetURL(res.SpreadsheetID), res.Added, res.Changed, res.Removed, res.Writes, res.Reads)
	fmt.Fprintf(env.Stderr, "dingbook: shared with: %s\n", sharingText(res.Sharing))
	if *jsonOut {
		sh := res.Sharing
		if sh == nil {
			sh = []gsheets.Share{}
		}
		return printJSON(env, PushSummary{SpreadsheetID: res.SpreadsheetID, Rows: res.Rows, Added: res.Added, Changed: res.Changed,
			Removed: res.Removed, Writes: res.Writes, Reads: res.Reads, Sharing: sh})
	}
	return nil
}

// withRows makes o collect the rows of v (keyed by keyHash) instead of
// writing files.
func withRows(o export.Options, tenant string, v *gsheets.View) export.Options {
	o.Formats, o.Dir = nil, ""
	o.Rows = func(userid string, cells []string) error {
		v.Rows = append(v.Rows, gsheets.Row{Key: keyHash(tenant, userid), Cells: slices.Clone(cells)})
		return nil
	}
	return o
}

// keyHash is a row's key in the sheet: a hash of the organisation and
// the userid, so that the key column reveals no userid.
func keyHash(tenant, userid string) string {
	sum := sha256.Sum256([]byte("dingbook-sheet-key\x00" + tenant + "\x00" + userid))
	return hex.EncodeToString(sum[:12])
}

// sheetsClient builds the Google client from GOOGLE_APPLICATION_CREDENTIALS
// and the API base variables. It returns the identity dingbook acts as.
func sheetsClient(env *Env, impersonate string) (*gsheets.Client, string, error) {
	path := env.Getenv(gsheets.CredentialsEnv)
	if path == "" {
		return nil, "", &dingbook.Error{Code: dingbook.EINVALID, Message: "push needs Google credentials: " + gsheets.CredentialsEnv + " is not set",
			Hint: "set " + gsheets.CredentialsEnv + " to a service-account key file (with --impersonate USER for domain-wide delegation) or a user OAuth token file"}
	}
	cred, err := gsheets.LoadCredentials(env.Path(path))
	if err != nil {
		return nil, "", err
	}
	hc := &http.Client{Timeout: 240 * time.Second} // Google stops a request at 180 s
	ts, err := cred.TokenSource(hc, impersonate, env.Now)
	if err != nil {
		return nil, "", err
	}
	c := &gsheets.Client{SheetsBase: cmp.Or(env.Getenv(gsheets.SheetsBaseEnv), gsheets.DefaultSheetsBase),
		DriveBase: cmp.Or(env.Getenv(gsheets.DriveBaseEnv), gsheets.DefaultDriveBase), HTTP: hc, Tokens: ts}
	return c, ts.Identity(), nil
}

// checkSharing refuses a push to a sheet shared beyond the policy. The
// identity dingbook acts as, and the file's owner, are always allowed.
func checkSharing(pol *policy.Policy, shares []gsheets.Share, identity string) error {
	var bad []string
	for _, s := range shares {
		if s.Role == "owner" || identity != "" && strings.EqualFold(s.Email, identity) {
			continue
		}
		if !pol.ShareAllowed(s.Type, s.Domain, s.Email) {
			bad = append(bad, shareText(s))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return (&dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("push refused: the spreadsheet is shared beyond the policy (%s): %s", pol.Source, strings.Join(bad, "; "))}).
		WithHint("remove these from the spreadsheet's Share dialog (never 'Anyone with the link'), or list the domain or address under sheets.allowed_domains / sheets.allowed_emails in the policy")
}

func shareText(s gsheets.Share) string {
	t := s.Type + ":" + s.Role
	if s.Domain != "" {
		t += ":" + s.Domain
	}
	if s.Email != "" {
		t += ":" + s.Email
	}
	return t
}

func sharingText(shares []gsheets.Share) string {
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = shareText(s)
	}
	if len(parts) == 0 {
		return "(not read)"
	}
	return strings.Join(parts, "; ")
}

func sheetURL(id string) string {
	if id == "" {
		return "a new spreadsheet"
	}
	return "https://docs.google.com/spreadsheets/d/" + id
}

// clearSheet removes the data rows of a pushed spreadsheet whose
// retention ended (purge), as the identity that pushed them.
func clearSheet(ctx context.Context, env *Env, s govern.PushedSheet) (int, error) {
	client, _, err := sheetsClient(env, s.Details["impersonate"])
	if err != nil {
		return 0, err
	}
	res, err := client.Push(ctx, gsheets.Target{SpreadsheetID: s.ID}, gsheets.View{}, gsheets.Options{Clear: true, Owner: keyHash(s.Tenant, "")})
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(env.Stderr, "dingbook: cleared %d rows from %s (push retention ended %s)\n", res.Removed, sheetURL(s.ID), s.Expires.Format(time.RFC3339))
	return res.Removed, nil
}

func pushDetails(r *gsheets.Result, dry bool) map[string]string {
	d := map[string]string{
		"spreadsheet_id": r.SpreadsheetID, "added": strconv.Itoa(r.Added), "changed": strconv.Itoa(r.Changed), "removed": strconv.Itoa(r.Removed),
		"writes": strconv.Itoa(r.Writes), "reads": strconv.Itoa(r.Reads), "sharing": sharingText(r.Sharing),
	}
	if r.Created {
		d["created"] = "true"
	}
	if dry {
		d["dry_run"] = "true"
	}
	return d
}
