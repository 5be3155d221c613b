package app

import (
	"cmp"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/seal"
	"github.com/dingbook/dingbook/source/console"
)

// FileSource is an admin-console member file read as an export's source.
type FileSource struct {
	Path string
	// Name is recorded as the source, "file:"+Name (default Path).
	Name    string
	Console console.Options
	// Dedupe merges rows that are one person (a clean.Dedupe rule); the
	// file is then read whole.
	Dedupe string
}

// ExportOptions is an export or a convert. Request holds the governance
// part (purpose, basis, justification, retention, encryption, the
// passphrase, the output directory and the actor); Export the selection
// and formats. The source is one of Snapshot (0: the latest), Pull or
// File.
type ExportOptions struct {
	Request *govern.Request
	Export  export.Options
	// Quality adds the status column, highlighting and Quality sheet to
	// an xlsx; Split (vcf) writes at most this many cards per file.
	Quality bool
	Split   int

	Snapshot int64
	Pull     *PullOptions
	File     *FileSource

	// External also writes the source's external contacts (a snapshot's
	// or a pull's) as vCards with the decided fields only, in a vcf file
	// of their own (external.go; the manifest counts its cards): it needs
	// the basis consent and a consent reference
	// (Request.Transfer.ConsentRef), and leaves out the contacts whose
	// consent was withdrawn.
	External bool

	Hooks *Hooks
}

// ExportResult is a sealed export.
type ExportResult struct {
	// Source names what was exported ("snapshot:7", "file:members.xlsx",
	// the pull's source); SnapshotID is set for a snapshot or a pull.
	Source     string
	SnapshotID int64
	Bundle     *govern.Result
	Export     *export.Result
	// Pull is set for a pull source.
	Pull *PullResult
}

// Export exports the source into a sealed bundle: the policy decides
// (govern.Resolve, once), the export layer writes the plaintext into
// govern's private directory, and govern seals it, registers it and
// appends the audit record. A refusal is recorded too.
func (a *App) Export(ctx context.Context, pol *policy.Policy, o ExportOptions) (*ExportResult, error) {
	req := o.Request
	if req.Action == "" {
		req.Action = "export"
	}
	if req.Now == nil {
		req.Now = a.Now
	}
	n := 0
	for _, b := range []bool{o.Snapshot != 0, o.Pull != nil, o.File != nil} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, a.Refuse(ctx, pol, req, &dingbook.Error{Code: dingbook.EINVALID, Message: "a snapshot, a pull and a member file exclude each other as the source", Hint: "choose one source"})
	}
	gx := &governed{app: a, pol: pol, req: req, quality: o.Quality, split: o.Split, hooks: o.Hooks}
	opts := o.Export
	dec, err := gx.decide(ctx, &opts)
	if err != nil {
		return nil, err
	}
	if o.External {
		if err := externalExportable(req, dec, o.File != nil); err != nil {
			return nil, a.Refuse(ctx, pol, req, err)
		}
	}
	out := &ExportResult{}
	var dir dingbook.Directory
	done := func(bool) {}
	switch {
	case o.File != nil:
		d, fdone, err := a.memberSource(ctx, o.File, &opts, o.Hooks)
		if err != nil {
			return nil, err
		}
		dir, done = d, fdone
		out.Source = "file:" + cmp.Or(o.File.Name, o.File.Path)
		req.Source = out.Source
	case o.Pull != nil:
		po := *o.Pull
		po.Actor, po.Hooks = req.Actor, o.Hooks
		po.External = po.External || o.External
		pr, err := a.Pull(ctx, pol, po)
		if err != nil {
			return nil, err
		}
		out.Pull = pr
		dir = dingbook.OrgDirectory{Org: &pr.Snapshot.Org}
		out.Source, out.SnapshotID = pr.Snapshot.Source, pr.Snapshot.ID
	default:
		sd, id, err := a.snapshot(ctx, o.Snapshot)
		if err != nil {
			return nil, err
		}
		dir = sd
		out.Source, out.SnapshotID = "snapshot:"+strconv.FormatInt(id, 10), id
	}
	if out.SnapshotID != 0 {
		req.Snapshot, req.Source = out.SnapshotID, out.Source
	}
	name, corp := dir.Info()
	req.Tenant = cmp.Or(corp, name)
	if o.External {
		if gx.external, err = a.exportableExternal(ctx, out); err != nil {
			return nil, err
		}
	}
	out.Bundle, out.Export, err = gx.run(ctx, dir, opts, done)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Convert converts a member file into one file of another format, sealed
// as a bundle named after it (ExportOptions.Request.BundleBase) in its
// directory. opts.Export.Paths names the output file.
func (a *App) Convert(ctx context.Context, pol *policy.Policy, o ExportOptions) (*ExportResult, error) {
	req := o.Request
	req.Action = "convert"
	if req.Now == nil {
		req.Now = a.Now
	}
	gx := &governed{app: a, pol: pol, req: req, quality: o.Quality, split: o.Split, hooks: o.Hooks}
	opts := o.Export
	dec, err := gx.decide(ctx, &opts)
	if err != nil {
		return nil, err
	}
	if bundle := filepath.Join(req.OutDir, req.BundleBase+seal.Ext(dec.Encrypt)); !req.Overwrite {
		if _, err := os.Lstat(bundle); err == nil {
			return nil, govern.Fail(ctx, a.DB, pol, req, "bundle", &dingbook.Error{Code: dingbook.EINVALID, Message: "the bundle " + bundle + " already exists",
				Hint: "replace it (overwrite) or name another output file", Field: "overwrite"})
		}
	}
	dir, done, err := a.memberSource(ctx, o.File, &opts, o.Hooks)
	if err != nil {
		return nil, govern.Fail(ctx, a.DB, pol, req, "export", err)
	}
	if name, _ := dir.Info(); name != "" {
		req.Tenant = name
	}
	out := &ExportResult{Source: "file:" + filepath.Base(o.File.Path)}
	out.Bundle, out.Export, err = gx.run(ctx, dir, opts, done)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// memberSource opens a member file as the source of an export: read whole
// and deduplicated with Dedupe, else memberDirectory.
func (a *App) memberSource(ctx context.Context, f *FileSource, opts *export.Options, h *Hooks) (dingbook.Directory, func(bool), error) {
	co := f.Console
	co.TmpDir = a.TmpDir()
	if f.Dedupe != "" {
		org, err := readMemberFile(ctx, f.Path, co, h)
		if err != nil {
			return nil, nil, err
		}
		if _, err := Dedupe(org, f.Dedupe, opts.Region, h); err != nil {
			return nil, nil, err
		}
		return dingbook.OrgDirectory{Org: org}, func(bool) {}, nil
	}
	return memberDirectory(ctx, f.Path, co, opts, h)
}

// readMemberFile reads a member file whole and tells the hooks what the
// reader skipped or guessed.
func readMemberFile(ctx context.Context, path string, co console.Options, h *Hooks) (*dingbook.Org, error) {
	org, rep, err := console.ReadFileContext(ctx, path, co)
	if err != nil {
		return nil, err
	}
	h.memberFile(path, rep)
	return org, nil
}

// Dedupe merges the rows of org that are one person (rule, as
// clean.DedupeRegion) and tells the hooks about every merge.
func Dedupe(org *dingbook.Org, rule, region string, h *Hooks) ([]clean.Merge, error) {
	merges, err := clean.DedupeRegion(org, rule, region)
	if err != nil {
		return nil, err
	}
	h.merged(rule, merges)
	return merges, nil
}

// memberDirectory opens an admin-console member file as the source of an
// export. It streams the file (console.Stream): read in step with the
// writing, never held whole; the fields of profile "full" then come from
// the header (every custom column). A department selection needs every
// department up front: a first pass reads the tree (the rows go by
// unkept), the second streams the people. A streamed read alone resolves
// a manager only to someone in the same or an earlier row, so an export
// of manager_userid makes a first pass that keeps only what resolving
// needs (console.ReadManagers: a hash per userid and per name), and the
// stream resolves managers as the file read whole would. After
// export.Run, call done with whether it succeeded: it tells the hooks
// what the reader skipped or guessed and closes the file.
func memberDirectory(ctx context.Context, path string, co console.Options, opts *export.Options, h *Hooks) (dingbook.Directory, func(ok bool), error) {
	var mgrs *console.Managers
	if slices.Contains(opts.Fields, "manager_userid") {
		var err error
		if mgrs, err = console.ReadManagers(ctx, path, co); err != nil {
			return nil, nil, err
		}
	}
	st, err := console.Open(path, co)
	if err != nil {
		return nil, nil, err
	}
	if mgrs != nil {
		st.ResolveManagers(mgrs)
	}
	if opts.AllExtensions {
		// The header lists every custom column: the fields are known now.
		for _, k := range st.ExtensionKeys() {
			if k = dingbook.ExtensionPrefix + k; !slices.Contains(opts.Fields, k) {
				opts.Fields = append(opts.Fields, k)
			}
		}
		opts.AllExtensions = false
	}
	var dir dingbook.Directory = st
	if len(opts.Depts) > 0 {
		ts, err := withTree(ctx, path, co, st)
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		dir = ts
	}
	return dir, func(ok bool) {
		if ok {
			h.memberFile(path, st.Report())
		}
		st.Close()
	}, nil
}

// treeStream is a member file streamed with the company and department
// tree of a first pass over it, so that a department selection can be
// resolved before the first person.
type treeStream struct {
	*console.Stream
	name  string
	depts []dingbook.Department
	tree  *dingbook.Tree
}

func withTree(ctx context.Context, path string, co console.Options, st *console.Stream) (*treeStream, error) {
	first, err := console.Open(path, co)
	if err != nil {
		return nil, err
	}
	defer first.Close()
	if err := first.EachPerson(ctx, func(*dingbook.Person) error { return nil }); err != nil {
		return nil, err
	}
	name, _ := first.Info()
	depts := first.Departments()
	return &treeStream{Stream: st, name: name, depts: depts, tree: dingbook.NewTree(depts)}, nil
}

func (t *treeStream) Info() (string, string)             { return t.name, "" }
func (t *treeStream) Departments() []dingbook.Department { return t.depts }
func (t *treeStream) Tree() *dingbook.Tree               { return t.tree }

// governed is how Export and Convert write files: the policy decides
// (fields, hidden mobiles, retention, encryption), export.Run writes the
// plaintext into govern's private directory, and govern seals it into a
// bundle, registers it for expiry and appends the audit record.
type governed struct {
	app     *App
	pol     *policy.Policy
	req     *govern.Request
	quality bool
	split   int
	hooks   *Hooks
	dec     *govern.Decision // decide's, for run
	// external are the external contacts to write (ExportOptions.External;
	// nil: none asked for).
	external []dingbook.ExternalContact
}

// decide resolves the request against the policy before anything is read,
// so the export layer knows the profile, and records a refusal.
func (g *governed) decide(ctx context.Context, opts *export.Options) (*govern.Decision, error) {
	dec, err := govern.Resolve(g.pol, g.req)
	if err != nil {
		return nil, g.app.Refuse(ctx, g.pol, g.req, err)
	}
	// The decision is the one authority on the fields: the export layer
	// writes them as they are.
	opts.Fields, opts.Profile, opts.Profiles, opts.AllExtensions = dec.Fields, "", nil, dec.AllExtensions
	g.dec = dec
	return dec, nil
}

// run exports dir with opts into a sealed bundle, under decide's decision
// (not made again). done is told whether
// the export succeeded, for streamed sources.
func (g *governed) run(ctx context.Context, dir dingbook.Directory, opts export.Options, done func(bool)) (*govern.Result, *export.Result, error) {
	var exp *export.Result
	res, err := govern.RunDecided(ctx, g.app.DB, g.pol, g.req, g.dec, func(ctx context.Context, pdir string, dec *govern.Decision) (*govern.Produced, error) {
		o := opts
		o.Dir, o.Paths, o.Overwrite = pdir, nil, false
		o.XLSX.TmpDir = pdir
		o.HideHiddenMobiles = !dec.IncludeHiddenMobiles
		o.Quality, o.QualitySize = g.quality, sizeOf(dir)
		if o.VCard == nil {
			o.VCard = VCard("3.0")
		}
		acc, err := g.accountable(ctx, dec, dir, &o)
		if err != nil {
			return nil, err
		}
		defer acc.holders.Close()
		stop := g.hooks.exporting(dir, &o)
		exp, err = export.Run(ctx, dir, o)
		stop()
		if err == nil {
			acc.addExternal(g.external) // their cards go in the bundle too
		}
		acc.holders.Close() // the last hashes are made while govern seals
		done(err == nil)
		if err != nil {
			return nil, err
		}
		p := &govern.Produced{Rows: exp.Rows, Fields: exp.Fields, Masks: o.Mask, Holders: acc.holders, Details: acc.details(exp)}
		for _, f := range exp.Files {
			if f.Format == "vcf" && g.split > 0 {
				parts, counts, err := vcard.SplitFile(f.Path, g.split)
				if err != nil {
					return nil, err
				}
				for i, part := range parts {
					p.Files = append(p.Files, govern.ProducedFile{Path: part, Format: f.Format, Rows: counts[i]})
				}
				continue
			}
			p.Files = append(p.Files, govern.ProducedFile{Path: f.Path, Format: f.Format, Rows: f.Rows, TruncatedCells: f.TruncatedCells, Sheets: f.Sheets})
		}
		for _, id := range exp.Depts {
			p.DeptScope = append(p.DeptScope, strconv.FormatInt(id, 10))
		}
		if g.external != nil {
			f, err := writeExternalCards(pdir, g.external, dec.Fields)
			if err != nil {
				return nil, err
			}
			p.Files = append(p.Files, f)
			p.Details["external_contacts"] = strconv.Itoa(f.Rows)
		}
		return p, nil
	})
	return res, exp, err
}

// VCard is the export layer's vCard writer of version ("3.0" for phones,
// or "4.0"); an export without one of its own writes 3.0.
func VCard(version string) func(w io.Writer, company, corpID string) (export.PersonWriter, error) {
	return func(w io.Writer, company, corpID string) (export.PersonWriter, error) {
		return vcard.New(w, vcard.Options{Version: version, Company: company, CorpID: corpID}), nil
	}
}

// sizeOf returns the number of people in d when it is known up front,
// or an estimate (a streamed member file's SizeHint), 0 otherwise, so
// the cleaner can size its tables.
func sizeOf(d dingbook.Directory) int {
	switch d := d.(type) {
	case dingbook.OrgDirectory:
		return len(d.Org.People)
	case interface{ Len() int }:
		return d.Len()
	case interface{ SizeHint() int }:
		return d.SizeHint()
	}
	return 0
}
