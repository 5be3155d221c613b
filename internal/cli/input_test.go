package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Help goes to stdout with exit 0, for the program, every command and
// every subcommand; a command without flags prints no empty "Flags:".
func TestHelpOnStdoutExitZero(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	cases := [][]string{{"-h"}, {"--help"}, {"help"}, {"policy", "-h"}, {"policy", "show", "-h"}, {"audit", "-h"}, {"audit", "show", "-h"}, {"audit", "list", "-h"}}
	for _, n := range names {
		cases = append(cases, []string{n, "-h"})
	}
	for _, args := range cases {
		g := newGovEnv(t)
		if code := g.run(args...); code != 0 {
			t.Errorf("dingbook %s: exit %d, want 0 (stderr %s)", strings.Join(args, " "), code, g.stderr)
		}
		if !strings.Contains(g.stdout.String(), "Usage: dingbook") {
			t.Errorf("dingbook %s: no usage on stdout: %q (stderr %q)", strings.Join(args, " "), g.stdout, g.stderr)
		}
		if strings.Contains(g.stdout.String(), "Flags:\n") && strings.HasSuffix(g.stdout.String(), "Flags:\n") {
			t.Errorf("dingbook %s: an empty Flags: list", strings.Join(args, " "))
		}
		if g.stderr.Len() != 0 {
			t.Errorf("dingbook %s: stderr %q", strings.Join(args, " "), g.stderr)
		}
	}
	// A bad flag is one error on stderr, nothing on stdout, exit 2.
	g := newGovEnv(t)
	if code := g.run("snapshots", "--nope"); code != 2 || g.stdout.Len() != 0 || strings.Count(g.stderr.String(), "not defined") != 1 {
		t.Fatalf("bad flag: exit %d, stdout %q, stderr %q", code, g.stdout, g.stderr)
	}
}

// DINGTALK_API_BASE that is not an http(s) URL is bad input: exit 2 at
// once, naming the variable.
func TestBadAPIBaseExit2(t *testing.T) {
	app := sim.DefaultApp()
	for _, base := range []string{"notaurl", "ftp://example.com"} {
		for _, cmd := range []string{"check", "pull"} {
			env, _, errb, _ := pullEnv(t, app, map[string]string{"DINGTALK_API_BASE": base})
			if code := Main(context.Background(), []string{cmd}, env); code != ExitUsage || !strings.Contains(errb.String(), "DINGTALK_API_BASE") {
				t.Errorf("%s with %s: exit %d\n%s", cmd, base, code, errb)
			}
		}
	}
}

// A header-only member file is refused by import (it would become the
// latest snapshot) unless --allow-empty.
func TestImportHeaderOnlyRefused(t *testing.T) {
	env, out, errb, home := importEnv(t)
	os.WriteFile(filepath.Join(env.Dir, "empty.csv"), []byte("姓名,手机,部门\n"), 0o600)
	if code := Main(context.Background(), []string{"import", "--purpose", "HR migration", "empty.csv"}, env); code != ExitUsage ||
		!strings.Contains(errb.String(), "holds no members") || !strings.Contains(errb.String(), "--allow-empty") {
		t.Fatalf("exit %d: %s", code, errb)
	}
	db, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.LatestSnapshotID(context.Background()); dingbook.ErrorCode(err) != dingbook.ENOTFOUND {
		t.Fatalf("a snapshot was stored: %v", err)
	}
	db.Close()
	out.Reset()
	if code := Main(context.Background(), []string{"import", "--purpose", "HR migration", "--allow-empty", "--json", "empty.csv"}, env); code != 0 || !strings.Contains(out.String(), `"people": 0`) {
		t.Fatalf("--allow-empty: exit %d: %s %s", code, errb, out)
	}
}

// The member-file flags are on every command that reads a member file,
// with the same meaning.
func TestMemberFileFlagsEverywhere(t *testing.T) {
	env, out, errb := exportEnv(t)
	gbk, _ := simplifiedchinese.GB18030.NewEncoder().String("说明\n名字,电话,工号,部门\n王小明,13800138000,A1,技术部\n王小明,13800138000,A1,市场部\n李四,13900139000,A2,技术部\n")
	os.WriteFile(filepath.Join(env.Dir, "m.csv"), []byte(gbk), 0o600)
	flags := []string{"--map", "名字=name", "--map", "电话=mobile", "--company", "示例", "--dedupe", "job-number"}
	for _, args := range [][]string{
		append([]string{"quality", "--from", "m.csv", "--encoding", "gbk", "--json"}, flags...),
		append(withGov("import", "m.csv", "--encoding", "gbk", "--json"), flags...),
		append(withGov("export", "--from", "m.csv", "--in-encoding", "gbk", "--out", "o1", "--json"), flags...),
		append(withGov("convert", "m.csv", "o2.jsonl", "--in-encoding", "gbk", "--json"), flags...),
	} {
		out.Reset()
		errb.Reset()
		if code := Main(context.Background(), args, env); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb)
		}
		if !strings.Contains(errb.String(), "merged 1 row group(s)") {
			t.Errorf("%s: no --dedupe: %s", args[0], errb)
		}
		var sum struct {
			People int `json:"people"`
			Rows   int `json:"rows"`
		}
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.People+sum.Rows != 2 {
			t.Errorf("%s: %v %s", args[0], err, out)
		}
	}
	// --sheet of a workbook that lacks it.
	errb.Reset()
	if code := Main(context.Background(), []string{"quality", "--from", "m.csv", "--map", "nohyphen"}, env); code != ExitUsage || !strings.Contains(errb.String(), "<header>=<field>") {
		t.Errorf("bad --map: exit %d: %s", code, errb)
	}
}

// One spelling per meaning: --overwrite (not --force), --config-profile
// (--profile names the field set), --json; the old spellings still work
// with a note.
func TestOneSpellingPerMeaning(t *testing.T) {
	g := newGovEnv(t)
	org := filepath.Join(t.TempDir(), "org.json")
	truth := gen.Generate(gen.Options{Users: 20, Seed: 3})
	if err := truth.Save(org); err != nil {
		t.Fatal(err)
	}
	rep := filepath.Join(t.TempDir(), "r.json")
	if code := g.run("quality", "--from", org, "--report", rep); code != 0 {
		t.Fatalf("exit %d: %s", code, g.stderr)
	}
	if code := g.run("quality", "--from", org, "--report", rep, "--overwrite"); code != 0 {
		t.Fatalf("--overwrite: exit %d: %s", code, g.stderr)
	}
	if code := g.run("quality", "--from", org, "--report", rep, "--force"); code != 0 || !strings.Contains(g.stderr.String(), "--force is deprecated; use --overwrite") {
		t.Fatalf("--force: exit %d: %s", code, g.stderr)
	}
	seedExports(t, g)
	if code := g.run("policy", "check", "--json"); code != 0 || !strings.Contains(g.stdout.String(), `"ok": true`) {
		t.Fatalf("policy check --json: %d %s %s", code, g.stdout, g.stderr)
	}
	// --json on audit report and audit head.
	if code := g.run("audit", "report", "--json"); code != 0 || !json.Valid(g.stdout.Bytes()) {
		t.Fatalf("audit report --json: %d %s %s", code, g.stdout, g.stderr)
	}
	if code := g.run("audit", "head", "--json"); code != 0 || !strings.Contains(g.stdout.String(), `"hash"`) {
		t.Fatalf("audit head --json: %d %s %s", code, g.stdout, g.stderr)
	}
	if code := g.run("audit", "show", "--json", "1"); code != 0 || !json.Valid(g.stdout.Bytes()) {
		t.Fatalf("audit show --json: %d %s %s", code, g.stdout, g.stderr)
	}
	// pull: --config-profile, and --profile with a note.
	app := sim.DefaultApp()
	env, _, errb, home := pullEnv(t, app, map[string]string{"DINGTALK_APP_KEY": "", "DINGTALK_APP_SECRET": "", "ACME_SECRET": app.Secret})
	os.MkdirAll(home, 0o700)
	os.WriteFile(filepath.Join(home, "config.yaml"), []byte("profiles:\n  acme:\n    app_key: "+app.Key+"\n    app_secret_env: ACME_SECRET\n    qps: 500\n"), 0o600)
	if code := Main(context.Background(), []string{"check", "--profile", "acme"}, env); code != 0 || !strings.Contains(errb.String(), "--profile is deprecated; use --config-profile") {
		t.Fatalf("check --profile: exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"check", "--config-profile", "acme"}, env); code != 0 || strings.Contains(errb.String(), "deprecated") {
		t.Fatalf("check --config-profile: exit %d: %s", code, errb)
	}
}

// One row numbering everywhere: the line in the file, in import's notes,
// quality's people and duplicate groups, and --dedupe's merges.
func TestRowNumbersAgree(t *testing.T) {
	env, out, errb := exportEnv(t)
	body := "填写须知\n姓名,手机,工号,管理员\n\n王小明,13800138000,A1,否\n李四,13800138000,A2,maybe\n赵六,,A1,\n"
	os.WriteFile(filepath.Join(env.Dir, "m.csv"), []byte(body), 0o600)
	if code := Main(context.Background(), []string{"quality", "--from", "m.csv", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var rep struct {
		Persons []struct {
			Row  int    `json:"row"`
			Name string `json:"name"`
		} `json:"persons"`
		Groups []struct {
			Members []struct {
				Row int `json:"row"`
			} `json:"members"`
		} `json:"duplicate_groups"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, p := range rep.Persons {
		rows[p.Name] = p.Row
	}
	if rows["王小明"] != 4 || rows["李四"] != 5 || rows["赵六"] != 6 {
		t.Errorf("quality rows %v, want the lines 4, 5, 6", rows)
	}
	var members []int
	for _, g := range rep.Groups {
		for _, m := range g.Members {
			members = append(members, m.Row)
		}
	}
	if len(members) < 2 || members[0] != 4 || members[1] != 5 {
		t.Errorf("duplicate group rows %v, want 4, 5", members)
	}
	errb.Reset()
	if code := Main(context.Background(), withGov("import", "m.csv", "--map", "管理员=admin"), env); code != 0 || !strings.Contains(errb.String(), "m.csv, row 5, column D (管理员)") {
		t.Errorf("import: exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"quality", "--from", "m.csv", "--dedupe", "job-number"}, env); code != 0 || !strings.Contains(errb.String(), "rows 6 merged into row 4") {
		t.Errorf("dedupe: exit %d: %s", code, errb)
	}
}

// snapshot_keep defaults to the retention maximum, policy show states it,
// and purge deletes the snapshots older than it under the default policy.
func TestSnapshotKeepDefault(t *testing.T) {
	env, out, errb := exportEnv(t)
	if code := Main(context.Background(), []string{"policy", "show"}, env); code != 0 || !strings.Contains(out.String(), "snapshot_keep: 90d") {
		t.Fatalf("policy show: exit %d: %s %s", code, out, errb)
	}
	org := gen.Generate(gen.Options{Users: 5, Seed: 1}).Org
	now := env.Now()
	db, err := store.Open(context.Background(), env.Getenv("DINGBOOK_HOME"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, age := range []time.Duration{200 * 24 * time.Hour, 100 * 24 * time.Hour, 10 * 24 * time.Hour} {
		s := &dingbook.Snapshot{Source: "test", TakenAt: now.Add(-age), Org: org}
		if err := db.SaveSnapshot(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	db.Close()
	out.Reset()
	if code := Main(context.Background(), []string{"purge"}, env); code != 0 {
		t.Fatalf("purge: exit %d: %s", code, errb)
	}
	for _, id := range ids[:2] {
		if !strings.Contains(out.String(), fmt.Sprintf("deleted snapshot %d ", id)) {
			t.Errorf("snapshot %d (older than 90d) not purged: %s", id, out)
		}
	}
	out.Reset()
	if code := Main(context.Background(), []string{"snapshots", "--json"}, env); code != 0 || strings.Count(out.String(), `"id"`) != 1 {
		t.Fatalf("left: %s", out)
	}
}

// departments lists the tree with ids, paths and headcounts; a path it
// prints is one that export --dept accepts.
func TestDepartmentsCommand(t *testing.T) {
	env, out, errb := exportEnv(t)
	org := dingbook.Org{Name: "示例", Depts: []dingbook.Department{
		{ID: 1, Name: "示例"}, {ID: 2, Name: "研发部", ParentID: 1}, {ID: 3, Name: "后端组", ParentID: 2}, {ID: 4, Name: "市场部", ParentID: 1},
	}, People: []dingbook.Person{
		{UserID: "a", Name: "甲", Active: true, Depts: []dingbook.Membership{{DeptID: 2}, {DeptID: 3}}},
		{UserID: "b", Name: "乙", Active: true, Depts: []dingbook.Membership{{DeptID: 3}}},
		{UserID: "c", Name: "丙", Active: false, Depts: []dingbook.Membership{{DeptID: 4}}},
	}}
	id := saveSnapshot(t, env, org)
	if code := Main(context.Background(), []string{"departments", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var got DepartmentsOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []DeptInfo{
		{ID: 1, Name: "示例", Path: "示例", Headcount: 0, HeadcountWithSub: 3},
		{ID: 2, Name: "研发部", ParentID: 1, Path: "研发部", Headcount: 1, HeadcountWithSub: 2},
		{ID: 3, Name: "后端组", ParentID: 2, Path: "研发部/后端组", Headcount: 2, HeadcountWithSub: 2},
		{ID: 4, Name: "市场部", ParentID: 1, Path: "市场部", Headcount: 1, HeadcountWithSub: 1},
	}
	if got.SnapshotID != id || fmt.Sprint(got.Departments) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	out.Reset()
	if code := Main(context.Background(), []string{"departments"}, env); code != 0 || !strings.Contains(out.String(), "后端组") {
		t.Fatalf("text: exit %d: %s %s", code, out, errb)
	}
	out.Reset()
	if code := Main(context.Background(), withGov("export", "--dept", got.Departments[2].Path, "--out", "o", "--json"), env); code != 0 || !strings.Contains(out.String(), `"rows": 2`) {
		t.Fatalf("export --dept %s: exit %d: %s %s", got.Departments[2].Path, code, out, errb)
	}
}

// Flags are validated alike in every command, before any work.
func TestValidationAlike(t *testing.T) {
	env, out, errb := exportEnv(t)
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 30, Seed: 2}).Org)
	os.WriteFile(filepath.Join(env.Dir, "m.csv"), []byte("姓名,手机\n王小明,13800138000\n"), 0o600)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{withGov("export", "--region", "XX"), ExitUsage, `--region "XX"`},
		{withGov("convert", "--region", "XX", "m.csv", "o.vcf"), ExitUsage, `--region "XX"`},
		{withGov("import", "--region", "XX", "m.csv"), ExitUsage, `--region "XX"`},
		{[]string{"quality", "--region", "XX"}, ExitUsage, `--region "XX"`},
		{withGov("export", "--format", "vcf", "--split", "-1"), ExitUsage, "--split -1"},
		{withGov("export", "--format", "xlsx", "--split", "10"), ExitUsage, "--split applies to vCard"},
		{withGov("convert", "--split", "-5", "m.csv", "o.vcf"), ExitUsage, "--split -5"},
		{withGov("export", "--pull", "--qps", "-3"), ExitUsage, "--qps -3"},
		{[]string{"pull", "--qps", "-3"}, ExitUsage, "--qps -3"},
		{withGov("export", "--keep", "10m"), ExitUsage, "shorter than the minimum of 1h"},
		{withGov("export", "--encrypt", "zip", "--age-recipient", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"), ExitUsage, "--encrypt zip and --age-recipient conflict"},
		{withGov("export", "--fields", "name,shoe_size"), ExitPolicy, `unknown field "shoe_size"`},
		{withGov("convert", "--fields", "name,shoe_size", "m.csv", "o.vcf"), ExitPolicy, `unknown field "shoe_size"`},
		{withGov("export", "--passphrase-file", "spaces.txt"), ExitUsage, "one character repeated (or only spaces)"},
		{withGov("export", "--passphrase-file", "same.txt"), ExitUsage, "one character repeated"},
	}
	os.WriteFile(filepath.Join(env.Dir, "spaces.txt"), []byte("                \n"), 0o600)
	os.WriteFile(filepath.Join(env.Dir, "same.txt"), []byte("aaaaaaaaaaaaaaaa\n"), 0o600)
	for _, c := range cases {
		errb.Reset()
		args := c.args
		for i, a := range args {
			if strings.HasSuffix(a, ".txt") || a == "m.csv" {
				args[i] = filepath.Join(env.Dir, a)
			}
		}
		if code := Main(context.Background(), args, env); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d (want %d), stderr %s", c.args, code, c.code, errb)
		}
	}
	// --format is case-insensitive, --encrypt too.
	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), withGov("export", "--format", "XLSX,Csv", "--encrypt", "ZIP", "--out", "o", "--json"), env); code != 0 || !strings.Contains(out.String(), `"format": "csv"`) {
		t.Fatalf("--format XLSX,Csv: exit %d: %s %s", code, out, errb)
	}
}

// --out is checked before the work: an unwritable directory fails at
// once, recorded with no rows.
func TestOutCheckedFirst(t *testing.T) {
	env, _, errb := exportEnv(t)
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 30, Seed: 2}).Org)
	blocker := filepath.Join(env.Dir, "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	if code := Main(context.Background(), withGov("export", "--out", filepath.Join(blocker, "sub")), env); code != ExitUsage || !strings.Contains(errb.String(), "output directory") {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if strings.Contains(errb.String(), "sealed") || strings.Contains(errb.String(), "quality:") {
		t.Fatalf("the export ran before the check: %s", errb)
	}
	g := &govEnv{Env: env, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	g.Env.Stdout, g.Env.Stderr = g.stdout, g.stderr
	if code := g.run("audit", "list", "--json", "--action", "export"); code != 0 {
		t.Fatalf("audit: %s %s", g.stdout, g.stderr)
	}
	var recs struct {
		Records []struct {
			Outcome string `json:"outcome"`
			Rows    int    `json:"rows"`
		} `json:"records"`
	}
	if err := json.Unmarshal(g.stdout.Bytes(), &recs); err != nil || len(recs.Records) != 1 || recs.Records[0].Outcome != "failed" || recs.Records[0].Rows != 0 {
		t.Fatalf("audit %+v (%v): %s", recs, err, g.stdout)
	}
}

// When the policy allows --encrypt none, the messages and the notice say
// "unencrypted", never "sealed" or "keep it encrypted".
func TestUnencryptedSaysSo(t *testing.T) {
	env, out, errb := exportEnv(t)
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 10, Seed: 2}).Org)
	pol := filepath.Join(env.Dir, "policy.yaml")
	os.WriteFile(pol, []byte("allow_unencrypted: true\n"), 0o600)
	if code := Main(context.Background(), withGov("export", "--policy", pol, "--encrypt", "none", "--out", "o", "--json"), env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if strings.Contains(errb.String(), "sealed") || !strings.Contains(errb.String(), "unencrypted bundle") {
		t.Errorf("stderr: %s", errb)
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(sum.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != "NOTICE.txt" {
			continue
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(string(b), "Keep it encrypted") || !strings.Contains(string(b), "NOT encrypted") || !strings.Contains(string(b), "未加密") {
			t.Errorf("NOTICE.txt:\n%s", b)
		}
	}
}

// Ctrl-C during a pull says that rerunning resumes, and rerunning does.
func TestPullInterruptSaysResume(t *testing.T) {
	app := sim.DefaultApp()
	env, _, errb, _ := pullEnv(t, app, nil)
	truth := gen.Generate(gen.Options{Users: 300, Depts: 30, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inner := sim.New(sim.Config{Truth: truth, Apps: []sim.App{app}, QPS: 500})
	var mu sync.Mutex
	lists := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "user/list") {
			mu.Lock()
			lists++
			if lists == 5 {
				cancel() // Ctrl-C in the middle of the pull
			}
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	}))
	defer ts.Close()
	getenv := env.Getenv
	env.Getenv = func(k string) string {
		if k == "DINGTALK_API_BASE" {
			return ts.URL
		}
		return getenv(k)
	}
	if code := Main(ctx, []string{"pull"}, env); code != ExitError || !strings.Contains(errb.String(), "pull interrupted") ||
		!strings.Contains(errb.String(), "run 'dingbook pull' again: it resumes where it stopped") {
		t.Fatalf("exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"pull"}, env); code != 0 || !strings.Contains(errb.String(), "resumed an interrupted pull") {
		t.Fatalf("rerun: exit %d: %s", code, errb)
	}
}

// The pull's progress line fits the terminal: it never wraps.
func TestProgressLineFitsTerminal(t *testing.T) {
	app := sim.DefaultApp()
	env, _, errb, _ := pullEnv(t, app, nil)
	env.StderrIsTTY = true
	env.Width = func() int { return 40 }
	if code := Main(context.Background(), []string{"pull"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	lines := 0
	for _, seg := range strings.Split(errb.String(), "\r\x1b[K") {
		line, _, _ := strings.Cut(seg, "\n")
		if !strings.HasPrefix(line, "[") {
			continue
		}
		lines++
		if w := clean.DisplayWidth(line); w >= 40 {
			t.Fatalf("progress line of %d columns on a 40-column terminal: %q", w, line)
		}
	}
	if lines == 0 {
		t.Fatalf("no progress line drawn: %q", errb)
	}
}

// Long lists on one line are summarised.
func TestLongListsSummarised(t *testing.T) {
	env, _, errb := exportEnv(t)
	var h, r strings.Builder
	h.WriteString("姓名,手机")
	r.WriteString("王小明,13800138000")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&h, ",自定义%02d", i)
		fmt.Fprintf(&r, ",v%d", i)
	}
	os.WriteFile(filepath.Join(env.Dir, "wide.csv"), []byte(h.String()+"\n"+r.String()+"\n"), 0o600)
	if code := Main(context.Background(), withGov("import", "wide.csv"), env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(errb.String(), "kept 30 unknown column(s) as custom fields: 自定义00,") || !strings.Contains(errb.String(), "… and 20 more") ||
		strings.Contains(errb.String(), "自定义29") {
		t.Fatalf("not summarised: %s", errb)
	}
}

// Cells over 32,767 characters, which an Excel cell cannot hold, are
// counted in the manifest and warned about, not cut silently.
func TestLongCellsCounted(t *testing.T) {
	env, _, errb := exportEnv(t)
	org := gen.Generate(gen.Options{Users: 10, Seed: 2}).Org
	for i := range org.People {
		org.People[i].Active = true
	}
	org.People[0].Remark = strings.Repeat("备", 40000)
	org.People[1].Remark = strings.Repeat("x", 32767) // exactly fits
	org.People[2].Remark = strings.Repeat("𠀀", 20000) // 40,000 UTF-16 units
	saveSnapshot(t, env, org)
	if code := Main(context.Background(), withGov("export", "--format", "xlsx,csv", "--fields", "name,remark", "--out", "o"), env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(errb.String(), "2 cell(s) longer than 32767 characters") {
		t.Errorf("no warning: %s", errb)
	}
	matches, _ := filepath.Glob(filepath.Join(env.Dir, "o", "*.zip"))
	if len(matches) != 1 {
		t.Fatal(matches)
	}
	_, dir := unbundle(t, matches[0])
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Files []struct {
			Format         string `json:"format"`
			TruncatedCells int    `json:"truncated_cells"`
		} `json:"files"`
	}
	json.Unmarshal(b, &man)
	got := map[string]int{}
	for _, f := range man.Files {
		got[f.Format] = f.TruncatedCells
	}
	if got["xlsx"] != 2 || got["csv"] != 0 {
		t.Fatalf("manifest %s", b)
	}
}

// check summarises a long list of administrators on its one line; --json
// keeps them all.
func TestCheckSummarisesAdmins(t *testing.T) {
	app := sim.DefaultApp()
	truth := gen.Generate(gen.Options{Users: 3200, Depts: 20, Seed: 1})
	ts := httptest.NewServer(sim.New(sim.Config{Truth: truth, Apps: []sim.App{app}, QPS: 500}))
	defer ts.Close()
	env, out, errb, _ := pullEnv(t, app, map[string]string{"DINGTALK_API_BASE": ts.URL})
	if code := Main(context.Background(), []string{"check", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var rep CheckReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Admins) < 8 {
		t.Fatalf("%v: %d admins", err, len(rep.Admins))
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"check"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	want := fmt.Sprintf("%d: ", len(rep.Admins))
	for _, line := range strings.Split(errb.String(), "\n") {
		if strings.Contains(line, "administrators") {
			if !strings.Contains(line, want) || !strings.Contains(line, fmt.Sprintf("… and %d more", len(rep.Admins)-5)) {
				t.Fatalf("line %q", line)
			}
			return
		}
	}
	t.Fatalf("no administrators line: %s", errb)
}

// export -h and convert -h say that the policy picks the profile when none
// is given (its default_profile), not a fixed "minimal".
func TestProfileHelpNamesThePolicy(t *testing.T) {
	for _, cmd := range []string{"export", "convert"} {
		g := newGovEnv(t)
		if code := g.run(cmd, "-h"); code != 0 {
			t.Fatalf("%s -h: exit %d", cmd, code)
		}
		help := g.stdout.String()
		if !strings.Contains(help, "(default: the policy's default_profile)") || strings.Contains(help, "default minimal") {
			t.Errorf("%s -h: %s", cmd, help)
		}
	}
}
