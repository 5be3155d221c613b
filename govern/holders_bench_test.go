package govern_test

// The cost of recording who was in an export (issue 13): target ≤ 5 % of
// a governed 500,000-person export. On a shared machine compare cpu-s/op
// (the process's CPU time) rather than ns/op. Run with
//
//	go test ./govern -run '^$' -bench ExportHolders -benchtime 3x -count 3 -bench.people 500000

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

var benchPeople = flag.Int("bench.people", 100_000, "people in BenchmarkExportHolders")

// benchDir streams n synthetic people.
type benchDir struct{ n int }

func (d benchDir) Info() (string, string) { return "示例科技有限公司", "dingbench" }
func (d benchDir) Departments() []dingbook.Department {
	return []dingbook.Department{{ID: 1, Name: "示例科技有限公司"}, {ID: 2, ParentID: 1, Name: "研发部"}}
}
func (d benchDir) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	for i := range d.n {
		id := strconv.Itoa(i)
		p := dingbook.Person{UserID: "0" + strconv.Itoa(1e17+i*7919), Name: "王小明" + id, StateCode: "86", Mobile: fmt.Sprintf("138%08d", i),
			Title: "工程师", Email: "user" + id + "@example.com", OrgEmail: "u" + id + "@corp.example", JobNumber: id, Active: true,
			Depts: []dingbook.Membership{{DeptID: 2}}}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkExportHolders(b *testing.B) {
	for _, format := range []string{"csv", "xlsx"} {
		for _, record := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/holders=%v", format, record), func(b *testing.B) {
				ctx := context.Background()
				db, err := store.Open(ctx, b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				key, _ := store.HolderKey(db.Dir)
				out := b.TempDir()
				b.ResetTimer()
				cpu := cpuTime()
				defer func() { b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op") }()
				for range b.N {
					req := &govern.Request{Action: "export", Actor: "bench", Purpose: "benchmark", Profile: "contact", Justification: "benchmark",
						Passphrase: "benchmark-passphrase-0123", OutDir: out, Transfer: govern.Transfer{PIA: "PIA-BENCH"}}
					_, err := govern.Run(ctx, db, policy.Default(), req, func(ctx context.Context, dir string, dec *govern.Decision) (*govern.Produced, error) {
						o := export.Options{Dir: dir, Formats: []string{format}, Profile: "contact"}
						o.XLSX.TmpDir = dir
						var rec *store.Recorder
						if record {
							rec = store.NewRecorder(key, *benchPeople)
							defer rec.Close()
							o.Written = rec.Add
						}
						res, err := export.Run(ctx, benchDir{*benchPeople}, o)
						if err != nil {
							return nil, err
						}
						p := &govern.Produced{Rows: res.Rows, Fields: res.Fields}
						if rec != nil {
							rec.Close()
							p.Holders = rec
						}
						for _, f := range res.Files {
							p.Files = append(p.Files, govern.ProducedFile{Path: f.Path, Format: f.Format, Rows: f.Rows})
						}
						return p, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// varies less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
