package govern

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// Export states.
const (
	StatePresent = "present"
	StateExpired = "expired" // past its expiry, not purged yet
	StatePurged  = "purged"
	StateMissing = "missing" // not expired, but the file is gone
)

// Export is one registered bundle.
type Export struct {
	ID       string     `json:"id"`
	Created  time.Time  `json:"created"`
	Actor    string     `json:"actor"`
	Action   string     `json:"action"`
	Path     string     `json:"path"`
	Seal     string     `json:"seal"`
	SHA256   string     `json:"sha256"`
	Bytes    int64      `json:"bytes"`
	Rows     int        `json:"rows"`
	Expires  time.Time  `json:"expires"`
	Purged   *time.Time `json:"purged,omitempty"`
	AuditSeq int64      `json:"audit_seq"`
	State    string     `json:"state"`
}

func registerExport(ctx context.Context, db *store.DB, id string, now time.Time, req *Request, path, kind, sum string, n int64, rows int, expires time.Time, seq int64) error {
	_, err := db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO export (id, created_at, actor, action, path, seal, sha256, bytes, rows, expires_at, audit_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		id, now.UTC().Format(time.RFC3339), nonEmpty(req.Actor, "unknown"), req.Action, path, kind, sum, n, rows, expires.UTC().Format(time.RFC3339), seq)
	return err
}

// ListExports returns every registered export, oldest first, with its
// state at now.
func ListExports(ctx context.Context, db *store.DB, now time.Time) ([]Export, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, created_at, actor, action, path, seal, sha256, bytes, rows, expires_at, purged_at, audit_seq FROM export ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Export
	for rows.Next() {
		var e Export
		var created, expires string
		var purged sql.NullString
		if err := rows.Scan(&e.ID, &created, &e.Actor, &e.Action, &e.Path, &e.Seal, &e.SHA256, &e.Bytes, &e.Rows, &expires, &purged, &e.AuditSeq); err != nil {
			return nil, err
		}
		e.Created, _ = time.Parse(time.RFC3339, created)
		e.Expires, _ = time.Parse(time.RFC3339, expires)
		switch {
		case purged.Valid:
			t, _ := time.Parse(time.RFC3339, purged.String)
			e.Purged = &t
			e.State = StatePurged
		case !now.Before(e.Expires):
			e.State = StateExpired
		default:
			if _, err := os.Stat(e.Path); errors.Is(err, os.ErrNotExist) {
				e.State = StateMissing
			} else {
				e.State = StatePresent
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeItem is one thing Purge deletes (or would delete).
type PurgeItem struct {
	Kind     string `json:"kind"` // "export", "snapshot", "sheet" or "tmp"
	ID       string `json:"id"`
	Path     string `json:"path,omitempty"`
	Why      string `json:"why"`
	AuditSeq int64  `json:"audit_seq,omitempty"`
}

// PurgeOptions control Purge.
type PurgeOptions struct {
	DryRun bool
	Actor  string
	Now    time.Time
	// ClearSheet removes the data rows of a pushed spreadsheet whose
	// retention ended and returns how many went; nil leaves such sheets
	// listed but not cleared.
	ClearSheet func(ctx context.Context, s PushedSheet) (int, error)
}

// Purge deletes expired bundles, clears the rows of pushed spreadsheets
// whose retention ended (PurgeOptions.ClearSheet), deletes the snapshots older than the policy's
// snapshot_keep (always keeping the latest), and sweeps orphaned private
// directories. Each deletion is recorded in the audit log. With DryRun it
// only reports what would go.
func Purge(ctx context.Context, db *store.DB, pol *policy.Policy, opt PurgeOptions) ([]PurgeItem, error) {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	actor := nonEmpty(opt.Actor, "unknown")
	var items []PurgeItem
	if !opt.DryRun {
		for _, d := range Sweep(db.Dir) {
			items = append(items, PurgeItem{Kind: "tmp", Path: d, Why: "private directory left by an interrupted command"})
		}
	}
	exps, err := ListExports(ctx, db, now)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		if e.State != StateExpired {
			continue
		}
		it := PurgeItem{Kind: "export", ID: e.ID, Path: e.Path, Why: "expired " + e.Expires.Format(time.RFC3339)}
		if opt.DryRun {
			items = append(items, it)
			continue
		}
		detail := "deleted"
		if err := os.Remove(e.Path); errors.Is(err, os.ErrNotExist) {
			detail = "file already gone"
		} else if err != nil {
			rec := audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeFailed, ExportID: e.ID,
				Reason: "cannot delete expired bundle: " + err.Error(), PolicyHash: pol.Hash,
				Outputs: []audit.Output{{Path: e.Path, SHA256: e.SHA256, Bytes: e.Bytes}}}
			audit.Append(ctx, db, rec)
			return items, fmt.Errorf("purge export %s: %w", e.ID, err)
		}
		exp := e.Expires
		rec, err := audit.Append(ctx, db, audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeOK,
			ExportID: e.ID, Reason: "export expired", Rows: e.Rows, Seal: e.Seal, Expires: &exp, PolicyHash: pol.Hash,
			Outputs: []audit.Output{{Path: e.Path, SHA256: e.SHA256, Bytes: e.Bytes}},
			Details: map[string]string{"kind": "export", "result": detail}})
		if err != nil {
			return items, err
		}
		if _, err := db.ExecContext(ctx, `UPDATE export SET purged_at = ? WHERE id = ?`, now.UTC().Format(time.RFC3339), e.ID); err != nil {
			return items, err
		}
		it.AuditSeq = rec.Seq
		items = append(items, it)
	}
	sheets, err := purgeSheets(ctx, db, pol.Hash, actor, now, opt)
	items = append(items, sheets...)
	if err != nil {
		return items, err
	}
	if keep := time.Duration(pol.SnapshotKeep); keep > 0 {
		snaps, err := db.Snapshots(ctx) // newest first
		if err != nil {
			return items, err
		}
		for i, s := range snaps {
			if i == 0 || now.Sub(s.TakenAt) <= keep {
				continue // the latest is always kept
			}
			it := PurgeItem{Kind: "snapshot", ID: strconv.FormatInt(s.ID, 10),
				Why: fmt.Sprintf("taken %s, older than snapshot_keep %s", s.TakenAt.Format(time.RFC3339), policy.FormatKeep(keep))}
			if opt.DryRun {
				items = append(items, it)
				continue
			}
			if err := db.DeleteSnapshot(ctx, s.ID); err != nil {
				return items, fmt.Errorf("purge snapshot %d: %w", s.ID, err)
			}
			rec, err := audit.Append(ctx, db, audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeOK,
				Snapshot: s.ID, Tenant: s.CorpID, Rows: s.People, Reason: "snapshot older than snapshot_keep", PolicyHash: pol.Hash,
				Details: map[string]string{"kind": "snapshot", "taken_at": s.TakenAt.Format(time.RFC3339)}})
			if err != nil {
				return items, err
			}
			it.AuditSeq = rec.Seq
			items = append(items, it)
		}
	}
	return items, nil
}
