package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/source/gen"
)

// TestConvertVCFStreams: convert IN.xlsx OUT.vcf and export --from IN
// --format vcf stream the member file (console.Stream); the cards must be
// byte for byte what export writes from the file read whole (ReadFile), for
// dingbook's own export (whose company is named by a root row) and for a
// console-style file with a custom column and --company.
func TestConvertVCFStreams(t *testing.T) {
	env, _, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 700, Seed: 11})
	base := "export-20261126T100000Z"
	plainFiles(t, env.Dir, base, &truth.Org, "xlsx", "csv")
	whole := func(in string, co console.Options, version string, inactive bool) []byte {
		t.Helper()
		org, _, err := console.ReadFile(filepath.Join(env.Dir, in), co)
		if err != nil {
			t.Fatal(err)
		}
		// The default policy leaves out mobiles their owners hid.
		for i := range org.People {
			if p := &org.People[i]; p.HideMobile {
				p.Mobile, p.StateCode = "", ""
			}
		}
		dir := t.TempDir()
		res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{
			Dir: dir, Formats: []string{"vcf"}, Profile: "full", IncludeInactive: inactive, BaseName: "want",
			VCard: func(w io.Writer, company, corpID string) (export.PersonWriter, error) {
				return vcard.New(w, vcard.Options{Version: version, Company: company, CorpID: corpID}), nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.Files[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		args []string
		out  string
		in   string
		co   console.Options
		v    string
		all  bool
	}{
		{withGov("convert", base+".xlsx", "a.vcf", "--profile", "full"), "a.zip", base + ".xlsx", console.Options{}, "3.0", true},
		{withGov("convert", "--company", "示例", "--vcard-version", "4.0", base+".csv", "b.vcf", "--profile", "full"), "b.zip", base + ".csv", console.Options{Company: "示例"}, "4.0", true},
		{withGov("export", "--from", base+".xlsx", "--format", "vcf", "--out", "c", "--profile", "full", "--encrypt", "zip"), "", base + ".xlsx", console.Options{}, "3.0", false},
	} {
		errb.Reset()
		if code := Main(context.Background(), c.args, env); code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errb)
		}
		if !strings.Contains(errb.String(), "dingbook: read ") {
			t.Errorf("%v: no reader report on stderr: %s", c.args, errb)
		}
		bundle := filepath.Join(env.Dir, c.out)
		if c.out == "" {
			m, _ := filepath.Glob(filepath.Join(env.Dir, "c", "dingbook-*.zip"))
			if len(m) != 1 {
				t.Fatalf("export --from bundles: %v", m)
			}
			bundle = m[0]
		}
		files, _ := unbundle(t, bundle)
		got, err := os.ReadFile(files["vcf"])
		if err != nil {
			t.Fatal(err)
		}
		want := whole(c.in, c.co, c.v, c.all)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: streamed cards differ from the whole read (%d vs %d bytes)", c.args, len(got), len(want))
		}
		if n := bytes.Count(got, []byte("BEGIN:VCARD")); n == 0 || c.all && n != len(truth.Org.People) {
			t.Errorf("%v: %d cards", c.args, n)
		}
	}
	// A reading error names the file and row, and leaves no output.
	bad := "姓名,部门,入职时间\n张三,技术部,2021-01-01\n李四,技术部,someday\n"
	if err := os.WriteFile(filepath.Join(env.Dir, "bad.csv"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := Main(context.Background(), withGov("convert", "bad.csv", "bad.vcf"), env); code == 0 || !strings.Contains(errb.String(), "row 3, column C") {
		t.Fatalf("bad file: exit %d: %s", code, errb)
	}
	for _, f := range []string{"bad.vcf", "bad.zip"} {
		if _, err := os.Stat(filepath.Join(env.Dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
}

// TestConvertOverwrite: convert refuses to replace an existing OUT.zip with
// a hint naming --overwrite (convert has no --out), and --overwrite replaces
// it with the new bundle.
func TestConvertOverwrite(t *testing.T) {
	env, out, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 30, Seed: 3})
	plainFiles(t, env.Dir, "in", &truth.Org, "csv")
	bundle := filepath.Join(env.Dir, "out.zip")
	sums := []string{}
	run := func(want int, extra ...string) {
		t.Helper()
		out.Reset()
		errb.Reset()
		args := append(withGov("convert", "in.csv", "out.csv", "--json"), extra...)
		if code := Main(context.Background(), args, env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s", args, code, want, errb)
		}
		if want == 0 {
			var sum ExportSummary
			if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(bundle)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != sum.BundleSHA256 {
				t.Fatalf("%s holds %s, the summary says %s", bundle, got, sum.BundleSHA256)
			}
			sums = append(sums, sum.BundleSHA256)
		}
	}
	run(0)
	run(ExitUsage)
	if s := errb.String(); !strings.Contains(s, "out.zip already exists") || !strings.Contains(s, "--overwrite") || strings.Contains(s, "--out") {
		t.Errorf("refusal should name the bundle and --overwrite, never --out:\n%s", s)
	}
	run(0, "--overwrite")
	if sums[0] == sums[1] {
		t.Error("--overwrite left the old bundle in place")
	}
}
