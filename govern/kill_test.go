package govern_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// TestMain lets the test binary act as a child process running an export
// whose producer writes a big plaintext file slowly, so that tests can
// kill it halfway.
func TestMain(m *testing.M) {
	if home := os.Getenv("GOVERN_CHILD_HOME"); home != "" && strings.HasPrefix(os.Getenv("GOVERN_CHILD_MODE"), "crash-") {
		os.Exit(crashChild(home, os.Getenv("GOVERN_CHILD_OUT"), strings.TrimPrefix(os.Getenv("GOVERN_CHILD_MODE"), "crash-")))
	}
	if home := os.Getenv("GOVERN_CHILD_HOME"); home != "" {
		os.Exit(child(home, os.Getenv("GOVERN_CHILD_OUT"), os.Getenv("GOVERN_CHILD_MODE")))
	}
	os.Exit(m.Run())
}

func child(home, out, mode string) int {
	// govern installs no signal handler: like the CLI (cli.MainOS), the
	// front end turns SIGINT and SIGTERM into a cancelled context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := store.Open(ctx, home)
	if err != nil {
		fmt.Println("ERROR", err)
		return 2
	}
	defer db.Close()
	_, err = govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "child", Purpose: "kill test", OutDir: out},
		func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
			f, err := os.OpenFile(filepath.Join(dir, "people.csv"), os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			line := []byte(strings.Repeat(marker+",技术部,13800138000\r\n", 1000))
			f.Write(line)
			f.Sync()
			fmt.Println("READY", dir)
			for i := 0; i < 3000; i++ { // at most ~30 s
				if mode == "honour" && ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if mode == "ignore" && ctx.Err() != nil && i > 0 {
					// keep writing a little after cancellation, then stop
					for j := 0; j < 20; j++ {
						f.Write(line)
						time.Sleep(10 * time.Millisecond)
					}
					return &govern.Produced{Files: []govern.ProducedFile{{Path: "people.csv", Rows: 1}}, Rows: 1}, nil
				}
				f.Write(line)
				time.Sleep(10 * time.Millisecond)
			}
			return &govern.Produced{Files: []govern.ProducedFile{{Path: "people.csv", Rows: 1}}, Rows: 1}, nil
		})
	if err != nil {
		fmt.Println("FAILED", err)
		return 3
	}
	fmt.Println("DONE")
	return 0
}

// startChild runs the child export and waits until plaintext is on disk.
func startChild(t *testing.T, mode string) (*exec.Cmd, string, string, string, string) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	out := filepath.Join(t.TempDir(), "out")
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOVERN_CHILD_HOME="+home, "GOVERN_CHILD_OUT="+out, "GOVERN_CHILD_MODE="+mode, "TMPDIR="+tmp)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "READY ") {
		cmd.Process.Kill()
		t.Fatalf("child did not start: %q", sc.Text())
	}
	dir := strings.TrimPrefix(sc.Text(), "READY ")
	go func() {
		for sc.Scan() { // drain; the outcome is checked in the audit log
		}
	}()
	time.Sleep(150 * time.Millisecond) // let it write more
	if hits := findMarker(t, dir); len(hits) == 0 {
		cmd.Process.Kill()
		t.Fatal("no plaintext written before the kill: the test would prove nothing")
	}
	return cmd, home, out, tmp, dir
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not exit")
	}
	return cmd.ProcessState.ExitCode()
}

func TestSignalCleansUp(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		mode string
	}{{syscall.SIGTERM, "honour"}, {syscall.SIGINT, "honour"}, {syscall.SIGTERM, "ignore"}} {
		t.Run(c.sig.String()+"-"+c.mode, func(t *testing.T) {
			cmd, home, out, tmp, dir := startChild(t, c.mode)
			cmd.Process.Signal(c.sig)
			if code := waitExit(t, cmd); code != 3 {
				t.Fatalf("child exit %d, want 3 (export failed)", code)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("private dir %s survived %v", dir, c.sig)
			}
			if hits := findMarker(t, home, out, tmp); len(hits) != 0 {
				t.Fatalf("plaintext left after %v: %v", c.sig, hits)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("output dir not empty: %v", ents)
			}
			db, err := store.Open(context.Background(), home)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			r := lastRecord(t, db)
			if r.Outcome != audit.OutcomeFailed || !strings.Contains(r.Reason, "interrupted") {
				t.Fatalf("record %+v", r)
			}
		})
	}
}

// TestKillLeftoversSwept: SIGKILL cannot run cleanup, so the plaintext
// stays in $DINGBOOK_HOME/tmp/export-*; the next command's Sweep removes
// it, while a live export's directory is left alone.
func TestKillLeftoversSwept(t *testing.T) {
	cmd, home, out, tmp, dir := startChild(t, "honour")
	// While the child lives, Sweep must not touch its directory.
	if removed := govern.Sweep(home); len(removed) != 0 {
		t.Fatalf("Sweep removed a live export's directory: %v", removed)
	}
	cmd.Process.Kill()
	waitExit(t, cmd)
	if !strings.HasPrefix(dir, filepath.Join(home, govern.TmpDirName, "export-")) {
		t.Fatalf("private dir %s is not under $DINGBOOK_HOME/tmp", dir)
	}
	if hits := findMarker(t, dir); len(hits) == 0 {
		t.Fatal("expected the SIGKILLed child's plaintext to remain until swept")
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("output dir not empty after SIGKILL: %v", ents)
	}
	// The next command (here: another export) sweeps first.
	db, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := govern.Run(context.Background(), db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: t.TempDir()}, produceFiles(t)); err != nil {
		t.Fatal(err)
	}
	if hits := findMarker(t, home, out, tmp); len(hits) != 0 {
		t.Fatalf("plaintext left after the sweep: %v", hits)
	}
	if d := tmpDirs(t, home); len(d) != 0 {
		t.Fatalf("dirs left: %v", d)
	}
}
