package clean

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/xlsx"
)

// Status texts per header language (zh, en, id). "OK" reads 正常 in
// Chinese; any other language falls back to English.
var (
	statusHeader = map[string]string{"zh": "状态", "en": "Status", "id": "Status"}
	statusOK     = map[string]string{"zh": "正常", "en": "OK", "id": "OK"}
	statusFill   = map[string]string{"zh": "需补充", "en": "Needs filling", "id": "Perlu diisi"}
)

// QualitySheet is the name of the quality sheet in every language.
const QualitySheet = "Quality"

// ProblemLabels are the problems' names for humans per language.
var ProblemLabels = map[string]map[dingbook.Problem]string{
	"zh": {
		dingbook.ProblemMissingMobile: "缺手机号", dingbook.ProblemHiddenMobile: "手机号隐藏", dingbook.ProblemMissingEmail: "缺邮箱",
		dingbook.ProblemInvalidPhone: "手机号无效", dingbook.ProblemInvalidEmail: "邮箱无效", dingbook.ProblemMissingTitle: "缺职位",
		dingbook.ProblemMissingJobNumber: "缺工号", dingbook.ProblemManagerNotFound: "直属主管不存在", dingbook.ProblemInactive: "未激活",
		dingbook.ProblemDuplicateMobile: "手机号重复", dingbook.ProblemDuplicateEmail: "邮箱重复", dingbook.ProblemDuplicateName: "同部门重名",
	},
	"en": {
		dingbook.ProblemMissingMobile: "Missing mobile", dingbook.ProblemHiddenMobile: "Hidden mobile", dingbook.ProblemMissingEmail: "Missing email",
		dingbook.ProblemInvalidPhone: "Invalid phone", dingbook.ProblemInvalidEmail: "Invalid email", dingbook.ProblemMissingTitle: "Missing title",
		dingbook.ProblemMissingJobNumber: "Missing job number", dingbook.ProblemManagerNotFound: "Manager not found", dingbook.ProblemInactive: "Inactive",
		dingbook.ProblemDuplicateMobile: "Duplicate mobile", dingbook.ProblemDuplicateEmail: "Duplicate email", dingbook.ProblemDuplicateName: "Duplicate name in department",
	},
	"id": {
		dingbook.ProblemMissingMobile: "Ponsel kosong", dingbook.ProblemHiddenMobile: "Ponsel disembunyikan", dingbook.ProblemMissingEmail: "Email kosong",
		dingbook.ProblemInvalidPhone: "Nomor tidak valid", dingbook.ProblemInvalidEmail: "Email tidak valid", dingbook.ProblemMissingTitle: "Jabatan kosong",
		dingbook.ProblemMissingJobNumber: "Nomor pegawai kosong", dingbook.ProblemManagerNotFound: "Atasan tidak ditemukan", dingbook.ProblemInactive: "Belum aktif",
		dingbook.ProblemDuplicateMobile: "Ponsel ganda", dingbook.ProblemDuplicateEmail: "Email ganda", dingbook.ProblemDuplicateName: "Nama ganda di departemen",
	},
}

var sheetWords = map[string][]string{
	// header, then the section names: total, problem, duplicate, department
	"zh": {"类别", "项目", "人数", "比例", "手机", "邮箱", "职位", "工号", "说明", "合计", "问题", "重复", "部门", "人员", "有问题的人员", "重复组"},
	"en": {"Section", "Item", "Count", "Share", "Mobile", "Email", "Title", "Job number", "Detail", "Total", "Problem", "Duplicate", "Department", "People", "People with problems", "Duplicate groups"},
	"id": {"Bagian", "Butir", "Jumlah", "Persentase", "Ponsel", "Email", "Jabatan", "Nomor pegawai", "Keterangan", "Total", "Masalah", "Ganda", "Departemen", "Orang", "Orang bermasalah", "Grup ganda"},
}

func pick(m map[string]string, lang string) string {
	if s, ok := m[lang]; ok {
		return s
	}
	return m["en"]
}

// XLSX is what a cleaned export adds to its workbook.
type XLSX struct {
	// StatusHeader heads the status column, appended after the exported
	// fields (column index len(fields)).
	StatusHeader string
	// Status returns the status cell of a person: OK (正常) or Needs
	// filling (需补充 / Perlu diisi) when the person has a FillProblems
	// problem. Called in directory order (as the export does), it finds
	// each person by position rather than by a table probe; any order
	// gives the same answers. It is safe for concurrent use.
	Status func(*dingbook.Person) string
	// OK and NeedsFilling are the two status texts.
	OK, NeedsFilling string
	// Rules go into xlsx.Options.Conditional.
	Rules []xlsx.Rule
	// The quality sheet, for (*xlsx.Writer).AddSheet.
	SheetName   string
	SheetHeader []string
	SheetRows   [][]string
}

// XLSXExtras returns the status column, the conditional-formatting rules
// and the quality sheet of r for a workbook whose columns are fields
// (field keys as in dingbook.Fields, in column order) followed by the
// status column. lang is the header language (zh, en, id). It is
// XLSXColumn with Status answered from r, and r's sheet.
func XLSXExtras(r *Report, lang string, fields []string) XLSX {
	x := XLSXColumn(lang, fields)
	var mu sync.Mutex
	next := 0
	x.Status = func(p *dingbook.Person) string {
		mu.Lock()
		s := r.problemsAt(p, &next)
		mu.Unlock()
		if s&FillProblems != 0 {
			return x.NeedsFilling
		}
		return x.OK
	}
	x.SheetHeader, x.SheetRows = r.Sheet(lang)
	return x
}

// XLSXColumn returns what a cleaned workbook needs before any row is
// written: the status column's header and texts and the conditional
// formatting rules (Status and the sheet are left empty; see XLSXExtras
// and Report.Sheet).
//
// Rules mark blank cells of the mobile, mobile_e164 (blank when the mobile
// is missing or invalid), title and job_number columns, of email or
// org_email when only one of them is exported (a blank one of two is not
// a problem by itself), and status cells that read NeedsFilling.
func XLSXColumn(lang string, fields []string) XLSX {
	x := XLSX{
		StatusHeader: pick(statusHeader, lang),
		OK:           pick(statusOK, lang),
		NeedsFilling: pick(statusFill, lang),
		SheetName:    QualitySheet,
	}
	col := map[string]int{}
	for i, f := range fields {
		if _, dup := col[f]; !dup {
			col[f] = i
		}
	}
	for _, f := range []string{"mobile", "mobile_e164", "title", "job_number"} {
		if c, ok := col[f]; ok {
			x.Rules = append(x.Rules, xlsx.Rule{Col: c, Kind: "blank"})
		}
	}
	ce, hasE := col["email"]
	co, hasO := col["org_email"]
	switch {
	case hasE && !hasO:
		x.Rules = append(x.Rules, xlsx.Rule{Col: ce, Kind: "blank"})
	case hasO && !hasE:
		x.Rules = append(x.Rules, xlsx.Rule{Col: co, Kind: "blank"})
	}
	x.Rules = append(x.Rules, xlsx.Rule{Col: len(fields), Kind: "equals", Value: x.NeedsFilling})
	return x
}

// Sheet renders the report as the quality sheet's header and rows:
// totals, one row per problem, duplicate groups, and one row per
// department with its completeness rates.
func (r *Report) Sheet(lang string) (header []string, rows [][]string) {
	w := sheetWords[lang]
	if w == nil {
		w = sheetWords["en"]
	}
	labels := ProblemLabels[lang]
	if labels == nil {
		labels = ProblemLabels["en"]
	}
	share := func(n int) string { return pct(rate(n, max(r.People, 1))) }
	rows = [][]string{
		{w[9], w[13], strconv.Itoa(r.People), "", "", "", "", "", r.Org},
		{w[9], w[14], strconv.Itoa(r.PeopleWithProblems), share(r.PeopleWithProblems), "", "", "", "", ""},
	}
	groups := 0
	for _, n := range r.GroupCounts {
		groups += n
	}
	rows = append(rows, []string{w[9], w[15], strconv.Itoa(groups), "", "", "", "", "", ""})
	for _, p := range dingbook.AllProblems {
		rows = append(rows, []string{w[10], labels[p], strconv.Itoa(r.Counts[p]), share(r.Counts[p]), "", "", "", "", string(p)})
	}
	for _, g := range r.DuplicateGroups {
		detail := g.memberList("; ")
		if g.Key != "" { // "" when the export does not carry its field
			detail = g.Key + "; " + detail
		}
		rows = append(rows, []string{w[11], labels[g.Problem], strconv.Itoa(len(g.Members)), "", "", "", "", "", detail})
	}
	for _, d := range r.Departments {
		rows = append(rows, []string{w[12], d.Path, strconv.Itoa(d.Members), "", pct(d.MobileRate), pct(d.EmailRate), pct(d.TitleRate), pct(d.JobNumberRate), fmt.Sprintf("dept_id %d", d.DeptID)})
	}
	return append([]string(nil), w[:9]...), rows
}
