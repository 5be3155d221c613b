package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

func qualityEnv(t *testing.T) (*Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	home := t.TempDir()
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			if k == "DINGBOOK_HOME" {
				return home
			}
			return ""
		},
		Now:   func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) },
		Actor: "tester", Dir: t.TempDir(),
	}
	return env, &out, &errb
}

func TestQualityFromFile(t *testing.T) {
	env, out, errb := qualityEnv(t)
	truth := gen.Generate(gen.Options{Users: 300, Seed: 9})
	if err := truth.Save(filepath.Join(env.Dir, "org.json")); err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), []string{"quality", "--from", "org.json", "--json", "--report", "r.json"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var rep struct {
		People  int                      `json:"people"`
		Counts  map[dingbook.Problem]int `json:"counts"`
		Persons []struct {
			UserID   string             `json:"userid"`
			Problems []dingbook.Problem `json:"problems"`
		} `json:"persons"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if rep.People != 300 {
		t.Errorf("people %d", rep.People)
	}
	for p, ids := range truth.Problems {
		if rep.Counts[p] != len(ids) {
			t.Errorf("%s: %d, truth %d", p, rep.Counts[p], len(ids))
		}
	}
	if !strings.Contains(errb.String(), "dingbook: quality: 300 people") {
		t.Errorf("stderr summary: %s", errb)
	}
	fi, err := os.Stat(filepath.Join(env.Dir, "r.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("report file: %v %v", fi, err)
	}
	// The admin's report on stdout quotes anything; the file quotes only
	// what the policy's default profile (minimal) exports, no mobile, no
	// userid, no personal e-mail, no hidden mobile, and says so.
	saved, _ := os.ReadFile(filepath.Join(env.Dir, "r.json"))
	var file struct {
		People       int      `json:"people"`
		QuotedFields []string `json:"quoted_fields"`
		Groups       []struct {
			Problem dingbook.Problem `json:"problem"`
			Key     string           `json:"key"`
			Members []struct {
				UserID string `json:"userid"`
				Name   string `json:"name"`
			} `json:"members"`
		} `json:"duplicate_groups"`
	}
	if err := json.Unmarshal(saved, &file); err != nil {
		t.Fatal(err)
	}
	if file.People != 300 || !slices.Equal(file.QuotedFields, []string{"name"}) || len(file.Groups) == 0 {
		t.Errorf("report file: %d people, quoted fields %v, %d groups", file.People, file.QuotedFields, len(file.Groups))
	}
	for _, g := range file.Groups {
		if (g.Problem == dingbook.ProblemDuplicateName) != (g.Key != "") || g.Members[0].UserID != "" || g.Members[0].Name == "" {
			t.Errorf("report file group %+v", g)
		}
	}
	leaks := 0
	for _, p := range truth.Org.People {
		for _, v := range []string{p.UserID, p.Mobile, p.Email} {
			if v != "" && bytes.Contains(saved, []byte(v)) {
				leaks++
			}
		}
	}
	stdoutHas := 0
	for _, p := range truth.Org.People {
		if p.UserID != "" && bytes.Contains(out.Bytes(), []byte(p.UserID)) {
			stdoutHas++
		}
	}
	if leaks > 0 || stdoutHas == 0 {
		t.Errorf("report file quotes %d userids, mobiles or personal e-mails (stdout quotes %d userids)", leaks, stdoutHas)
	}
	if !strings.Contains(errb.String(), `it quotes values of name only, as the policy's default profile "minimal" allows, and no hidden mobile`) {
		t.Errorf("stderr does not say what the file quotes: %s", errb)
	}
	// The report file is not replaced without --force.
	errb.Reset()
	if code := Main(context.Background(), []string{"quality", "--from", "org.json", "--report", "r.json"}, env); code != ExitUsage || !strings.Contains(errb.String(), "--overwrite") {
		t.Errorf("existing report: exit %d: %s", code, errb)
	}
	// --fail-on trips on a problem that occurs, not on one that does not.
	errb.Reset()
	out.Reset()
	if code := Main(context.Background(), []string{"quality", "--from", "org.json", "--fail-on", "missing-mobile,inactive"}, env); code != ExitError {
		t.Errorf("fail-on: exit %d", code)
	}
	if !strings.Contains(errb.String(), "failing because of missing-mobile (") || !strings.Contains(out.String(), "People with problems:") {
		t.Errorf("fail-on output: %s / %s", errb, out)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"quality", "--from", "org.json", "--fail-on", "missing-moblie"}, env); code != ExitUsage ||
		!strings.Contains(errb.String(), `unknown problem "missing-moblie"`) || !strings.Contains(errb.String(), "hint: valid problems: missing-mobile") {
		t.Errorf("unknown problem: exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"quality", "--from", "org.json", "--region", "XX"}, env); code != ExitUsage || !strings.Contains(errb.String(), "hint:") {
		t.Errorf("bad region: exit %d: %s", code, errb)
	}
}

func TestQualitySnapshotAndDedupe(t *testing.T) {
	env, out, errb := qualityEnv(t)
	ctx := context.Background()
	home := env.Getenv("DINGBOOK_HOME")
	db, err := store.Open(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	// An imported org: no userids; rows 1 and 2 share a job number.
	org := dingbook.Org{Name: "导入", Depts: []dingbook.Department{{ID: 1, Name: "导入"}, {ID: 2, Name: "研发", ParentID: 1}}}
	for i, n := range []string{"张三", "张三", "李四"} {
		org.People = append(org.People, dingbook.Person{Name: n, JobNumber: []string{"A1", "A1", "A2"}[i], Title: "工程师",
			Mobile: []string{"13800138000", "13800138000", "13900139000"}[i], StateCode: "86", Email: "x" + n + "@example.com", Active: true,
			Depts: []dingbook.Membership{{DeptID: int64(1 + i%2)}}})
	}
	org.People[1].Email = org.People[0].Email
	snap := &dingbook.Snapshot{Source: "file:members.xlsx", TakenAt: env.Now(), Org: org}
	if err := db.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if code := Main(ctx, []string{"quality", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var rep struct {
		Source string                   `json:"source"`
		People int                      `json:"people"`
		Counts map[dingbook.Problem]int `json:"counts"`
		Merges []json.RawMessage        `json:"merges"`
	}
	json.Unmarshal(out.Bytes(), &rep)
	if rep.People != 3 || rep.Counts[dingbook.ProblemDuplicateMobile] != 2 || rep.Source != "snapshot:1" {
		t.Fatalf("before dedupe: %+v", rep)
	}
	out.Reset()
	errb.Reset()
	if code := Main(ctx, []string{"quality", "--snapshot", "1", "--dedupe", "default", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	rep.Merges = nil
	json.Unmarshal(out.Bytes(), &rep)
	if rep.People != 2 || rep.Counts[dingbook.ProblemDuplicateMobile] != 0 || len(rep.Merges) != 1 {
		t.Fatalf("after dedupe: %+v", rep)
	}
	if !strings.Contains(errb.String(), "dingbook: dedupe: rows 2 merged into row 1 (张三, rule job-number: A1)") {
		t.Errorf("merge not reported on stderr: %s", errb)
	}
	errb.Reset()
	if code := Main(ctx, []string{"quality", "--dedupe", "email"}, env); code != ExitUsage || !strings.Contains(errb.String(), "job-number") {
		t.Errorf("bad dedupe rule: exit %d: %s", code, errb)
	}
	errb.Reset()
	if code := Main(ctx, []string{"quality", "--snapshot", "9"}, env); code != ExitNotFound {
		t.Errorf("missing snapshot: exit %d: %s", code, errb)
	}
}
