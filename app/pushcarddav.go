package app

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/sink/carddav"
	"github.com/dingbook/dingbook/store"
)

// CardDAVOptions is a push of a governed view of a snapshot into a CardDAV
// address book the company runs. Request holds the governance part
// (action push); Export the selection.
type CardDAVOptions struct {
	Request  *govern.Request
	Export   export.Options
	Snapshot int64 // 0: the latest
	DryRun   bool
	// Client makes the CardDAV client (credentials read); it is called
	// once the request is decided and the snapshot opened (a failure is
	// recorded at stage "credentials").
	Client func() (*carddav.Client, error)
}

// PushCardDAV keeps the cards dingbook owns in an address book equal to
// the governed view of a snapshot: the vCard 3.0 cards the vcf export
// writes, each with UID carddav.Prefix + a keyed hash of the organisation
// and the userid (HMAC under the state directory's holder key, so the UID
// reveals no userid), written by carddav.Client.Push. The company runs the
// server, so no processor contract is asked for (Request.SelfHosted).
func (a *App) PushCardDAV(ctx context.Context, pol *policy.Policy, o CardDAVOptions) (*carddav.Result, error) {
	req := o.Request
	req.SelfHosted = true
	dec, opts, dir, err := a.preparePush(ctx, pol, req, o.Export, o.Snapshot)
	if err != nil {
		return nil, err
	}
	key, err := store.HolderKey(a.DB.Dir)
	if err != nil {
		return nil, err
	}
	client, err := o.Client()
	if err != nil {
		return nil, govern.Fail(ctx, a.DB, pol, req, "credentials", err)
	}
	company, _ := dir.Info()
	var res *carddav.Result
	err = govern.GuardDecided(ctx, a.DB, pol, req, dec, func(ctx context.Context, dec *govern.Decision) (*govern.Produced, error) {
		o2 := opts
		o2.HideHiddenMobiles = !dec.IncludeHiddenMobiles
		o2.Formats, o2.Dir = nil, ""
		// The UID scheme is pinned: a change of the holdings' default
		// scheme must not give every pushed card a new UID.
		h := store.NewHasherScheme(key, store.HashHMAC)
		var cards []carddav.Card
		o2.People = func(p *dingbook.Person, tree *dingbook.Tree) error {
			c := vcard.CardFor(p, tree, vcard.Options{Company: company})
			c.UID = CardUID(h, req.Tenant, p)
			cards = append(cards, carddav.Card{UID: c.UID, Data: c.String()})
			return nil
		}
		exp, err := export.Run(ctx, dir, o2)
		if err != nil {
			return nil, err
		}
		if err := govern.CheckFields(pol, req, exp.Fields); err != nil {
			return nil, err
		}
		p := &govern.Produced{Rows: exp.Rows, Fields: exp.Fields}
		for _, d := range exp.Depts {
			p.DeptScope = append(p.DeptScope, strconv.FormatInt(d, 10))
		}
		res, err = client.Push(ctx, cards, carddav.Options{DryRun: o.DryRun})
		if res != nil {
			p.Details = map[string]string{"target": "carddav", "url": CardDAVURL(res.URL), "added": strconv.Itoa(res.Added), "changed": strconv.Itoa(res.Changed),
				"removed": strconv.Itoa(res.Removed), "writes": strconv.Itoa(res.Writes), "reads": strconv.Itoa(res.Reads), "conflicts": strconv.Itoa(res.Conflicts)}
			if o.DryRun {
				p.Details["dry_run"] = "true"
			}
			p.Outputs = []audit.Output{{Path: CardDAVURL(res.URL), Format: "carddav", Rows: exp.Rows}}
		}
		return p, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// CardUID is a person's card UID in a CardDAV push: carddav.Prefix and 16
// hex digits of the holder-key HMAC of "carddav", the organisation and the
// person's key (the userid). It is stable while the state directory's
// holders.key is.
func CardUID(h *store.Hasher, tenant string, p *dingbook.Person) string {
	id := store.PersonKey(p)
	if id == "" {
		id = vcard.UID(p, "")
	}
	return fmt.Sprintf("%s%016x", carddav.Prefix, h.Sum("carddav\x00"+tenant+"\x00"+id))
}

// CardDAVURL is the address book's URL as the audit record and messages
// show it: without any user or password.
func CardDAVURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}
