package app

import (
	"context"
	"path/filepath"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/console"
)

// ImportOptions is an import of a member file into a snapshot. Request
// holds the purpose, basis, justification and actor.
type ImportOptions struct {
	Request *govern.Request
	File    FileSource
	// Region is the default phone region for Dedupe's mobile matching.
	Region string
	// AllowEmpty stores a file without members as a snapshot.
	AllowEmpty bool
	Hooks      *Hooks
}

// ImportResult is a stored import: the snapshot, the organisation read
// and the reader's report (merges are among its warnings).
type ImportResult struct {
	Snapshot *dingbook.Snapshot
	Org      *dingbook.Org
	Report   *console.Report
}

// Import reads a member file into a new snapshot, governed (govern.Guard:
// an import needs a purpose and a legal basis, and is recorded).
func (a *App) Import(ctx context.Context, pol *policy.Policy, o ImportOptions) (*ImportResult, error) {
	req := o.Request
	req.Action = "import"
	if req.Now == nil {
		req.Now = a.Now
	}
	name := filepath.Base(o.File.Path)
	if req.Source == "" {
		req.Source = "file:" + name
	}
	out := &ImportResult{}
	err := govern.Guard(ctx, a.DB, pol, req, func(ctx context.Context, _ *govern.Decision) (*govern.Produced, error) {
		co := o.File.Console
		co.TmpDir = a.TmpDir()
		org, rep, err := console.ReadFileContext(ctx, o.File.Path, co)
		if err != nil {
			return nil, err
		}
		if len(org.People) == 0 && !o.AllowEmpty {
			return nil, dingbook.Errorf(dingbook.EINVALID, "%s holds no members (header row %d, then nothing); it would become the latest snapshot, and exports would be empty", name, rep.HeaderRow).
				WithHint("check that this is the right file (and sheet); allow an empty import to store an empty snapshot on purpose").WithField("allow_empty")
		}
		if o.File.Dedupe != "" {
			merges, err := Dedupe(org, o.File.Dedupe, o.Region, o.Hooks)
			if err != nil {
				return nil, err
			}
			for _, m := range merges {
				rep.Warnings = append(rep.Warnings, "merged "+m.String())
			}
		}
		snap := &dingbook.Snapshot{Source: "file:" + name, TakenAt: a.now().UTC(), Org: *org}
		if err := a.DB.SaveSnapshot(ctx, snap); err != nil {
			return nil, err
		}
		out.Snapshot, out.Org, out.Report = snap, org, rep
		return &govern.Produced{Rows: len(org.People), Snapshot: snap.ID, Tenant: org.Name}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
