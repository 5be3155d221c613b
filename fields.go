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

// FieldKind says how a field's value is held on a Person, and so which
// accessor of its Field reads and writes it.
type FieldKind uint8

const (
	// KindText is a string of the Person: Field.Text points at it.
	KindText FieldKind = iota + 1
	// KindFlag is a bool of the Person: Field.Flag points at it.
	KindFlag
	// KindDate is Person.HiredDate (Unix milliseconds, 0 when unknown).
	KindDate
	// KindDepts is derived from Person.Depts: the department paths
	// (dept), their ids (dept_id_list) or the leadership per department
	// (leader_in_dept).
	KindDepts
	// KindE164 is derived from Person.Mobile and Person.StateCode: the
	// mobile in E.164 form (mobile_e164; package normalize computes it).
	KindE164
	// KindExtension is one custom field: Person.Extension[name] for the
	// key "extension.<name>".
	KindExtension
)

// Field describes one exportable column, and how its value is read from
// and written to a Person: the one accessor table every writer, reader,
// the generator and the simulator use instead of mapping keys to Person
// fields by hand.
type Field struct {
	// Key is the stable name used in --fields, JSON and the policy file;
	// it is DingTalk's API field name where one exists (and Person's JSON
	// key for text and flag fields).
	Key   string
	Class FieldClass
	// Headers per language: "zh" (as the admin console writes them), "en", "id".
	Headers map[string]string
	// Console is true for columns of DingTalk's member template.
	Console bool
	// Kind says which accessor serves the field.
	Kind FieldKind
	// Text returns a pointer to the field's string in p (KindText; nil
	// for other kinds): *f.Text(p) reads it, *f.Text(p) = v writes it.
	Text func(p *Person) *string
	// Flag returns a pointer to the field's bool in p (KindFlag; nil for
	// other kinds).
	Flag func(p *Person) *bool
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
	{Key: "name", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "姓名", "en": "Name", "id": "Nama"}, Kind: KindText, Text: func(p *Person) *string { return &p.Name }},
	{Key: "userid", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "员工UserID", "en": "UserID", "id": "UserID"}, Kind: KindText, Text: func(p *Person) *string { return &p.UserID }},
	{Key: "mobile", Class: ClassPersonal, Console: true, Headers: map[string]string{"zh": "手机", "en": "Mobile", "id": "Ponsel"}, Kind: KindText, Text: func(p *Person) *string { return &p.Mobile }},
	{Key: "telephone", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "分机号", "en": "Extension", "id": "Telepon Kantor"}, Kind: KindText, Text: func(p *Person) *string { return &p.Telephone }},
	{Key: "job_number", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "工号", "en": "Job Number", "id": "Nomor Pegawai"}, Kind: KindText, Text: func(p *Person) *string { return &p.JobNumber }},
	{Key: "title", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "职位", "en": "Title", "id": "Jabatan"}, Kind: KindText, Text: func(p *Person) *string { return &p.Title }},
	{Key: "email", Class: ClassPersonal, Console: true, Headers: map[string]string{"zh": "邮箱", "en": "Email", "id": "Email"}, Kind: KindText, Text: func(p *Person) *string { return &p.Email }},
	{Key: "org_email", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "企业邮箱", "en": "Org Email", "id": "Email Kantor"}, Kind: KindText, Text: func(p *Person) *string { return &p.OrgEmail }},
	{Key: "dept", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "部门", "en": "Department", "id": "Departemen"}, Kind: KindDepts},
	{Key: "work_place", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "办公地点", "en": "Work Place", "id": "Lokasi Kerja"}, Kind: KindText, Text: func(p *Person) *string { return &p.WorkPlace }},
	{Key: "hired_date", Class: ClassSensitive, Console: true, Headers: map[string]string{"zh": "入职时间", "en": "Hire Date", "id": "Tanggal Masuk"}, Kind: KindDate},
	{Key: "remark", Class: ClassSensitive, Console: true, Headers: map[string]string{"zh": "备注", "en": "Remark", "id": "Catatan"}, Kind: KindText, Text: func(p *Person) *string { return &p.Remark }},
	{Key: "manager_userid", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "直属主管", "en": "Manager", "id": "Atasan Langsung"}, Kind: KindText, Text: func(p *Person) *string { return &p.ManagerUserID }},
	{Key: "leader_in_dept", Class: ClassWork, Console: true, Headers: map[string]string{"zh": "部门主管", "en": "Department Leader", "id": "Kepala Departemen"}, Kind: KindDepts},
	{Key: "state_code", Class: ClassPersonal, Headers: map[string]string{"zh": "国家码", "en": "Country Code", "id": "Kode Negara"}, Kind: KindText, Text: func(p *Person) *string { return &p.StateCode }},
	{Key: "mobile_e164", Class: ClassPersonal, Headers: map[string]string{"zh": "手机(E.164)", "en": "Mobile (E.164)", "id": "Ponsel (E.164)"}, Kind: KindE164},
	{Key: "unionid", Class: ClassWork, Headers: map[string]string{"zh": "UnionID", "en": "UnionID", "id": "UnionID"}, Kind: KindText, Text: func(p *Person) *string { return &p.UnionID }},
	{Key: "dept_id_list", Class: ClassWork, Headers: map[string]string{"zh": "部门ID", "en": "Department IDs", "id": "ID Departemen"}, Kind: KindDepts},
	{Key: "active", Class: ClassWork, Headers: map[string]string{"zh": "已激活", "en": "Active", "id": "Aktif"}, Kind: KindFlag, Flag: func(p *Person) *bool { return &p.Active }},
	{Key: "admin", Class: ClassWork, Headers: map[string]string{"zh": "管理员", "en": "Admin", "id": "Admin"}, Kind: KindFlag, Flag: func(p *Person) *bool { return &p.Admin }},
	{Key: "boss", Class: ClassWork, Headers: map[string]string{"zh": "老板", "en": "Boss", "id": "Pimpinan"}, Kind: KindFlag, Flag: func(p *Person) *bool { return &p.Boss }},
	{Key: "hide_mobile", Class: ClassWork, Headers: map[string]string{"zh": "隐藏手机号", "en": "Mobile Hidden", "id": "Ponsel Disembunyikan"}, Kind: KindFlag, Flag: func(p *Person) *bool { return &p.HideMobile }},
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
		return Field{Key: key, Class: ClassSensitive, Headers: map[string]string{"zh": name, "en": name, "id": name}, Kind: KindExtension}, true
	}
	return Field{}, false
}

// Attributes are the Person's other keyed values: not exportable columns
// (no class, no headers, never in --fields or a policy), read and written
// the same way as Fields. The JSON Lines export and the generator's org
// files carry them.
var Attributes = []Field{
	{Key: "avatar", Kind: KindText, Text: func(p *Person) *string { return &p.Avatar }},
	{Key: "org_email_type", Kind: KindText, Text: func(p *Person) *string { return &p.OrgEmailType }},
	{Key: "login_id", Kind: KindText, Text: func(p *Person) *string { return &p.LoginID }},
	{Key: "senior", Kind: KindFlag, Flag: func(p *Person) *bool { return &p.Senior }},
	{Key: "real_authed", Kind: KindFlag, Flag: func(p *Person) *bool { return &p.RealAuthed }},
	{Key: "exclusive_account", Kind: KindFlag, Flag: func(p *Person) *bool { return &p.ExclusiveAccount }},
}

// Attribute looks a key up in Fields (FieldByKey, custom fields
// included), then in Attributes.
func Attribute(key string) (Field, bool) {
	if f, ok := attributes[key]; ok {
		return f, true
	}
	return FieldByKey(key)
}

// attributes indexes Fields and Attributes by key.
var attributes = func() map[string]Field {
	m := make(map[string]Field, len(Fields)+len(Attributes))
	for _, fs := range [][]Field{Fields, Attributes} {
		for _, f := range fs {
			m[f.Key] = f
		}
	}
	return m
}()

// TextOf returns the accessor of the text field or attribute key; it
// panics when key is not one (a programming error: keys are constants).
func TextOf(key string) func(*Person) *string {
	if f, ok := Attribute(key); ok && f.Text != nil {
		return f.Text
	}
	panic("dingbook: " + key + " is not a text field")
}

// FlagOf returns the accessor of the flag field or attribute key; it
// panics when key is not one.
func FlagOf(key string) func(*Person) *bool {
	if f, ok := Attribute(key); ok && f.Flag != nil {
		return f.Flag
	}
	panic("dingbook: " + key + " is not a flag field")
}

// Profiles are the built-in named field sets; a policy file may redefine them.
var Profiles = map[string][]string{
	"minimal": {"name", "dept", "title", "telephone", "org_email", "job_number"},
	"contact": {"name", "dept", "title", "mobile", "telephone", "email", "org_email", "job_number"},
	"full": {"name", "userid", "mobile", "telephone", "job_number", "title", "email", "org_email", "dept",
		"work_place", "hired_date", "remark", "manager_userid", "leader_in_dept", "state_code", "mobile_e164",
		"unionid", "dept_id_list", "active", "admin", "boss", "hide_mobile"},
}
