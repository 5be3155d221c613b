// Package export chooses people (departments, sub-departments, active
// staff) and fields (an ordered field list or a named profile), names the
// columns in Chinese, English or Indonesian, and streams the selection into
// one or more files (xlsx, csv, jsonl, vcf) in a single pass over a
// dingbook.Directory, so a million-person snapshot is never held whole.
//
// Run writes into a caller-given directory, atomically (every file is a
// 0600 temporary file until all formats succeeded, then renamed), and
// returns each file with its row count, size and SHA-256, so the governance
// layer can wrap it into a bundle and an audit record.
//
// Cell text: departments as FormatDeptCell writes them; mobile in the
// console's form (national number for +86, "+<code>-<number>" otherwise);
// hired_date as YYYY-MM-DD in China Standard Time (UTC+8); booleans and the
// per-department leader flags as 是/否, yes/no or ya/tidak after --headers;
// dept_id_list as ids joined by ",".
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/format/csv"
	"github.com/dingbook/dingbook/format/jsonl"
	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/internal/pipeline"
	"github.com/dingbook/dingbook/normalize"
)

// Formats are the output formats, by file extension.
var Formats = []string{"xlsx", "csv", "vcf", "jsonl"}

// DefaultProfile is used when neither fields nor a profile are given: the
// minimal directory (privacy.md R-MIN).
const DefaultProfile = "minimal"

// PersonWriter writes people into a file format that needs the whole
// person (vCard). format/vcard's *vcard.Writer satisfies it.
type PersonWriter interface {
	WritePerson(p *dingbook.Person, tree *dingbook.Tree) error
	Close() error
}

// VCardFunc opens a vCard writer on w for the organisation company/corpID.
// The CLI supplies it (format/vcard); export does not import format/vcard.
type VCardFunc func(w io.Writer, company, corpID string) (PersonWriter, error)

// GrowingDirectory is a Directory whose departments become known only
// while its people are streamed (source/console's Stream reading a member
// file in one pass). Run then uses Tree, which gains each department
// before the first person in it reaches EachPerson's fn, on fn's
// goroutine; Options.Depts are resolved against the departments known when
// Run starts, so callers with department filters read the file whole.
type GrowingDirectory interface {
	dingbook.Directory
	Tree() *dingbook.Tree
}

// Column is an extra column computed per person (e.g. the cleaner's status).
type Column struct {
	Header string
	Value  func(p *dingbook.Person) string
}

// Sheet is an extra XLSX sheet (e.g. the cleaner's "Quality" sheet).
type Sheet struct {
	Name   string
	Header []string
	Rows   [][]string
	// Row, when set, makes the sheet's Len rows one at a time instead
	// of Rows (see xlsx.Writer.AddSheetFunc).
	Len int
	Row func(i int) []string
}

// Options say what to export and where.
type Options struct {
	// Dir is the output directory, created 0700 if missing.
	Dir string
	// Formats lists output formats (Formats); default xlsx.
	Formats []string
	// Paths overrides the file path per format (dingbook convert).
	Paths map[string]string
	// BaseName names the files: <BaseName>.<format>; default
	// "export-<Now as 20060102T150405Z>".
	BaseName string
	// Overwrite allows replacing existing files.
	Overwrite bool

	// Depts selects departments by id, path or name; empty = everyone.
	Depts []string
	// NoSubdepts keeps only direct members of Depts.
	NoSubdepts bool
	// IncludeInactive keeps people who have not activated DingTalk.
	IncludeInactive bool

	// Fields is the ordered list of field keys; if empty, Profile is used.
	Fields []string
	// Profile names a field set in Profiles (default DefaultProfile);
	// "full" also adds every extension key present.
	Profile string
	// Profiles overrides dingbook.Profiles (a policy file may redefine them).
	Profiles map[string][]string
	// AllExtensions adds every extension key present in the data after
	// Fields, as profile "full" does; JSONL then writes every key. It is
	// how an export whose fields govern resolved (govern.Decision) asks
	// for the full profile's custom fields.
	AllExtensions bool
	// Headers is the header language: "zh" (default), "en" or "id".
	Headers string
	// Mask lists fields to mask; only "mobile" (mobile and mobile_e164).
	Mask []string
	// Region is the default phone region for mobile_e164 ("" = CN).
	Region string

	// CSV options (encoding, LF).
	CSV csv.Options
	// XLSX options: conditional rules, KeepFormulaText, TmpDir. SheetName,
	// MaxRows and Name are honoured too.
	XLSX xlsx.Options
	// Extra columns appended after the fields (xlsx and csv only).
	Extra []Column
	// HideHiddenMobiles leaves out the mobile (and its country code) of
	// people who hid it in DingTalk (hide_mobile), as the policy asks
	// unless it allows them; LeftOut.HiddenMobiles counts them.
	HideHiddenMobiles bool
	// Quality adds the cleaner's report to the xlsx (only): a status
	// column right after the fields (OK / needs filling), highlighting of
	// blank or invalid cells, and a Quality sheet. The analysis runs in
	// the export's own pass when the directory is a dingbook.UserIDLister
	// (clean.Live), otherwise in a pass of its own first (clean.Analyze).
	Quality bool
	// QualitySize is the number of people in the directory when known, so
	// the cleaner can size its tables (0 = unknown).
	QualitySize int
	// Sheets are extra xlsx sheets, after the Departments sheet.
	Sheets []Sheet
	// VCard opens vCard writers; required for the vcf format.
	VCard VCardFunc
	// Rows, when set, receives each exported person's userid and cells
	// (the Fields, as in csv, never neutralised against formulas) after
	// selection and hidden mobiles; cells is reused, so copy it. With
	// Rows and no Formats no file is written (dingbook push).
	Rows func(userid string, cells []string) error
	// People, when set, receives the copy of each exported person a vCard
	// writer sees (only what the fields are made of, the mobile masked when
	// asked) with the tree, after selection and hidden mobiles. With
	// People and no Formats no file is written (dingbook push --carddav).
	People func(p *dingbook.Person, tree *dingbook.Tree) error
	// Consent, when set, is asked about each selected active person:
	// those it returns false for (no current consent for a consent-based
	// job) are left out and counted in LeftOut.NoConsent. It may be called
	// more than once per person and from several goroutines (the quality
	// workers too).
	Consent func(*dingbook.Person) bool
	// Written, when set, is called with each person written, in order (the
	// governance layer records who was in the export).
	Written func(*dingbook.Person)

	// Now is the clock for file names; zero means time.Now().
	Now time.Time
	// Progress, when set, is called for each person the pass handles
	// with the people handled and the rows written so far (on the
	// writing goroutine: it must be quick).
	Progress func(people, rows int)
}

// File is one written file.
type File struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// TruncatedCells counts xlsx cells longer than an Excel cell holds
	// (xlsx.MaxCellChars), which were cut short.
	TruncatedCells int `json:"truncated_cells,omitempty"`
	// Sheets describes the sheets of an xlsx, for the manifest.
	Sheets []dingbook.SheetInfo `json:"sheets,omitempty"`
}

// LeftOut counts people a filter left out.
type LeftOut struct {
	// Inactive: selected but not active (use IncludeInactive).
	Inactive int `json:"inactive"`
	// SubDepts: members of sub-departments only (NoSubdepts).
	SubDepts int `json:"sub_departments"`
	// HiddenMobiles: exported people whose mobile was left out because
	// they hid it in DingTalk (HideHiddenMobiles).
	HiddenMobiles int `json:"hidden_mobiles"`
	// NoConsent: selected people without a current consent for a
	// consent-based job (Options.Consent).
	NoConsent int `json:"no_consent,omitempty"`
}

// Result summarises an export.
type Result struct {
	Files   []File   `json:"files"`
	Rows    int      `json:"rows"`
	Fields  []string `json:"fields"`
	Depts   []int64  `json:"dept_ids,omitempty"`
	People  int      `json:"people_in_source"`
	LeftOut LeftOut  `json:"left_out"`
	// Quality is the quality report's totals over the exported people,
	// when the xlsx carries it (Options.Quality).
	Quality *clean.Totals `json:"quality,omitempty"`
}

// withExtensions appends the extension keys extKeys lists to fields,
// each once.
func withExtensions(fields []string, extKeys func() ([]string, error)) ([]string, error) {
	ext, err := extKeys()
	if err != nil {
		return nil, err
	}
	out := slices.Clone(fields)
	for _, k := range ext {
		if k = dingbook.ExtensionPrefix + k; !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// ResolveFields returns the ordered field keys for fields or profile. For
// profile "full", extKeys (called lazily) supplies the extension names
// present in the data. A governed export does not need it: its fields come
// decided (govern.Decision), and its errors are govern's; it serves the
// ungoverned callers (diff's full view, the demo's plain files, tests).
func ResolveFields(fields []string, profile string, profiles map[string][]string, extKeys func() ([]string, error)) ([]string, error) {
	if profiles == nil {
		profiles = dingbook.Profiles
	}
	var keys []string
	switch {
	case len(fields) > 0 && profile != "":
		return nil, dingbook.Errorf(dingbook.EINVALID, "both a list of fields and a profile given").WithHint("choose either the fields or a profile").WithField("fields")
	case len(fields) > 0:
		keys = fields
	default:
		if profile == "" {
			profile = DefaultProfile
		}
		p, ok := profiles[profile]
		if !ok {
			names := make([]string, 0, len(profiles))
			for n := range profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, dingbook.Errorf(dingbook.EINVALID, "unknown profile %q", profile).WithHint("choose a profile: %s", strings.Join(names, ", ")).WithField("profile")
		}
		keys = slices.Clone(p)
		if profile == "full" && extKeys != nil {
			ext, err := extKeys()
			if err != nil {
				return nil, err
			}
			for _, k := range ext {
				keys = append(keys, dingbook.ExtensionPrefix+k)
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if _, ok := dingbook.FieldByKey(k); !ok {
			valid := make([]string, len(dingbook.Fields))
			for i, f := range dingbook.Fields {
				valid[i] = f.Key
			}
			return nil, dingbook.Errorf(dingbook.EINVALID, "unknown field %q", k).
				WithHint("choose fields from: %s, extension.<name>", strings.Join(valid, ", ")).WithField("fields")
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, dingbook.Errorf(dingbook.EINVALID, "no fields selected").WithHint("choose fields (name, dept, …) or a profile (minimal, contact, full)").WithField("fields")
	}
	return out, nil
}

// Headers returns the column headers of fields in lang (zh, en, id).
func Headers(fields []string, lang string) []string {
	out := make([]string, len(fields))
	for i, k := range fields {
		f, _ := dingbook.FieldByKey(k)
		out[i] = f.Header(lang)
	}
	return out
}

var cst = time.FixedZone("CST", 8*3600)

var yesNo = map[string][2]string{"zh": {"是", "否"}, "en": {"yes", "no"}, "id": {"ya", "tidak"}}

// rowMaker computes cell text for a person.
type rowMaker struct {
	cols    []dingbook.Field // the fields, in column order
	tree    *dingbook.Tree
	paths   map[int64]string
	yes, no string
	mask    bool
	region  string
	extra   []Column
}

func (m *rowMaker) path(id int64) string {
	if s, ok := m.paths[id]; ok {
		return s
	}
	s := pathCell(m.tree.Path(id))
	m.paths[id] = s
	return s
}

func (m *rowMaker) boolText(b bool) string {
	if b {
		return m.yes
	}
	return m.no
}

// ConsoleMobile writes a mobile as the console does: the national number
// for +86 (or no state code), "+<code>-<number>" otherwise.
func ConsoleMobile(p *dingbook.Person) string {
	if p.Mobile == "" || p.StateCode == "" || p.StateCode == "86" || strings.HasPrefix(p.Mobile, "+") {
		return p.Mobile
	}
	return "+" + strings.TrimPrefix(p.StateCode, "+") + "-" + p.Mobile
}

func (m *rowMaker) row(p *dingbook.Person, dst []string) []string {
	dst = dst[:0]
	for i := range m.cols {
		f := &m.cols[i]
		var v string
		switch f.Kind {
		case dingbook.KindText:
			if f.Key == "mobile" {
				v = m.maskPhone(ConsoleMobile(p))
			} else {
				v = *f.Text(p)
			}
		case dingbook.KindFlag:
			v = m.boolText(*f.Flag(p))
		case dingbook.KindDate:
			if p.HiredDate != 0 {
				v = time.UnixMilli(p.HiredDate).In(cst).Format("2006-01-02")
			}
		case dingbook.KindE164:
			v, _ = normalize.E164(p.Mobile, p.StateCode, m.region)
			v = m.maskPhone(v)
		case dingbook.KindDepts:
			v = m.depts(f.Key, p)
		case dingbook.KindExtension:
			v = p.Extension[f.Key[len(dingbook.ExtensionPrefix):]]
		}
		dst = append(dst, v)
	}
	for _, c := range m.extra {
		dst = append(dst, c.Value(p))
	}
	return dst
}

func (m *rowMaker) maskPhone(v string) string {
	if m.mask {
		return normalize.MaskPhone(v)
	}
	return v
}

// depts is the cell of a field made from p's memberships: the
// department paths (dept), the leadership per department
// (leader_in_dept) or the department ids (dept_id_list).
func (m *rowMaker) depts(key string, p *dingbook.Person) string {
	switch key {
	case "dept":
		var b strings.Builder
		for i, ms := range p.Depts {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(m.path(ms.DeptID))
		}
		return b.String()
	case "leader_in_dept":
		parts := make([]string, len(p.Depts))
		for i, ms := range p.Depts {
			parts[i] = m.boolText(ms.Leader)
		}
		return strings.Join(parts, ",")
	case "dept_id_list":
		parts := make([]string, len(p.Depts))
		for i, ms := range p.Depts {
			parts[i] = strconv.FormatInt(ms.DeptID, 10)
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// restrict returns the copy of p a vCard writer sees: only what the
// fields are made of (name and userid always; the mobile with its state
// code and hidden flag, masked when asked; the org e-mail with its
// type), so that no value outside the selection reaches the file.
func restrict(p *dingbook.Person, fields []dingbook.Field, mask bool) *dingbook.Person {
	q := new(dingbook.Person)
	restrictInto(q, p, fields, mask)
	return q
}

// restrictInto is restrict into dst (reused by the vCard writer, which
// keeps nothing of the person).
func restrictInto(dst, p *dingbook.Person, fields []dingbook.Field, mask bool) {
	*dst = dingbook.Person{UserID: p.UserID, UnionID: p.UnionID, Name: p.Name, Active: p.Active}
	q := dst
	for i := range fields {
		f := &fields[i]
		switch f.Kind {
		case dingbook.KindText:
			*f.Text(q) = *f.Text(p)
		case dingbook.KindFlag:
			*f.Flag(q) = *f.Flag(p)
		case dingbook.KindDate:
			q.HiredDate = p.HiredDate
		case dingbook.KindDepts:
			q.Depts = p.Depts
		case dingbook.KindExtension:
			name := f.Key[len(dingbook.ExtensionPrefix):]
			if v, ok := p.Extension[name]; ok {
				if q.Extension == nil {
					q.Extension = map[string]string{}
				}
				q.Extension[name] = v
			}
		}
		switch f.Key {
		case "mobile", "mobile_e164":
			q.Mobile, q.StateCode, q.HideMobile = p.Mobile, p.StateCode, p.HideMobile
		case "org_email":
			q.OrgEmailType = p.OrgEmailType
		}
	}
	if mask {
		q.Mobile = normalize.MaskPhone(q.Mobile)
	}
}

// output is one file being written. Its Write fails once ctx is done,
// so that no writer (an xlsx being zipped, a long vCard) keeps working
// after an interrupt.
type output struct {
	ctx    context.Context
	format string
	f      *fileutil.File
	h      hash.Hash
	n      int64
	rows   int
	csv    *csv.Writer
	xlsx   *xlsx.Writer
	jsonl  *jsonl.Writer
	pw     PersonWriter
	sheets []dingbook.SheetInfo // xlsx, once closed
}

func (o *output) Write(b []byte) (int, error) {
	if o.ctx.Err() != nil {
		return 0, context.Cause(o.ctx)
	}
	n, err := o.f.Write(b)
	o.h.Write(b[:n])
	o.n += int64(n)
	return n, err
}

// Run exports d according to opts.
func Run(ctx context.Context, d dingbook.Directory, opts Options) (*Result, error) {
	formats := make([]string, len(opts.Formats))
	for i, f := range opts.Formats {
		formats[i] = strings.ToLower(strings.TrimSpace(f)) // --format XLSX
	}
	if len(formats) == 0 && opts.Rows == nil && opts.People == nil {
		formats = []string{"xlsx"}
	}
	seenFmt := map[string]bool{}
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, dingbook.Errorf(dingbook.EINVALID, "unknown format %q", f).WithHint("use one or more of: %s", strings.Join(Formats, ","))
		}
		if seenFmt[f] {
			return nil, dingbook.Errorf(dingbook.EINVALID, "format %q given twice", f).WithHint("list each format once")
		}
		seenFmt[f] = true
		if f == "vcf" && opts.VCard == nil {
			return nil, dingbook.Errorf(dingbook.EINVALID, "the vCard writer is not available in this build").WithHint("export xlsx, csv or jsonl for now")
		}
	}
	lang := opts.Headers
	if lang == "" {
		lang = "zh"
	}
	yn, ok := yesNo[lang]
	if !ok {
		return nil, dingbook.Errorf(dingbook.EINVALID, "unknown header language %q", lang).WithHint("choose the header language zh, en or id").WithField("headers")
	}
	mask := false
	for _, m := range opts.Mask {
		switch strings.TrimSpace(m) {
		case "mobile":
			mask = true
		case "":
		default:
			return nil, dingbook.Errorf(dingbook.EINVALID, "cannot mask %q", m).WithHint("only the mobile can be masked").WithField("mask")
		}
	}

	depts := d.Departments()
	tree := dingbook.NewTree(depts)
	if g, ok := d.(GrowingDirectory); ok {
		tree = g.Tree()
	}
	company, corpID := d.Info()

	// Department selection.
	var selIDs []int64
	var inSel, inTree map[int64]bool // direct selection; with sub-departments
	if len(opts.Depts) > 0 {
		var err error
		if selIDs, err = ResolveDepts(tree, depts, opts.Depts); err != nil {
			return nil, err
		}
		inSel, inTree = map[int64]bool{}, map[int64]bool{}
		for _, id := range selIDs {
			inSel[id] = true
			for _, x := range tree.Descendants(id) {
				inTree[x] = true
			}
		}
		if !opts.NoSubdepts {
			inSel = inTree
		}
	}
	selected := func(p *dingbook.Person, set map[int64]bool) bool {
		if set == nil {
			return true
		}
		for _, m := range p.Depts {
			if set[m.DeptID] {
				return true
			}
		}
		return false
	}

	// exported returns p as the files hold it (without the mobile its
	// owner hid, unless allowed), or nil and why it is left out. It is
	// called for every person by the writer and, for the quality report,
	// on the workers, so the report covers the exported people as
	// exported.
	exported := func(p *dingbook.Person) (*dingbook.Person, leftOut) {
		if !selected(p, inSel) {
			if opts.NoSubdepts && selected(p, inTree) && (opts.IncludeInactive || p.Active) {
				return nil, outSubDept
			}
			return nil, outOfScope
		}
		if !opts.IncludeInactive && !p.Active {
			return nil, outInactive
		}
		if opts.Consent != nil && !opts.Consent(p) {
			return nil, outNoConsent
		}
		if opts.HideHiddenMobiles && p.HideMobile && p.Mobile != "" {
			q := *p
			q.Mobile, q.StateCode = "", ""
			return &q, hiddenMobile
		}
		return p, 0
	}

	extKeys := func() ([]string, error) {
		keys := map[string]bool{}
		err := d.EachPerson(ctx, func(p *dingbook.Person) error {
			if selected(p, inSel) && (opts.IncludeInactive || p.Active) {
				for k := range p.Extension {
					keys[k] = true
				}
			}
			return nil
		})
		out := make([]string, 0, len(keys))
		for k := range keys {
			out = append(out, k)
		}
		sort.Strings(out)
		return out, err
	}
	fields, err := ResolveFields(opts.Fields, opts.Profile, opts.Profiles, extKeys)
	if err == nil && opts.AllExtensions && len(opts.Fields) > 0 {
		fields, err = withExtensions(fields, extKeys)
	}
	if err != nil {
		return nil, err
	}
	header := Headers(fields, lang)
	for _, c := range opts.Extra {
		header = append(header, c.Header)
	}
	xlsxHeader, xlsxOpts := header, opts.XLSX
	var q *quality // the quality report: xlsx only
	if opts.Quality && seenFmt["xlsx"] {
		sel := func(p *dingbook.Person) *dingbook.Person {
			q, _ := exported(p)
			return q
		}
		if q, err = newQuality(ctx, d, opts, lang, fields, sel, mask); err != nil {
			return nil, err
		}
		defer q.close()
		xlsxHeader = q.header(header, len(fields))
		xlsxOpts.Conditional = append(slices.Clone(xlsxOpts.Conditional), q.x.rules...)
	}
	_, growing := d.(GrowingDirectory)

	// Open outputs.
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if err := fileutil.MkdirPrivate(opts.Dir); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot create the output directory " + opts.Dir, Hint: "choose a writable output directory", Field: "out_dir", Err: err}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	base := opts.BaseName
	if base == "" {
		base = "export-" + now.UTC().Format("20060102T150405Z")
	}
	tmpDir, cleanup, err := fileutil.LockedDir(opts.XLSX.TmpDir, "xlsx-*")
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: "cannot create a private temporary directory", Hint: "check TMPDIR", Err: err}
	}
	defer cleanup()

	var outs []*output
	abort := func() {
		for _, o := range outs {
			if o.xlsx != nil {
				o.xlsx.Abort()
			}
			o.f.Abort()
		}
	}
	for _, format := range formats {
		path := filepath.Join(opts.Dir, base+"."+format)
		if p, ok := opts.Paths[format]; ok {
			path = p
		}
		f, err := fileutil.Create(path, opts.Overwrite)
		if err != nil {
			abort()
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot create " + path, Hint: "choose another output directory, or remove the existing file", Field: "out_dir", Err: err}
		}
		o := &output{ctx: ctx, format: format, f: f, h: sha256.New()}
		outs = append(outs, o)
		switch format {
		case "csv":
			co := opts.CSV
			co.Name = path
			o.csv, err = csv.New(o, co)
			if err == nil {
				err = o.csv.Write(header)
			}
		case "xlsx":
			xo := xlsxOpts
			xo.TmpDir = tmpDir
			xo.Name = path
			o.xlsx, err = xlsx.New(o, xlsxHeader, xo)
		case "jsonl":
			// JSONL holds the selected fields (+ userid); only the full
			// profile writes every key DingTalk returns.
			sel := fields
			if len(opts.Fields) == 0 && opts.Profile == "full" || opts.AllExtensions {
				sel = nil
			}
			o.jsonl = jsonl.New(o, jsonl.Options{Fields: sel, MaskMobile: mask, Region: opts.Region})
		case "vcf":
			o.pw, err = opts.VCard(o, company, corpID)
		}
		if err != nil {
			abort()
			return nil, err
		}
	}

	res := &Result{Fields: fields, Depts: selIDs}
	cols := make([]dingbook.Field, len(fields))
	for i, k := range fields {
		cols[i], _ = dingbook.FieldByKey(k)
	}
	m := &rowMaker{cols: cols, tree: tree, paths: map[int64]string{}, yes: yn[0], no: yn[1], mask: mask, region: opts.Region, extra: opts.Extra}
	heads := newHeadcount(tree)
	var row, xrow []string
	var card dingbook.Person // the vCard writers' restricted copy
	// handle writes person i of chunk c.
	handle := func(c *pipeline.Chunk[clean.Batch], i int) error {
		p := &c.People[i]
		res.People++
		if opts.Progress != nil {
			opts.Progress(res.People, res.Rows) // rows written before this person
		}
		heads.add(p) // the Departments sheet counts everyone
		p, why := exported(p)
		switch why {
		case outSubDept:
			res.LeftOut.SubDepts++
		case outInactive:
			res.LeftOut.Inactive++
		case hiddenMobile:
			res.LeftOut.HiddenMobiles++
		case outNoConsent:
			res.LeftOut.NoConsent++
		}
		if p == nil {
			return nil
		}
		res.Rows++
		if opts.Written != nil {
			opts.Written(p)
		}
		st := "" // the status cell, with the quality report
		if q != nil {
			st = q.cell(c, i, p)
		}
		if opts.Rows != nil {
			row = m.row(p, row)
			if err := opts.Rows(p.UserID, row[:len(fields)]); err != nil {
				return err
			}
		}
		var vp *dingbook.Person
		if opts.People != nil {
			vp = restrict(p, cols, mask)
			if err := opts.People(vp, tree); err != nil {
				return err
			}
		}
		for _, o := range outs {
			var err error
			switch {
			case o.csv != nil || o.xlsx != nil:
				if len(row) == 0 {
					row = m.row(p, row)
				}
				switch {
				case o.csv != nil:
					err = o.csv.Write(row)
				case st != "":
					xrow = append(append(append(xrow[:0], row[:len(fields)]...), st), row[len(fields):]...)
					err = o.xlsx.Write(xrow)
				default:
					err = o.xlsx.Write(row)
				}
			case o.jsonl != nil:
				err = o.jsonl.WritePerson(p, tree)
			case o.pw != nil:
				if vp == nil {
					restrictInto(&card, p, cols, mask)
					vp = &card
				}
				err = o.pw.WritePerson(vp, tree)
			}
			if err != nil {
				return err
			}
			o.rows++
		}
		row = row[:0]
		return nil
	}

	// One pass: the source is read on a goroutine of its own, the quality
	// analysis (if any) runs on one more, and rows are written here.
	pl := pipeline.Pipeline[clean.Batch]{Each: handle}
	if q != nil {
		q.ride(&pl)
	}
	if growing {
		// The tree grows as the file is read: no reader goroutine.
		err = pl.RunSync(ctx, d)
		depts = d.Departments()
	} else {
		err = pl.Run(ctx, d)
	}
	// The last row's cells must not outlive the pass: a member file's
	// text may pin its shared-strings table through them.
	clear(row[:cap(row)])
	clear(xrow[:cap(xrow)])
	card = dingbook.Person{}
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		abort()
		return nil, err
	}
	sheets := opts.Sheets
	holds := map[string]dingbook.SheetInfo{DeptSheet: {Holds: "departments", Fields: []string{}}}
	for _, s := range sheets {
		holds[s.Name] = dingbook.SheetInfo{Holds: "extra", Fields: []string{}}
	}
	if q != nil {
		rep, sheet := q.finish(d, lang, inTree)
		sheets = append(slices.Clone(sheets), sheet)
		res.Quality = &rep.Totals
		holds[sheet.Name] = dingbook.SheetInfo{Holds: "quality", Fields: rep.QuotedFields, People: rep.People}
	}

	for _, o := range outs {
		err := context.Cause(ctx)
		switch {
		case err != nil:
		case o.csv != nil:
			err = o.csv.Close()
		case o.xlsx != nil:
			err = o.xlsx.AddSheet(DeptSheet, deptHeader[lang], deptRows(tree, depts, inTree, heads))
			for _, s := range sheets {
				switch {
				case err != nil:
				case s.Row != nil:
					err = o.xlsx.AddSheetFunc(s.Name, s.Header, s.Len, s.Row)
				default:
					err = o.xlsx.AddSheet(s.Name, s.Header, s.Rows)
				}
			}
			if err == nil {
				err = o.xlsx.Close()
			}
			for _, s := range o.xlsx.Sheets() {
				info := holds[s.Name]
				if s.Main {
					info = dingbook.SheetInfo{Holds: "people", Fields: fields}
				}
				info.Name, info.Rows = s.Name, s.Rows
				o.sheets = append(o.sheets, info)
			}
		case o.jsonl != nil:
			err = o.jsonl.Close()
		case o.pw != nil:
			err = o.pw.Close()
		}
		if err != nil {
			abort()
			return nil, err
		}
	}
	for i, o := range outs {
		if err := o.f.Commit(); err != nil {
			for _, later := range outs[i+1:] {
				later.f.Abort()
			}
			return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: "cannot save " + o.f.Path(), Hint: "check free space and permissions of the output directory", Err: err}
		}
		f := File{Path: o.f.Path(), Format: o.format, Rows: o.rows, Bytes: o.n, SHA256: hex.EncodeToString(o.h.Sum(nil)), Sheets: o.sheets}
		if o.xlsx != nil {
			f.TruncatedCells = o.xlsx.Truncated()
		}
		res.Files = append(res.Files, f)
	}
	return res, nil
}

// leftOut is why exported leaves a person out (or, hiddenMobile, writes
// them without their mobile).
type leftOut int

const (
	outOfScope leftOut = iota + 1
	outSubDept
	outInactive
	outNoConsent
	hiddenMobile
)

// DeptSheet names the xlsx sheet with the department tree.
const DeptSheet = "Departments"

var deptHeader = map[string][]string{
	"zh": {"部门ID", "上级部门ID", "部门路径", "部门名称", "直属人数", "总人数(含子部门)"},
	"en": {"Department ID", "Parent ID", "Path", "Name", "Direct Members", "Members incl. Sub-departments"},
	"id": {"ID Departemen", "ID Induk", "Jalur", "Nama", "Anggota Langsung", "Anggota termasuk Subdepartemen"},
}

// deptRows lists the department tree depth-first from the root (then any
// department not reachable from it), limited to only when non-nil.
func deptRows(tree *dingbook.Tree, depts []dingbook.Department, only map[int64]bool, heads *headcount) [][]string {
	var rows [][]string
	done := map[int64]bool{}
	var walk func(id int64)
	walk = func(id int64) {
		if done[id] {
			return
		}
		done[id] = true
		d := tree.Dept(id)
		if d == nil {
			return
		}
		if only == nil || only[id] {
			parent := ""
			if d.ParentID != 0 && d.ParentID != d.ID {
				parent = strconv.FormatInt(d.ParentID, 10)
			}
			direct, total := heads.counts(id)
			rows = append(rows, []string{strconv.FormatInt(id, 10), parent, pathCell(tree.Path(id)), d.Name,
				strconv.Itoa(direct), strconv.Itoa(total)})
		}
		for _, c := range tree.Children(id) {
			walk(c)
		}
	}
	walk(dingbook.RootDeptID)
	for _, d := range depts {
		walk(d.ID)
	}
	return rows
}

// String describes r in one line for people (stderr).
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exported %d people, %d fields", r.Rows, len(r.Fields))
	if r.LeftOut.Inactive > 0 {
		fmt.Fprintf(&b, "; left out %d inactive (use --include-inactive)", r.LeftOut.Inactive)
	}
	if r.LeftOut.SubDepts > 0 {
		fmt.Fprintf(&b, "; left out %d members of sub-departments (--no-subdepts)", r.LeftOut.SubDepts)
	}
	if r.LeftOut.HiddenMobiles > 0 {
		fmt.Fprintf(&b, "; left out %d mobiles their owners hid in DingTalk", r.LeftOut.HiddenMobiles)
	}
	if r.LeftOut.NoConsent > 0 {
		fmt.Fprintf(&b, "; left out %d people without a current consent for this purpose and these fields ('dingbook consent list')", r.LeftOut.NoConsent)
	}
	return b.String()
}
