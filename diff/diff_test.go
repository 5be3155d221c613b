package diff_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/diff"
)

func org(people ...dingbook.Person) *dingbook.Org {
	return &dingbook.Org{Name: "测试公司", Depts: []dingbook.Department{
		{ID: 1, Name: "测试公司"}, {ID: 2, Name: "研发部", ParentID: 1}, {ID: 3, Name: "市场部", ParentID: 1},
	}, People: people}
}

func TestCompare(t *testing.T) {
	base := dingbook.Person{UserID: "u1", Name: "张三", Title: "工程师", Mobile: "13800000001", StateCode: "86", Active: true,
		Extension: map[string]string{"爱好": "跑步"}, Depts: []dingbook.Membership{{DeptID: 2, Leader: true}}}
	same := dingbook.Person{UserID: "u2", Name: "李四", Active: true, Depts: []dingbook.Membership{{DeptID: 3}}}
	leaver := dingbook.Person{UserID: "u3", Name: "王五", Active: true, Depts: []dingbook.Membership{{DeptID: 2}}}
	noID := dingbook.Person{Name: "无ID", Depts: []dingbook.Membership{{DeptID: 2}}}

	changed := base
	changed.Title = "架构师"
	changed.Extension = map[string]string{"爱好": "游泳"}
	changed.Mobile = "13800000009"
	moved := same
	moved.Depts = []dingbook.Membership{{DeptID: 2, Leader: true}}
	joiner := dingbook.Person{UserID: "u4", Name: "赵六", Active: false, Depts: []dingbook.Membership{{DeptID: 3}}}

	a := dingbook.OrgDirectory{Org: org(base, same, leaver, noID)}
	b := dingbook.OrgDirectory{Org: org(changed, moved, joiner, noID)}
	rep, err := diff.Compare(context.Background(), a, b, diff.Options{Quoted: []string{"name", "title", "dept"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `(4 people) → (4 people): 1 joined, 1 left, 1 moved, 1 changed

Joined (1):
  + 赵六 (u4)  市场部

Left (1):
  - 王五 (u3)  研发部

Moved (1):
  ~ 李四 (u2)  市场部 → 研发部

Changed (1):
  * 张三 (u1)  mobile; title "工程师" → "架构师"; extension.爱好
`
	if buf.String() != want {
		t.Fatalf("report:\n%s\nwant:\n%s", buf.String(), want)
	}
	if strings.Join(rep.QuotedFields, ",") != "name,title,dept" {
		t.Fatalf("quoted %v", rep.QuotedFields)
	}
	// the move does not also report the leadership that came with it
	if len(rep.Changes) != 1 || rep.Changes[0].UserID != "u1" {
		t.Fatalf("changes %+v", rep.Changes)
	}

	// nothing changed: an empty report
	rep, err = diff.Compare(context.Background(), a, a, diff.Options{})
	if err != nil || rep.Summary() != "0 joined, 0 left, 0 moved, 0 changed" || rep.Joiners == nil || rep.Changes == nil {
		t.Fatalf("same directory: %v %+v", err, rep)
	}
}
