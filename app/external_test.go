package app_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/store"
)

// The visibility table of an external contact (issue 10 §4, serve.md §B):
// its follower, the people it is shared with, the members of a shared
// department and (with the policy's switch on) of its sub-departments, the
// primary admin, a sub-admin whose scope holds the follower or a shared
// department; nobody else.
func TestSeesExternal(t *testing.T) {
	// 1 root ─ 2 销售部 ─ 3 华东区 ─ 4 上海组; 1 ─ 5 法务部
	tree := dingbook.NewTree([]dingbook.Department{{ID: 1, Name: "公司"}, {ID: 2, ParentID: 1, Name: "销售部"},
		{ID: 3, ParentID: 2, Name: "华东区"}, {ID: 4, ParentID: 3, Name: "上海组"}, {ID: 5, ParentID: 1, Name: "法务部"}})
	follower := &dingbook.Person{UserID: "f1", Depts: []dingbook.Membership{{DeptID: 5}}}
	e := &dingbook.ExternalContact{UserID: "ext1", Name: "潘潘", FollowerUserID: "f1", ShareUserIDs: []string{"u1"}, ShareDeptIDs: []int64{2}}
	scope := func(ids ...int64) map[int64]bool {
		m := map[int64]bool{}
		for _, id := range ids {
			for _, d := range tree.Descendants(id) {
				m[d] = true
			}
		}
		return m
	}
	for _, tc := range []struct {
		name        string
		v           app.Viewer
		on, off     bool // with sub-departments included, and without
		followerNil bool
	}{
		{name: "follower", v: app.Viewer{UserID: "f1", Depts: []int64{5}}, on: true, off: true},
		{name: "shared user", v: app.Viewer{UserID: "u1", Depts: []int64{5}}, on: true, off: true},
		{name: "member of the shared department", v: app.Viewer{UserID: "m2", Depts: []int64{2}}, on: true, off: true},
		{name: "member of its sub-department", v: app.Viewer{UserID: "m3", Depts: []int64{3}}, on: true, off: false},
		{name: "member of a sub-sub-department", v: app.Viewer{UserID: "m4", Depts: []int64{4}}, on: true, off: false},
		{name: "unrelated employee", v: app.Viewer{UserID: "x1", Depts: []int64{5}}, on: false, off: false},
		{name: "employee of the root only", v: app.Viewer{UserID: "x2", Depts: []int64{1}}, on: false, off: false},
		{name: "nobody", v: app.Viewer{}, on: false, off: false},
		{name: "primary admin", v: app.Viewer{UserID: "a1", Primary: true, Depts: []int64{1}}, on: true, off: true},
		{name: "sub-admin of the follower's department", v: app.Viewer{UserID: "s1", Scope: scope(5), Depts: []int64{1}}, on: true, off: true},
		{name: "sub-admin of the follower's department, follower gone", v: app.Viewer{UserID: "s1", Scope: scope(5), Depts: []int64{1}}, followerNil: true},
		{name: "sub-admin of a shared sub-department's parent", v: app.Viewer{UserID: "s2", Scope: scope(2), Depts: []int64{1}}, on: true, off: true},
		{name: "sub-admin of an unrelated scope", v: app.Viewer{UserID: "s3", Scope: scope(4), Depts: []int64{1}}, on: false, off: false},
	} {
		f := follower
		if tc.followerNil {
			f = nil
		}
		if got := tc.v.SeesExternal(e, f, tree, true); got != tc.on {
			t.Errorf("%s, sub-departments included: %v, want %v", tc.name, got, tc.on)
		}
		if got := tc.v.SeesExternal(e, f, tree, false); got != tc.off {
			t.Errorf("%s, sub-departments not included: %v, want %v", tc.name, got, tc.off)
		}
	}
}

func TestParseBookVersion(t *testing.T) {
	for _, tc := range []struct {
		in    string
		s, w  int64
		valid bool
	}{{"12.3", 12, 3, true}, {"12", 0, 0, false}, {"12.0", 12, 0, true}, {"0.1", 0, 0, false}, {"x", 0, 0, false}, {"12.-1", 0, 0, false}, {"12.x", 0, 0, false}} {
		s, w, ok := app.ParseBookVersion(tc.in)
		if ok != tc.valid || (ok && (s != tc.s || w != tc.w)) {
			t.Errorf("%q: %d %d %v", tc.in, s, w, ok)
		}
	}
	if v := (&app.Book{Snapshot: 7, Rev: 9, Withdrawn: 2}).Version(); v != "9.2" {
		t.Errorf("Version %q", v)
	}
}

// An export with external contacts needs the basis consent and a consent
// reference (refusals recorded); it writes the contacts whose consent is
// not withdrawn into external-contacts.vcf, with the chosen fields only,
// and its audit record counts them.
func TestExportExternal(t *testing.T) {
	sz := tool(t, "7zz")
	a, snap := newApp(t)
	ctx := context.Background()
	pol, err := a.Policy(ctx, "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Org.External) < 3 {
		t.Fatalf("%d external contacts", len(snap.Org.External))
	}
	export1 := func(basis, ref, profile string) (*app.ExportResult, error) {
		req := &govern.Request{Actor: "tester", Purpose: "partner mailing", Basis: basis, Profile: profile, Justification: "the partners' new address",
			Passphrase: "external-pass-phrase-2026", PassphraseSource: "the test", OutDir: t.TempDir()}
		req.Transfer.ConsentRef = ref
		return a.Export(ctx, pol, app.ExportOptions{Request: req, Export: export.Options{Formats: []string{"csv"}}, External: true})
	}
	for _, tc := range []struct{ basis, ref, field string }{{"hr-management", "C-1", "basis"}, {"consent", "", "consent_ref"}, {"consent", "  ", "consent_ref"}} {
		if _, err := export1(tc.basis, tc.ref, "contact"); dingbook.ErrorCode(err) != dingbook.EPOLICY || dingbook.ErrorField(err) != tc.field {
			t.Errorf("basis %q ref %q: %v (field %q)", tc.basis, tc.ref, err, dingbook.ErrorField(err))
		}
	}
	if recs, err := audit.List(ctx, a.DB, audit.Filter{Action: "export"}); err != nil || len(recs) != 3 || recs[0].Outcome != audit.OutcomeRefused {
		t.Fatalf("refusals on record: %v %+v", err, recs)
	}
	gone := snap.Org.External[1]
	if err := a.DB.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.WithdrawExternal(gone.UserID, time.Now(), "follower")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	read := func(res *app.ExportResult) string {
		x := t.TempDir()
		if o, err := exec.Command(sz, "x", "-pexternal-pass-phrase-2026", "-o"+x, res.Bundle.BundlePath).CombinedOutput(); err != nil {
			t.Fatalf("7zz x: %v\n%s", err, o)
		}
		var man govern.Manifest
		mb, err := os.ReadFile(filepath.Join(x, "manifest.json"))
		if err != nil || json.Unmarshal(mb, &man) != nil {
			t.Fatalf("manifest: %v", err)
		}
		// the people's csv, and the contacts' vcf
		for _, f := range man.Files {
			if f.Format == "vcf" {
				b, err := os.ReadFile(filepath.Join(x, f.Name))
				if err != nil || f.Rows != strings.Count(string(b), "BEGIN:VCARD") || len(man.Files) != 2 {
					t.Fatalf("%s: %v, manifest %+v", f.Name, err, man.Files)
				}
				return string(b)
			}
		}
		t.Fatalf("no vcf in the bundle: %+v", man.Files)
		return ""
	}
	res, err := export1("consent", "C-2026-17", "contact")
	if err != nil {
		t.Fatal(err)
	}
	cards := read(res)
	if n := strings.Count(cards, "BEGIN:VCARD"); n != len(snap.Org.External)-1 {
		t.Errorf("%d cards, want %d", n, len(snap.Org.External)-1)
	}
	kept := snap.Org.External[0]
	if strings.Contains(cards, gone.Mobile) || strings.Contains(cards, gone.Email) || !strings.Contains(cards, kept.Email) || !strings.Contains(cards, "ORG:"+kept.CompanyName) {
		t.Errorf("contact profile cards:\n%.600s", cards)
	}
	r, err := audit.Get(ctx, a.DB, res.Bundle.AuditSeq)
	if err != nil || r.Details["external_contacts"] != strconv.Itoa(len(snap.Org.External)-1) || r.Basis != "consent" {
		t.Errorf("audit record: %v %+v", err, r)
	}
	// the holding records the contacts written, found by their userid,
	// mobile (with or without the country code) or e-mail as people are;
	// the withdrawn contact is in none
	exportID := r.ExportID
	for _, q := range []string{kept.UserID, kept.Mobile, "+" + kept.StateCode + " " + kept.Mobile, strings.ToUpper(kept.Email)} {
		wh, err := a.WhoHas(ctx, q, time.Time{})
		if err != nil || wh.Person != kept.UserID || len(wh.Holdings) != 1 || wh.Holdings[0].ID != exportID || wh.Holdings[0].Kind != store.KindExport {
			t.Errorf("who-has %q: %v %+v, want export %s", q, err, wh, exportID)
		}
	}
	if wh, err := a.WhoHas(ctx, gone.UserID, time.Time{}); err != nil || len(wh.Holdings) != 0 {
		t.Errorf("who-has the withdrawn contact: %v %+v", err, wh)
	}
	// the minimal profile: no mobile, no personal e-mail
	res, err = export1("consent", "C-2026-17", "minimal")
	if err != nil {
		t.Fatal(err)
	}
	if cards := read(res); strings.Contains(cards, kept.Mobile) || strings.Contains(cards, kept.Email) || !strings.Contains(cards, "FN:") {
		t.Errorf("minimal profile cards hold more than it allows:\n%.600s", cards)
	}
}
