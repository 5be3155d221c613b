// Package jsonl writes dingbook's JSON Lines export: one JSON object per
// person, keyed by DingTalk's own API field names, plus dingbook's derived
// fields. The schema is documented in docs/formats.md ("JSON Lines").
//
// Keys, in this order (all present unless Options.Fields restricts them):
//
//	userid unionid name avatar state_code mobile mobile_e164 hide_mobile
//	telephone job_number title email org_email org_email_type work_place
//	remark hired_date active admin boss senior real_authed
//	exclusive_account login_id manager_userid dept_id_list dept_order_list
//	leader_in_dept dept_paths extension
//
// dept_order_list and leader_in_dept have DingTalk's shapes
// ([{"dept_id":2,"order":5}], [{"dept_id":2,"leader":true}]); dept_paths is
// an array of arrays of department names (top level first, one per
// membership, in dept_id_list order); mobile_e164 is derived with
// libphonenumber from state_code and mobile (default region CN), "" when
// the number is missing or invalid; hired_date is Unix milliseconds or null;
// extension is an object of the custom fields. Strings are never omitted:
// an unknown value is "".
//
// With Options.Fields the object holds userid plus only the selected keys
// (field keys as in dingbook.Fields; "dept" selects dept_paths,
// "extension.<name>" one custom field inside "extension").
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/normalize"
)

// Options configure a Writer.
type Options struct {
	// Fields restricts the keys (dingbook field keys); nil writes all.
	Fields []string
	// MaskMobile masks mobile and mobile_e164 (see MaskPhone).
	MaskMobile bool
	// Region is the default phone region for numbers without state_code;
	// "" means "CN".
	Region string
}

// lineKeys are a line's keys in order, before "extension". Text and
// flag keys are read through the domain's accessor table
// (dingbook.Attribute); the others are derived here.
var lineKeys = []string{"userid", "unionid", "name", "avatar", "state_code", "mobile", "mobile_e164", "hide_mobile",
	"telephone", "job_number", "title", "email", "org_email", "org_email_type", "work_place", "remark",
	"hired_date", "active", "admin", "boss", "senior", "real_authed", "exclusive_account", "login_id",
	"manager_userid", "dept_id_list", "dept_order_list", "leader_in_dept", "dept_paths"}

// key is one key a Writer writes: f is its field or attribute (Kind 0
// for dept_order_list and dept_paths).
type key struct {
	name string
	f    dingbook.Field
}

// Writer writes one JSON object per line.
type Writer struct {
	bw     *bufio.Writer
	opts   Options
	sel    map[string]bool // nil: all
	ext    []string        // selected extension names; nil with sel==nil: all
	keys   []key           // the keys written, in order (extension aside)
	buf    bytes.Buffer
	enc    *json.Encoder
	rows   int
	region string
}

// New returns a Writer on w.
func New(w io.Writer, opts Options) *Writer {
	jw := &Writer{bw: bufio.NewWriterSize(w, 64<<10), opts: opts, region: opts.Region}
	if jw.region == "" {
		jw.region = "CN"
	}
	if opts.Fields != nil {
		jw.sel = map[string]bool{"userid": true}
		for _, f := range opts.Fields {
			if name, ok := strings.CutPrefix(f, dingbook.ExtensionPrefix); ok {
				jw.ext = append(jw.ext, name)
				continue
			}
			if f == "dept" {
				f = "dept_paths"
			}
			jw.sel[f] = true
		}
	}
	for _, k := range lineKeys {
		if jw.want(k) {
			f, _ := dingbook.Attribute(k)
			jw.keys = append(jw.keys, key{name: k, f: f})
		}
	}
	jw.enc = json.NewEncoder(&jw.buf)
	jw.enc.SetEscapeHTML(false)
	return jw
}

func (w *Writer) want(key string) bool { return w.sel == nil || w.sel[key] }

// line is an object being built in key order.
type line struct {
	w     *Writer
	first bool
}

func (l *line) key(k string) {
	if !l.first {
		l.w.buf.WriteByte(',')
	}
	l.first = false
	l.w.buf.WriteByte('"')
	l.w.buf.WriteString(k)
	l.w.buf.WriteString(`":`)
}

func (w *Writer) quote(s string) {
	w.enc.Encode(s) // cannot fail for a string
	w.buf.Truncate(w.buf.Len() - 1)
}

// WritePerson writes p; tree resolves department paths.
func (w *Writer) WritePerson(p *dingbook.Person, tree *dingbook.Tree) error {
	w.buf.Reset()
	w.buf.WriteByte('{')
	l := &line{w: w, first: true}
	for i := range w.keys {
		k := &w.keys[i]
		l.key(k.name)
		switch k.f.Kind {
		case dingbook.KindText:
			v := *k.f.Text(p)
			if k.name == "mobile" && w.opts.MaskMobile {
				v = normalize.MaskPhone(v)
			}
			w.quote(v)
		case dingbook.KindFlag:
			w.buf.WriteString(strconv.FormatBool(*k.f.Flag(p)))
		case dingbook.KindE164:
			e164, _ := normalize.E164(p.Mobile, p.StateCode, w.region)
			if w.opts.MaskMobile {
				e164 = normalize.MaskPhone(e164)
			}
			w.quote(e164)
		case dingbook.KindDate:
			if p.HiredDate == 0 {
				w.buf.WriteString("null")
			} else {
				w.buf.WriteString(strconv.FormatInt(p.HiredDate, 10))
			}
		default:
			w.depts(k.name, p, tree)
		}
	}
	var keys []string
	switch {
	case w.sel == nil:
		keys = p.ExtensionKeys()
	default:
		keys = w.ext
	}
	if w.sel == nil || len(w.ext) > 0 {
		l.key("extension")
		w.buf.WriteByte('{')
		n := 0
		for _, k := range keys {
			v, ok := p.Extension[k]
			if !ok && w.sel == nil {
				continue
			}
			if n > 0 {
				w.buf.WriteByte(',')
			}
			n++
			w.quote(k)
			w.buf.WriteByte(':')
			w.quote(v)
		}
		w.buf.WriteByte('}')
	}
	w.buf.WriteString("}\n")
	w.rows++
	_, err := w.bw.Write(w.buf.Bytes())
	return err
}

// depts writes the value of a key made from p's memberships.
func (w *Writer) depts(name string, p *dingbook.Person, tree *dingbook.Tree) {
	w.buf.WriteByte('[')
	for i, m := range p.Depts {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		switch name {
		case "dept_id_list":
			w.buf.WriteString(strconv.FormatInt(m.DeptID, 10))
		case "dept_order_list":
			w.buf.WriteString(`{"dept_id":` + strconv.FormatInt(m.DeptID, 10) + `,"order":` + strconv.FormatInt(m.Order, 10) + `}`)
		case "leader_in_dept":
			w.buf.WriteString(`{"dept_id":` + strconv.FormatInt(m.DeptID, 10) + `,"leader":` + strconv.FormatBool(m.Leader) + `}`)
		case "dept_paths":
			w.buf.WriteByte('[')
			var path []string
			if tree != nil {
				path = tree.Path(m.DeptID)
			}
			for j, name := range path {
				if j > 0 {
					w.buf.WriteByte(',')
				}
				w.quote(name)
			}
			w.buf.WriteByte(']')
		}
	}
	w.buf.WriteByte(']')
}

// Rows returns the number of people written.
func (w *Writer) Rows() int { return w.rows }

// Close flushes buffered output; it does not close the underlying writer.
func (w *Writer) Close() error { return w.bw.Flush() }

// Keys returns the JSON keys a line holds for fields (nil: all keys).
func Keys(fields []string) []string {
	w := New(io.Discard, Options{Fields: fields})
	out := make([]string, 0, len(w.keys)+1)
	for _, k := range w.keys {
		out = append(out, k.name)
	}
	if fields == nil || len(w.ext) > 0 {
		out = append(out, "extension")
	}
	return out
}
