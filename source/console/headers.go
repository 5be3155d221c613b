package console

import (
	"strings"
	"unicode"

	"github.com/dingbook/dingbook"
	"golang.org/x/text/width"
)

// Field keys the reader fills besides dingbook.Fields' keys.
const (
	keyDept   = "dept"
	keyLeader = "leader_in_dept"
	keyMgr    = "manager_userid"
	keyIgnore = "-"
)

// synonyms maps normalised header text to a field key. It holds
// console-file.md §5.1, every header of dingbook.Fields in zh/en/id (so
// dingbook's own exports read back), and common English and Indonesian
// variants.
var synonyms = map[string]string{}

var extraHeaders = map[string][]string{
	"userid": {"员工UserID", "UserID", "用户ID", "员工ID", "userid", "user id", "Employee ID", "ID Pengguna", "ID Karyawan"},
	"name":   {"姓名", "名字", "员工姓名", "Name", "Full Name", "Nama", "Nama Lengkap", "Nama Karyawan"},
	"mobile": {"手机", "手机号", "手机号码", "移动电话", "Mobile", "Mobile Phone", "Mobile Number", "Cell Phone", "Phone",
		"Ponsel", "Nomor HP", "No HP", "No. HP", "Nomor Ponsel", "Handphone"},
	"telephone": {"分机号", "分机", "座机", "办公电话", "Telephone", "Extension", "Work Phone", "Office Phone",
		"Telepon Kantor", "Telepon", "Ekstensi"},
	"job_number": {"工号", "员工工号", "员工编号", "Job Number", "Employee Number", "Employee No", "Nomor Pegawai", "Nomor Induk Pegawai", "NIP"},
	"title":      {"职位", "职务", "岗位", "Title", "Position", "Job Title", "Jabatan", "Posisi"},
	"email":      {"邮箱", "电子邮箱", "个人邮箱", "Email", "E-mail", "Personal Email", "Surel", "Email Pribadi"},
	"org_email":  {"企业邮箱", "工作邮箱", "Org Email", "Work Email", "Company Email", "Email Kantor", "Email Perusahaan"},
	keyDept:      {"部门", "所属部门", "部门名称", "Department", "Departments", "Dept", "Departemen", "Divisi", "Bagian"},
	"work_place": {"办公地点", "工作地点", "Work Place", "Workplace", "Office", "Office Location", "Lokasi Kerja", "Lokasi Kantor"},
	"hired_date": {"入职时间", "入职日期", "Hire Date", "Hired Date", "Date Hired", "Join Date", "Tanggal Masuk", "Tanggal Bergabung"},
	"remark":     {"备注", "Remark", "Remarks", "Notes", "Note", "Catatan", "Keterangan"},
	keyMgr:       {"直属主管", "主管", "上级", "直属上级", "Manager", "Direct Manager", "Reports To", "Atasan Langsung", "Atasan"},
	keyLeader:    {"部门主管", "是否部门主管", "Department Leader", "Dept Leader", "Is Department Leader", "Kepala Departemen", "Kepala Divisi"},
}

// importable are the keys a column may be mapped to (with --map too).
var importable = map[string]bool{}

// keyAliases lets --map use the names of console-file.md §5.1.
var keyAliases = map[string]string{
	"department": keyDept, "departments": keyDept, "manager": keyMgr, "dept_leader": keyLeader,
	"leader": keyLeader, "ignore": keyIgnore, "skip": keyIgnore,
}

func init() {
	for _, f := range dingbook.Fields {
		importable[f.Key] = true
		for _, h := range f.Headers {
			addSynonym(h, f.Key)
		}
	}
	for key, hs := range extraHeaders {
		importable[key] = true
		for _, h := range hs {
			addSynonym(h, key)
		}
	}
	for _, k := range []string{"userid", "unionid", "state_code", "mobile_e164", "active", "admin", "boss", "hide_mobile", "dept_id_list"} {
		importable[k] = true
	}
}

func addSynonym(h, key string) {
	n := normHeader(h)
	if _, dup := synonyms[n]; !dup {
		synonyms[n] = key
	}
}

// normHeader normalises a header for matching: full-width → half-width,
// whitespace removed, required markers (leading or trailing `*`,
// `（必填）`, `(选填)`) stripped, lower case.
func normHeader(h string) string {
	h = width.Fold.String(h)
	h = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' {
			return -1
		}
		return r
	}, h)
	for {
		before := h
		h = strings.TrimPrefix(h, "'")
		h = strings.Trim(h, "*")
		for _, m := range []string{"(必填)", "(选填)", "(可选)", "(required)", "(optional)", "(wajib)"} {
			if len(h) > len(m) && strings.EqualFold(h[len(h)-len(m):], m) {
				h = h[:len(h)-len(m)]
			}
		}
		if h == before {
			break
		}
	}
	return strings.ToLower(h)
}

// fieldForKey validates a --map target: a known field key (or one of
// keyAliases), "-" to ignore the column, or extension.<name>.
func fieldForKey(key string) (string, bool) {
	k := strings.TrimSpace(key)
	if a, ok := keyAliases[strings.ToLower(k)]; ok {
		return a, true
	}
	if k == keyIgnore {
		return k, true
	}
	if importable[k] {
		return k, true
	}
	if name, ok := strings.CutPrefix(k, dingbook.ExtensionPrefix); ok && strings.TrimSpace(name) != "" {
		return k, true
	}
	return "", false
}

// instructionMarkers are strings of the template's instruction block
// (console-file.md §2).
var instructionMarkers = []string{"填写须知", "通讯录配置", "红色字段为必填", "上下级部门间用", "隔开"}

func isInstruction(cells []string) bool {
	for _, c := range cells {
		for _, m := range instructionMarkers {
			if strings.Contains(c, m) {
				return true
			}
		}
	}
	return false
}
