package app_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/account"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/store"
)

// grantHoldings are the holdings of grant id (none: nil).
func grantHoldings(t *testing.T, e *reqEnv, id string) []store.Holding {
	t.Helper()
	hs, err := e.a.DB.FindHoldings(context.Background(), store.KindGrant, id)
	if dingbook.ErrorCode(err) == dingbook.ENOTFOUND {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// TestGrantTwoDownloads: a grant of two downloads gives two bundles, each
// a holding of its own (ref its export id, naming the grant); who-has
// lists both for a person they hold; a revocation revokes both; a breach
// on the grant covers both bundles in one incident.
func TestGrantTwoDownloads(t *testing.T) {
	e, gs, g, me := twoDownloads(t)
	ctx := context.Background()
	var bs []*app.GrantBundle
	for range 2 {
		b, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{})
		if err != nil {
			t.Fatalf("bundle %d of 2: %v", len(bs)+1, err)
		}
		bs = append(bs, b)
	}
	if bs[0].ExportID == bs[1].ExportID {
		t.Fatalf("two bundles of one export %s", bs[0].ExportID)
	}
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantUsed || got.DownloadsLeft != 0 {
		t.Fatalf("after two of two downloads %+v", got)
	}
	hs := grantHoldings(t, e, g.ID)
	if len(hs) != 2 || hs[0].Ref != bs[0].ExportID || hs[1].Ref != bs[1].ExportID {
		t.Fatalf("the grant's holdings %+v, want the bundles %s and %s", hs, bs[0].ExportID, bs[1].ExportID)
	}
	for _, h := range hs {
		if h.GrantID != g.ID || h.Revoked != nil || h.People == 0 {
			t.Fatalf("holding %+v", h)
		}
	}
	if one := grantHoldings(t, e, bs[1].ExportID); len(one) != 1 || one[0].ID != hs[1].ID {
		t.Fatalf("the holding of bundle %s: %+v", bs[1].ExportID, one)
	}

	// who-has: a person of the bundles is held twice, by the grant
	people, _, err := account.AffectedPeople(ctx, e.a.DB, hs[0].ID)
	if err != nil || len(people) == 0 {
		t.Fatalf("the first bundle's people: %v %d", err, len(people))
	}
	who, err := e.a.WhoHas(ctx, people[0].UserID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, h := range who.Holdings {
		if h.Kind == store.KindGrant && h.Grant == g.ID {
			refs = append(refs, h.ID)
		}
	}
	if !slices.Equal(refs, []string{bs[0].ExportID, bs[1].ExportID}) {
		t.Fatalf("who-has %s: the grant's holdings %v, want both bundles (%+v)", people[0].UserID, refs, who.Holdings)
	}

	f, err := gs.Download(ctx, me, bs[0].Token)
	if err != nil {
		t.Fatal(err)
	}
	f.File.Close()
	if _, err := gs.Revoke(ctx, e.session(e.sub.UserID), g.ID, "the review was cancelled"); err != nil {
		t.Fatal(err)
	}
	for _, h := range grantHoldings(t, e, g.ID) {
		if h.Revoked == nil {
			t.Errorf("holding of bundle %s stays live after the revocation", h.Ref)
		}
	}
	if _, err := gs.Download(ctx, me, bs[1].Token); errCode(err) != app.CodeGone {
		t.Fatalf("the second link after the revocation: %v", err)
	}
	assertSteps(t, e, []string{"granted", "terms-accepted", "stepped-up", "bundle", "stepped-up", "bundle", "downloaded", "revoked"})
}

// TestGrantBreachTwoBundles: a breach on a grant of two bundles revokes
// both holdings and the grant; the incident covers both bundles and its
// report names their people once each.
func TestGrantBreachTwoBundles(t *testing.T) {
	e, gs, g, me := twoDownloads(t)
	ctx := context.Background()
	for range 2 {
		if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	in, err := e.a.StartBreach(ctx, e.rq.Policy, account.BreachStart{Kind: store.KindGrant, Ref: g.ID, DiscoveredAt: e.now, Description: "laptop stolen", Actor: "dpo"})
	if err != nil {
		t.Fatal(err)
	}
	hs := grantHoldings(t, e, g.ID)
	if len(hs) != 2 || !slices.Equal(in.HoldingIDs, []int64{hs[0].ID, hs[1].ID}) || in.HoldingID != hs[0].ID {
		t.Fatalf("incident holdings %v (%d), the grant's %+v", in.HoldingIDs, in.HoldingID, hs)
	}
	for _, h := range hs {
		if h.Revoked == nil {
			t.Errorf("the breach left bundle %s's holding live", h.Ref)
		}
	}
	// both bundles hold the same people: counted once
	if in.People != hs[0].People {
		t.Errorf("incident people %d, want %d", in.People, hs[0].People)
	}
	stored, err := e.a.DB.FindIncident(ctx, in.ID)
	if err != nil || !slices.Equal(stored.HoldingIDs, in.HoldingIDs) {
		t.Fatalf("stored incident %v %+v", err, stored)
	}
	rep, err := e.a.BreachReport(ctx, e.rq.Policy, in.ID, "en", t.TempDir(), "dpo")
	if err != nil || rep.People+rep.Unresolved != hs[0].People {
		t.Fatalf("breach report %v %+v, want %d people", err, rep, hs[0].People)
	}
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantRevoked || got.RevokedBy != "breach" {
		t.Fatalf("after the breach %+v", got)
	}
}

// TestGrantBundleBreachOne: a breach on one bundle of a grant (its
// export id) revokes that holding only, and the grant with it.
func TestGrantBundleBreachOne(t *testing.T) {
	e, gs, g, me := twoDownloads(t)
	ctx := context.Background()
	var ids []string
	for range 2 {
		b, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ExportID)
	}
	in, err := e.a.StartBreach(ctx, e.rq.Policy, account.BreachStart{Kind: store.KindGrant, Ref: ids[1], DiscoveredAt: e.now, Description: "mailed to a wrong address", Actor: "dpo"})
	if err != nil {
		t.Fatal(err)
	}
	hs := grantHoldings(t, e, g.ID)
	if len(in.HoldingIDs) != 1 || in.HoldingIDs[0] != hs[1].ID || hs[0].Revoked != nil || hs[1].Revoked == nil {
		t.Fatalf("incident %v over %+v", in.HoldingIDs, hs)
	}
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantRevoked {
		t.Fatalf("after the breach on one bundle %+v", got)
	}
}

// TestGrantRevokedDuringBundle: a revocation that commits while a bundle
// is exported (before its recording) refuses the bundle's holding, so
// none stays live, and the bundle is deleted; one that commits between
// the bundle's recording and the grant's revokes the holding with the
// grant's others, and the discarded bundle is recorded as such.
func TestGrantRevokedDuringBundle(t *testing.T) {
	for _, stage := range []string{"export", "exported"} {
		t.Run(stage, func(t *testing.T) {
			e, gs, g, me := acceptedGrant(t)
			ctx := context.Background()
			gs.OnStage(func(s string) {
				if s != stage {
					return
				}
				// another request (or the CLI in another process)
				other := &app.Grants{App: e.a, Policy: gs.Policy}
				if _, err := other.Revoke(ctx, e.session(e.sub.UserID), g.ID, "cancelled"); err != nil {
					t.Fatal(err)
				}
			})
			if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); errCode(err) != app.CodeGone {
				t.Fatalf("a bundle over a grant revoked meanwhile: %v", err)
			}
			hs := grantHoldings(t, e, g.ID)
			for _, h := range hs {
				if h.Revoked == nil {
					t.Errorf("bundle %s's holding stays live after the revocation", h.Ref)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(e.a.DB.Dir, app.GrantsDir, "*")); len(left) != 0 {
				t.Fatalf("the bundle stayed: %v", left)
			}
			want := []string{"granted", "terms-accepted", "stepped-up", "revoked"}
			if stage == "export" {
				if len(hs) != 0 {
					t.Fatalf("a holding was registered over a revoked grant: %+v", hs)
				}
			} else {
				if len(hs) != 1 || hs[0].Purged == nil {
					t.Fatalf("the discarded bundle's holding %+v", hs)
				}
				want = append(want, "bundle-discarded")
			}
			assertSteps(t, e, want)
			if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantRevoked || got.RevokedBy != e.sub.UserID {
				t.Fatalf("the grant %+v", got)
			}
		})
	}
}

// TestGrantBundleSaveFails: when the grant's record of a bundle fails
// for a store error (the links' table unreadable), the bundle is deleted,
// its holding revoked and purged with a record, and the grant keeps its
// download (a discarded bundle is no breach); the next bundle works.
func TestGrantBundleSaveFails(t *testing.T) {
	e, gs, g, me := acceptedGrant(t)
	ctx := context.Background()
	gs.OnStage(func(s string) {
		if s == "exported" {
			e.sqlite3(t, "ALTER TABLE grant_download RENAME TO grant_download_away;")
		}
	})
	if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); err == nil {
		t.Fatal("a bundle whose link could not be stored succeeded")
	}
	gs.OnStage(nil)
	e.sqlite3(t, "ALTER TABLE grant_download_away RENAME TO grant_download;")
	hs := grantHoldings(t, e, g.ID)
	if len(hs) != 1 || hs[0].Revoked == nil || hs[0].Purged == nil {
		t.Fatalf("the discarded bundle's holding %+v", hs)
	}
	if left, _ := filepath.Glob(filepath.Join(e.a.DB.Dir, app.GrantsDir, "*")); len(left) != 0 {
		t.Fatalf("the discarded bundle stayed: %v", left)
	}
	if got, err := gs.Get(ctx, g.ID); err != nil || got.State != app.GrantActive || got.DownloadsLeft != 1 {
		t.Fatalf("after the failed bundle: %v %+v", err, got)
	}
	exps, err := e.a.DB.Exports(ctx)
	if err != nil || len(exps) != 1 || exps[0].ID != hs[0].Ref || exps[0].Purged == nil {
		t.Fatalf("the export registry: %v %+v", err, exps)
	}
	recs, err := e.a.AuditRecords(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Details["step"] != "bundle-discarded" || last.Outcome != audit.OutcomeFailed || last.Details["export_id"] != hs[0].Ref {
		t.Fatalf("the last record %+v", last)
	}
	b, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.a.DB.Dir, app.GrantsDir)); err != nil || b.ExportID == hs[0].Ref {
		t.Fatalf("the second bundle %v %+v", err, b)
	}
	// a breach on the grant covers the bundle given, not the discarded one
	in, err := e.a.StartBreach(ctx, e.rq.Policy, account.BreachStart{Kind: store.KindGrant, Ref: g.ID, DiscoveredAt: e.now, Description: "laptop stolen", Actor: "dpo"})
	if err != nil {
		t.Fatal(err)
	}
	if given := grantHoldings(t, e, b.ExportID); len(in.HoldingIDs) != 1 || in.HoldingIDs[0] != given[0].ID {
		t.Fatalf("the incident covers %v, want only bundle %s's holding %+v", in.HoldingIDs, b.ExportID, given)
	}
	if got, err := gs.Get(ctx, g.ID); err != nil || got.State != app.GrantRevoked {
		t.Fatalf("after the breach: %v %+v", err, got)
	}
	assertSteps(t, e, []string{"granted", "terms-accepted", "stepped-up", "bundle-discarded", "stepped-up", "bundle", "revoked"})
}

// TestGrantLoadHoldingError: a grant whose holdings cannot be read (the
// table renamed) is an error, not a live grant: the breach that revoked
// its holding must not go unseen.
func TestGrantLoadHoldingError(t *testing.T) {
	e, gs, g, me, b := bundledGrant(t)
	ctx := context.Background()
	// a breach revoked the holding; the grant has not been read since
	e.sqlite3(t, "UPDATE holding SET revoked_at = '"+e.now.UTC().Format(time.RFC3339)+"' WHERE grant_id = '"+g.ID+"';")
	e.sqlite3(t, "ALTER TABLE holding RENAME TO holding_away;")
	if got, err := gs.Get(ctx, g.ID); err == nil {
		t.Fatalf("a grant whose holdings could not be read: %+v", got)
	}
	if _, err := gs.Download(ctx, me, b.Token); err == nil {
		t.Fatal("a download of a grant whose holdings could not be read")
	}
	e.sqlite3(t, "ALTER TABLE holding_away RENAME TO holding;")
	if got, err := gs.Get(ctx, g.ID); err != nil || got.State != app.GrantRevoked {
		t.Fatalf("after the table is back: %v %+v", err, got)
	}
}
