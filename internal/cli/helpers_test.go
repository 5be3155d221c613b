package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
)

// testPassphrase seals the bundles the CLI tests write (DINGBOOK_PASSPHRASE).
const testPassphrase = "cli-test-passphrase-0123456789"

// govArgs are the governance flags every export in the tests gives.
var govArgs = []string{"--purpose", "unit test", "--justify", "the test checks every field"}

// withGov appends govArgs to args, and for export and convert (bundles,
// whose full profile holds sensitive fields) an impact assessment.
func withGov(args ...string) []string {
	args = append(args, govArgs...)
	if args[0] == "export" || args[0] == "convert" {
		args = append(args, "--pia", "PIA-TEST")
	}
	return args
}

// plainFiles writes org as plain files named <base>.<format> into dir with
// export.Run itself: the input files of convert and export --from tests.
func plainFiles(t *testing.T, dir, base string, org *dingbook.Org, formats ...string) {
	t.Helper()
	_, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{
		Dir: dir, Formats: formats, Profile: "full", IncludeInactive: true, BaseName: base,
		VCard: func(w io.Writer, company, corpID string) (export.PersonWriter, error) {
			return vcard.New(w, vcard.Options{Company: company, CorpID: corpID}), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
}

// unbundle extracts a sealed bundle with the real 7-Zip and returns the
// extracted data files by format (xlsx, csv, vcf, jsonl), plus the
// directory.
func unbundle(t *testing.T, bundle string) (map[string]string, string) {
	t.Helper()
	if _, err := exec.LookPath("7zz"); err != nil {
		t.Fatal("7zz (Debian package 7zip) is required: ", err)
	}
	dir := t.TempDir()
	out, err := exec.Command("7zz", "x", "-y", "-p"+testPassphrase, "-o"+dir, bundle).CombinedOutput()
	if err != nil {
		t.Fatalf("7zz x %s: %v\n%s", bundle, err, out)
	}
	files := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		ext := strings.TrimPrefix(filepath.Ext(e.Name()), ".")
		if strings.HasPrefix(e.Name(), "export-") {
			files[ext] = filepath.Join(dir, e.Name())
		}
	}
	for _, must := range []string{"manifest.json", "NOTICE.txt"} {
		if _, err := os.Stat(filepath.Join(dir, must)); err != nil {
			t.Fatalf("bundle %s lacks %s", bundle, must)
		}
	}
	return files, dir
}
