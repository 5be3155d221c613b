package cli

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

// Help goes to stdout with exit 0, for the program, every command and
// every subcommand; a command without flags prints no empty "Flags:".
func TestHelpOnStdoutExitZero(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	cases := [][]string{{"-h"}, {"--help"}, {"help"}, {"policy", "-h"}, {"policy", "show", "-h"}, {"audit", "-h"}, {"audit", "show", "-h"}, {"audit", "list", "-h"}}
	for _, n := range names {
		cases = append(cases, []string{n, "-h"})
	}
	for _, args := range cases {
		g := newGovEnv(t)
		if code := g.run(args...); code != 0 {
			t.Errorf("dingbook %s: exit %d, want 0 (stderr %s)", strings.Join(args, " "), code, g.stderr)
		}
		if !strings.Contains(g.stdout.String(), "Usage: dingbook") {
			t.Errorf("dingbook %s: no usage on stdout: %q (stderr %q)", strings.Join(args, " "), g.stdout, g.stderr)
		}
		if strings.Contains(g.stdout.String(), "Flags:\n") && strings.HasSuffix(g.stdout.String(), "Flags:\n") {
			t.Errorf("dingbook %s: an empty Flags: list", strings.Join(args, " "))
		}
		if g.stderr.Len() != 0 {
			t.Errorf("dingbook %s: stderr %q", strings.Join(args, " "), g.stderr)
		}
	}
	// A bad flag is one error on stderr, nothing on stdout, exit 2.
	g := newGovEnv(t)
	if code := g.run("snapshots", "--nope"); code != 2 || g.stdout.Len() != 0 || strings.Count(g.stderr.String(), "not defined") != 1 {
		t.Fatalf("bad flag: exit %d, stdout %q, stderr %q", code, g.stdout, g.stderr)
	}
}

// DINGTALK_API_BASE that is not an http(s) URL is bad input: exit 2 at
// once, naming the variable.
func TestBadAPIBaseExit2(t *testing.T) {
	app := sim.DefaultApp()
	for _, base := range []string{"notaurl", "ftp://example.com"} {
		for _, cmd := range []string{"check", "pull"} {
			env, _, errb, _ := pullEnv(t, app, map[string]string{"DINGTALK_API_BASE": base})
			if code := Main(context.Background(), []string{cmd}, env); code != ExitUsage || !strings.Contains(errb.String(), "DINGTALK_API_BASE") {
				t.Errorf("%s with %s: exit %d\n%s", cmd, base, code, errb)
			}
		}
	}
}
