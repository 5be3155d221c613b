package cli

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/sink/carddav"
	"github.com/dingbook/dingbook/sink/gsheets"
)

func init() {
	Register(&Command{Name: "push", Short: "keep a Google Sheet or a CardDAV address book equal to a governed view of the directory", Run: runPush})
}

// PushSummary is what push --sheets --json prints (a contract for
// scripts).
type PushSummary struct {
	SpreadsheetID string `json:"spreadsheet_id"`
	PushCounts
	Sharing []gsheets.Share `json:"sharing"`
}

// CardDAVSummary is what push --carddav --json prints (a contract for
// scripts).
type CardDAVSummary struct {
	URL string `json:"url"`
	PushCounts
}

// PushCounts are the counts every push --json prints.
type PushCounts struct {
	Rows    int `json:"rows"`
	Added   int `json:"added"`
	Changed int `json:"changed"`
	Removed int `json:"removed"`
	Writes  int `json:"writes"`
	Reads   int `json:"reads"`
}

// pushTarget is where push writes: a Google Sheet (--sheets,
// --sheets-create) or a CardDAV address book (--carddav).
type pushTarget struct {
	sheets, sheetsCreate, sheetsFolder, impersonate string
	carddav, carddavCreds                           string
}

func (t *pushTarget) register(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&t.sheets, "sheets", "", "push into this Google spreadsheet id (one dingbook created)")
	fs.StringVar(&t.sheetsCreate, "sheets-create", "", "create a new Google spreadsheet with this title and push into it")
	fs.StringVar(&t.sheetsFolder, "sheets-folder", "", "with --sheets-create: the Drive folder or shared drive id to create it in")
	fs.StringVar(&t.impersonate, "impersonate", "", "with a service-account key: act as this Workspace user (domain-wide delegation)")
	fs.StringVar(&t.carddav, "carddav", "", "push into this CardDAV address book collection URL (Radicale, Nextcloud); credentials from "+carddav.UserEnv+"/"+carddav.PasswordEnv+" or --carddav-credentials")
	fs.StringVar(&t.carddavCreds, "carddav-credentials", "", "with --carddav: a file (mode 0600) holding one line USER:PASSWORD")
}

func (t *pushTarget) check() error {
	switch {
	case t.carddav != "" && (t.sheets != "" || t.sheetsCreate != "" || t.sheetsFolder != "" || t.impersonate != ""):
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--carddav excludes --sheets, --sheets-create, --sheets-folder and --impersonate", Hint: "push to one target at a time"}
	case t.carddav != "":
		u, err := url.Parse(t.carddav)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--carddav %q is not an http:// or https:// URL", app.CardDAVURL(t.carddav)), Hint: "give the address book collection's URL, e.g. https://dav.example.com/user/contacts/"}
		}
		if u.User != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "--carddav holds a user or password in the URL: credentials never go on the command line", Hint: "set " + carddav.UserEnv + " and " + carddav.PasswordEnv + ", or use --carddav-credentials FILE"}
		}
		return nil
	case t.carddavCreds != "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--carddav-credentials works only with --carddav", Hint: "run 'dingbook push -h'"}
	case t.sheets == "" && t.sheetsCreate == "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "push needs a target: --sheets SPREADSHEET_ID, --sheets-create TITLE or --carddav URL", Hint: "run 'dingbook push -h'"}
	case t.sheets != "" && t.sheetsCreate != "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--sheets and --sheets-create exclude each other", Hint: "create once with --sheets-create, then push with --sheets ID"}
	case t.sheetsFolder != "" && t.sheetsCreate == "":
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--sheets-folder works only with --sheets-create", Hint: "an existing spreadsheet stays where it is"}
	}
	return nil
}

func runPush(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "push", "push (--sheets SPREADSHEET_ID | --sheets-create TITLE [--sheets-folder FOLDER_ID] | --carddav URL [--carddav-credentials FILE]) --purpose TEXT [--basis BASIS] [--justify TEXT] [--profile NAME | --fields LIST] [--headers zh|en|id] [--dept NAME|PATH|ID]... [--no-subdepts] [--include-inactive] [--include-hidden-mobiles] [--snapshot ID] [--impersonate EMAIL] [--dry-run] [--json]")
	gf := addGovFlags(fs, false)
	gf.AddPIA(fs)
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
	dry := fs.Bool("dry-run", false, "read the sheet or address book and show what would change; write nothing")
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

	a, pol, err := openWithPolicy(ctx, env, gf.Policy)
	if err != nil {
		return err
	}
	defer a.Close()
	req := &govern.Request{Action: "push", Actor: env.Actor, Fields: opts.Fields, Profile: *profile, DeptScope: depts, Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return a.Refuse(ctx, pol, req, err)
	}
	req.IncludeHiddenMobiles = *hidden
	if tg.carddav != "" {
		return pushCardDAV(ctx, env, a, pol, app.CardDAVOptions{Request: req, Export: opts, Snapshot: *snapID, DryRun: *dry,
			Client: func() (*carddav.Client, error) { return carddavClient(env, tg) }}, *jsonOut)
	}
	res, err := a.Push(ctx, pol, app.PushOptions{Request: req, Export: opts, Headers: *headers, Snapshot: *snapID,
		Target: gsheets.Target{SpreadsheetID: tg.sheets, CreateTitle: tg.sheetsCreate, Folder: tg.sheetsFolder}, DryRun: *dry, Impersonate: tg.impersonate,
		Client: func() (*gsheets.Client, string, error) { return sheetsClient(env, tg.impersonate) }})
	if err != nil {
		return err
	}
	verb := "pushed"
	if *dry {
		verb = "would push"
	}
	fmt.Fprintf(env.Stderr, "dingbook: %s %d rows to %s: %d added, %d changed, %d removed (%d writes, %d reads)\n", verb, res.Rows, app.SheetURL(res.SpreadsheetID), res.Added, res.Changed, res.Removed, res.Writes, res.Reads)
	fmt.Fprintf(env.Stderr, "dingbook: shared with: %s\n", app.SharingText(res.Sharing))
	if *jsonOut {
		sh := res.Sharing
		if sh == nil {
			sh = []gsheets.Share{}
		}
		return printJSON(env, PushSummary{SpreadsheetID: res.SpreadsheetID, PushCounts: PushCounts{Rows: res.Rows, Added: res.Added, Changed: res.Changed,
			Removed: res.Removed, Writes: res.Writes, Reads: res.Reads}, Sharing: sh})
	}
	return nil
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

// clearSheet removes the data rows of a pushed spreadsheet whose
// retention ended (purge), as the identity that pushed them.
func clearSheet(ctx context.Context, env *Env, s govern.PushedSheet) (int, error) {
	client, _, err := sheetsClient(env, s.Details["impersonate"])
	if err != nil {
		return 0, err
	}
	res, err := client.Push(ctx, gsheets.Target{SpreadsheetID: s.ID}, gsheets.View{}, gsheets.Options{Clear: true, Owner: app.KeyHash(s.Tenant, "")})
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(env.Stderr, "dingbook: cleared %d rows from %s (push retention ended %s)\n", res.Removed, app.SheetURL(s.ID), s.Expires.Format(time.RFC3339))
	return res.Removed, nil
}

func pushCardDAV(ctx context.Context, env *Env, a *app.App, pol *policy.Policy, o app.CardDAVOptions, jsonOut bool) error {
	res, err := a.PushCardDAV(ctx, pol, o)
	if err != nil {
		return err
	}
	verb := "pushed"
	if o.DryRun {
		verb = "would push"
		for _, c := range res.Changes {
			fmt.Fprintf(env.Stderr, "dingbook: would %s %s\n", c.Op, c.Href)
		}
	}
	url := app.CardDAVURL(res.URL)
	fmt.Fprintf(env.Stderr, "dingbook: %s %d cards to %s: %d added, %d changed, %d removed (%d writes, %d reads)\n", verb, res.Rows, url, res.Added, res.Changed, res.Removed, res.Writes, res.Reads)
	if jsonOut {
		return printJSON(env, CardDAVSummary{URL: url, PushCounts: PushCounts{Rows: res.Rows, Added: res.Added, Changed: res.Changed, Removed: res.Removed, Writes: res.Writes, Reads: res.Reads}})
	}
	return nil
}

// carddavClient reads the CardDAV credentials: --carddav-credentials FILE
// (mode 0600 or stricter, one line USER:PASSWORD), else
// DINGBOOK_CARDDAV_USER and DINGBOOK_CARDDAV_PASSWORD. The password is
// never printed.
func carddavClient(env *Env, tg pushTarget) (*carddav.Client, error) {
	c := &carddav.Client{URL: tg.carddav, HTTP: &http.Client{Timeout: 120 * time.Second}}
	if tg.carddavCreds != "" {
		path := env.Path(tg.carddavCreds)
		fi, err := os.Stat(path)
		if err != nil {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read --carddav-credentials " + tg.carddavCreds, Hint: "give a file holding one line USER:PASSWORD", Err: err}
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--carddav-credentials %s is readable by others (mode %04o)", tg.carddavCreds, fi.Mode().Perm()), Hint: "run 'chmod 600 " + tg.carddavCreds + "'"}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read --carddav-credentials " + tg.carddavCreds, Hint: "give a file holding one line USER:PASSWORD", Err: err}
		}
		line, _, _ := strings.Cut(string(b), "\n")
		user, pass, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok || user == "" || pass == "" {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "--carddav-credentials " + tg.carddavCreds + ": the first line is not USER:PASSWORD", Hint: "write one line USER:PASSWORD into the file"}
		}
		c.User, c.Password = user, pass
		return c, nil
	}
	c.User, c.Password = env.Getenv(carddav.UserEnv), env.Getenv(carddav.PasswordEnv)
	if c.User == "" || c.Password == "" {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "push --carddav needs credentials: " + carddav.UserEnv + " and " + carddav.PasswordEnv + " are not both set",
			Hint: "set " + carddav.UserEnv + " and " + carddav.PasswordEnv + ", or use --carddav-credentials FILE (one line USER:PASSWORD, mode 0600)"}
	}
	return c, nil
}
