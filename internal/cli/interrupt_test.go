package cli

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/gen"
)

// TestMain lets the test binary act as the dingbook process (MainOS, as
// cmd/dingbook runs it), so tests can signal or kill a real command.
func TestMain(m *testing.M) {
	if os.Getenv("DINGBOOK_CLI_CHILD") == "1" {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		os.Exit(MainOS(os.Args[1:], sigs))
	}
	os.Exit(m.Run())
}

// plainMarker is in every row of bigCSV: no file may hold it in the clear
// after an interrupted command.
const plainMarker = "interrupt-marker.example"

// bigCSV writes a member file of n people, each with a unique userid,
// mobile and e-mail (…@interrupt-marker.example).
func bigCSV(t *testing.T, dir string, n int) string {
	t.Helper()
	p := filepath.Join(dir, "members.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("姓名,员工UserID,手机,部门,职位,邮箱\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "张伟%d,u%d,138%08d,研发部-后端组-%d,工程师,zw%d@%s\n", i, i, i, i%50, i, plainMarker)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// child is a dingbook process run by the test binary.
type child struct {
	cmd          *exec.Cmd
	home, tmp    string
	stderr       bytes.Buffer
	done         chan struct{}
	dingbookArgs []string
}

func startDingbook(t *testing.T, home, tmp string, args ...string) *child {
	t.Helper()
	c := &child{home: home, tmp: tmp, done: make(chan struct{}), dingbookArgs: args}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), "DINGBOOK_CLI_CHILD=1", "DINGBOOK_HOME="+home, "TMPDIR="+tmp,
		"DINGBOOK_PASSPHRASE="+testPassphrase, "GOMAXPROCS=2")
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// waitFor polls until cond holds, failing the test after 60 s or when the
// child exits first.
func (c *child) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case <-c.done:
			t.Fatalf("%v exited before %s: %s", c.dingbookArgs, what, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: no %s after 60 s", c.dingbookArgs, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits at most limit for the child to exit and returns its exit code
// and how long it took.
func (c *child) wait(t *testing.T, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case <-c.done:
	case <-time.After(limit):
		t.Fatalf("%v did not stop within %v: %s", c.dingbookArgs, limit, c.stderr.String())
	}
	return c.cmd.ProcessState.ExitCode(), time.Since(start)
}

// filesUnder lists the regular files under the roots (missing roots are
// empty), and those holding marker.
func filesUnder(t *testing.T, marker string, roots ...string) (all, holding []string) {
	t.Helper()
	for _, root := range roots {
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil || !info.Mode().IsRegular() {
				return nil
			}
			all = append(all, p)
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(marker)) {
				holding = append(holding, p)
			}
			return nil
		})
	}
	return all, holding
}

// dataBytes is the size of the plaintext an export has written so far
// into its private directory.
func dataBytes(home string) int64 {
	var n int64
	m, _ := filepath.Glob(filepath.Join(home, "tmp", "export-*", "data", "*"))
	for _, p := range m {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// TestSignalStopsExportFrom: SIGTERM or SIGINT in the middle of a big
// 'export --from' stops it within a few seconds (a correctness bound, not
// a benchmark) with "interrupted", exit code 143 or 130, no bundle, no
// plaintext left in $DINGBOOK_HOME, TMPDIR or the output directory, and a
// failed "export interrupted" audit record.
func TestSignalStopsExportFrom(t *testing.T) {
	src := bigCSV(t, t.TempDir(), 200_000)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			home, tmp, out := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "out")
			ch := startDingbook(t, home, tmp, "export", "--from", src, "--format", "xlsx,csv,vcf,jsonl", "--profile", "full",
				"--out", out, "--purpose", "interrupt test", "--justify", "the test checks every field", "--pia", "PIA-TEST")
			ch.waitFor(t, "plaintext being written", func() bool { return dataBytes(home) > 1<<20 })
			ch.cmd.Process.Signal(c.sig)
			code, took := ch.wait(t, 5*time.Second)
			t.Logf("%v: stopped %v after the signal", c.sig, took)
			if code != c.code {
				t.Errorf("exit code %d, want %d: %s", code, c.code, ch.stderr.String())
			}
			if s := ch.stderr.String(); !strings.Contains(s, "interrupted") || strings.Contains(s, "free space") {
				t.Errorf("stderr should say interrupted (and nothing about free space):\n%s", s)
			}
			files, plain := filesUnder(t, plainMarker, home, tmp, out)
			if len(plain) > 0 {
				t.Errorf("plaintext left after %v: %v", c.sig, plain)
			}
			for _, f := range files {
				if strings.Contains(f, filepath.Join(home, "tmp")) || strings.HasPrefix(f, tmp) || strings.HasPrefix(f, out) {
					t.Errorf("file left after %v: %s", c.sig, f)
				}
			}
			env, _, _ := exportEnv(t)
			env.Getenv = func(k string) string {
				if k == "DINGBOOK_HOME" {
					return home
				}
				return ""
			}
			var list bytes.Buffer
			env.Stdout = &list
			if code := Main(t.Context(), []string{"audit", "list", "--action", "export"}, env); code != 0 {
				t.Fatalf("audit list: exit %d", code)
			}
			if !strings.Contains(list.String(), "export interrupted") {
				t.Errorf("no failed 'export interrupted' record:\n%s", list.String())
			}
		})
	}
}

// excelizeOnly rewrites the workbook at path with an XML comment at the
// start of its first sheet's data, which internal/xlsxread leaves to
// excelize.
func excelizeOnly(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if zf.Name == "xl/worksheets/sheet1.xml" {
			data = bytes.Replace(data, []byte("<sheetData>"), []byte("<sheetData><!-- excelize -->"), 1)
		}
		w, _ := zw.Create(zf.Name)
		w.Write(data)
	}
	zr.Close()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestKillSweepsSpillFiles: excelize unzips a big sheet to disk (plaintext
// sheet XML). Those spill files go under $DINGBOOK_HOME/tmp, never TMPDIR,
// and after a kill -9 the next command sweeps them.
func TestKillSweepsSpillFiles(t *testing.T) {
	src := t.TempDir()
	truth := gen.Generate(gen.Options{Users: 20_000, Seed: 3}) // a 27 MB sheet: over excelize's 16 MB
	plainFiles(t, src, "members", &truth.Org, "xlsx")
	// dingbook's own XLSX reader spills nothing: a comment in the sheet
	// (valid XML it leaves to excelize) makes excelize read this one.
	excelizeOnly(t, filepath.Join(src, "members.xlsx"))
	home, tmp := t.TempDir(), t.TempDir()
	ch := startDingbook(t, home, tmp, "export", "--from", filepath.Join(src, "members.xlsx"), "--format", "csv",
		"--out", t.TempDir(), "--purpose", "kill test", "--justify", "the test checks every field")
	spill := filepath.Join(home, "tmp", "import-*", "excelize-*")
	ch.waitFor(t, "a spill file under "+spill, func() bool {
		m, _ := filepath.Glob(spill)
		return len(m) > 0
	})
	ch.cmd.Process.Kill()
	ch.wait(t, 10*time.Second)
	if m, _ := filepath.Glob(spill); len(m) == 0 {
		t.Fatal("the spill file went before the kill: the test proves nothing")
	}
	if files, _ := filesUnder(t, "-", tmp); len(files) > 0 {
		t.Errorf("files in TMPDIR: %v", files)
	}
	env, out, errb := exportEnv(t)
	getenv := env.Getenv
	env.Getenv = func(k string) string {
		if k == "DINGBOOK_HOME" {
			return home
		}
		return getenv(k)
	}
	if code := Main(t.Context(), []string{"audit", "verify"}, env); code != 0 {
		t.Fatalf("audit verify: exit %d: %s%s", code, out, errb)
	}
	if ents, err := os.ReadDir(filepath.Join(home, "tmp")); err != nil || len(ents) != 0 {
		t.Errorf("$DINGBOOK_HOME/tmp not swept by the next command: %v %v", ents, err)
	}
}

// TestInterruptedExitCode: a command whose context a signal cancelled
// exits 128 + the signal's number and says so, whatever error it returned.
func TestInterruptedExitCode(t *testing.T) {
	env, _, errb := exportEnv(t)
	src := bigCSV(t, env.Dir, 2000)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&Interrupted{Signal: syscall.SIGINT})
	code := Main(ctx, withGov("export", "--from", src, "--format", "csv", "--out", "out"), env)
	if code != 130 || !strings.Contains(errb.String(), "interrupted by SIGINT") {
		t.Fatalf("exit %d, want 130: %s", code, errb)
	}
	if m, _ := filepath.Glob(filepath.Join(env.Dir, "out", "*")); len(m) != 0 {
		t.Fatalf("an interrupted export left %v", m)
	}
}
