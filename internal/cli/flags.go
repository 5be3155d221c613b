package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
)

// One spelling per meaning in every command: --overwrite replaces an
// existing file, --json prints JSON on stdout, --config-profile picks a
// profile of the config file (--profile is the field set). Old spellings
// keep working with a deprecation note on stderr.

// deprecatedFlag is an old spelling of a flag: setting it sets the new
// one (through the new flag's own Set) and prints a note.
type deprecatedFlag struct {
	env      *Env
	old, new string
	fs       *flag.FlagSet
	isBool   bool
}

func (d *deprecatedFlag) String() string   { return "" }
func (d *deprecatedFlag) IsBoolFlag() bool { return d.isBool }
func (d *deprecatedFlag) Set(v string) error {
	fmt.Fprintf(d.env.Stderr, "dingbook: note: --%s is deprecated; use --%s\n", d.old, d.new)
	return d.fs.Set(d.new, v)
}

// deprecate defines old as a deprecated spelling of the already defined
// flag new.
func deprecate(env *Env, fs *flag.FlagSet, old, new string) {
	f := fs.Lookup(new)
	if f == nil {
		panic("dingbook: deprecate: no flag --" + new)
	}
	isBool := false
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok {
		isBool = b.IsBoolFlag()
	}
	fs.Var(&deprecatedFlag{env: env, old: old, new: new, fs: fs, isBool: isBool}, old, "deprecated: use --"+new)
}

// overwriteFlag defines --overwrite (and the deprecated --force).
func overwriteFlag(env *Env, fs *flag.FlagSet, usage string) *bool {
	b := fs.Bool("overwrite", false, usage)
	deprecate(env, fs, "force", "overwrite")
	return b
}

// fitLine cuts s to fit in width terminal columns (East Asian wide
// characters count two), ending it with "…" when cut: a progress line
// that wraps can no longer be redrawn in place.
func fitLine(s string, width int) string {
	if clean.DisplayWidth(s) <= width {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		w := clean.DisplayWidth(string(r))
		if n+w > width-1 {
			break
		}
		b.WriteRune(r)
		n += w
	}
	return b.String() + "…"
}

// summarize joins items with ", ", listing at most n of them and then how
// many more there are.
func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", … and %d more", len(items)-n)
}

// checkRegion validates --region, an ISO 3166 code that libphonenumber
// knows, and returns it upper-cased.
func checkRegion(region string) (string, error) {
	reg := strings.ToUpper(strings.TrimSpace(region))
	if !clean.ValidRegion(reg) {
		return "", &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--region %q is not a known region", region), Hint: "use an ISO 3166 country code such as CN, ID, SG, US"}
	}
	return reg, nil
}

// checkSplit validates --split N: not negative, and only with vcf.
func checkSplit(split int, formats []string) error {
	if split < 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--split %d is negative", split), Hint: "give the most cards per file, e.g. --split 500, or 0 for one file"}
	}
	if split > 0 && !slices.ContainsFunc(formats, func(f string) bool { return strings.EqualFold(strings.TrimSpace(f), "vcf") }) {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--split applies to vCard files only", Hint: "add vcf to --format, or drop --split"}
	}
	return nil
}

// checkQPS validates --qps: 0 is the default, a negative rate is refused.
func checkQPS(qps int) error {
	if qps < 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--qps %d is negative", qps), Hint: "give calls per second per DingTalk API, e.g. --qps 20, or leave it out for the default"}
	}
	return nil
}
