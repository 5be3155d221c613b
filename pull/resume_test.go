package pull

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// The resume test re-executes the test binary as a child that pulls into
// a state directory; TestMain runs the child's pull when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("DINGBOOK_PULL_CHILD") == "1" {
		os.Exit(childPull())
	}
	os.Exit(m.Run())
}

func childPull() int {
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv("DINGBOOK_HOME"))
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	defer db.Close()
	res, err := Run(ctx, Options{Client: newClient(os.Getenv("DINGTALK_API_BASE"), 20, nil), DB: db})
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	if err := Save(ctx, db, res, time.Now()); err != nil {
		return 1
	}
	return 0
}

func TestResumeAfterKill9(t *testing.T) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 400, Depts: 40, Seed: 5})
	s, url := startSim(t, sim.Config{Truth: truth, QPS: 40, Faults: sim.Faults{Latency: 40 * time.Millisecond}})
	home := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DINGBOOK_PULL_CHILD=1", "DINGBOOK_HOME="+home, "DINGTALK_API_BASE="+url)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Watch the checkpoint from this process through a read-only handle
	// (store.Open would run migrations beside the child's); kill the
	// child once some departments are finished.
	var ro *store.DB
	deadline := time.Now().Add(30 * time.Second)
	killedAt := 0
	for killedAt == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child never checkpointed 8 departments")
		}
		select {
		case err := <-exited:
			t.Fatalf("the child finished before it could be killed: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if ro == nil {
			var err error
			if ro, err = store.OpenReadOnly(home); err != nil {
				continue // not created yet
			}
			defer ro.Close()
		}
		finished, _, err := ro.PullCheckpoints(ctx)
		if err != nil {
			continue // tables not created yet
		}
		if finished >= 8 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killedAt = finished
		}
	}
	waitErr := <-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed by SIGKILL: %v", waitErr)
	}
	db, err := store.Open(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, _ := db.Snapshots(ctx); len(n) != 0 {
		t.Fatal("a killed pull stored a snapshot")
	}
	before := s.Calls()["/topapi/v2/user/list"]

	// Rerun in this process: it resumes.
	res, err := Run(ctx, Options{Client: newClient(url, 20, nil), DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed {
		t.Fatal("the rerun did not resume")
	}
	if err := Save(ctx, db, res, time.Now()); err != nil {
		t.Fatal(err)
	}
	rerunCalls := s.Calls()["/topapi/v2/user/list"] - before

	// An uninterrupted pull against the same simulator, fresh state.
	db2, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	before = s.Calls()["/topapi/v2/user/list"]
	full, err := Run(ctx, Options{Client: newClient(url, 20, nil), DB: db2})
	if err != nil {
		t.Fatal(err)
	}
	fullCalls := s.Calls()["/topapi/v2/user/list"] - before
	t.Logf("killed after %d departments; v2/user/list calls: rerun %d, uninterrupted %d", killedAt, rerunCalls, fullCalls)
	if rerunCalls > fullCalls-killedAt || rerunCalls >= fullCalls {
		t.Errorf("the rerun made %d v2/user/list calls; an uninterrupted pull makes %d and %d departments were done", rerunCalls, fullCalls, killedAt)
	}
	stored, err := db.LoadSnapshot(ctx, res.Snapshot.ID)
	if err != nil {
		t.Fatal(err)
	}
	compareOrg(t, &full.Snapshot.Org, &stored.Org, false, false)
	compareOrg(t, &truth.Org, &stored.Org, false, false)
	if !stored.Receipt.Complete {
		t.Errorf("resumed receipt: %v", stored.Receipt.Problems)
	}
	// The checkpoint is gone once the snapshot is stored.
	if _, left, err := db.PullCheckpoints(ctx); err != nil || left != 0 {
		t.Errorf("%d checkpoint rows left after the snapshot was stored (%v)", left, err)
	}
}
