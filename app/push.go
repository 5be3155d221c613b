package app

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/sink/gsheets"
	"github.com/dingbook/dingbook/store"
)

// PushOptions is a push of a governed view of a snapshot into a Google
// spreadsheet. Request holds the governance part (action push); Export the
// selection; Headers the header language.
type PushOptions struct {
	Request  *govern.Request
	Export   export.Options
	Headers  string
	Snapshot int64 // 0: the latest
	Target   gsheets.Target
	DryRun   bool
	// Impersonate is the Workspace user a service account acts as; it is
	// recorded so that purge clears the sheet as the same user.
	Impersonate string
	// Client makes the Google client and names the identity it acts as;
	// it is called once the request is decided and the snapshot opened (a
	// failure is recorded at stage "credentials").
	Client func() (*gsheets.Client, string, error)
}

// Push keeps a spreadsheet equal to the governed view of a snapshot:
// govern.Resolve decides (processor, cross-border and retention checks
// included), govern.Guard records the outcome, the export layer yields
// the rows (keyed by KeyHash), and the client writes the difference,
// refusing a sheet shared beyond the policy.
func (a *App) Push(ctx context.Context, pol *policy.Policy, o PushOptions) (*gsheets.Result, error) {
	req := o.Request
	dec, opts, dir, err := a.preparePush(ctx, pol, req, o.Export, o.Snapshot)
	if err != nil {
		return nil, err
	}
	client, identity, err := o.Client()
	if err != nil {
		return nil, govern.Fail(ctx, a.DB, pol, req, "credentials", err)
	}
	var res *gsheets.Result
	err = govern.GuardDecided(ctx, a.DB, pol, req, dec, func(ctx context.Context, dec *govern.Decision) (*govern.Produced, error) {
		o2 := opts
		o2.HideHiddenMobiles = !dec.IncludeHiddenMobiles
		var v gsheets.View
		exp, err := export.Run(ctx, dir, withRows(o2, req.Tenant, &v))
		if err != nil {
			return nil, err
		}
		v.Header = export.Headers(exp.Fields, o.Headers)
		if err := govern.CheckFields(pol, req, exp.Fields); err != nil {
			return nil, err
		}
		p := &govern.Produced{Rows: exp.Rows, Fields: exp.Fields}
		for _, d := range exp.Depts {
			p.DeptScope = append(p.DeptScope, strconv.FormatInt(d, 10))
		}
		res, err = client.Push(ctx, o.Target, v, gsheets.Options{DryRun: o.DryRun, Owner: KeyHash(req.Tenant, ""), CheckSharing: func(s []gsheets.Share) error {
			return checkSharing(pol, s, identity)
		}})
		if res != nil {
			p.Details = pushDetails(res, o.DryRun)
			if res.SpreadsheetID != "" {
				p.Outputs = []audit.Output{{Path: SheetURL(res.SpreadsheetID), Format: "gsheets", Rows: exp.Rows}}
			}
			if o.Impersonate != "" {
				p.Details["impersonate"] = o.Impersonate // purge clears the sheet as the same user
			}
		}
		return p, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// preparePush is the start every push shares: the request (action push)
// resolved once (a refusal recorded), the export options holding the
// decided fields, and the snapshot opened, naming the request's source
// and tenant.
func (a *App) preparePush(ctx context.Context, pol *policy.Policy, req *govern.Request, eo export.Options, snapshot int64) (*govern.Decision, export.Options, *store.SnapshotDirectory, error) {
	req.Action = "push"
	if req.Now == nil {
		req.Now = a.Now
	}
	dec, err := govern.Resolve(pol, req)
	if err != nil {
		return nil, eo, nil, a.Refuse(ctx, pol, req, err)
	}
	eo.Fields, eo.Profile, eo.Profiles, eo.AllExtensions = dec.Fields, "", nil, dec.AllExtensions // the decision is the one authority on the fields
	dir, id, err := a.snapshot(ctx, snapshot)
	if err != nil {
		return nil, eo, nil, err
	}
	req.Snapshot, req.Source = id, "snapshot:"+strconv.FormatInt(id, 10)
	name, corp := dir.Info()
	req.Tenant = cmp.Or(corp, name)
	return dec, eo, dir, nil
}

// withRows makes o collect the rows of v (keyed by KeyHash) instead of
// writing files.
func withRows(o export.Options, tenant string, v *gsheets.View) export.Options {
	o.Formats, o.Dir = nil, ""
	o.Rows = func(userid string, cells []string) error {
		v.Rows = append(v.Rows, gsheets.Row{Key: KeyHash(tenant, userid), Cells: slices.Clone(cells)})
		return nil
	}
	return o
}

// KeyHash is a row's key in the sheet: a hash of the organisation and
// the userid, so that the key column reveals no userid. With userid ""
// it is the sheet's owner marker.
func KeyHash(tenant, userid string) string {
	sum := sha256.Sum256([]byte("dingbook-sheet-key\x00" + tenant + "\x00" + userid))
	return hex.EncodeToString(sum[:12])
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

// SharingText lists who a sheet is shared with, for people and the audit
// record.
func SharingText(shares []gsheets.Share) string {
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = shareText(s)
	}
	if len(parts) == 0 {
		return "(not read)"
	}
	return strings.Join(parts, "; ")
}

// SheetURL is a spreadsheet's address ("a new spreadsheet" before it has
// an id).
func SheetURL(id string) string {
	if id == "" {
		return "a new spreadsheet"
	}
	return "https://docs.google.com/spreadsheets/d/" + id
}

func pushDetails(r *gsheets.Result, dry bool) map[string]string {
	d := map[string]string{
		"spreadsheet_id": r.SpreadsheetID, "added": strconv.Itoa(r.Added), "changed": strconv.Itoa(r.Changed), "removed": strconv.Itoa(r.Removed),
		"writes": strconv.Itoa(r.Writes), "reads": strconv.Itoa(r.Reads), "sharing": SharingText(r.Sharing),
	}
	if r.Created {
		d["created"] = "true"
	}
	if dry {
		d["dry_run"] = "true"
	}
	return d
}
