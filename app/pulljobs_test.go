package app_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
)

func TestNextDaily(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse("2006-01-02 15:04", s); return v }
	for _, tc := range []struct{ now, want string }{
		{"2026-11-30 01:59", "2026-11-30 02:00"},
		{"2026-11-30 02:00", "2026-12-01 02:00"}, // strictly after
		{"2026-11-30 08:00", "2026-12-01 02:00"},
		{"2026-12-31 23:00", "2027-01-01 02:00"},
	} {
		if got := app.NextDaily(at(tc.now), 2, 0); !got.Equal(at(tc.want)) {
			t.Errorf("after %s: %s, want %s", tc.now, got, tc.want)
		}
	}
}

// RunDaily pulls at 02:00 each day with the actor "schedule", one pull a
// day, each with its receipt and audit record, and stops with its
// context.
func TestRunDaily(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.Open(ctx, filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	client, simURL := simClient(t)
	pol, err := a.Policy(ctx, "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	var done []app.PullJob
	var slept []time.Duration
	jobs := &app.PullJobs{App: a,
		Done: func(j app.PullJob) { mu.Lock(); done = append(done, j); mu.Unlock() },
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if len(done) == 2 {
				cancel()
				return ctx.Err()
			}
			slept = append(slept, d)
			now = now.Add(d)
			return nil
		}}
	jobs.RunDaily(ctx, 2, 0, pol, app.PullOptions{Client: client, BaseURL: simURL})
	if len(done) != 2 || len(slept) != 2 || slept[0] != 18*time.Hour || slept[1] != 24*time.Hour {
		t.Fatalf("done %d, slept %v", len(done), slept)
	}
	for i, j := range done {
		want := time.Date(2026, 12, 1+i, 2, 0, 0, 0, time.UTC)
		if j.State != app.PullDone || j.Actor != app.ScheduledActor || !j.Started.Equal(want) || j.Receipt == nil || !j.Receipt.Complete || j.Snapshot == 0 {
			t.Errorf("pull %d: %+v", i, j)
		}
	}
	// the pulling goroutine made the new base's index: no reader meets
	// that work
	if got := a.CachedSnapshot(); got != done[1].Snapshot {
		t.Errorf("the directory's index after the pull is of snapshot %d, want %d", got, done[1].Snapshot)
	}
	// the portal's pulls fetch the external contacts too
	snap, err := a.DB.LoadSnapshot(context.Background(), done[1].Snapshot)
	if err != nil || len(snap.Org.External) == 0 {
		t.Fatalf("scheduled pull's snapshot: %v, %d external contacts", err, len(snap.Org.External))
	}
	recs, err := audit.List(context.Background(), a.DB, audit.Filter{Action: audit.ActionPull, Actor: app.ScheduledActor})
	if err != nil || len(recs) != 2 {
		t.Fatalf("audit: %v %d", err, len(recs))
	}
}
