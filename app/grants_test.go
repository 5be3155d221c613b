package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/account"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/internal/openpyxl"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// grantEnv is a request of the employee approved (narrowed) by the
// sub-admin: its grant.
func grantEnv(t *testing.T) (*reqEnv, *app.Grants, *app.Grant) {
	t.Helper()
	e := newReqEnv(t)
	ctx := context.Background()
	s := e.spec()
	s.Formats = []string{"xlsx", "jsonl"}
	er, err := e.rq.Create(ctx, e.session(e.emp), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{Fields: []string{"name", "mobile", "job_number"}, Days: 2}); err != nil {
		t.Fatal(err)
	}
	gs := &app.Grants{App: e.a, Policy: e.rq.Policy}
	list, err := gs.List(ctx, e.session(e.emp), "mine")
	if err != nil || len(list) != 1 {
		t.Fatalf("the grantee's grants: %v %+v", err, list)
	}
	return e, gs, &list[0]
}

// fresh is a session of userid logged in just now (passes the step-up).
func (e *reqEnv) fresh(userid string) *app.Session {
	s := e.session(userid)
	s.Created = e.now
	return s
}

func errCode(err error) string {
	code, _ := errField(err)
	return code
}

// TestGrantBundle: an approved request is an active grant for 2 days and
// one download; the bundle needs the terms and a fresh login; it opens
// with 7-Zip and the passphrase and holds exactly the granted scope and
// fields, without the mobiles the grantee may not see; the link works
// once; the audit chain shows every step and verifies.
func TestGrantBundle(t *testing.T) {
	sz := tool(t, "7zz")
	e, gs, g := grantEnv(t)
	ctx := context.Background()
	if g.State != app.GrantActive || g.DownloadsLeft != 1 || !g.ExpiresAt.Equal(e.now.Truncate(time.Second).Add(48*time.Hour)) || !slices.Equal(g.ApprovedBy, []string{e.sub.UserID}) {
		t.Fatalf("grant %+v", g)
	}
	me := e.fresh(e.emp)
	// neither terms nor step-up; then the terms only; a stale login
	if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); errCode(err) != app.CodeTerms {
		t.Fatalf("a bundle without the terms: %v", err)
	}
	if _, err := gs.AcceptTerms(ctx, me, g.ID, "zh", false); err == nil {
		t.Fatal("accept: false accepted the terms")
	}
	if _, err := gs.AcceptTerms(ctx, e.fresh(e.sub.UserID), g.ID, "zh", true); errCode(err) != dingbook.EPERM {
		t.Fatalf("someone else accepted the grantee's terms: %v", err)
	}
	acc, err := gs.AcceptTerms(ctx, me, g.ID, "zh", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := gs.Terms("zh"); acc.Terms.Version != "1" || acc.Terms.SHA256 != want.SHA256 || acc.Terms.Lang != "zh" || !strings.Contains(want.Text, "保密") {
		t.Fatalf("terms accepted %+v, shown %+v", acc.Terms, want)
	}
	stale := e.session(e.emp)
	stale.Created = e.now.Add(-app.StepUpAge - time.Second)
	if _, err := gs.Bundle(ctx, stale, g.ID, app.BundleOptions{}); errCode(err) != app.CodeStepUp {
		t.Fatalf("a bundle with a login older than 5 minutes: %v", err)
	}
	if _, err := gs.Bundle(ctx, e.fresh(e.sub.UserID), g.ID, app.BundleOptions{}); errCode(err) != dingbook.EPERM {
		t.Fatalf("someone else built the grantee's bundle: %v", err)
	}
	b, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Passphrase == "" || b.Token == "" || !b.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("bundle %+v", b)
	}
	if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); err == nil {
		t.Fatal("a second bundle of a one-download grant")
	}
	// only the grantee downloads; once
	if _, err := gs.Download(ctx, e.fresh(e.sub.UserID), b.Token); errCode(err) != dingbook.EPERM {
		t.Fatalf("someone else downloaded: %v", err)
	}
	f, err := gs.Download(ctx, me, b.Token)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), f.Name)
	out, _ := os.Create(path)
	io.Copy(out, f.File)
	out.Close()
	f.File.Close()
	if _, err := gs.Download(ctx, me, b.Token); errCode(err) != app.CodeGone {
		t.Fatalf("a second download: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.a.DB.Dir, app.GrantsDir, "*")); len(left) != 0 {
		t.Fatalf("the bundle stayed on the server after its download: %v", left)
	}
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantUsed || got.DownloadsLeft != 0 {
		t.Fatalf("after the download %+v", got)
	}

	x := t.TempDir()
	if o, err := exec.Command(sz, "x", "-p"+b.Passphrase, "-o"+x, path).CombinedOutput(); err != nil {
		t.Fatalf("7zz x: %v\n%s", err, o)
	}
	var man govern.Manifest
	mb, _ := os.ReadFile(filepath.Join(x, "manifest.json"))
	if err := json.Unmarshal(mb, &man); err != nil {
		t.Fatal(err)
	}
	if man.Grant == nil || man.Grant.ID != g.ID || man.Grant.Request != g.RequestID || !slices.Equal(man.Grant.Approvers, []string{e.sub.UserID}) ||
		!slices.Equal(man.Fields, []string{"name", "mobile", "job_number"}) || man.Purpose != g.Purpose || man.Basis != g.Basis || !man.Expires.Equal(g.ExpiresAt) {
		t.Fatalf("manifest %s", mb)
	}
	notice, _ := os.ReadFile(filepath.Join(x, "NOTICE.txt"))
	if !strings.Contains(string(notice), "Grant "+g.ID) || !strings.Contains(string(notice), e.sub.UserID) {
		t.Fatalf("NOTICE does not name the grant and its approver:\n%s", notice)
	}

	// the rows: every active person of the department's subtree the
	// employee may see, the mobile only when they may see it
	id, _ := e.a.DB.LatestCompleteSnapshotID(ctx)
	sd, _ := e.a.DB.Directory(ctx, id)
	tree := dingbook.NewTree(sd.Departments())
	under := tree.Descendants(e.dept)
	var self *dingbook.Person
	want := map[string]dingbook.Person{}
	sd.EachPerson(ctx, func(p *dingbook.Person) error {
		if p.UserID == e.emp {
			q := *p
			self = &q
		}
		if p.Active && slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return slices.Contains(under, m.DeptID) }) {
			want[p.UserID] = *p
		}
		return nil
	})
	v := app.ViewerOf(me, self, tree)
	hidden := 0
	for u, p := range want {
		if !v.CanSee(&p) {
			delete(want, u)
		}
		if p.Mobile != "" && !v.SeesMobile(&p) {
			hidden++
		}
	}
	if hidden == 0 || len(want) < 5 {
		t.Fatalf("the test needs hidden mobiles in the scope: %d people, %d hidden", len(want), hidden)
	}
	var jsonl, xlsx string
	for _, mf := range man.Files {
		switch mf.Format {
		case "jsonl":
			jsonl = filepath.Join(x, mf.Name)
		case "xlsx":
			xlsx = filepath.Join(x, mf.Name)
		}
	}
	jf, err := os.Open(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	got := map[string]bool{}
	sc := bufio.NewScanner(jf)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(row))
		for k := range row {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"job_number", "mobile", "name", "userid"}) {
			t.Fatalf("row keys %v", keys)
		}
		u := row["userid"].(string)
		p, ok := want[u]
		if !ok {
			t.Fatalf("%s is outside the granted scope or hidden from the grantee", u)
		}
		wantMobile := p.Mobile
		if !v.SeesMobile(&p) || p.HideMobile {
			wantMobile = ""
		}
		if row["mobile"] != wantMobile || row["name"] != p.Name {
			t.Fatalf("%s: mobile %q name %q, want %q %q", u, row["mobile"], row["name"], wantMobile, p.Name)
		}
		got[u] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	book := openpyxl.Read(t, xlsx)
	if rows := book.Rows[book.Sheets[0]]; len(rows) != len(want)+1 || len(rows[0]) != 3 {
		t.Fatalf("the xlsx has %d rows of %d cells, want %d of 3", len(rows), len(rows[0]), len(want)+1)
	}

	// the holding is the grant's; every step is in the chain, which verifies
	if h, err := e.a.DB.FindHolding(ctx, store.KindGrant, g.ID); err != nil || h.People != len(want) {
		t.Fatalf("holding %+v %v", h, err)
	}
	assertSteps(t, e, []string{"granted", "terms-accepted", "stepped-up", "bundle", "downloaded"})
}

// assertSteps checks the grant's audit steps, in order, and the chain.
func assertSteps(t *testing.T, e *reqEnv, want []string) {
	t.Helper()
	ctx := context.Background()
	recs, err := e.a.AuditRecords(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range recs {
		if r.Action == app.ActionGrant {
			steps = append(steps, r.Details["step"])
		}
	}
	if !slices.Equal(steps, want) {
		t.Fatalf("grant steps %v, want %v", steps, want)
	}
	if res, err := e.a.VerifyAudit(ctx, ""); err != nil || !res.OK {
		t.Fatalf("audit verify: %v %+v", err, res)
	}
}

// acceptedGrant is grantEnv's grant with its terms accepted by the
// grantee (me, logged in just now).
func acceptedGrant(t *testing.T) (*reqEnv, *app.Grants, *app.Grant, *app.Session) {
	t.Helper()
	e, gs, g := grantEnv(t)
	me := e.fresh(e.emp)
	if _, err := gs.AcceptTerms(context.Background(), me, g.ID, "en", true); err != nil {
		t.Fatal(err)
	}
	return e, gs, g, me
}

// bundledGrant is grantEnv's grant with its terms accepted and a bundle
// made by the grantee (me, logged in just now).
func bundledGrant(t *testing.T) (*reqEnv, *app.Grants, *app.Grant, *app.Session, *app.GrantBundle) {
	t.Helper()
	e, gs, g, me := acceptedGrant(t)
	b, err := gs.Bundle(context.Background(), me, g.ID, app.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e, gs, g, me, b
}

// TestGrantRevoke: the grantee cannot revoke; an approver can; the link
// of a bundle not downloaded is gone and its file deleted.
func TestGrantRevoke(t *testing.T) {
	e, gs, g, me, b := bundledGrant(t)
	ctx := context.Background()
	if _, err := gs.Revoke(ctx, me, g.ID, "mine"); errCode(err) != dingbook.EPERM {
		t.Fatalf("the grantee revoked: %v", err)
	}
	if list, _ := gs.List(ctx, e.session(e.sub.UserID), "approver"); len(list) != 1 {
		t.Fatalf("the approver's grants %+v", list)
	}
	r, err := gs.Revoke(ctx, e.session(e.sub.UserID), g.ID, "the review was cancelled")
	if err != nil || r.State != app.GrantRevoked || r.RevokedBy != e.sub.UserID {
		t.Fatalf("revoke %v %+v", err, r)
	}
	if _, err := gs.Download(ctx, me, b.Token); errCode(err) != app.CodeGone {
		t.Fatalf("a download after the revocation: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.a.DB.Dir, app.GrantsDir, "*")); len(left) != 0 {
		t.Fatalf("a revoked grant's bundle stayed: %v", left)
	}
	if h, err := e.a.DB.FindHolding(ctx, store.KindGrant, g.ID); err != nil || h.Revoked == nil {
		t.Fatalf("the holding is not revoked: %+v %v", h, err)
	}
	if _, err := gs.Revoke(ctx, e.session(e.admin.UserID), g.ID, "again"); err == nil {
		t.Fatal("a revoked grant was revoked again")
	}
	assertSteps(t, e, []string{"granted", "terms-accepted", "stepped-up", "bundle", "revoked"})
}

// TestGrantRevokeStoreError: a store error on a revocation's way (the
// holding table unreadable, after the one download) fails it, leaving
// the grant and its holding as they were, rather than a revoked grant
// whose holding stays live; the revocation then ends both.
func TestGrantRevokeStoreError(t *testing.T) {
	e, gs, g, me, b := bundledGrant(t)
	ctx := context.Background()
	f, err := gs.Download(ctx, me, b.Token)
	if err != nil {
		t.Fatal(err)
	}
	f.File.Close()
	sqlite := func(q string) string { return e.sqlite3(t, q) }
	live := "SELECT count(*) FROM holding WHERE kind = 'grant' AND grant_id = '" + g.ID + "' AND revoked_at IS NULL;"
	if n := sqlite(live); n != "1" {
		t.Fatalf("the bundle's live holdings: %s", n)
	}

	sqlite("ALTER TABLE holding RENAME TO holding_away;")
	if _, err := gs.Revoke(ctx, e.session(e.sub.UserID), g.ID, "cancelled"); err == nil {
		t.Error("a revocation that could not reach the holding succeeded")
	}
	sqlite("ALTER TABLE holding_away RENAME TO holding;")
	if now, err := gs.Get(ctx, g.ID); err != nil || now.State != app.GrantUsed || sqlite(live) != "1" {
		t.Fatalf("after the failed revocation: %v %+v", err, now)
	}

	r, err := gs.Revoke(ctx, e.session(e.sub.UserID), g.ID, "cancelled")
	if err != nil || r.State != app.GrantRevoked {
		t.Fatalf("revoke: %v %+v", err, r)
	}
	if n := sqlite(live); n != "0" {
		t.Errorf("%s of the revoked grant's holdings are live", n)
	}
	if res, err := e.a.VerifyAudit(ctx, ""); err != nil || !res.OK {
		t.Fatalf("audit verify: %v %+v", err, res)
	}
	assertSteps(t, e, []string{"granted", "terms-accepted", "stepped-up", "bundle", "downloaded", "revoked"})
}

// sqlite3 runs q on the state directory's database with the sqlite3
// program and returns its output.
func (e *reqEnv) sqlite3(t *testing.T, q string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", filepath.Join(e.a.DB.Dir, store.DBName), q).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 (Debian package sqlite3) %s: %v %s", q, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestGrantRevokedMeanwhile: a bundle or download that ends after the
// grant was revoked (by an approver, or the CLI in another process,
// during the bundle's export) does not bring the grant back: its write is
// refused as gone and the grant stays revoked.
func TestGrantRevokedMeanwhile(t *testing.T) {
	e, gs, g := grantEnv(t)
	ctx := context.Background()
	stale, err := gs.Get(ctx, g.ID)
	if err != nil || stale.State != app.GrantActive {
		t.Fatalf("the grant: %v %+v", err, stale)
	}
	if _, err := gs.Revoke(ctx, e.session(e.sub.UserID), g.ID, "cancelled"); err != nil {
		t.Fatal(err)
	}
	stale.DownloadsLeft--
	if err := gs.SaveGrant(ctx, stale, "bundle"); errCode(err) != app.CodeGone {
		t.Fatalf("a bundle's write over a revoked grant: %v", err)
	}
	if now, err := gs.Get(ctx, g.ID); err != nil || now.State != app.GrantRevoked || now.RevokedBy != e.sub.UserID {
		t.Fatalf("after the late write: %v %+v", err, now)
	}
	assertSteps(t, e, []string{"granted", "revoked"})
}

// TestGrantExpiry: past its time a grant is expired (recorded), gives no
// bundle, its link is gone, and purge deletes the bundle not downloaded.
func TestGrantExpiry(t *testing.T) {
	e, gs, g := grantEnv(t)
	ctx := context.Background()
	me := e.fresh(e.emp)
	if _, err := gs.AcceptTerms(ctx, me, g.ID, "id", true); err != nil {
		t.Fatal(err)
	}
	b, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.now = g.ExpiresAt.Add(-time.Second)
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantUsed {
		t.Fatalf("expired early: %s", got.State)
	}
	e.now = g.ExpiresAt
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantExpired {
		t.Fatalf("not expired at its time: %s", got.State)
	}
	if _, err := gs.Download(ctx, e.fresh(e.emp), b.Token); errCode(err) != app.CodeGone {
		t.Fatalf("a download after the expiry: %v", err)
	}
	if _, err := gs.Bundle(ctx, e.fresh(e.emp), g.ID, app.BundleOptions{}); err == nil {
		t.Fatal("a bundle of an expired grant")
	}
	if _, err := e.a.Purge(ctx, e.rq.Policy, govern.PurgeOptions{Actor: "tester"}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.a.DB.Dir, app.GrantsDir, "*")); len(left) != 0 {
		t.Fatalf("purge left the expired grant's bundle: %v", left)
	}
	assertSteps(t, e, []string{"granted", "terms-accepted", "stepped-up", "bundle", "expired"})
}

// twoDownloads is a grant of the employee for two downloads (policy
// requests.downloads: 2), its terms accepted by me, the grantee logged
// in just now.
func twoDownloads(t *testing.T) (*reqEnv, *app.Grants, *app.Grant, *app.Session) {
	t.Helper()
	e := newReqEnv(t)
	ctx := context.Background()
	pol := policy.Default()
	pol.Requests.Downloads = 2
	e.rq.Policy = pol
	er, err := e.rq.Create(ctx, e.session(e.emp), e.spec())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{Fields: []string{"name"}}); err != nil {
		t.Fatal(err)
	}
	gs := &app.Grants{App: e.a, Policy: pol}
	list, err := gs.List(ctx, e.session(e.emp), "")
	if err != nil || len(list) != 1 {
		t.Fatalf("the grantee's grants: %v %+v", err, list)
	}
	me := e.fresh(e.emp)
	if _, err := gs.AcceptTerms(ctx, me, list[0].ID, "en", true); err != nil {
		t.Fatal(err)
	}
	return e, gs, &list[0], me
}

// TestGrantBreach: a grant of two downloads whose first bundle leaked: a
// breach incident on the grant revokes it, so the second download is
// refused.
func TestGrantBreach(t *testing.T) {
	e, gs, g, me := twoDownloads(t)
	ctx := context.Background()
	if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantActive || got.DownloadsLeft != 1 {
		t.Fatalf("after one of two downloads %+v", got)
	}
	if _, err := e.a.StartBreach(ctx, e.rq.Policy, account.BreachStart{Kind: store.KindGrant, Ref: g.ID, DiscoveredAt: e.now, Description: "bundle mailed to a wrong address", Actor: "dpo"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := gs.Get(ctx, g.ID); got.State != app.GrantRevoked {
		t.Fatalf("after the breach %+v", got)
	}
	if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{}); err == nil {
		t.Fatal("a second bundle after the breach")
	}
}

// TestGrantAgeBundle: with the grantee's age recipient the bundle is
// sealed to it (no passphrase), age decrypts it with their key, and the
// manifest names the grant; a malformed recipient is refused and the
// download is not taken.
func TestGrantAgeBundle(t *testing.T) {
	ageBin, keygen := tool(t, "age"), tool(t, "age-keygen")
	tool(t, "tar")
	e, gs, g := grantEnv(t)
	ctx := context.Background()
	me := e.fresh(e.emp)
	if _, err := gs.AcceptTerms(ctx, me, g.ID, "en", true); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "key.txt")
	if o, err := exec.Command(keygen, "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	pub, _ := exec.Command(keygen, "-y", key).Output()
	if _, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{AgeRecipient: "age1nonsense"}); err == nil {
		t.Fatal("a malformed age recipient was accepted")
	}
	if got, _ := gs.Get(ctx, g.ID); got.DownloadsLeft != 1 {
		t.Fatalf("a refused bundle took the download: %+v", got)
	}
	b, err := gs.Bundle(ctx, me, g.ID, app.BundleOptions{AgeRecipient: strings.TrimSpace(string(pub))})
	if err != nil {
		t.Fatal(err)
	}
	if b.Passphrase != "" {
		t.Fatal("an age bundle came with a passphrase")
	}
	f, err := gs.Download(ctx, me, b.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(f.Name, ".tar.age") {
		t.Fatalf("bundle name %s", f.Name)
	}
	sealed := filepath.Join(dir, f.Name)
	out, _ := os.Create(sealed)
	io.Copy(out, f.File)
	out.Close()
	f.File.Close()
	tarFile := filepath.Join(dir, "b.tar")
	if o, err := exec.Command(ageBin, "-d", "-i", key, "-o", tarFile, sealed).CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v %s", err, o)
	}
	x := filepath.Join(dir, "x")
	os.Mkdir(x, 0o700)
	if o, err := exec.Command("tar", "-xf", tarFile, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, o)
	}
	var man govern.Manifest
	mb, _ := os.ReadFile(filepath.Join(x, "manifest.json"))
	if err := json.Unmarshal(mb, &man); err != nil || man.Seal != "age" || man.Grant == nil || man.Grant.ID != g.ID {
		t.Fatalf("manifest %v %s", err, mb)
	}
}
