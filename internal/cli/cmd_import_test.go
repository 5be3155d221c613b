package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/store"
)

func importEnv(t *testing.T) (*Env, *bytes.Buffer, *bytes.Buffer, string) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
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
		Actor: "tester",
		Dir:   t.TempDir(),
	}
	return env, &out, &errb, home
}

func TestImportCommand(t *testing.T) {
	env, out, errb, home := importEnv(t)
	body := "\xEF\xBB\xBF填写须知：红色字段为必填\n" +
		"姓名,员工UserID,手机,部门,入职时间,手机号码备注\n" +
		"王小明,u1,13800138000,技术部-前端组,2021-03-01,工作机\n" +
		"Siti Nurhaliza,u2,+62-812-3456-7890,\"技术部,市场部\",2020/1/2,\n" +
		",,,,,\n"
	if err := os.WriteFile(filepath.Join(env.Dir, "staff.csv"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code := Main(context.Background(), []string{"import", "--purpose", "HR system migration", "staff.csv", "--json", "--company", "示例公司", "--map", "手机号码备注=extension.备注2"}, env)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum importSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if sum.People != 2 || sum.Departments != 4 || sum.Source != "file:staff.csv" || sum.HeaderRow != 2 || sum.Encoding != "UTF-8 BOM" ||
		sum.Columns["手机号码备注"] != "extension.备注2" || len(sum.Skipped) != 2 || len(sum.Unknown) != 0 {
		t.Errorf("summary %+v", sum)
	}
	db, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := db.LoadSnapshot(context.Background(), sum.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != "file:staff.csv" || snap.Org.Name != "示例公司" || len(snap.Org.People) != 2 || snap.Receipt != nil {
		t.Fatalf("snapshot %+v", snap)
	}
	var siti *dingbook.Person
	for i := range snap.Org.People {
		if snap.Org.People[i].UserID == "u2" {
			siti = &snap.Org.People[i]
		}
	}
	if siti == nil || siti.StateCode != "62" || siti.Mobile != "81234567890" || len(siti.Depts) != 2 {
		t.Errorf("Siti %+v", siti)
	}
	if snap.Org.People[0].Extension["备注2"] != "工作机" {
		t.Errorf("extension %v", snap.Org.People[0].Extension)
	}
	st, err := os.Stat(filepath.Join(home, store.DBName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("database file %v %v", st, err)
	}

	// Without --json: a summary on stderr, nothing on stdout.
	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), []string{"import", "--purpose", "HR system migration", filepath.Join(env.Dir, "staff.csv")}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "imported 2 people") {
		t.Errorf("stdout %q stderr %q", out, errb)
	}
}

func TestImportErrors(t *testing.T) {
	env, _, errb, _ := importEnv(t)
	os.WriteFile(filepath.Join(env.Dir, "bad.csv"), []byte("姓名,入职时间\n张三,2021-13-45\n"), 0o600)
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"import"}, ExitUsage, []string{"exactly one FILE"}},
		{[]string{"import", "a.csv", "b.csv"}, ExitUsage, []string{"exactly one FILE"}},
		{[]string{"import", "--map", "nohyphen", "bad.csv"}, ExitUsage, []string{"<header>=<field>"}},
		{[]string{"import", "--purpose", "p", "bad.csv"}, ExitUsage, []string{"bad.csv, row 2, column B (入职时间)", "2021-13-45", "hint:"}},
		{[]string{"import", "--purpose", "p", "missing.xlsx"}, ExitUsage, []string{"cannot open", "missing.xlsx"}},
		{[]string{"import", "staff.csv"}, ExitPolicy, []string{"no purpose given", "--purpose"}},
	}
	for _, c := range cases {
		errb.Reset()
		if code := Main(context.Background(), c.args, env); code != c.code {
			t.Errorf("%v: exit %d, want %d: %s", c.args, code, c.code, errb)
		}
		for _, w := range c.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, errb, w)
			}
		}
	}
}

// TestImportDedupe: a file without userids lists one person twice (same
// job number, two departments); --dedupe job-number keeps one person with
// both departments and reports the merge.
func TestImportDedupe(t *testing.T) {
	env, out, errb, home := importEnv(t)
	body := "姓名,工号,手机,部门\n" +
		"王小明,A001,13800138000,技术部\n" +
		"李四,A002,13900139000,技术部\n" +
		"王小明,A001,13800138000,市场部\n"
	os.WriteFile(filepath.Join(env.Dir, "staff.csv"), []byte(body), 0o600)
	if code := Main(context.Background(), []string{"import", "--purpose", "HR migration", "--dedupe", "job-number", "--json", "staff.csv"}, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum importSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.People != 2 {
		t.Fatalf("summary %+v (%v)", sum, err)
	}
	if !strings.Contains(errb.String(), "merged") || !strings.Contains(errb.String(), "A001") {
		t.Errorf("the merge is not reported: %s", errb)
	}
	db, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := db.LoadSnapshot(context.Background(), sum.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.Org.People {
		if p.Name == "王小明" && len(p.Depts) != 2 {
			t.Errorf("王小明 has %d departments, want both", len(p.Depts))
		}
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"import", "--purpose", "x", "--dedupe", "bogus", "staff.csv"}, env); code == 0 {
		t.Errorf("unknown rule accepted: %s", errb)
	}
}
