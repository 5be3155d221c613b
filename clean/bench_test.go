package clean_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// benchUsers is the org size of BenchmarkExportXLSX: DINGBOOK_BENCH_USERS,
// default 1,000,000.
func benchUsers(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("DINGBOOK_BENCH_USERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("DINGBOOK_BENCH_USERS=%q is not a positive number", s)
		}
		n = v
	}
	return n
}

// vmHWM reads the process's peak resident set size in MB.
func vmHWM(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkExportXLSX exports a generated org to XLSX (profile "contact",
// Chinese headers) through the real export pipeline, without ("plain")
// and with ("clean") the cleaner: Analyze, the status column, its
// conditional formats and the Quality sheet. Run each sub-benchmark in its
// own process so that peak-RSS-MB is its own (scripts/bench-clean.sh):
//
//	go test -run '^$' -bench 'ExportXLSX/plain' -benchtime 1x ./clean
//
// Metrics: s/export (wall time), cpu-s/export (user+system CPU time of the
// process during the export), peak-RSS-MB (VmHWM, including the
// generated org held in memory). The "clean" variant is export.Options.Quality,
// the path dingbook export takes; BenchmarkAnalyzeStream times the analysis
// alone.
func BenchmarkExportXLSX(b *testing.B) {
	for _, variant := range []string{"plain", "clean"} {
		b.Run(variant, func(b *testing.B) {
			n := benchUsers(b)
			truth := gen.Generate(gen.Options{Users: n, Seed: 1})
			runtime.GC()
			benchExports(b, dingbook.OrgDirectory{Org: &truth.Org}, n, variant)
		})
	}
}

// benchExports times b.N XLSX exports of d (n people, profile
// benchProfile, Chinese headers) in variant plain, column (a constant
// status column and nothing else) or clean (export.Options.Quality), and
// reports s/export, cpu-s/export and peak-RSS-MB.
func benchExports(b *testing.B, d dingbook.Directory, n int, variant string) {
	ctx := context.Background()
	fields, err := export.ResolveFields(nil, benchProfile(), nil, func() ([]string, error) { return nil, nil })
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total, cpu time.Duration
	for i := 0; i < b.N; i++ {
		cpu0 := cpuTime(b)
		start := time.Now()
		opts := export.Options{Dir: b.TempDir(), Formats: []string{"xlsx"}, Fields: fields, Headers: "zh", IncludeInactive: true, BaseName: "bench"}
		opts.XLSX.TmpDir = b.TempDir()
		opts.Quality, opts.QualitySize = variant == "clean", n
		if variant == "column" {
			opts.Extra = []export.Column{{Header: "状态", Value: func(*dingbook.Person) string { return "正常" }}}
		}
		res, err := export.Run(ctx, d, opts)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += cpuTime(b) - cpu0
		if res.Rows != n {
			b.Fatalf("exported %d rows, want %d", res.Rows, n)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/export")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/export")
	b.ReportMetric(vmHWM(b), "peak-RSS-MB")
}

// cpuTime is the process's user+system CPU time so far: on a shared
// machine it varies less than wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyze measures the cleaner's pass alone per person.
// DINGBOOK_BENCH_USERS sets the size (default 50,000).
func BenchmarkAnalyze(b *testing.B) {
	n := 50_000
	if os.Getenv("DINGBOOK_BENCH_USERS") != "" {
		n = benchUsers(b)
	}
	truth := gen.Generate(gen.Options{Users: n, Seed: 1})
	dir := dingbook.OrgDirectory{Org: &truth.Org}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := clean.Analyze(context.Background(), dir, clean.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/person")
}

// streamDir streams n people made from a generated template org without
// holding them: person i is template person i%T with a unique userid,
// mobile, e-mail and name (the template's missing, hidden and invalid
// values stay as they are), so memory measures the export and the
// cleaner, not the generator's org.
type streamDir struct {
	tmpl *dingbook.Org
	ids  map[string]bool
	n    int
}

func newStreamDir(n int) streamDir {
	t := gen.Generate(gen.Options{Users: 20_000, Seed: 1})
	ids := make(map[string]bool, len(t.Org.People))
	for _, p := range t.Org.People {
		ids[p.UserID] = true
	}
	return streamDir{tmpl: &t.Org, ids: ids, n: n}
}

func (d streamDir) Info() (string, string)             { return d.tmpl.Name, d.tmpl.CorpID }
func (d streamDir) Departments() []dingbook.Department { return d.tmpl.Depts }

// EachUserID lists the userids EachPerson will hand out, as a stored
// snapshot lists them from its index (dingbook.UserIDLister), so that a
// quality export analyses in its own pass.
func (d streamDir) EachUserID(ctx context.Context, fn func(string) error) error {
	T := len(d.tmpl.People)
	for i := 0; i < d.n; i++ {
		id := d.tmpl.People[i%T].UserID
		if k := i / T; k > 0 {
			id += "-" + strconv.Itoa(k)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (d streamDir) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	T := len(d.tmpl.People)
	for i := 0; i < d.n; i++ {
		p := d.tmpl.People[i%T]
		if k := i / T; k > 0 {
			sfx := "-" + strconv.Itoa(k)
			p.UserID += sfx
			if d.ids[p.ManagerUserID] {
				p.ManagerUserID += sfx
			}
			p.Name += strconv.Itoa(k)
			if m := p.Mobile; len(m) >= 10 && p.StateCode != "" {
				p.Mobile = m[:len(m)-8] + fmt.Sprintf("%08d", i)
			}
			if e := p.Email; strings.Contains(e, "@") {
				p.Email = "k" + strconv.Itoa(k) + "." + e
			}
			if e := p.OrgEmail; e != "" {
				p.OrgEmail = "k" + strconv.Itoa(k) + "." + e
			}
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

// resetPeakRSS resets VmHWM (Linux ≥ 4.0) so the peak measures what
// follows, not the set-up.
func resetPeakRSS(b *testing.B) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("cannot reset the peak RSS: %v", err)
	}
}

// BenchmarkExportXLSXStream is BenchmarkExportXLSX over a streamed
// directory (streamDir), so peak-RSS-MB is the export's and the cleaner's
// own. Run each variant in its own process (scripts/bench-clean.sh).
// The variant "column" adds a constant status column and nothing else:
// what the extra column costs the XLSX writer, without any cleaning.
func BenchmarkExportXLSXStream(b *testing.B) {
	for _, variant := range []string{"plain", "clean", "column"} {
		b.Run(variant, func(b *testing.B) {
			n := benchUsers(b)
			dir := newStreamDir(n)
			resetPeakRSS(b)
			benchExports(b, dir, n, variant)
		})
	}
}

// benchProfile is the field profile of the export benchmarks:
// DINGBOOK_BENCH_PROFILE, default "contact" (8 columns).
func benchProfile() string {
	if p := os.Getenv("DINGBOOK_BENCH_PROFILE"); p != "" {
		return p
	}
	return "contact"
}

// BenchmarkAnalyzeStream measures Analyze alone over a streamed directory
// (streamDir, DINGBOOK_BENCH_USERS people, default 200,000): wall time and
// CPU time per person.
func BenchmarkAnalyzeStream(b *testing.B) {
	n := 200_000
	if os.Getenv("DINGBOOK_BENCH_USERS") != "" {
		n = benchUsers(b)
	}
	dir := newStreamDir(n)
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		if _, err := clean.Analyze(ctx, dir, clean.Options{Region: "CN", SizeHint: n}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/person")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/person")
}

// benchSnapshot opens the stored snapshot of the snapshot benchmark: a
// generated org of DINGBOOK_BENCH_USERS people (seed 1) saved in a state
// database under DINGBOOK_BENCH_DB, made on first use and reused by the
// following processes (scripts/bench-clean.sh passes one directory).
func benchSnapshot(b *testing.B, n int) *store.SnapshotDirectory {
	ctx := context.Background()
	dir := os.Getenv("DINGBOOK_BENCH_DB")
	if dir == "" {
		dir = b.TempDir()
	}
	db, err := store.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	id, err := db.LatestSnapshotID(ctx)
	if err != nil && !errors.Is(err, store.ErrNoSnapshot) {
		b.Fatal(err)
	}
	if err == nil {
		d, err := db.Directory(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if d.Len() == n {
			return d
		}
	}
	truth := gen.Generate(gen.Options{Users: n, Seed: 1})
	s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: truth.Org}
	if err := db.SaveSnapshot(ctx, s); err != nil {
		b.Fatal(err)
	}
	d, err := db.Directory(ctx, s.ID)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkExportXLSXSnapshot is the export as 'dingbook export' runs it:
// from a stored snapshot (SQLite, people as JSON), without ("plain") and
// with ("clean") the quality report. Run each variant in its own process
// (scripts/bench-clean.sh).
func BenchmarkExportXLSXSnapshot(b *testing.B) {
	for _, variant := range []string{"plain", "clean"} {
		b.Run(variant, func(b *testing.B) {
			n := benchUsers(b)
			d := benchSnapshot(b, n)
			resetPeakRSS(b)
			benchExports(b, d, n, variant)
		})
	}
}
