package store_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingbook/dingbook/store"
)

// TestGeneration: the generation stays while nothing commits (reads
// included) and changes at every commit: this process's, another
// connection's (a second DB on the same directory) and another process's
// (the sqlite3 program).
func TestGeneration(t *testing.T) {
	ctx := context.Background()
	db, dir := openDB(t)
	gen := func() int64 {
		t.Helper()
		g, err := db.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := gen()
	if _, err := db.Session(ctx, "nosuch"); err != nil {
		t.Fatal(err)
	}
	if g2 := gen(); g2 != g {
		t.Fatalf("a read changed the generation: %d → %d", g, g2)
	}
	now := addSession(t, db, "s1")
	g2 := gen()
	if g2 == g {
		t.Fatal("this process's commit left the generation")
	}
	other, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.TouchSession(ctx, "s1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	g3 := gen()
	if g3 == g2 {
		t.Fatal("another connection's commit left the generation")
	}
	if out, err := exec.Command("sqlite3", filepath.Join(dir, store.DBName), "DELETE FROM session WHERE id = 's1';").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 (Debian package sqlite3): %v %s", err, out)
	}
	if g4 := gen(); g4 == g3 {
		t.Fatal("another process's commit left the generation")
	}
}

// TestGenerationOneLook: under OneLook the first generation read is the
// answer for the rest of the context, even past a commit; another
// context, or another database under it, reads it afresh.
func TestGenerationOneLook(t *testing.T) {
	ctx := context.Background()
	db, dir := openDB(t)
	look := db.OneLook(ctx)
	g, err := db.Generation(look)
	if err != nil {
		t.Fatal(err)
	}
	addSession(t, db, "s1")
	if g2, err := db.Generation(look); err != nil || g2 != g {
		t.Fatalf("under OneLook after a commit: %d %v, want the first look's %d", g2, err, g)
	}
	if g3, err := db.Generation(ctx); err != nil || g3 == g {
		t.Fatalf("without OneLook after a commit: %d %v, want a new generation", g3, err)
	}
	other, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	og, err := other.Generation(look)
	if err != nil {
		t.Fatal(err)
	}
	addSession(t, other, "s2")
	if og2, err := other.Generation(look); err != nil || og2 == og {
		t.Fatalf("another database under the look after a commit: %d %v, want a new generation", og2, err)
	}
}

// TestGenerationConcurrent: callers that share queries never get a
// generation from before a commit that ended before they called.
func TestGenerationConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	now := addSession(t, db, "s1")
	// the one writer's commits: started, and ended (Write returned)
	var started, ended atomic.Int64
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			started.Add(1)
			if err := db.TouchSession(ctx, "s1", now.Add(time.Duration(i+1)*time.Second)); err != nil {
				t.Error(err)
				return
			}
			ended.Add(1)
		}
	})
	var readers sync.WaitGroup
	for range 8 {
		readers.Go(func() {
			prev, after := int64(-1), int64(0)
			for until := ended.Load() + 100; ended.Load() < until; {
				before := ended.Load()
				g, err := db.Generation(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case g != prev:
					// after: the commits started when g was first
					// returned (its query ran before that)
					prev, after = g, started.Load()
				case before > after:
					// a commit that started after g's query ended
					// before this call
					t.Errorf("a commit ended after generation %d was first read and before this call, which read it again", g)
					return
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	writer.Wait()
}

// openDB opens a new state database, closed at the test's end.
func openDB(t *testing.T) (*store.DB, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	db, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

// addSession commits a session id and returns its time.
func addSession(t *testing.T, db *store.DB, id string) time.Time {
	t.Helper()
	now := time.Now()
	s := store.Session{ID: id, UserID: "alice", Roles: []string{"employee"}, AdminScope: []int64{}, Via: "browser", Created: now, Seen: now}
	if err := db.Write(context.Background(), func(tx *store.Tx) error { return tx.AddSession(s) }); err != nil {
		t.Fatal(err)
	}
	return now
}
