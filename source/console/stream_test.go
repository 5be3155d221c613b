package console

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/vcard"
)

// streamed reads path with Stream, checking while it streams that every
// department of each person is already in the tree, and writing each
// person's vCard with the tree as it is at that moment.
func streamed(t *testing.T, path string, opts Options) (people []dingbook.Person, depts []dingbook.Department, company string, rep *Report, cards string) {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b strings.Builder
	name, _ := s.Info()
	w := vcard.New(&b, vcard.Options{Company: name})
	err = s.EachPerson(context.Background(), func(p *dingbook.Person) error {
		for _, m := range p.Depts {
			if s.Tree().Dept(m.DeptID) == nil {
				t.Errorf("%s: department %d not in the tree yet", p.Name, m.DeptID)
			}
		}
		people = append(people, *p)
		return w.WritePerson(p, s.Tree())
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	company, _ = s.Info()
	return people, s.Departments(), company, s.Report(), b.String()
}

// wholeCards writes org's cards as export does for an in-memory Org.
func wholeCards(t *testing.T, org *dingbook.Org) string {
	t.Helper()
	var b strings.Builder
	w := vcard.New(&b, vcard.Options{Company: org.Name})
	tree := dingbook.NewTree(org.Depts)
	for i := range org.People {
		if err := w.WritePerson(&org.People[i], tree); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sameAsReadFile checks that streaming path gives ReadFile's people,
// departments, company, report and cards. Managers that only ReadFile
// resolves (names, forward references) are listed in wantLost by person
// name; the streamed warnings may come in another order and add the one
// about managers left empty.
func sameAsReadFile(t *testing.T, path string, opts Options, wantLost ...string) {
	t.Helper()
	org, rep, err := ReadFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if lost := streamSame(t, path, opts, org, rep); !slices.Equal(lost, wantLost) {
		t.Errorf("%s: managers lost %q, want %q", path, lost, wantLost)
	}
}

// streamSame checks that streaming path gives ReadFile's org and rep
// (see sameAsReadFile) and returns the names of the people whose manager
// only ReadFile resolved.
func streamSame(t *testing.T, path string, opts Options, org *dingbook.Org, rep *Report) []string {
	t.Helper()
	people, depts, company, srep, cards := streamed(t, path, opts)
	if len(people) != len(org.People) {
		t.Fatalf("%s: streamed %d people, ReadFile %d", path, len(people), len(org.People))
	}
	var lost []string
	for i := range people {
		want := org.People[i]
		if people[i].ManagerUserID != want.ManagerUserID {
			if people[i].ManagerUserID != "" {
				t.Errorf("%s: %s: streamed manager %q, ReadFile %q", path, want.Name, people[i].ManagerUserID, want.ManagerUserID)
			}
			lost = append(lost, want.Name)
			want.ManagerUserID = ""
		}
		if !reflect.DeepEqual(people[i], want) {
			t.Errorf("%s: person %d:\nstreamed %+v\nReadFile %+v", path, i, people[i], want)
		}
	}
	if !reflect.DeepEqual(depts, org.Depts) {
		t.Errorf("%s: departments differ:\nstreamed %+v\nReadFile %+v", path, depts, org.Depts)
	}
	if company != org.Name {
		t.Errorf("%s: company %q, ReadFile %q", path, company, org.Name)
	}
	if got := wholeCards(t, org); cards != got {
		t.Errorf("%s: cards differ:\nstreamed:\n%s\nReadFile:\n%s", path, cards, got)
	}
	rw := slices.Clone(rep.Warnings)
	// ReadFile's warnings about managers it could not resolve either are
	// counted in the stream's one warning, with the managers it lost.
	rw = slices.DeleteFunc(rw, func(w string) bool { return strings.Contains(w, ": manager ") })
	empty := len(lost) + len(rep.Warnings) - len(rw)
	sw := slices.Clone(srep.Warnings)
	if empty > 0 {
		i := slices.IndexFunc(sw, func(w string) bool {
			return strings.Contains(w, fmt.Sprintf(": %d managers (直属主管) left empty", empty))
		})
		if i < 0 {
			t.Errorf("%s: no warning about %d managers left empty: %q", path, empty, sw)
		} else {
			sw = slices.Delete(sw, i, i+1)
		}
	}
	slices.Sort(sw)
	slices.Sort(rw)
	if !slices.Equal(sw, rw) {
		t.Errorf("%s: warnings differ:\nstreamed %q\nReadFile %q", path, sw, rw)
	}
	srep.Warnings, rep.Warnings = nil, nil
	if !reflect.DeepEqual(srep, rep) {
		t.Errorf("%s: reports differ:\nstreamed %+v\nReadFile %+v", path, srep, rep)
	}
	return lost
}

func TestStreamSameAsReadFile(t *testing.T) {
	dir := t.TempDir()
	// 欧阳娜娜's manager is a name (王小明), John's a name nobody has.
	sameAsReadFile(t, consoleXLSX(t, dir), Options{Company: "示例公司"}, "欧阳娜娜")
	sameAsReadFile(t, consoleXLSX(t, t.TempDir()), Options{}, "欧阳娜娜")
	for i, data := range [][]byte{[]byte(csvBody), utf16le(strings.ReplaceAll(csvBody, ",", "\t"), true)} {
		sameAsReadFile(t, writeFile(t, dir, fmt.Sprintf("enc%d.csv", i), data), Options{})
	}
	body := "姓名,员工UserID,部门,部门主管,直属主管\n" +
		"甲,a,技术部,true,\n" +
		"乙,b,\"技术部,市场部\",市场部,甲\n" +
		"丙,c,技术部,N,b\n" +
		"丁,d,市场部,maybe,e\n" +
		"戊,e,市场部-华东,是,c\n" +
		"戊,a,市场部-华东,是,a\n"
	// 乙 names 甲 by name, 丁's manager e comes later: only ReadFile
	// resolves them. 丙's (b) and 戊's (c, and a itself) are rows above.
	sameAsReadFile(t, writeFile(t, dir, "l.csv", []byte(body)), Options{}, "乙", "丁")
	sameAsReadFile(t, writeFile(t, dir, "en.csv", []byte("Full Name,Cell,Department,Hire Date,Kode Negara,Secret\n"+
		"Budi Santoso,812-3456-7890,Sales-Jakarta,2022.1.5,62,x\n")), Options{Map: map[string]string{"cell": "mobile", "Secret": "-"}})
}

// TestStreamOwnExport: dingbook's own export names the company only in
// the row of a person in the root department (部门ID 1). People before it
// wait for that row, so that their cards carry the company.
func TestStreamOwnExport(t *testing.T) {
	body := "姓名,员工UserID,部门,部门ID,手机,国家码\n" +
		"乙,b,研发部-后端组,3,'+852-91234567,852\n" +
		"丙,c,\"研发部-后端组,市场部\",\"3,5\",,\n" +
		"甲,a,示例公司,1,13800138000,86\n" +
		"丁,d,市场部,5,13900139000,86\n"
	path := writeFile(t, t.TempDir(), "export-2026.csv", []byte(body))
	sameAsReadFile(t, path, Options{})
	_, _, company, _, cards := streamed(t, path, Options{})
	if company != "示例公司" || strings.Count(cards, "ORG:示例公司") != 4 {
		t.Errorf("company %q, cards:\n%s", company, cards)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if name, _ := s.Info(); name != "" {
		t.Errorf("Info before the stream: %q, want \"\" (the company is not known yet)", name)
	}
	// Without a 部门ID column nothing waits and the file name is the company.
	s2, err := Open(writeFile(t, t.TempDir(), "acme.csv", []byte("姓名,部门\n张三,技术部\n")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if name, _ := s2.Info(); name != "acme" {
		t.Errorf("Info: %q", name)
	}
}

// TestStreamManyRows crosses the reading goroutine's batches: row numbers
// in messages, an error far down the file, an early stop by fn, a second
// EachPerson, and the same people as ReadFile.
func TestStreamManyRows(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("姓名,员工UserID,手机,部门,入职时间,爱好\n")
	const n = 1000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "员工%04d,u%d,1380000%04d,部门%d-小组%d,2021-03-%02d,\n", i, i, i, i%7, i%3, 1+i%28)
	}
	good := b.String()
	path := writeFile(t, dir, "many.csv", []byte(good))
	sameAsReadFile(t, path, Options{})

	people, depts, _, rep, _ := streamed(t, path, Options{})
	if len(people) != n || rep.Rows != n || len(depts) != 1+7+7*3 {
		t.Fatalf("%d people, %d rows, %d departments", len(people), rep.Rows, len(depts))
	}
	if root := depts[0]; root.MemberCount != n {
		t.Errorf("root counts %d", root.MemberCount)
	}

	bad := strings.Replace(good, "员工0700,u700,13800000700,部门0-小组1,2021-03-01", "员工0700,u700,13800000700,部门0-小组1,someday", 1)
	badPath := writeFile(t, dir, "bad.csv", []byte(bad))
	s, err := Open(badPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = s.EachPerson(context.Background(), func(*dingbook.Person) error { seen++; return nil })
	s.Close()
	var de *dingbook.Error
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "bad.csv, row 702, column E (入职时间)") || de.Hint == "" || seen != 700 {
		t.Errorf("error %v after %d people", err, seen)
	}
	if _, _, err := ReadFile(badPath, Options{}); err == nil || err.Error() != de.Error() {
		t.Errorf("ReadFile error %v, stream error %v", err, de)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	seen = 0
	err = s.EachPerson(context.Background(), func(*dingbook.Person) error {
		if seen++; seen == 300 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 300 {
		t.Errorf("early stop: %v after %d", err, seen)
	}
	if err := s.EachPerson(context.Background(), func(*dingbook.Person) error { return nil }); err == nil || !strings.Contains(err.Error(), "already read") {
		t.Errorf("second EachPerson: %v", err)
	}
	s.Close()

	ctx, cancel := context.WithCancel(context.Background())
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen = 0
	err = s.EachPerson(ctx, func(*dingbook.Person) error {
		if seen++; seen == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || seen >= n {
		t.Errorf("cancelled: %v after %d", err, seen)
	}
}

// TestStreamFileXLSX streams a workbook written by a real program
// (openpyxl) through StreamFile and checks ExtensionKeys.
func TestStreamFileXLSX(t *testing.T) {
	path := filepath.Join(t.TempDir(), "py.xlsx")
	script := `
import sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.append(["姓名", "手机", "部门", "爱好", "血型", "工号"])
for i in range(600):
    ws.append(["员工%d" % i, 13800000000 + i, "研发部-组%d" % (i % 4), "跑步" if i % 2 else None, None, 1000 + i])
wb.save(sys.argv[1])
`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput(); err != nil {
		t.Fatalf("openpyxl (python3-openpyxl is required): %v\n%s", err, out)
	}
	sameAsReadFile(t, path, Options{Company: "示例"})
	s, err := Open(path, Options{Company: "示例", Map: map[string]string{"工号": "extension.编号"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.ExtensionKeys(); !slices.Equal(got, []string{"爱好", "编号", "血型"}) {
		t.Errorf("ExtensionKeys %q", got)
	}
	// openpyxl writes the sheet's dimension (A1:F601): 600 people below
	// the header.
	if got := s.SizeHint(); got != 600 {
		t.Errorf("SizeHint = %d, want 600", got)
	}
	n := 0
	rep, err := StreamFile(context.Background(), path, Options{Company: "示例"}, func(p *dingbook.Person, tree *dingbook.Tree) error {
		if got := tree.PathString(p.Depts[0].DeptID, "-"); got != fmt.Sprintf("研发部-组%d", n%4) {
			t.Errorf("row %d: path %q", n, got)
		}
		n++
		return nil
	})
	if err != nil || n != 600 || rep.Rows != 600 || rep.Sheet != "Sheet" {
		t.Errorf("StreamFile: %v, %d people, report %+v", err, n, rep)
	}
}

// TestStreamResolveManagers: with the first pass's index (ReadManagers),
// a stream resolves every manager ReadFile resolves (names, rows further
// down) and warns about the rest as ReadFile does.
func TestStreamResolveManagers(t *testing.T) {
	dir := t.TempDir()
	body := "姓名,员工UserID,部门,直属主管\n" +
		"甲,a,技术部,\n" +
		"乙,b,技术部,甲\n" + // a name
		"丁,d,市场部,e\n" + // a userid further down
		"戊,e,市场部,无此人\n" + // nobody
		"己,f,市场部,庚\n" + // a name two people have
		"庚,g,市场部,\n" +
		"庚,h,市场部,a\n"
	for _, path := range []string{writeFile(t, dir, "m.csv", []byte(body)), consoleXLSX(t, dir)} {
		org, rep, err := ReadFile(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadManagers(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.ResolveManagers(m)
		var got []string
		if err := s.EachPerson(context.Background(), func(p *dingbook.Person) error {
			got = append(got, p.ManagerUserID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		var want []string
		for _, p := range org.People {
			want = append(want, p.ManagerUserID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: managers %q, ReadFile %q", path, got, want)
		}
		sw, rw := slices.Sorted(slices.Values(s.Report().Warnings)), slices.Sorted(slices.Values(rep.Warnings))
		if !slices.Equal(sw, rw) {
			t.Errorf("%s: warnings\n%q\nReadFile\n%q", path, sw, rw)
		}
	}
}

// TestRowsInOrderOnWorkers: rows are parsed on several workers, yet the
// warnings, skipped rows, departments (created in order of first
// appearance) and people come in file order, as with one worker.
func TestRowsInOrderOnWorkers(t *testing.T) {
	var b strings.Builder
	b.WriteString("姓名,员工UserID,手机,部门\n")
	const n = 5000
	var wantWarn, wantSkip []string
	var wantDepts []string
	seenDept := map[string]bool{}
	for i := 0; i < n; i++ {
		row := i + 2
		name, userid, mobile := fmt.Sprintf("员工%d", i), fmt.Sprintf("u%d", i), fmt.Sprintf("138%08d", i)
		dept := fmt.Sprintf("部门%d", (i*7919)%1500)
		switch {
		case i%13 == 5:
			name = ""
			wantSkip = append(wantSkip, fmt.Sprintf("row %d: no name", row))
		case i%11 == 3:
			mobile = "1380013800" // ten digits: truncated
			wantWarn = append(wantWarn, fmt.Sprintf("row %d, column C (手机): mobile \"1380013800\" looks truncated", row))
		case i%17 == 9:
			userid = "u0"
			wantWarn = append(wantWarn, fmt.Sprintf("row %d: userid \"u0\" appears more than once", row))
		}
		if name != "" && !seenDept[dept] {
			seenDept[dept] = true
			wantDepts = append(wantDepts, dept)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s\n", name, userid, mobile, dept)
	}
	path := writeFile(t, t.TempDir(), "order.csv", []byte(b.String()))
	strip := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = strings.TrimPrefix(s, path+", ")
		}
		return out
	}
	read := func(procs int) ([]dingbook.Person, []dingbook.Department, *Report) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		people, depts, _, rep, _ := streamed(t, path, Options{})
		return people, depts, rep
	}
	onePeople, oneDepts, oneRep := read(1)
	people, depts, rep := read(4)
	if !slices.Equal(strip(rep.Warnings), wantWarn) {
		t.Errorf("warnings:\n%q\nwant\n%q", strip(rep.Warnings), wantWarn)
	}
	if !slices.Equal(rep.Skipped, wantSkip) {
		t.Errorf("skipped:\n%q\nwant\n%q", rep.Skipped, wantSkip)
	}
	var got []string
	for _, d := range depts[1:] {
		got = append(got, d.Name)
	}
	if !slices.Equal(got, wantDepts) {
		t.Errorf("departments in the order %q, want %q", got, wantDepts)
	}
	if len(people) != n-len(wantSkip) {
		t.Errorf("%d people, want %d", len(people), n-len(wantSkip))
	}
	for i := 1; i < len(people); i++ {
		if people[i].SourceRow <= people[i-1].SourceRow {
			t.Fatalf("person %d (row %d) after row %d", i, people[i].SourceRow, people[i-1].SourceRow)
		}
	}
	if !reflect.DeepEqual(people, onePeople) || !reflect.DeepEqual(depts, oneDepts) || !reflect.DeepEqual(rep, oneRep) {
		t.Error("four workers read the file differently from one")
	}
}
