package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/seal"
)

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
	announcePassphrase(env.Stderr, res)
	fmt.Fprintf(env.Stderr, "dingbook: expires %s; 'dingbook purge' deletes it then (audit record %d)\n", res.Expires.Local().Format("2006-01-02 15:04"), res.AuditSeq)
}

// announcePassphrase prints a generated passphrase once, to w (stderr),
// with how to open the bundle. It prints nothing when res.Passphrase is
// empty (the user supplied the passphrase or age recipients were used).
func announcePassphrase(w io.Writer, res *govern.Result) {
	if res == nil || res.Passphrase == "" {
		return
	}
	fmt.Fprintf(w, "dingbook: bundle %s\n", res.BundlePath)
	fmt.Fprintf(w, "dingbook: passphrase (shown once, not stored; send it separately from the file):\n\n    %s\n\n", res.Passphrase)
	if strings.HasSuffix(res.BundlePath, ".zip") {
		fmt.Fprintln(w, "dingbook: open it with 7-Zip, WinZip, WinRAR or Keka (Windows Explorer and macOS Archive Utility cannot open AES zips)")
	} else {
		fmt.Fprintln(w, "dingbook: open it with: age -d FILE > export.tar && tar -xf export.tar")
	}
}

// withProgress adds the terminal's progress line to hooks (rowProgress;
// none with --json or off a terminal) and returns hooks.
func withProgress(env *Env, hooks *app.Hooks, jsonOut bool) *app.Hooks {
	bar := newRowProgress(env, jsonOut)
	if bar == nil {
		return hooks
	}
	hooks.Exporting = func(dir dingbook.Directory, size int) (func(people, rows int), func()) {
		bar.start(dir, size)
		return bar.update, bar.stop
	}
	return hooks
}
