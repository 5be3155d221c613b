package app

import (
	"context"
	"io"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// What the state directory holds, for reading: snapshots, exports, the
// consent register and the audit log.

// Snapshots lists the stored snapshots, newest first.
func (a *App) Snapshots(ctx context.Context) ([]store.SnapshotInfo, error) {
	return a.DB.Snapshots(ctx)
}

// Exports lists the registered bundles and whether each has expired.
func (a *App) Exports(ctx context.Context) ([]govern.Export, error) {
	return govern.ListExports(ctx, a.DB, a.now())
}

// Consents lists the current consent entries (purpose and person "" for
// all).
func (a *App) Consents(ctx context.Context, purpose, person string) ([]store.Consent, error) {
	return a.DB.CurrentConsents(ctx, purpose, person)
}

// AuditRecords lists audit records as f selects.
func (a *App) AuditRecords(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	return audit.List(ctx, a.DB, f)
}

// AuditRecord returns record seq.
func (a *App) AuditRecord(ctx context.Context, seq int64) (audit.Record, error) {
	return audit.Get(ctx, a.DB, seq)
}

// AuditRecordsOf returns the audit records numbered seqs, by seq (one
// without a record is left out), in one read (not one per record).
func (a *App) AuditRecordsOf(ctx context.Context, seqs []int64) (map[int64]audit.Record, error) {
	return audit.GetSeqs(ctx, a.DB, seqs)
}

// VerifyAudit walks the whole chain, and checks that it holds anchor (a
// head hash noted earlier) unless anchor is "".
func (a *App) VerifyAudit(ctx context.Context, anchor string) (*audit.VerifyResult, error) {
	return audit.VerifyAgainst(ctx, a.DB, anchor)
}

// AcknowledgeAudit records that an administrator looked into a gap
// between the log and its anchor, so that writing can go on.
func (a *App) AcknowledgeAudit(ctx context.Context, actor, reason string) (audit.Record, error) {
	return audit.Acknowledge(ctx, a.DB, actor, reason)
}

// AuditHead returns the chain's head: its last seq and hash.
func (a *App) AuditHead(ctx context.Context) (int64, string, error) {
	return audit.Head(ctx, a.DB)
}

// ExportAudit writes the records since the given time (zero: all) as JSON
// Lines for an auditor, ending with the chain's head.
func (a *App) ExportAudit(ctx context.Context, pol *policy.Policy, since time.Time, w io.Writer) (*audit.ExportHead, error) {
	return audit.Export(ctx, a.DB, since, a.now(), policy.FormatKeep(time.Duration(pol.AuditRetention)), w)
}
