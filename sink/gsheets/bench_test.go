package gsheets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dingbook/dingbook/sink/gsheets"
)

// benchView is a minimal-profile directory of n people (name, department
// path, title, telephone, work e-mail, job number).
func benchView(n int) gsheets.View {
	v := gsheets.View{Header: []string{"姓名", "部门", "职位", "分机号", "企业邮箱", "工号"}}
	for i := range n {
		v.Rows = append(v.Rows, gsheets.Row{Key: fmt.Sprintf("%024x", i*7919), Cells: []string{
			fmt.Sprintf("员工%d", i), fmt.Sprintf("研发中心/平台部/组%d", i%300), "高级工程师",
			fmt.Sprintf("0571-%08d", i), fmt.Sprintf("user%d@contoh.co.id", i), fmt.Sprintf("%06d", i)}})
	}
	return v
}

func reportPush(b *testing.B, res *gsheets.Result) {
	b.ReportMetric(float64(res.Requests), "requests/op")
	b.ReportMetric(float64(res.BytesSent), "bytes-sent/op")
	b.ReportMetric(float64(res.BytesRead), "bytes-read/op")
	b.ReportMetric(float64(res.Writes), "writes/op")
	b.ReportMetric(float64(res.Reads), "reads/op")
}

// BenchmarkPush100k measures a first push of 100,000 rows into a new
// sheet and a push of 10 changed rows into it, counting requests and
// request bytes (bodies and URLs) sent to the simulator.
func BenchmarkPush100k(b *testing.B) {
	v := benchView(100_000)
	b.Run("first", func(b *testing.B) {
		var res *gsheets.Result
		for b.Loop() {
			f := newFixture(b, admin)
			var err error
			if res, err = f.c.Push(context.Background(), gsheets.Target{CreateTitle: "bench"}, v, gsheets.Options{Owner: "o"}); err != nil {
				b.Fatal(err)
			}
		}
		reportPush(b, res)
	})
	b.Run("ten-changes", func(b *testing.B) {
		f := newFixture(b, admin)
		first, err := f.c.Push(context.Background(), gsheets.Target{CreateTitle: "bench"}, v, gsheets.Options{Owner: "o"})
		if err != nil {
			b.Fatal(err)
		}
		var res *gsheets.Result
		n := 0
		for b.Loop() {
			n++
			for k := range 10 {
				v.Rows[k*9973].Cells[2] = fmt.Sprint("title ", n)
			}
			if res, err = f.c.Push(context.Background(), gsheets.Target{SpreadsheetID: first.SpreadsheetID}, v, gsheets.Options{Owner: "o"}); err != nil {
				b.Fatal(err)
			}
			if res.Changed != 10 || res.Writes != 1 {
				b.Fatalf("%+v", res)
			}
		}
		reportPush(b, res)
	})
}
