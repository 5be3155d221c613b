// Package testorg holds small organisations with known data problems for
// the tests of the cleaner and of the export's quality report.
package testorg

import "github.com/dingbook/dingbook"

// Person returns an active person with a title and a job number in the
// departments depts.
func Person(id, name string, depts ...int64) dingbook.Person {
	p := dingbook.Person{UserID: id, Name: name, StateCode: "86", Title: "工程师", JobNumber: "J" + id, Active: true}
	for _, d := range depts {
		p.Depts = append(p.Depts, dingbook.Membership{DeptID: d})
	}
	return p
}

// Small returns five people with known problems: a and b are duplicates
// (name in department 2, mobile, e-mail); a's manager z comes later; c
// has a blank title and a manager who does not exist; d hides their
// mobile, has an invalid e-mail and is inactive; z has an invalid phone
// and no job number.
func Small() *dingbook.Org {
	org := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{
		{ID: 1, Name: "测试"}, {ID: 2, Name: "研发部", ParentID: 1}, {ID: 3, Name: "销售部", ParentID: 1},
	}}
	a := Person("a", "张三", 2, 3)                                                 // in two departments: one person
	a.Mobile, a.Email, a.ManagerUserID = "13800138000", "zhang@example.com", "z" // manager comes later
	b := Person("b", " 张三\u3000", 2)                                             // same name in dept 2 as a
	b.Mobile, b.Email = "+86 138-0013-8000", "Zhang@EXAMPLE.com"                 // same mobile and email as a
	c := Person("c", "李四", 3)
	c.Mobile, c.OrgEmail, c.ManagerUserID = "13900139000", "li@corp.example.com", "gone"
	c.Title = " "
	d := Person("d", "王五", 3)
	d.HideMobile = true
	d.Email = "wang@@example"
	d.Active = false
	z := Person("z", "赵六", 2)
	z.Mobile, z.Email = "1390013", "zhao@example.com" // invalid phone
	z.JobNumber = ""
	org.People = []dingbook.Person{a, b, c, d, z}
	return org
}
