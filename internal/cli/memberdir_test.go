package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/source/gen"
)

// TestExportFromDeptStreams: export --from FILE --dept streams the file
// (a first pass for the tree, a second for the people) and writes exactly
// the cards an export of the file read whole writes for that department.
func TestExportFromDeptStreams(t *testing.T) {
	env, _, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 700, Seed: 11})
	base := "export-20261126T100000Z"
	plainFiles(t, env.Dir, base, &truth.Org, "xlsx")
	org, _, err := console.ReadFile(filepath.Join(env.Dir, base+".xlsx"), console.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dept int64
	for _, d := range org.Depts {
		if d.ParentID == dingbook.RootDeptID && d.MemberCount > 0 && d.MemberCount < len(org.People) {
			dept = d.ID
			break
		}
	}
	if dept == 0 {
		t.Fatal("no department to select")
	}
	id := strconv.FormatInt(dept, 10)
	for i := range org.People { // the default policy leaves out hidden mobiles
		if p := &org.People[i]; p.HideMobile {
			p.Mobile, p.StateCode = "", ""
		}
	}
	res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{
		Dir: t.TempDir(), Formats: []string{"vcf"}, Profile: "contact", Depts: []string{id}, BaseName: "want",
		VCard: func(w io.Writer, company, corpID string) (export.PersonWriter, error) {
			return vcard.New(w, vcard.Options{Company: company, CorpID: corpID}), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(res.Files[0].Path)
	args := withGov("export", "--from", base+".xlsx", "--dept", id, "--format", "vcf", "--out", "d", "--profile", "contact")
	if code := Main(context.Background(), args, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	m, _ := filepath.Glob(filepath.Join(env.Dir, "d", "dingbook-*.zip"))
	if len(m) != 1 {
		t.Fatalf("bundles: %v", m)
	}
	files, _ := unbundle(t, m[0])
	got, err := os.ReadFile(files["vcf"])
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(got, []byte("BEGIN:VCARD")); n == 0 || n >= len(org.People) {
		t.Errorf("%d cards of %d people for department %s", n, len(org.People), id)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("--dept from the streamed file differs from the whole read (%d vs %d bytes)", len(got), len(want))
	}
}
