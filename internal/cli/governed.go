package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/seal"
	"github.com/dingbook/dingbook/store"
)

// governedExport is how export and convert write files: the policy decides
// (fields, hidden mobiles, retention, encryption), export.Run writes the
// plaintext into govern's private directory, and govern seals it into a
// bundle, registers it for expiry and appends the audit record.
type governedExport struct {
	db      *store.DB
	pol     *policy.Policy
	req     *govern.Request
	quality bool   // add the status column, highlighting and Quality sheet to xlsx
	region  string // default phone region for the quality checks
	split   int    // vcf: at most this many cards per file (0 = one file)
}

// decide resolves the request against the policy before anything is read,
// so the export layer knows the profile, and records a refusal.
func (g *governedExport) decide(ctx context.Context, opts *export.Options) (*govern.Decision, error) {
	dec, err := govern.Resolve(g.pol, g.req)
	if err != nil {
		return nil, govern.Refuse(ctx, g.db, g.pol, g.req, err)
	}
	opts.Profiles = g.pol.Profiles
	if len(opts.Fields) == 0 {
		opts.Profile = dec.Profile
	}
	return dec, nil
}

// run exports dir with opts into a sealed bundle. done (may be nil) is told
// whether the export succeeded, for streamed sources.
func (g *governedExport) run(ctx context.Context, dir dingbook.Directory, opts export.Options, done func(bool)) (*govern.Result, *export.Result, error) {
	var exp *export.Result
	res, err := govern.Run(ctx, g.db, g.pol, g.req, func(ctx context.Context, pdir string) (*govern.Produced, error) {
		dec := govern.DecisionFrom(ctx)
		o := opts
		o.Dir, o.Paths, o.Overwrite = pdir, nil, false
		o.XLSX.TmpDir = pdir
		o.HideHiddenMobiles = dec == nil || !dec.IncludeHiddenMobiles
		o.Quality, o.QualitySize = g.quality, sizeOf(dir)
		var err error
		exp, err = export.Run(ctx, dir, o)
		if done != nil {
			done(err == nil)
		}
		if err != nil {
			return nil, err
		}
		p := &govern.Produced{Rows: exp.Rows, Fields: exp.Fields, Masks: o.Mask}
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
		return p, nil
	})
	return res, exp, err
}

// sizeOf returns the number of people in d when it is known up front (0
// otherwise), so the cleaner can size its tables.
func sizeOf(d dingbook.Directory) int {
	switch d := d.(type) {
	case dingbook.OrgDirectory:
		return len(d.Org.People)
	case interface{ Len() int }:
		return d.Len()
	}
	return 0
}

// GovernedSummary is the bundle part of export and convert --json.
type GovernedSummary struct {
	ExportID      string                `json:"export_id"`
	Bundle        string                `json:"bundle"`
	BundleSHA256  string                `json:"bundle_sha256"`
	Seal          string                `json:"seal"`
	Expires       string                `json:"expires"`
	AuditSeq      int64                 `json:"audit_seq"`
	Files         []govern.ManifestFile `json:"files"`
	HiddenMobiles int                   `json:"hidden_mobiles_left_out"`
	Decision      *govern.Decision      `json:"decision,omitempty"`
}

func governedSummary(res *govern.Result, exp *export.Result) GovernedSummary {
	s := GovernedSummary{ExportID: res.ExportID, Bundle: res.BundlePath, BundleSHA256: res.BundleSHA256,
		Expires: res.Expires.UTC().Format("2006-01-02T15:04:05Z"), AuditSeq: res.AuditSeq, Files: res.Files,
		HiddenMobiles: exp.LeftOut.HiddenMobiles, Decision: res.Decision}
	if res.Manifest != nil {
		s.Seal = res.Manifest.Seal
	}
	return s
}

// printGoverned tells people on stderr what was sealed where; a bundle
// the policy let go out unencrypted is never called sealed.
func printGoverned(env *Env, res *govern.Result, exp *export.Result) {
	plain := res.Manifest != nil && res.Manifest.Seal == seal.KindNone
	verb := "sealed"
	if plain {
		verb = "packed unencrypted"
	}
	for _, f := range res.Files {
		fmt.Fprintf(env.Stderr, "dingbook: %s %s (%s, %d rows)\n", verb, f.Name, f.Format, f.Rows)
		if f.TruncatedCells > 0 {
			fmt.Fprintf(env.Stderr, "dingbook: warning: %s: %d cell(s) longer than %d characters, the most an Excel cell holds, were cut short (manifest.json counts them); csv and jsonl keep such text whole\n",
				f.Name, f.TruncatedCells, xlsx.MaxCellChars)
		}
	}
	if exp != nil {
		fmt.Fprintf(env.Stderr, "dingbook: %s\n", exp)
	}
	if exp != nil && exp.Quality != nil {
		q := exp.Quality
		fmt.Fprintf(env.Stderr, "dingbook: quality: %d people, %d with problems, %d duplicate groups (the Quality sheet; 'dingbook quality' lists them)\n", q.People, q.PeopleWithProblems, q.DuplicateGroups)
	}
	if exp != nil && exp.LeftOut.HiddenMobiles > 0 {
		fmt.Fprintln(env.Stderr, "dingbook: hint: hidden mobiles are written only where the policy allows --include-hidden-mobiles, with --justify")
	}
	switch {
	case plain:
		fmt.Fprintf(env.Stderr, "dingbook: unencrypted bundle %s (a plain zip: --encrypt none, allowed by the policy); keep it on encrypted storage only\n", res.BundlePath)
	case res.Passphrase == "":
		fmt.Fprintf(env.Stderr, "dingbook: bundle %s\n", res.BundlePath)
	}
	govern.AnnouncePassphrase(env.Stderr, res)
	fmt.Fprintf(env.Stderr, "dingbook: expires %s; 'dingbook purge' deletes it then (audit record %d)\n", res.Expires.Local().Format("2006-01-02 15:04"), res.AuditSeq)
}
