package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/openpyxl"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

func exportEnv(t *testing.T) (*Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	home := t.TempDir()
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			switch k {
			case "DINGBOOK_HOME":
				return home
			case "DINGBOOK_PASSPHRASE":
				return testPassphrase
			}
			return ""
		},
		Now:   func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) },
		Actor: "tester", Dir: t.TempDir(),
	}
	return env, &out, &errb
}

func saveSnapshot(t *testing.T, env *Env, org dingbook.Org) int64 {
	t.Helper()
	db, err := store.Open(context.Background(), env.Getenv("DINGBOOK_HOME"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &dingbook.Snapshot{Source: "test", TakenAt: env.Now(), Org: org}
	if err := db.SaveSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func TestExportCommandFromSnapshot(t *testing.T) {
	env, out, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 120, Seed: 4})
	id := saveSnapshot(t, env, truth.Org)
	active := 0
	for _, p := range truth.Org.People {
		if p.Active {
			active++
		}
	}
	code := Main(context.Background(), withGov("export", "--format", "xlsx,csv,vcf,jsonl", "--out", "out", "--profile", "contact", "--json"), env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, out)
	}
	if sum.SnapshotID != id || sum.Rows != active || sum.LeftOut.Inactive != len(truth.Org.People)-active || len(sum.Files) != 4 {
		t.Fatalf("summary %+v (active %d of %d)", sum, active, len(truth.Org.People))
	}
	if filepath.Dir(sum.Bundle) != filepath.Join(env.Dir, "out") || !strings.HasSuffix(sum.Bundle, ".zip") || sum.Seal != "zip" {
		t.Fatalf("bundle %s (seal %s)", sum.Bundle, sum.Seal)
	}
	if fi, err := os.Stat(sum.Bundle); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle mode: %v %v", fi, err)
	}
	for _, f := range sum.Files {
		if !strings.HasPrefix(f.Name, "export-") || f.Rows != active || f.Bytes == 0 || len(f.SHA256) != 64 {
			t.Errorf("file %+v", f)
		}
	}
	files, _ := unbundle(t, sum.Bundle)
	vcf, err := os.ReadFile(files["vcf"])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(vcf), "BEGIN:VCARD"); n != active {
		t.Fatalf("%d vCards, want %d", n, active)
	}
	// The xlsx carries the quality status column, its highlighting and the
	// Quality sheet.
	py := `import openpyxl, sys
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb.worksheets[0]
print(wb.sheetnames)
print([c.value for c in ws[1]][-1])
print(len(ws.conditional_formatting))`
	pyOut, err := exec.Command("/usr/bin/python3", "-c", py, files["xlsx"]).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl: %v\n%s", err, pyOut)
	}
	// Every sheet holds its rows for openpyxl in both its modes.
	if book := openpyxl.Read(t, files["xlsx"]); len(book.Rows[book.Sheets[0]]) != active+1 || len(book.Rows["Quality"]) < 10 {
		t.Errorf("xlsx read back: %d rows, Quality %d rows", len(book.Rows[book.Sheets[0]]), len(book.Rows["Quality"]))
	}
	lines := strings.Split(strings.TrimSpace(string(pyOut)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "'Quality'") || lines[1] != "状态" && lines[1] != "数据状态" || lines[2] == "0" {
		t.Errorf("xlsx quality parts: %q", lines)
	}
	if !strings.Contains(errb.String(), "inactive") {
		t.Fatalf("stderr does not report the inactive left out: %s", errb)
	}
}

func TestExportCommandErrors(t *testing.T) {
	env, _, errb := exportEnv(t)
	if code := Main(context.Background(), withGov("export"), env); code != ExitNotFound || !strings.Contains(errb.String(), "hint:") {
		t.Fatalf("no snapshot: exit %d: %s", code, errb)
	}
	org := dingbook.Org{Name: "示例公司", Depts: []dingbook.Department{
		{ID: 1, Name: "示例公司"}, {ID: 2, Name: "研发部", ParentID: 1}, {ID: 3, Name: "后端组", ParentID: 2},
		{ID: 4, Name: "市场部", ParentID: 1}, {ID: 5, Name: "后端组", ParentID: 4}}}
	saveSnapshot(t, env, org)
	errb.Reset()
	code := Main(context.Background(), withGov("export", "--dept", "后端组"), env)
	if code != ExitUsage || !strings.Contains(errb.String(), "研发部/后端组 (id 3)") || !strings.Contains(errb.String(), "市场部/后端组 (id 5)") {
		t.Fatalf("ambiguous dept: exit %d: %s", code, errb)
	}
	errb.Reset()
	code = Main(context.Background(), withGov("export", "--fields", "name,salary"), env)
	if code != ExitPolicy || !strings.Contains(errb.String(), `unknown field "salary"`) {
		t.Fatalf("unknown field: exit %d: %s", code, errb)
	}
	errb.Reset()
	code = Main(context.Background(), withGov("export", "--format", "pdf"), env)
	if code != ExitUsage || !strings.Contains(errb.String(), `"pdf"`) {
		t.Fatalf("unknown format: exit %d: %s", code, errb)
	}
	if entries, _ := os.ReadDir(filepath.Join(env.Dir, "dingbook-export")); len(entries) != 0 {
		t.Fatalf("failed exports left files: %v", entries)
	}
}

// TestConvertCommand converts a console-style xlsx (as dingbook writes it)
// to vcf, csv and jsonl, with flags before and after the arguments.
func TestConvertCommand(t *testing.T) {
	env, out, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 60, Seed: 5})
	plainFiles(t, env.Dir, "export-20261126T100000Z", &truth.Org, "xlsx")
	in := "export-20261126T100000Z.xlsx"
	for _, args := range [][]string{
		withGov("convert", in, "contacts.vcf", "--profile", "full"),
		withGov("convert", "--encoding", "gb18030", in, "members.csv", "--profile", "full"),
		withGov("convert", in, "people.jsonl", "--json", "--fields", "name,mobile,dept"),
	} {
		out.Reset()
		errb.Reset()
		if code := Main(context.Background(), args, env); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb)
		}
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Rows != len(truth.Org.People) || sum.Bundle != filepath.Join(env.Dir, "people.zip") {
		t.Fatalf("convert --json: %v %+v\n%s", err, sum, out)
	}
	got := map[string]string{}
	for _, name := range []string{"contacts", "members", "people"} {
		files, _ := unbundle(t, filepath.Join(env.Dir, name+".zip"))
		for k, v := range files {
			got[k] = v
		}
	}
	vcf, _ := os.ReadFile(got["vcf"])
	if n := strings.Count(string(vcf), "BEGIN:VCARD"); n != len(truth.Org.People) {
		t.Fatalf("%d cards, want %d", n, len(truth.Org.People))
	}
	// python reads the gb18030 CSV
	script := `import csv, sys
with open(sys.argv[1], encoding='gb18030', newline='') as f:
    rows = list(csv.reader(f))
print(len(rows) - 1, rows[0][0])`
	pyOut, err := exec.Command("/usr/bin/python3", "-c", script, got["csv"]).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v %s", err, pyOut)
	}
	if got, want := strings.TrimSpace(string(pyOut)), fmt.Sprintf("%d 姓名", len(truth.Org.People)); got != want {
		t.Fatalf("python read %q", got)
	}
	jl, _ := os.ReadFile(got["jsonl"])
	first := strings.SplitN(string(jl), "\n", 2)[0]
	var m map[string]any
	if err := json.Unmarshal([]byte(first), &m); err != nil || len(m) != 4 {
		t.Fatalf("restricted jsonl line %s (%v)", first, err)
	}
	// export --from reads the same file and filters it like a snapshot
	out.Reset()
	if code := Main(context.Background(), withGov("export", "--from", in, "--format", "jsonl", "--out", "from", "--json"), env); code != 0 {
		t.Fatalf("export --from: exit %d: %s", code, errb)
	}
	active := 0
	for _, p := range truth.Org.People {
		if p.Active {
			active++
		}
	}
	sum = ExportSummary{}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Rows != active || sum.LeftOut.Inactive != len(truth.Org.People)-active {
		t.Fatalf("export --from: %v %+v (want %d active)", err, sum, active)
	}
	if sum.Quality != nil {
		t.Errorf("a jsonl export reports quality totals: %+v", sum.Quality)
	}
	// An xlsx carries the quality report; its totals (over the exported
	// people: the inactive are left out) come back in --json and on stderr.
	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), withGov("export", "--from", in, "--format", "xlsx", "--out", "fromx", "--json"), env); code != 0 {
		t.Fatalf("export --from xlsx: exit %d: %s", code, errb)
	}
	sum = ExportSummary{}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Quality == nil {
		t.Fatalf("export --from xlsx: %v %s", err, out.String())
	}
	if q := sum.Quality; q.People != active || active == len(truth.Org.People) || q.PeopleWithProblems == 0 || q.Problems[dingbook.ProblemInactive] != 0 {
		t.Errorf("quality totals %+v, want the %d active people exported, none inactive", q, active)
	}
	if !strings.Contains(errb.String(), fmt.Sprintf("dingbook: quality: %d people, %d with problems", sum.Quality.People, sum.Quality.PeopleWithProblems)) {
		t.Errorf("stderr lacks the quality line:\n%s", errb)
	}
	errb.Reset()
	if code := Main(context.Background(), withGov("convert", in, "contacts.vcf"), env); code == 0 || !strings.Contains(errb.String(), "exists") {
		t.Fatalf("overwrote without --overwrite: exit %d %s", code, errb)
	}
	errb.Reset()
	if code := Main(context.Background(), withGov("convert", in, "x.pdf"), env); code != ExitUsage {
		t.Fatalf("unknown extension: exit %d %s", code, errb)
	}
}

// TestExportCommandPull pulls from the in-process simulator, stores the
// snapshot, and exports it in one run.
func TestExportCommandPull(t *testing.T) {
	env, out, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 80, Depts: 6, Seed: 7})
	srv := httptest.NewServer(sim.New(sim.Config{Truth: truth}))
	defer srv.Close()
	app := sim.DefaultApp()
	home := env.Getenv("DINGBOOK_HOME")
	env.Getenv = func(k string) string {
		switch k {
		case "DINGBOOK_HOME":
			return home
		case "DINGTALK_API_BASE":
			return srv.URL
		case "DINGTALK_APP_KEY":
			return app.Key
		case "DINGTALK_APP_SECRET":
			return app.Secret
		case "DINGBOOK_PASSPHRASE":
			return testPassphrase
		}
		return ""
	}
	code := Main(context.Background(), withGov("export", "--pull", "--format", "jsonl", "--include-inactive", "--json"), env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.SnapshotID == 0 || sum.Rows != len(truth.Org.People) {
		t.Fatalf("summary %+v, want %d people from a stored snapshot", sum, len(truth.Org.People))
	}
	if strings.Contains(errb.String(), app.Secret) || strings.Contains(out.String(), app.Secret) {
		t.Fatal("the app secret reached the output")
	}
	// the stored snapshot exports the same people again
	out.Reset()
	if code := Main(context.Background(), withGov("export", "--snapshot", fmt.Sprint(sum.SnapshotID), "--format", "csv", "--include-inactive", "--json", "--out", "again"), env); code != 0 {
		t.Fatalf("second export: exit %d: %s", code, errb)
	}
	var again ExportSummary
	json.Unmarshal(out.Bytes(), &again)
	if again.Rows != sum.Rows {
		t.Fatalf("snapshot export %d rows, pull export %d", again.Rows, sum.Rows)
	}
}

// TestExportSplitVCF: --split N seals the cards in files of at most N.
func TestExportSplitVCF(t *testing.T) {
	env, out, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 90, Seed: 8})
	saveSnapshot(t, env, truth.Org)
	code := Main(context.Background(), withGov("export", "--format", "vcf", "--split", "25", "--include-inactive", "--json", "--out", "o"), env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	_, dir := unbundle(t, sum.Bundle)
	parts, _ := filepath.Glob(filepath.Join(dir, "*.vcf"))
	if len(parts) != 4 || len(sum.Files) != 4 {
		t.Fatalf("%d parts (%d in the manifest), want 4", len(parts), len(sum.Files))
	}
	total := 0
	for _, p := range parts {
		b, _ := os.ReadFile(p)
		n := strings.Count(string(b), "BEGIN:VCARD")
		if n > 25 || n == 0 {
			t.Errorf("%s: %d cards", p, n)
		}
		total += n
	}
	if total != 90 {
		t.Errorf("%d cards in all, want 90", total)
	}
}

// export --external writes the snapshot's external contacts as vCards
// only with --basis consent and --consent-ref; without them it is refused
// with the flag named.
func TestExportExternal(t *testing.T) {
	env, out, errb := exportEnv(t)
	truth := gen.Generate(gen.Options{Users: 120, Seed: 4})
	saveSnapshot(t, env, truth.Org)
	if code := Main(context.Background(), withGov("export", "--format", "csv", "--out", "out", "--profile", "contact", "--external"), env); code == 0 ||
		!strings.Contains(errb.String(), "consent") || !strings.Contains(errb.String(), "--basis") {
		t.Fatalf("without consent: exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := Main(context.Background(), withGov("export", "--format", "csv", "--out", "out", "--profile", "contact", "--external", "--basis", "consent"), env); code == 0 ||
		!strings.Contains(errb.String(), "--consent-ref") {
		t.Fatalf("without a consent reference: exit %d: %s", code, errb)
	}
	errb.Reset()
	code := Main(context.Background(), withGov("export", "--format", "csv", "--out", "out", "--profile", "contact", "--external", "--basis", "consent", "--consent-ref", "C-2026-9", "--json"), env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	files, _ := unbundle(t, sum.Bundle)
	vcf, err := os.ReadFile(files["vcf"])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(vcf), "BEGIN:VCARD"); n != len(truth.Org.External) || !strings.Contains(string(vcf), truth.Org.External[0].CompanyName) {
		t.Fatalf("%d external cards, want %d:\n%.400s", n, len(truth.Org.External), vcf)
	}
}
