package govern

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/store"
)

// PushedSheet is a spreadsheet whose rows came from a push, as the audit
// log tells: its last successful push and when that push's retention ends.
type PushedSheet struct {
	ID      string    `json:"spreadsheet_id"`
	Tenant  string    `json:"tenant"`
	Expires time.Time `json:"expires"`
	PushSeq int64     `json:"push_audit_seq"`
	// Details of the push (e.g. "impersonate").
	Details map[string]string `json:"-"`
}

// ExpiredSheets returns the spreadsheets whose last push's retention has
// ended at now and whose rows no purge has cleared since.
func ExpiredSheets(ctx context.Context, db *store.DB, now time.Time) ([]PushedSheet, error) {
	pushes, err := audit.List(ctx, db, audit.Filter{Action: audit.ActionPush})
	if err != nil {
		return nil, err
	}
	purges, err := audit.List(ctx, db, audit.Filter{Action: audit.ActionPurge})
	if err != nil {
		return nil, err
	}
	cleared := map[string]int64{}
	for _, r := range purges {
		if r.Outcome == audit.OutcomeOK && r.Details["kind"] == "sheet" {
			seq, _ := strconv.ParseInt(r.Details["push_audit_seq"], 10, 64)
			cleared[r.Details["spreadsheet_id"]] = max(cleared[r.Details["spreadsheet_id"]], seq)
		}
	}
	last := map[string]audit.Record{}
	var order []string
	for _, r := range pushes {
		id := r.Details["spreadsheet_id"]
		if r.Outcome != audit.OutcomeOK || id == "" || r.Details["dry_run"] == "true" || r.Expires == nil {
			continue
		}
		if _, ok := last[id]; !ok {
			order = append(order, id)
		}
		last[id] = r
	}
	var out []PushedSheet
	for _, id := range order {
		r := last[id]
		if r.Expires.After(now) || cleared[id] >= r.Seq {
			continue
		}
		out = append(out, PushedSheet{ID: id, Tenant: r.Tenant, Expires: *r.Expires, PushSeq: r.Seq, Details: r.Details})
	}
	return out, nil
}

// purgeSheets clears the data rows of every expired sheet through clear
// (nil: only reported, since clearing needs Google credentials).
func purgeSheets(ctx context.Context, db *store.DB, policyHash, actor string, now time.Time, opt PurgeOptions) ([]PurgeItem, error) {
	sheets, err := ExpiredSheets(ctx, db, now)
	if err != nil {
		return nil, err
	}
	var items []PurgeItem
	for _, s := range sheets {
		it := PurgeItem{Kind: "sheet", ID: s.ID, Path: "https://docs.google.com/spreadsheets/d/" + s.ID, Why: "push retention ended " + s.Expires.Format(time.RFC3339)}
		if opt.DryRun {
			items = append(items, it)
			continue
		}
		if opt.ClearSheet == nil {
			it.Why += "; not cleared: needs Google credentials"
			items = append(items, it)
			continue
		}
		removed, err := opt.ClearSheet(ctx, s)
		rec := audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeOK, Tenant: s.Tenant,
			Reason: "push retention ended", Rows: removed, PolicyHash: policyHash, Expires: &s.Expires,
			Outputs: []audit.Output{{Path: it.Path, Format: "gsheets"}},
			Details: map[string]string{"kind": "sheet", "spreadsheet_id": s.ID, "push_audit_seq": strconv.FormatInt(s.PushSeq, 10), "removed": strconv.Itoa(removed)}}
		if err != nil {
			rec.Outcome, rec.Reason = audit.OutcomeFailed, "cannot clear the sheet: "+err.Error()
			audit.Append(ctx, db, rec)
			return items, fmt.Errorf("purge sheet %s: %w", s.ID, err)
		}
		out, err := audit.Append(ctx, db, rec)
		if err != nil {
			return items, err
		}
		it.AuditSeq = out.Seq
		items = append(items, it)
	}
	return items, nil
}
