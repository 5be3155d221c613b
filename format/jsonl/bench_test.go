package jsonl_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/jsonl"
)

// BenchmarkWritePerson writes one person with every key (the full
// profile) and with the contact profile's keys.
func BenchmarkWritePerson(b *testing.B) {
	tree := dingbook.NewTree([]dingbook.Department{{ID: 1, Name: "示例科技"}, {ID: 2, Name: "研发部", ParentID: 1}})
	p := &dingbook.Person{UserID: "u1", UnionID: "un1", Name: "张三", StateCode: "86", Mobile: "13800138000", Telephone: "8001",
		JobNumber: "J0000001", Title: "工程师", Email: "zhang@example.com", OrgEmail: "z@corp.example", WorkPlace: "杭州",
		HiredDate: 1614556800000, Active: true, Depts: []dingbook.Membership{{DeptID: 2, Order: 3}}, Extension: map[string]string{"爱好": "篮球"}}
	for _, c := range []struct {
		name   string
		fields []string
	}{{"full", nil}, {"contact", dingbook.Profiles["contact"]}} {
		b.Run(c.name, func(b *testing.B) {
			w := jsonl.New(io.Discard, jsonl.Options{Fields: c.fields})
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := w.WritePerson(p, tree); err != nil {
					b.Fatal(err)
				}
			}
			if w.Rows() != b.N {
				b.Fatal(fmt.Sprint(w.Rows()))
			}
		})
	}
}
