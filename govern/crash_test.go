package govern_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// sums is a fixed set of holders' hashes (Produced.Holders).
type sums []uint64

func (s sums) Sums() []uint64 { return s }

// quickProduce writes one small file and names two holders.
func quickProduce(ctx context.Context, dir string, _ *govern.Decision) (*govern.Produced, error) {
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte("\ufeff姓名,手机\r\n"+marker+",13800138000\r\n"), 0o600); err != nil {
		return nil, err
	}
	return &govern.Produced{Files: []govern.ProducedFile{{Path: "people.csv", Format: "csv", Rows: 1}}, Rows: 1, Holders: sums{7, 42}}, nil
}

// crashChild runs an export and SIGKILLs itself at stage (a crash point
// of govern.Run): nothing after it runs, no deferred cleanup either.
func crashChild(home, out, stage string) int {
	ctx := context.Background()
	db, err := store.Open(ctx, home)
	if err != nil {
		fmt.Println("ERROR", err)
		return 2
	}
	govern.SetCrashPoint(func(s string) {
		if s == stage {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	})
	res, err := govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "child", Purpose: "crash test", OutDir: out}, quickProduce)
	if err != nil {
		fmt.Println("FAILED", err)
		return 3
	}
	fmt.Println("DONE", res.ExportID)
	return 0
}

// TestCrashBetweenSealAndRecord kills an export (SIGKILL, in a child
// process) after its bundle is sealed at its final path but before its
// audit record commits, or inside the recording transaction, or just
// after it. After the restart (the next export, or a purge) either the
// bundle, its audit record, its registration and its holding all exist,
// or none does, the orphan bundle deleted and the sweep recorded; the
// chain and its anchor verify.
func TestCrashBetweenSealAndRecord(t *testing.T) {
	for _, c := range []struct {
		stage   string
		restart string // "export" or "purge"
		kept    bool   // the export was on record before the kill
	}{{"sealed", "export", false}, {"registered", "purge", false}, {"recorded", "purge", true}} {
		t.Run(c.stage, func(t *testing.T) {
			ctx := context.Background()
			home := filepath.Join(t.TempDir(), "home")
			out := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "GOVERN_CHILD_HOME="+home, "GOVERN_CHILD_OUT="+out, "GOVERN_CHILD_MODE=crash-"+c.stage, "TMPDIR="+t.TempDir())
			b, err := cmd.CombinedOutput()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("the child was not killed at %q: %v %s", c.stage, err, b)
			}
			bundles, _ := filepath.Glob(filepath.Join(out, "dingbook-*.zip"))
			if len(bundles) != 1 {
				t.Fatalf("after the kill: bundles %v, want the one sealed", bundles)
			}
			bundle := bundles[0]
			id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(bundle), "dingbook-"), ".zip")

			db, err := store.Open(ctx, home)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			recorded := func() (exportRec, sweepRec *audit.Record) {
				recs, err := audit.List(ctx, db, audit.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range recs {
					if r.ExportID != id {
						continue
					}
					switch {
					case r.Action == audit.ActionExport && r.Outcome == audit.OutcomeOK:
						exportRec = &recs[i]
					case r.Action == audit.ActionPurge && r.Details["kind"] == "orphan":
						sweepRec = &recs[i]
					}
				}
				return
			}
			if e, _ := recorded(); (e != nil) != c.kept {
				t.Fatalf("before the restart: export record %v, want on record %v", e, c.kept)
			}

			// The restart.
			switch c.restart {
			case "export":
				if _, err := govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: t.TempDir()}, quickProduce); err != nil {
					t.Fatal(err)
				}
			case "purge":
				dry, err := govern.Purge(ctx, db, policy.Default(), govern.PurgeOptions{Actor: "admin", Now: time.Now(), DryRun: true})
				if err != nil {
					t.Fatal(err)
				}
				listed := 0
				for _, it := range dry {
					if it.Kind == "orphan" && it.ID == id && it.AuditSeq == 0 {
						listed++
					}
				}
				if _, err := os.Stat(bundle); err != nil || listed != map[bool]int{true: 0, false: 1}[c.kept] {
					t.Fatalf("dry run: %+v (bundle: %v)", dry, err)
				}
				items, err := govern.Purge(ctx, db, policy.Default(), govern.PurgeOptions{Actor: "admin", Now: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				orphans := 0
				for _, it := range items {
					if it.Kind == "orphan" {
						orphans++
					}
				}
				if want := map[bool]int{true: 0, false: 1}[c.kept]; orphans != want {
					t.Fatalf("purge: %+v, want %d orphan", items, want)
				}
			}

			_, statErr := os.Stat(bundle)
			exportRec, sweepRec := recorded()
			exps, err := govern.ListExports(ctx, db, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			registered := false
			for _, e := range exps {
				registered = registered || e.ID == id
			}
			_, holdErr := db.FindHolding(ctx, store.KindExport, id)
			state := [4]bool{statErr == nil, exportRec != nil, registered, holdErr == nil}
			if state != [4]bool{c.kept, c.kept, c.kept, c.kept} {
				t.Fatalf("after the restart: bundle, record, registration, holding = %v, want all %v (hold err %v)", state, c.kept, holdErr)
			}
			if c.kept && sweepRec != nil {
				t.Fatalf("a recorded export was swept: %+v", sweepRec)
			}
			if !c.kept && (sweepRec == nil || sweepRec.Details["result"] != "deleted" || sweepRec.Outputs[0].Path != bundle) {
				t.Fatalf("the sweep of %s is not recorded: %+v", bundle, sweepRec)
			}
			checkSettled(t, db)
		})
	}
}

// checkSettled fails t unless every export intent is settled and the
// audit chain verifies.
func checkSettled(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if in, err := db.ExportIntents(ctx); err != nil || len(in) != 0 {
		t.Fatalf("intents left: %+v %v", in, err)
	}
	if v, err := audit.Verify(ctx, db); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// TestConcurrentRuns runs two exports at once on one database handle:
// both are sealed, recorded, registered and held, each under its own
// audit record, in one verified chain.
func TestConcurrentRuns(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	results := make([]*govern.Result, 2)
	errs := make([]error, 2)
	done := make(chan int)
	for i := range results {
		go func() {
			results[i], errs[i] = govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: fmt.Sprint("user-", i), Purpose: "p", OutDir: t.TempDir()}, quickProduce)
			done <- i
		}()
	}
	<-done
	<-done
	for i, err := range errs {
		if err != nil {
			t.Fatalf("export %d: %v", i, err)
		}
	}
	if results[0].AuditSeq == results[1].AuditSeq || results[0].ExportID == results[1].ExportID {
		t.Fatalf("the two exports share a record: %+v %+v", results[0], results[1])
	}
	for _, r := range results {
		rec, err := audit.Get(ctx, db, r.AuditSeq)
		if err != nil || rec.ExportID != r.ExportID || rec.Outputs[0].SHA256 != r.BundleSHA256 {
			t.Fatalf("record %d: %+v %v", r.AuditSeq, rec, err)
		}
		h, err := db.FindHolding(ctx, store.KindExport, r.ExportID)
		if err != nil || h.AuditSeq != r.AuditSeq || h.People != 2 {
			t.Fatalf("holding of %s: %+v %v", r.ExportID, h, err)
		}
		if _, err := os.Stat(r.BundlePath); err != nil {
			t.Fatal(err)
		}
	}
	if exps, err := govern.ListExports(ctx, db, time.Now()); err != nil || len(exps) != 2 {
		t.Fatalf("registry: %+v %v", exps, err)
	}
	checkSettled(t, db)
}

// TestRecordFailureLeavesNothing: when recording fails inside its
// transaction (here a panic at the crash point), the record, the
// registration, the holding and the intent are rolled back together, the
// sealed bundle is deleted and the failure is recorded.
func TestRecordFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	out := t.TempDir()
	govern.SetCrashPoint(func(s string) {
		if s == "registered" {
			panic("the disk went away")
		}
	})
	defer govern.SetCrashPoint(func(string) {})
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("no panic")
			}
		}()
		govern.Run(ctx, db, policy.Default(), &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: out}, quickProduce)
	}()
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("bundle left: %v", ents)
	}
	recs, err := audit.List(ctx, db, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Action != audit.ActionExport || last.Outcome != audit.OutcomeFailed || last.Details["error_sha256"] == "" {
		t.Fatalf("last record %+v", last)
	}
	for _, r := range recs {
		if r.Outcome == audit.OutcomeOK && r.Action == audit.ActionExport {
			t.Fatalf("an export record survived the rollback: %+v", r)
		}
	}
	if exps, err := govern.ListExports(ctx, db, time.Now()); err != nil || len(exps) != 0 {
		t.Fatalf("registry: %+v %v", exps, err)
	}
	if _, err := db.FindHolding(ctx, store.KindExport, last.ExportID); err == nil {
		t.Fatal("a holding survived the rollback")
	}
	checkSettled(t, db)
}

// TestSweepKeepsRecordedBundle: an orphan's intent names a path that a
// later, recorded export (written with overwrite) now holds: the sweep
// records the orphan but keeps the recorded bundle; a path holding the
// orphan's own bytes over an older export's is deleted.
func TestSweepKeepsRecordedBundle(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	out := t.TempDir()
	req := func() *govern.Request {
		return &govern.Request{Action: "export", Actor: "u", Purpose: "p", OutDir: out, BundleBase: "people", Overwrite: true}
	}
	res, err := govern.Run(ctx, db, policy.Default(), req(), quickProduce)
	if err != nil {
		t.Fatal(err)
	}
	// An intent left by a process that died (its private directory gone).
	orphan := store.ExportIntent{ID: "orphan-1", Created: time.Now(), Actor: "x", Action: "export", Path: res.BundlePath, Workdir: filepath.Join(t.TempDir(), "gone")}
	if err := db.AddExportIntent(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	items, err := govern.SweepOrphans(ctx, db, policy.Default(), "admin", time.Now(), false)
	if err != nil || len(items) != 1 || items[0].AuditSeq == 0 {
		t.Fatalf("sweep: %+v %v", items, err)
	}
	if _, err := os.Stat(res.BundlePath); err != nil {
		t.Fatalf("the recorded bundle was deleted: %v", err)
	}
	rec, err := audit.Get(ctx, db, items[0].AuditSeq)
	if err != nil || !strings.HasPrefix(rec.Details["result"], "kept") {
		t.Fatalf("sweep record: %+v %v", rec, err)
	}
	// Now the orphan's own bytes over the recorded bundle: deleted.
	if err := os.WriteFile(res.BundlePath, []byte("the orphan's bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	orphan.ID = "orphan-2"
	if err := db.AddExportIntent(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if items, err := govern.SweepOrphans(ctx, db, policy.Default(), "admin", time.Now(), false); err != nil || len(items) != 1 {
		t.Fatalf("sweep: %+v %v", items, err)
	}
	if _, err := os.Stat(res.BundlePath); !os.IsNotExist(err) {
		t.Fatalf("the orphan's bundle survived: %v", err)
	}
}
