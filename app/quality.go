package app

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/source/gen"
)

// QualityOptions is a quality report of a snapshot (Snapshot, 0: the
// latest) or of a file (File: a console member file, or an exact org in
// .json/.yaml). Dedupe merges the rows that are one person first (a
// clean.Dedupe rule; the source is then read whole).
type QualityOptions struct {
	Snapshot int64
	File     *FileSource
	Dedupe   string
	Region   string
	// Shareable also makes the report that may leave the terminal (a
	// file): it quotes only the fields of the policy's default profile and
	// no hidden mobile, from an analysis of its own.
	Shareable bool
	Hooks     *Hooks
	// Select, when set, limits the report to the people it returns (a
	// sub-admin's scope, clean.Options.Select); it must not keep them.
	Select func(*dingbook.Person) *dingbook.Person
}

// QualityResult is a quality report. Dir is the analysed directory, for
// rendering the reports (clean.Report.WriteJSON, WriteText).
type QualityResult struct {
	Report *clean.Report
	// Shared is the report that may leave the terminal (Shareable);
	// Profile is the default profile whose fields it quotes.
	Shared  *clean.Report
	Profile string
	Dir     dingbook.Directory
	// People and WithManager count the people and those with a
	// manager_userid: with none, manager-not-found was not checked.
	People, WithManager int
}

// QualityOf analyses a file into a quality report, without the state
// database: home is the state directory (its tmp folder takes a member
// file's spill files; its policy says what a shareable report quotes).
// Options.Snapshot is ignored.
func QualityOf(ctx context.Context, home string, o QualityOptions) (*QualityResult, error) {
	govern.Sweep(home)
	co := o.File.Console
	co.TmpDir = filepath.Join(home, govern.TmpDirName)
	org, err := readOrgFile(ctx, o.File.Path, co)
	if err != nil {
		return nil, err
	}
	return quality(ctx, home, "file:"+filepath.Base(o.File.Path), org, nil, 0, o)
}

// Quality analyses a stored snapshot, or a file (as QualityOf).
func (a *App) Quality(ctx context.Context, o QualityOptions) (*QualityResult, error) {
	if o.File != nil {
		return QualityOf(ctx, a.DB.Dir, o)
	}
	id := o.Snapshot
	if id == 0 {
		var err error
		if id, err = a.DB.LatestSnapshotID(ctx); err != nil {
			return nil, err
		}
	}
	size := 0
	if infos, err := a.DB.Snapshots(ctx); err == nil {
		for _, si := range infos {
			if si.ID == id {
				size = si.People
			}
		}
	}
	source := fmt.Sprintf("snapshot:%d", id)
	if o.Dedupe != "" {
		s, err := a.DB.LoadSnapshot(ctx, id)
		if err != nil {
			return nil, err
		}
		return quality(ctx, a.DB.Dir, source, &s.Org, nil, size, o)
	}
	sd, err := a.DB.Directory(ctx, id)
	if err != nil {
		return nil, err
	}
	return quality(ctx, a.DB.Dir, source, nil, sd, size, o)
}

// quality analyses org (deduplicated as o says) or dir.
func quality(ctx context.Context, home, source string, org *dingbook.Org, dir dingbook.Directory, size int, o QualityOptions) (*QualityResult, error) {
	var merges []clean.Merge
	if org != nil {
		if o.Dedupe != "" {
			var err error
			if merges, err = Dedupe(org, o.Dedupe, o.Region, o.Hooks); err != nil {
				return nil, err
			}
		}
		dir = dingbook.OrgDirectory{Org: org}
	}
	mc := &managerCounter{Directory: dir}
	rep, err := clean.Analyze(ctx, mc, clean.Options{Region: o.Region, SizeHint: size, Select: o.Select})
	if err != nil {
		return nil, err
	}
	rep.Source, rep.Merges = source, merges
	res := &QualityResult{Report: rep, Dir: dir, People: mc.people, WithManager: mc.withManager}
	if o.Shareable {
		pol, visible, err := DefaultProfileFields(home)
		if err != nil {
			return nil, err
		}
		srep, err := clean.Analyze(ctx, dir, clean.Options{Region: o.Region, SizeHint: size, Select: withoutHiddenMobile, Visible: slices.Clone(visible)})
		if err != nil {
			return nil, err
		}
		srep.Source, srep.Merges = source, restrictMerges(merges, visible)
		res.Shared, res.Profile = srep, pol.DefaultProfile
	}
	return res, nil
}

// withoutHiddenMobile is Options.Select for a report that leaves the
// terminal: everybody, without the mobile they hid in DingTalk.
func withoutHiddenMobile(p *dingbook.Person) *dingbook.Person {
	if !p.HideMobile || p.Mobile == "" {
		return p
	}
	q := *p
	q.Mobile, q.StateCode = "", ""
	return &q
}

// restrictMerges returns merges as a report limited to the visible
// fields may quote them: a merge's key (a job number, or a mobile and a
// name) and name only when those fields are visible.
func restrictMerges(merges []clean.Merge, visible []string) []clean.Merge {
	has := func(k string) bool { return slices.Contains(visible, k) }
	out := slices.Clone(merges)
	for i := range out {
		m := &out[i]
		if !(m.Rule == clean.RuleJobNumber && has("job_number") || m.Rule == clean.RuleMobileName && has("mobile") && has("name")) {
			m.Key = ""
		}
		if !has("name") {
			m.Name = ""
		}
	}
	return out
}

// readOrgFile reads an exact org (.json, .yaml, .yml) or a console member
// file (anything else).
func readOrgFile(ctx context.Context, path string, co console.Options) (*dingbook.Org, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".yaml", ".yml":
		t, err := gen.Load(path)
		if err != nil {
			return nil, err
		}
		return &t.Org, nil
	}
	org, _, err := console.ReadFileContext(ctx, path, co)
	if err != nil {
		return nil, err
	}
	if org == nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s: no members read", path), Hint: "give the member file exported from the DingTalk admin console (.xlsx or .csv)"}
	}
	return org, nil
}

// managerCounter counts, while the cleaner streams the people, how many
// have a manager_userid: a snapshot pulled without managers has none, and
// then manager-not-found says nothing.
type managerCounter struct {
	dingbook.Directory
	people, withManager int
}

func (m *managerCounter) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	m.people, m.withManager = 0, 0
	return m.Directory.EachPerson(ctx, func(p *dingbook.Person) error {
		m.people++
		if p.ManagerUserID != "" {
			m.withManager++
		}
		return fn(p)
	})
}
