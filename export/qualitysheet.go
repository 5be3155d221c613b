package export

// The spreadsheet presentation of the quality report (Options.Quality):
// the status column's header and texts, the highlighting of blank cells
// and the Quality sheet's layout. The report itself is clean's, as data.

import (
	"fmt"
	"strconv"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
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

// qualityLook is what a quality export adds to its workbook besides the
// Quality sheet.
type qualityLook struct {
	// statusHeader heads the status column, appended after the exported
	// fields (column index len(fields)).
	statusHeader string
	// ok and needsFilling are the two status texts: OK (正常), or Needs
	// filling (需补充 / Perlu diisi) when the person has a
	// clean.FillProblems problem.
	ok, needsFilling string
	// rules go into xlsx.Options.Conditional.
	rules []xlsx.Rule
}

// status is the status text of a person with problems s.
func (x qualityLook) status(s clean.Set) string {
	if s&clean.FillProblems != 0 {
		return x.needsFilling
	}
	return x.ok
}

// newQualityLook returns the status column's header and texts and the
// conditional formatting rules of a workbook whose columns are fields
// (field keys as in dingbook.Fields, in column order) followed by the
// status column; lang is the header language (zh, en, id).
//
// Rules mark blank cells of the mobile, mobile_e164 (blank when the mobile
// is missing or invalid), title and job_number columns, of email or
// org_email when only one of them is exported (a blank one of two is not
// a problem by itself), and status cells that read needsFilling.
func newQualityLook(lang string, fields []string) qualityLook {
	x := qualityLook{
		statusHeader: pick(statusHeader, lang),
		ok:           pick(statusOK, lang),
		needsFilling: pick(statusFill, lang),
	}
	col := map[string]int{}
	for i, f := range fields {
		if _, dup := col[f]; !dup {
			col[f] = i
		}
	}
	for _, f := range []string{"mobile", "mobile_e164", "title", "job_number"} {
		if c, ok := col[f]; ok {
			x.rules = append(x.rules, xlsx.Rule{Col: c, Kind: "blank"})
		}
	}
	ce, hasE := col["email"]
	co, hasO := col["org_email"]
	switch {
	case hasE && !hasO:
		x.rules = append(x.rules, xlsx.Rule{Col: ce, Kind: "blank"})
	case hasO && !hasE:
		x.rules = append(x.rules, xlsx.Rule{Col: co, Kind: "blank"})
	}
	x.rules = append(x.rules, xlsx.Rule{Col: len(fields), Kind: "equals", Value: x.needsFilling})
	return x
}

// qualityRows lays the report out as the Quality sheet's header and n
// rows: totals, one row per problem, duplicate groups, and one row per
// department with its completeness rates. The rows are made one at a
// time by row (a big organisation's duplicate groups make a long sheet,
// which is then never held as text).
func qualityRows(r *clean.Report, lang string) (header []string, n int, row func(i int) []string) {
	w := sheetWords[lang]
	if w == nil {
		w = sheetWords["en"]
	}
	labels := ProblemLabels[lang]
	if labels == nil {
		labels = ProblemLabels["en"]
	}
	share := func(n int) string { return clean.Percent(r.Share(n)) }
	groups := 0
	for _, n := range r.GroupCounts {
		groups += n
	}
	head := [][]string{
		{w[9], w[13], strconv.Itoa(r.People), "", "", "", "", "", r.Org},
		{w[9], w[14], strconv.Itoa(r.PeopleWithProblems), share(r.PeopleWithProblems), "", "", "", "", ""},
		{w[9], w[15], strconv.Itoa(groups), "", "", "", "", "", ""},
	}
	for _, p := range dingbook.AllProblems {
		head = append(head, []string{w[10], labels[p], strconv.Itoa(r.Counts[p]), share(r.Counts[p]), "", "", "", "", string(p)})
	}
	row = func(i int) []string {
		if i < len(head) {
			return head[i]
		}
		if i -= len(head); i < len(r.DuplicateGroups) {
			g := &r.DuplicateGroups[i]
			detail := g.MemberList("; ")
			if g.Key != "" { // "" when the export does not carry its field
				detail = g.Key + "; " + detail
			}
			return []string{w[11], labels[g.Problem], strconv.Itoa(g.Len()), "", "", "", "", "", detail}
		}
		d := &r.Departments[i-len(r.DuplicateGroups)]
		return []string{w[12], d.Path, strconv.Itoa(d.Members), "", clean.Percent(d.MobileRate), clean.Percent(d.EmailRate), clean.Percent(d.TitleRate), clean.Percent(d.JobNumberRate), fmt.Sprintf("dept_id %d", d.DeptID)}
	}
	return append([]string(nil), w[:9]...), len(head) + len(r.DuplicateGroups) + len(r.Departments), row
}
