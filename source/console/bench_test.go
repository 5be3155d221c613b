package console

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"
)

// BenchmarkReadXLSX reads a 20,000-row console-style workbook.
func BenchmarkReadXLSX(b *testing.B) {
	const n = 20000
	path := filepath.Join(b.TempDir(), "big.xlsx")
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	sw.SetRow("A1", []any{"填写须知：红色字段为必填"})
	sw.SetRow("A2", []any{"姓名", "员工UserID", "手机", "部门", "入职时间", "职位", "邮箱", "爱好"})
	for i := 0; i < n; i++ {
		cell, _ := excelize.CoordinatesToCellName(1, i+3)
		sw.SetRow(cell, []any{fmt.Sprintf("员工%05d", i), fmt.Sprintf("u%05d", i), 13800000000 + i,
			fmt.Sprintf("部门%d-小组%d,总部", i%50, i%7), 44256 + i%1000, "工程师", fmt.Sprintf("u%d@example.com", i), "旅游"})
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		org, _, err := ReadFile(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(org.People) != n {
			b.Fatalf("%d people", len(org.People))
		}
	}
}
