package gen_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

func TestCheckerCatchesChange(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 300, Depts: 10, Seed: 11})
	clean := ""
	bad := map[string]bool{}
	for _, l := range tr.Problems {
		for _, u := range l {
			bad[u] = true
		}
	}
	for i := range tr.Org.People {
		if !bad[tr.Org.People[i].UserID] {
			clean = tr.Org.People[i].UserID
			tr.Org.People[i].Mobile = tr.Org.People[(i+1)%300].Mobile
			tr.Org.People[i].StateCode = tr.Org.People[(i+1)%300].StateCode
			break
		}
	}
	got := recompute(&tr.Org)
	found := false
	for _, u := range got[dingbook.ProblemDuplicateMobile] {
		found = found || u == clean
	}
	if !found {
		t.Fatal("recompute did not notice a shared mobile")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tr := gen.Generate(gen.Options{Users: 500, Depts: 30, Seed: 5})
	path := filepath.Join(dir, "org.json")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	back, err := gen.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Org, tr.Org) {
		t.Fatal("org changed in a Save/Load round trip")
	}
	if !reflect.DeepEqual(back.Problems, tr.Problems) || !reflect.DeepEqual(back.Restricted, tr.Restricted) {
		t.Fatal("truth changed in a Save/Load round trip")
	}
}

const yamlOrg = `name: 测试公司
departments:
  - {dept_id: 1, name: 测试公司}
  - {dept_id: 100, name: "研发-平台组", parent_id: 1, order: 3}
  - {dept_id: 200, name: "Sales, APAC", parent_id: 100}
people:
  - userid: u1
    name: 欧阳娜娜
    mobile: 13800138000
    state_code: 86
    extension: '{"爱好":"旅游"}'
    dept_id_list: [1, 100]
    dept_order_list: [{dept_id: 100, order: 176294576350761513}]
    leader_in_dept: [{dept_id: 100, leader: true}]
  - userid: u2
    name: Sukarno
    active: false
    restricted: true
    depts: [{dept_id: 200, order: 9007199254740993, leader: false}]
problems:
  inactive: [u2]
`

func TestLoadYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "org.yaml")
	if err := os.WriteFile(path, []byte(yamlOrg), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := gen.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	u1, u2 := tr.Org.People[0], tr.Org.People[1]
	if !u1.Active || u2.Active {
		t.Errorf("active: u1 %v (default true), u2 %v", u1.Active, u2.Active)
	}
	if u1.Mobile != "13800138000" || u1.StateCode != "86" {
		t.Errorf("unquoted YAML numbers: mobile %q state_code %q", u1.Mobile, u1.StateCode)
	}
	if u1.Extension["爱好"] != "旅游" {
		t.Errorf("extension %v", u1.Extension)
	}
	want := []dingbook.Membership{{DeptID: 1}, {DeptID: 100, Order: 176294576350761513, Leader: true}}
	if !reflect.DeepEqual(u1.Depts, want) {
		t.Errorf("u1 depts %+v", u1.Depts)
	}
	if u2.Depts[0].Order != 9007199254740993 {
		t.Errorf("int64 order lost precision: %d", u2.Depts[0].Order)
	}
	if !reflect.DeepEqual(tr.Restricted, []string{"u2"}) || !reflect.DeepEqual(tr.Problems[dingbook.ProblemInactive], []string{"u2"}) {
		t.Errorf("restricted %v problems %v", tr.Restricted, tr.Problems)
	}
	if tr.Org.Depts[0].MemberCount != 2 || tr.Org.Depts[1].MemberCount != 2 || tr.Org.Depts[1].OwningMemberCount != 1 {
		t.Errorf("member counts %+v", tr.Org.Depts)
	}
}

func TestLoadJSONWithoutProblems(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "org.json")
	os.WriteFile(path, []byte(`{"name":"X","departments":[{"dept_id":1,"name":"X"}],"people":[{"userid":"a","name":"A","depts":[{"dept_id":1,"order":176294576350761512,"leader":true}]}]}`), 0o600)
	tr, err := gen.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Problems == nil || len(tr.Problems) != 0 || tr.Org.People[0].Depts[0].Order != 176294576350761512 {
		t.Fatalf("problems %v, order %d", tr.Problems, tr.Org.People[0].Depts[0].Order)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"parent.json":  `{"name":"X","departments":[{"dept_id":1,"name":"X"},{"dept_id":5,"name":"Y","parent_id":77}],"people":[]}`,
		"dupuser.json": `{"name":"X","departments":[{"dept_id":1,"name":"X"}],"people":[{"userid":"a","name":"A"},{"userid":"a","name":"B"}]}`,
		"dept.json":    `{"name":"X","departments":[{"dept_id":1,"name":"X"}],"people":[{"userid":"a","name":"A","depts":[{"dept_id":9}]}]}`,
		"syntax.json":  `{"name":`,
		"syntax.yaml":  "name: [",
		"org.txt":      `{}`,
	}
	for name, body := range cases {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o600)
		_, err := gen.Load(path)
		var de *dingbook.Error
		if !errors.As(err, &de) || de.Code != dingbook.EINVALID || !strings.Contains(de.Message, path) || de.Hint == "" {
			t.Errorf("%s: got %#v", name, err)
		}
	}
	if _, err := gen.Load(filepath.Join(dir, "missing.json")); dingbook.ErrorCode(err) != dingbook.ENOTFOUND {
		t.Errorf("missing file: %v", err)
	}
}
