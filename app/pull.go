package app

import (
	"cmp"
	"context"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/pull"
	"github.com/dingbook/dingbook/source/dingtalk"
)

// PullOptions is a pull from DingTalk.
type PullOptions struct {
	Actor  string
	Client *dingtalk.Client
	// BaseURL is the API's base URL, recorded as the source.
	BaseURL                                       string
	WithManager, External, CountRestricted, Fresh bool
	// AllowPartial stores a snapshot that cannot vouch for completeness.
	AllowPartial bool
	// Warm makes the live directory's index of a complete snapshot before
	// Pull returns (WarmDirectory), as it does anyway when this App
	// serves the directory (has an index): no reader meets that work.
	Warm     bool
	Progress func(pull.Progress)
	Hooks    *Hooks
}

// PullResult is a finished pull. Stored says whether the snapshot was
// stored (complete, or AllowPartial).
type PullResult struct {
	*pull.Result
	Stored bool
	// SessionsEnded counts the 'dingbook serve' sessions of people the
	// pull found gone (only a complete pull ends them).
	SessionsEnded int
	// AppPasswordsRevoked counts the CardDAV app passwords of people the
	// pull found gone (only a complete pull revokes them).
	AppPasswordsRevoked int
	// Drift counts by kind ("joiner", "leaver", "change", "department")
	// what the new snapshot showed that the live directory's events had
	// missed (live.go); nil when the live directory is not in use.
	Drift map[string]int `json:"drift,omitempty"`
	// RolesChanged counts the people whose roles or admin scope changed
	// in their sessions and app passwords (a complete pull re-reads them).
	RolesChanged int
}

// Pull pulls the organisation, governed (govern.Guard: the policy is
// checked and the outcome recorded): it stores the snapshot when it is
// complete or AllowPartial, and otherwise returns the pull's result with
// an EINCOMPLETE error. Export with a pull source runs the same sequence.
func (a *App) Pull(ctx context.Context, pol *policy.Policy, o PullOptions) (*PullResult, error) {
	var out *PullResult
	req := &govern.Request{Action: "pull", Actor: o.Actor, Source: "dingtalk:" + o.BaseURL, Now: a.Now}
	err := govern.Guard(ctx, a.DB, pol, req, func(ctx context.Context, _ *govern.Decision) (*govern.Produced, error) {
		res, err := pull.Run(ctx, pull.Options{Client: o.Client, DB: a.DB, WithManager: o.WithManager, External: o.External,
			CountRestricted: o.CountRestricted, Fresh: o.Fresh, Progress: o.Progress, Now: a.Now})
		if err != nil {
			return nil, err
		}
		o.Hooks.pulled(res)
		rc := res.Snapshot.Receipt
		out = &PullResult{Result: res, Stored: rc.Complete || o.AllowPartial}
		if !out.Stored {
			return nil, pull.IncompleteError(rc)
		}
		if err := pull.Save(ctx, a.DB, res, a.now()); err != nil {
			out.Stored = false
			return nil, err
		}
		return &govern.Produced{Rows: rc.People, Snapshot: res.Snapshot.ID, Tenant: cmp.Or(res.Snapshot.Org.CorpID, res.Snapshot.Org.Name)}, nil
	})
	if err == nil && out.Stored && out.Snapshot.Receipt != nil && out.Snapshot.Receipt.Complete {
		out.SessionsEnded, err = a.endLeaverSessions(ctx, &out.Snapshot.Org, o.Actor)
		if err == nil {
			out.AppPasswordsRevoked, err = a.revokeLeaverAppPasswords(ctx, &out.Snapshot.Org, o.Actor)
		}
		serving := o.Warm || a.cachedIndex() != nil // before reconcile, which may make one for its drift
		if err == nil {
			out.Drift, err = a.reconcile(ctx, o.Client, pol, out.Snapshot)
		}
		if err == nil && out.Drift != nil {
			err = a.pruneRevisions(ctx, pol, out.Snapshot.ID)
		}
		if err == nil && serving {
			// the new base's index now, by the pull (readers keep the
			// old one meanwhile), not by the next reader
			err = a.WarmDirectory(ctx)
		}
		if err == nil {
			out.RolesChanged, err = a.refreshRoles(ctx, o.Client, pol)
		}
	}
	return out, err
}

// endLeaverSessions ends the sessions of everyone logged in who is not an
// active member of org (a complete pull's organisation): people who left
// or were deactivated.
func (a *App) endLeaverSessions(ctx context.Context, org *dingbook.Org, actor string) (int, error) {
	users, err := a.DB.SessionUserIDs(ctx)
	if err != nil {
		return 0, err
	}
	return forLeavers(org, users, func(u string) (int, error) {
		return a.EndSessions(ctx, u, actor, "no longer an active member of the organisation (pull)")
	})
}

// forLeavers calls end for each of users who is not an active member of
// org and sums what it returns.
func forLeavers(org *dingbook.Org, users []string, end func(userid string) (int, error)) (int, error) {
	if len(users) == 0 {
		return 0, nil
	}
	members := make(map[string]bool, len(org.People))
	for i := range org.People {
		members[org.People[i].UserID] = org.People[i].Active
	}
	ended := 0
	for _, u := range users {
		if members[u] {
			continue
		}
		n, err := end(u)
		ended += n
		if err != nil {
			return ended, err
		}
	}
	return ended, nil
}
