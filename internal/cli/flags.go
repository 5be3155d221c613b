package cli

import (
	"flag"
	"fmt"
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
