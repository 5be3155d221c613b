package cli

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook/source/gen"
)

func TestProgressLine(t *testing.T) {
	full := progressLine(200, 412345, 412000, 0.41, 8*time.Second)
	want := "read 412,345 rows · wrote 412,000 · 51,500 rows/s · 41% · about 12s left"
	if full != want {
		t.Errorf("wide terminal:\n got %q\nwant %q", full, want)
	}
	for w := 0; w <= 100; w++ {
		line := progressLine(w, 412345, 412000, 0.41, 8*time.Second)
		if n := utf8.RuneCountInString(line); n > max(w-1, 0) {
			t.Errorf("width %d: %d columns: %q", w, n, line)
		}
	}
	if got := progressLine(40, 10, 5, -1, 2*time.Second); strings.Contains(got, "%") || strings.Contains(got, "left") {
		t.Errorf("unknown fraction: %q", got)
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
}

// TestConvertProgressOnTerminal: a convert on a terminal redraws a
// progress line in place, never wider than the terminal, and erases it
// before the summary; with --json, or off a terminal, there is none.
func TestConvertProgressOnTerminal(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Millisecond
	env, _, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 3000, Seed: 5})
	base := "export-20261126T100000Z"
	plainFiles(t, env.Dir, base, &truth.Org, "xlsx")
	run := func(tty bool, out string, extra ...string) string {
		t.Helper()
		env.StderrIsTTY, env.Width = tty, func() int { return 48 }
		errb.Reset()
		args := withGov(append([]string{"convert", base + ".xlsx", out, "--profile", "contact"}, extra...)...)
		if code := Main(context.Background(), args, env); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb)
		}
		return errb.String()
	}
	got := run(true, "a.vcf")
	draws := strings.Split(got, "\r\x1b[K")
	if len(draws) < 3 || !strings.HasPrefix(draws[1], "read ") {
		t.Fatalf("no progress line on a terminal: %q", got)
	}
	for _, d := range draws[1 : len(draws)-1] {
		if n := utf8.RuneCountInString(d); n > 47 || strings.Contains(d, "\n") {
			t.Errorf("progress line %q: %d columns on a 48-column terminal", d, n)
		}
	}
	if last := draws[len(draws)-1]; strings.HasPrefix(last, "read ") {
		t.Errorf("the progress line was not erased before the summary: %q", last)
	}
	for _, c := range []struct {
		tty  bool
		out  string
		args []string
	}{{true, "b.vcf", []string{"--json"}}, {false, "c.vcf", nil}} {
		if got := run(c.tty, c.out, c.args...); strings.Contains(got, "\x1b[K") {
			t.Errorf("tty=%v %v: progress drawn: %q", c.tty, c.args, got)
		}
	}
}
