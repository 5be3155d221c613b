package dingbook

import "strings"

// FieldClass says how sensitive a field is; it drives the export policy.
type FieldClass string

const (
	// ClassWork fields describe a person's job: name, department, title,
	// work phone, org email, job number.
	ClassWork FieldClass = "work"
	// ClassPersonal fields reach the person privately: mobile, personal email.
	ClassPersonal FieldClass = "personal"
	// ClassSensitive fields need the strongest justification: hire date,
	// remark, custom (extension) fields.
	ClassSensitive FieldClass = "sensitive"
)

// Field describes one exportable column.
type Field struct {
	// Key is the stable name used in --fields, JSON and the policy file;
	// it is DingTalk's API field name where one exists.
	Key   string
	Class FieldClass
	// Headers per language: "zh" (as the admin console writes them), "en", "id".
	Headers map[string]string
	// Console is true for columns of DingTalk's member template.
	Console bool
}

// Header returns the field's header in lang, falling back to English.
func (f Field) Header(lang string) string {
	if h, ok := f.Headers[lang]; ok {
		return h
	}
	return f.Headers["en"]
}

// ExtensionPrefix prefixes custom fields: "extension.爱好".
const ExtensionPrefix = "extension."

// Fields is the catalogue of exportable fields, in the default column order.
// The console columns come first, in the order of DingTalk's member template.
var Fields = []Field{
	{Key: "name", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "姓名", "en": "Name", "id": "Nama"}},
	{Key: "userid", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "员工UserID", "en": "UserID", "id": "UserID"}},
	{Key: "mobile", Class: ClassPersonal, Console: true, Headers: map[string]string{"zh": "手机", "en": "Mobile", "id": "Ponsel"}},
	{Key: "telephone", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "分机号", "en": "Extension", "id": "Telepon Kantor"}},
	{Key: "job_number", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "工号", "en": "Job Number", "id": "Nomor Pegawai"}},
	{Key: "title", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "职位", "en": "Title", "id": "Jabatan"}},
	{Key: "email", Class: ClassPersonal, Console: true, Headers: map[string]string{"zh": "邮箱", "en": "Email", "id": "Email"}},
	{Key: "org_email", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "企业邮箱", "en": "Org Email", "id": "Email Kantor"}},
	{Key: "dept", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "部门", "en": "Department", "id": "Departemen"}},
	{Key: "work_place", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "办公地点", "en": "Work Place", "id": "Lokasi Kerja"}},
	{Key: "hired_date", Class: ClassSensitive, Console: true, Headers: map[string]string{"zh": "入职时间", "en": "Hire Date", "id": "Tanggal Masuk"}},
	{Key: "remark", Class: ClassSensitive, Console: true, Headers: map[string]string{"zh": "备注", "en": "Remark", "id": "Catatan"}},
	{Key: "manager_userid", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "直属主管", "en": "Manager", "id": "Atasan Langsung"}},
	{Key: "leader_in_dept", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "部门主管", "en": "Department Leader", "id": "Kepala Departemen"}},
	{Key: "state_code", Class: ClassPersonal, Headers: map[string]string{"zh": "国家码", "en": "Country Code", "id": "Kode Negara"}},
	{Key: "mobile_e164", Class: ClassPersonal, Headers: map[string]string{"zh": "手机(E.164)", "en": "Mobile (E.164)", "id": "Ponsel (E.164)"}},
	{Key: "unionid", Class: ClassWork, Headers: map[string]string{"zh": "UnionID", "en": "UnionID", "id": "UnionID"}},
	{Key: "dept_id_list", Class: ClassWork, Headers: map[string]string{"zh": "部门ID", "en": "Department IDs", "id": "ID Departemen"}},
	{Key: "active", Class: ClassWork, Headers: map[string]string{"zh": "已激活", "en": "Active", "id": "Aktif"}},
	{Key: "admin", Class: ClassWork, Headers: map[string]string{"zh": "管理员", "en": "Admin", "id": "Admin"}},
	{Key: "boss", Class: ClassWork, Headers: map[string]string{"zh": "老板", "en": "Boss", "id": "Pimpinan"}},
	{Key: "hide_mobile", Class: ClassWork, Headers: map[string]string{"zh": "隐藏手机号", "en": "Mobile Hidden", "id": "Ponsel Disembunyikan"}},
}

// FieldByKey looks a field up by key. Keys "extension.<name>" are custom
// fields: sensitive, with the name as every header.
func FieldByKey(key string) (Field, bool) {
	for _, f := range Fields {
		if f.Key == key {
			return f, true
		}
	}
	if name, ok := strings.CutPrefix(key, ExtensionPrefix); ok && name != "" {
		return Field{Key: key, Class: ClassSensitive, Headers: map[string]string{"zh": name, "en": name, "id": name}}, true
	}
	return Field{}, false
}

// Profiles are the built-in named field sets; a policy file may redefine them.
var Profiles = map[string][]string{
	"minimal": {"name", "dept", "title", "telephone", "org_email", "job_number"},
	"contact": {"name", "dept", "title", "mobile", "telephone", "email", "org_email", "job_number"},
	"full": {"name", "userid", "mobile", "telephone", "job_number", "title", "email", "org_email", "dept",
		"work_place", "hired_date", "remark", "manager_userid", "leader_in_dept", "state_code", "mobile_e164",
		"unionid", "dept_id_list", "active", "admin", "boss", "hide_mobile"},
}
