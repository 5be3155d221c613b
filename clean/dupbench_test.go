package clean_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/export"
)

// dupOrg is n people in one department, all named 张伟 (identical) or
// each named differently (distinct). With rows, they have no userid
// (imported rows) and are otherwise identical too.
func dupOrg(n int, identical, rows bool) *dingbook.Org {
	org := &dingbook.Org{Name: "示例", Depts: []dingbook.Department{{ID: 1, Name: "示例"}}}
	org.People = make([]dingbook.Person, n)
	for i := range org.People {
		p := &org.People[i]
		p.Name = "张伟"
		if !identical {
			p.Name = fmt.Sprintf("张伟%d", i)
		}
		if !rows {
			p.UserID = fmt.Sprintf("u%07d", i)
		}
		p.Active = true
		p.Depts = []dingbook.Membership{{DeptID: 1}}
	}
	return org
}

// BenchmarkDuplicateGroups times the quality report of n people sharing
// one name in one department (one duplicate group of n; "identical-rows":
// imported rows without userids, also sharing everything else) against n
// distinct names: Analyze, the text report and a cleaned xlsx+csv export
// (the Quality sheet). Grouping is linear when identical costs about what
// distinct does at both sizes:
//
//	go test -run '^$' -bench DuplicateGroups -benchtime 1x ./clean
func BenchmarkDuplicateGroups(b *testing.B) {
	for _, n := range []int{50_000, 100_000} {
		for _, kind := range []string{"distinct", "identical", "identical-rows"} {
			b.Run(fmt.Sprintf("%s-%d", kind, n), func(b *testing.B) {
				org := dupOrg(n, kind != "distinct", kind == "identical-rows")
				dir := dingbook.OrgDirectory{Org: org}
				for i := 0; i < b.N; i++ {
					r, err := clean.Analyze(context.Background(), dir, clean.Options{})
					if err != nil {
						b.Fatal(err)
					}
					if err := r.WriteText(context.Background(), io.Discard, dir); err != nil {
						b.Fatal(err)
					}
					opts := export.Options{Dir: b.TempDir(), Formats: []string{"xlsx", "csv"}, Profile: "full", Headers: "zh", IncludeInactive: true, BaseName: "bench"}
					opts.XLSX.TmpDir = b.TempDir()
					opts.Quality, opts.QualitySize = true, n
					if _, err := export.Run(context.Background(), dir, opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
