package export_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/xuri/excelize/v2"
)

// TestQualityXLSXOnly: Options.Quality puts the status column right after
// the fields of the xlsx, with its highlighting and the Quality sheet, and
// leaves the CSV (which the console may re-import) as it was.
func TestQualityXLSXOnly(t *testing.T) {
	dir := t.TempDir()
	org := testOrg()
	fields := []string{"name", "mobile", "title"}
	res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{
		Dir: dir, Formats: []string{"xlsx", "csv"}, Fields: fields, IncludeInactive: true, Quality: true,
		Extra: []export.Column{{Header: "extra", Value: func(*dingbook.Person) string { return "x" }}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		switch f.Format {
		case "csv":
			b, _ := os.ReadFile(f.Path)
			header := strings.SplitN(strings.TrimPrefix(string(b), "\ufeff"), "\r\n", 2)[0]
			if header != `"姓名","手机","职位","extra"` {
				t.Errorf("csv header %s", header)
			}
		case "xlsx":
			x, err := excelize.OpenFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			sheets := x.GetSheetList()
			if !slices.Contains(sheets, "Quality") {
				t.Errorf("sheets %v lack Quality", sheets)
			}
			rows, _ := x.GetRows(sheets[0])
			if got := rows[0]; len(got) != 5 || got[3] != "状态" || got[4] != "extra" {
				t.Errorf("xlsx header %q", got)
			}
			for _, r := range rows[1:] {
				if r[3] != "正常" && r[3] != "需补充" || r[4] != "x" {
					t.Errorf("xlsx row %q", r)
				}
			}
			cf, _ := x.GetConditionalFormats(sheets[0])
			if len(cf) == 0 {
				t.Error("no conditional formatting")
			}
		}
	}
}

// TestHideHiddenMobiles: a mobile its owner hid is left out of every format
// and counted; without the option it is written.
func TestHideHiddenMobiles(t *testing.T) {
	org := &dingbook.Org{Name: "示例公司", Depts: []dingbook.Department{{ID: 1, Name: "示例公司"}},
		People: []dingbook.Person{
			{UserID: "u1", Name: "王小明", Mobile: "13800138000", StateCode: "86", HideMobile: true, Active: true, Depts: []dingbook.Membership{{DeptID: 1}}},
			{UserID: "u2", Name: "李四", Mobile: "13900139000", StateCode: "86", Active: true, Depts: []dingbook.Membership{{DeptID: 1}}},
		}}
	for _, hide := range []bool{true, false} {
		dir := t.TempDir()
		res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{
			Dir: dir, Formats: []string{"csv", "jsonl"}, Fields: []string{"name", "mobile"}, HideHiddenMobiles: hide})
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]int{true: 1, false: 0}[hide]
		if res.LeftOut.HiddenMobiles != want {
			t.Errorf("hide=%v: %d hidden mobiles left out, want %d", hide, res.LeftOut.HiddenMobiles, want)
		}
		for _, f := range res.Files {
			b, _ := os.ReadFile(f.Path)
			if strings.Contains(string(b), "13800138000") == hide || !strings.Contains(string(b), "13900139000") {
				t.Errorf("hide=%v %s:\n%s", hide, f.Format, b)
			}
		}
	}
}
