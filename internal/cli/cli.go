// Package cli wires dingbook's commands: it parses flags, builds the
// packages that do the work, and maps errors to messages, hints and exit
// codes. Each command lives in its own file (cmd_<name>.go) and registers
// itself in init.
//
// Output rules: stdout carries only the requested data (a --json summary,
// a report); progress, hints and errors go to stderr.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
	"golang.org/x/term"
)

// Env is everything a command may touch of the outside world, so tests can
// run commands in-process with buffers, a fixed clock and their own
// environment.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads an environment variable.
	Getenv func(string) string
	// Now is the clock.
	Now func() time.Time
	// StderrIsTTY enables progress bars and prompts.
	StderrIsTTY bool
	// StdinIsTTY allows interactive prompts.
	StdinIsTTY bool
	// Width is the terminal's width in columns for progress lines (nil or
	// 0: 80).
	Width func() int
	// Actor is who runs the command (the OS user).
	Actor string
	// Dir is the working directory for relative paths ("" = process cwd).
	Dir string
}

// OSEnv returns the process's real environment.
func OSEnv() *Env {
	actor := "unknown"
	if u, err := user.Current(); err == nil {
		actor = u.Username
	}
	return &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv:      os.Getenv,
		Now:         time.Now,
		StderrIsTTY: term.IsTerminal(int(os.Stderr.Fd())),
		StdinIsTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		Actor:       actor,
		Width: func() int {
			w, _, err := term.GetSize(int(os.Stderr.Fd()))
			if err != nil {
				return 0
			}
			return w
		},
	}
}

// width is the terminal's width in columns (80 when unknown).
func (env *Env) width() int {
	if env.Width != nil {
		if w := env.Width(); w > 0 {
			return w
		}
	}
	return 80
}

// Path resolves p against env.Dir.
func (env *Env) Path(p string) string {
	if env.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(env.Dir, p)
}

// Command is one subcommand.
type Command struct {
	Name  string
	Short string // one line for the command list
	// Run executes the command with its own arguments.
	Run func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]*Command{}

// Register adds a command; each cmd_*.go file calls it from init.
func Register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("dingbook: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// ErrSilent is returned by a command that already printed its failure and
// only wants a non-zero exit.
var ErrSilent = errors.New("silent failure")

// Exit codes, documented in the README.
const (
	ExitOK         = 0
	ExitError      = 1 // any other failure
	ExitUsage      = 2 // bad flags or arguments
	ExitAuth       = 3 // credentials rejected
	ExitPerm       = 4 // missing permission, scope, range or whitelist
	ExitIncomplete = 5 // a pull that cannot vouch for completeness
	ExitPolicy     = 6 // refused by the policy
	ExitNotFound   = 7
)

// MainOS runs dingbook as a process: with the real environment, and a
// signal on sigs (main subscribes it to SIGINT and SIGTERM: process-wide
// settings stay in main) cancelling the command's context (the cause is
// an *Interrupted), so that every loop stops, private files are wiped and
// the exit code is 128 + the signal's number (130, 143).
func MainOS(args []string, sigs <-chan os.Signal) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		if s, ok := <-sigs; ok {
			cancel(&Interrupted{Signal: s})
		}
	}()
	return Main(ctx, args, OSEnv())
}

// Interrupted is the cause of a command's context cancelled by a signal.
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string { return "interrupted by " + signalName(e.Signal) }

// Is makes an Interrupted a context.Canceled.
func (e *Interrupted) Is(target error) bool { return target == context.Canceled }

// ExitCode is 128 + the signal's number, as a shell reports it.
func (e *Interrupted) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return ExitError
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// Main runs dingbook with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, env *Env) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		return ExitOK
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(env.Stdout, "dingbook", Version)
		return ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "dingbook: error: unknown command %q\n", args[0])
		fmt.Fprintln(env.Stderr, "dingbook: hint: run 'dingbook help' for the list of commands")
		return ExitUsage
	}
	err := c.Run(ctx, env, args[1:])
	var in *Interrupted
	if err != nil && errors.As(context.Cause(ctx), &in) {
		// Say why it stopped: in the command's own words when it has
		// some (a pull says what it kept), else plainly.
		if errors.Is(err, errPullInterrupted) {
			report(env.Stderr, err)
		} else {
			fmt.Fprintf(env.Stderr, "dingbook: error: %s: stopped\n", in)
			fmt.Fprintln(env.Stderr, "dingbook: hint: its private working files were wiped; run the command again")
		}
		return in.ExitCode()
	}
	return report(env.Stderr, err)
}

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

func report(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, ErrSilent) {
		return ExitError
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintf(w, "dingbook: error: %s\n", err)
	if h := dingbook.ErrorHint(err); h != "" {
		for _, line := range strings.Split(h, "\n") {
			fmt.Fprintf(w, "dingbook: hint: %s\n", line)
		}
		if f := fieldFlags[dingbook.ErrorField(err)]; f != "" {
			fmt.Fprintf(w, "dingbook: hint: (on the command line: %s)\n", f)
		}
	}
	switch dingbook.ErrorCode(err) {
	case dingbook.EINVALID:
		return ExitUsage
	case dingbook.EAUTH:
		return ExitAuth
	case dingbook.EPERM:
		return ExitPerm
	case dingbook.EINCOMPLETE:
		return ExitIncomplete
	case dingbook.EPOLICY:
		return ExitPolicy
	case dingbook.ENOTFOUND:
		return ExitNotFound
	}
	return ExitError
}

// fieldFlags names the flag of each request option that errors of the
// use-case layer and govern point at (dingbook.Error.Field): their hints
// are worded for any front end, and the CLI adds its own flag.
var fieldFlags = map[string]string{
	"purpose":                "--purpose",
	"basis":                  "--basis",
	"justification":          "--justify",
	"profile":                "--profile",
	"fields":                 "--fields",
	"include_hidden_mobiles": "--include-hidden-mobiles",
	"keep":                   "--keep",
	"encrypt":                "--encrypt",
	"out_dir":                "--out",
	"overwrite":              "--overwrite",
	"allow_empty":            "--allow-empty",
	"recipient_country":      "--recipient-country",
	"contract":               "--contract REF",
	"consent_ref":            "--consent-ref REF",
	"mechanism":              "--mechanism",
	"pia":                    "--pia REF",
	"snapshot":               "'dingbook pull', 'dingbook import FILE' or export --pull; 'dingbook snapshots' lists the ids",
	"headers":                "--headers",
	"mask":                   "--mask mobile",
	"passphrase":             "--passphrase-file, $DINGBOOK_PASSPHRASE or --ask-passphrase (none: generated); --age-recipient",
	"allow_partial":          "--allow-partial",
	"reason":                 "--reason TEXT",
	"dedupe":                 "--dedupe",
	"policy":                 "--policy FILE",
	"encoding":               "--encoding",
	"split":                  "--split N",
	"departments":            "--departments IDS",
	"days":                   "--days N",
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "dingbook: take a DingTalk address book out completely, correctly and lawfully.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: dingbook <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'dingbook <command> -h' for a command's flags.")
}

// helps holds each FlagSet's help printer (NewFlags), which ParseFlags
// calls on -h: the flag package calls fs.Usage for -h and for bad flags
// alike, but only -h may print the help (to stdout, exit 0); a bad flag is
// one error on stderr with a hint.
var helps sync.Map // *flag.FlagSet → func()

// NewFlags returns a FlagSet for command name: -h prints the synopsis and
// the flags to env.Stdout.
func NewFlags(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helps.Store(fs, func() { printHelp(env.Stdout, fs, synopsis) })
	return fs
}

// printHelp writes a command's synopsis and its flags ("Flags:" only when
// it has any).
func printHelp(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "Usage: dingbook %s\n", synopsis)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// ParseFlags parses args and turns a flag error into a usage *Error; -h
// prints the help to stdout and returns flag.ErrHelp (exit 0).
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if h, ok := helps.Load(fs); ok {
				h.(func())()
			}
			return err
		}
		return &dingbook.Error{Code: dingbook.EINVALID, Message: err.Error(), Hint: "run 'dingbook " + fs.Name() + " -h' for the flags"}
	}
	return nil
}

// ParseInterspersed parses args allowing flags before, between and after
// the positional arguments, which it returns.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := ParseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// oneArg parses fs and returns its single positional argument (flags may
// come before or after it).
func oneArg(fs *flag.FlagSet, args []string, what, hint string) (string, error) {
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", &dingbook.Error{Code: dingbook.EINVALID, Message: "give exactly one " + what, Hint: hint}
	}
	return pos[0], nil
}

// openWithPolicy opens the use-case layer and loads the policy (path ""
// is $DINGBOOK_HOME/policy.yaml); the caller closes the App.
func openWithPolicy(ctx context.Context, env *Env, path string) (*app.App, *policy.Policy, error) {
	a, err := openApp(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	pol, err := loadPolicy(ctx, env, a, path)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, pol, nil
}

// subcommand is one subcommand of audit, breach or consent.
type subcommand struct {
	name, usage string
	run         func(ctx context.Context, env *Env, args []string) error
}

// dispatch runs the subcommand args[0] names, or prints the usage lines.
func dispatch(ctx context.Context, env *Env, cmd string, subs []subcommand, args []string) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	usage := &dingbook.Error{Code: dingbook.EINVALID, Message: cmd + " needs a subcommand", Hint: "use 'dingbook " + cmd + " " + strings.Join(names, "|") + "' ('dingbook " + cmd + " -h' for more)"}
	if len(args) == 0 {
		return usage
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, env, args[1:])
		}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		for i, s := range subs {
			prefix := "Usage:"
			if i > 0 {
				prefix = "      "
			}
			fmt.Fprintf(env.Stdout, "%s dingbook %s %s\n", prefix, cmd, s.usage)
		}
		return nil
	}
	usage.Message = fmt.Sprintf("unknown %s subcommand %q", cmd, args[0])
	return usage
}

// printJSON writes v to stdout as indented JSON: the --json output of
// every command (HTML characters are not escaped).
func printJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// openApp opens the use-case layer over $DINGBOOK_HOME (swept), with the
// command's clock.
func openApp(ctx context.Context, env *Env) (*app.App, error) {
	home, err := store.Home(env.Getenv)
	if err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, home)
	if err != nil {
		return nil, err
	}
	a.Now = env.Now
	return a, nil
}

// loadPolicy loads the policy (--policy path, resolved against the working
// directory, else $DINGBOOK_HOME/policy.yaml, else the defaults) and
// records a policy change in the audit log.
func loadPolicy(ctx context.Context, env *Env, a *app.App, path string) (*policy.Policy, error) {
	if path != "" {
		path = env.Path(path)
	}
	return a.Policy(ctx, path, env.Actor)
}

// localLayouts are the times a person types, read in local time.
var localLayouts = []string{time.DateOnly, "2006-01-02 15:04", "2006-01-02T15:04", time.DateTime, "2006-01-02T15:04:05"}

// parseLocalTime parses a time given on the command line or in a file
// people write: RFC 3339, or a date, or a date and time in local time
// (one of localLayouts). Every command's time flag reads through it.
func parseLocalTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
