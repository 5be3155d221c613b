package serve

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/dingbook/dingbook/app"
)

// stdJSON is what writeJSON (encoding/json) answers with v.
func stdJSON(t testing.TB, v any) []byte {
	rec := httptest.NewRecorder()
	writeJSON(rec, 200, v)
	return rec.Body.Bytes()
}

// ourJSON is what writeJSONBytes answers with encode.
func ourJSON(t testing.TB, encode func([]byte) []byte) []byte {
	rec := httptest.NewRecorder()
	writeJSONBytes(rec, 200, encode)
	if a, b := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); a != "application/json" || b != "no-store" {
		t.Errorf("headers: Content-Type %q, Cache-Control %q", a, b)
	}
	return rec.Body.Bytes()
}

// filled is a DirPerson with every field set (found by reflection, so a
// field added to app.DirPerson is set too): strings to s and a number,
// bools true, slices to two elements.
func filled(t testing.TB, s string) app.DirPerson {
	var p app.DirPerson
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			n++
			v.SetString(s + string(rune('0'+n%10)))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int64:
			n++
			v.SetInt(int64(n) * 1000003)
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			for i := range 2 {
				fill(v.Index(i))
			}
		default:
			t.Fatalf("app.DirPerson has a field of kind %s: encode it in appendPerson and fill it here", v.Kind())
		}
	}
	fill(reflect.ValueOf(&p).Elem())
	return p
}

func TestDirJSON(t *testing.T) {
	for _, s := range []string{"", "张三丰", "Zhang \"San\" \\ <b>&amp;</b>", "a\x00\x01\b\f\n\r\t\x1f\x7f z", "\u2028\u2029 ok", "bad \xff\xfe utf-8 \xe4\xb8", "𝄞 emoji 👩‍💻", "Ünïcödé ĞÜŞ"} {
		full := filled(t, s)
		sparse := app.DirPerson{UserID: s, Name: s}
		hidden := app.DirPerson{UserID: "u1", Name: s, Title: s, Departments: []app.DirDept{}, MobileHidden: true}
		for _, p := range []app.DirPerson{full, sparse, hidden} {
			if want, got := stdJSON(t, &p), ourJSON(t, func(b []byte) []byte { return appendPerson(b, &p) }); !bytes.Equal(got, want) {
				t.Errorf("person %q:\n got %s\nwant %s", s, got, want)
			}
		}
		for _, ps := range [][]app.DirPerson{nil, {}, {full}, {full, sparse, hidden}} {
			if want, got := stdJSON(t, People{People: ps}), ourJSON(t, func(b []byte) []byte { return appendPeople(b, ps) }); !bytes.Equal(got, want) {
				t.Errorf("people %q:\n got %s\nwant %s", s, got, want)
			}
		}
	}
}

// FuzzDirJSON holds the hand-written answers to encoding/json's for any
// strings from DingTalk.
func FuzzDirJSON(f *testing.F) {
	for _, s := range []string{"张三", "<script>&", "\x00\x1f\"\\", "\u2028", "\xff\xed\xa0\x80", "\xe2\x80"} {
		f.Add(s, s, int64(-1))
	}
	f.Fuzz(func(t *testing.T, a, b string, id int64) {
		p := app.DirPerson{UserID: a, Name: b, Title: a + b, Departments: []app.DirDept{{ID: id, Name: b}}, Mobile: a, Email: b, WorkPlace: a}
		ps := []app.DirPerson{p, filled(t, a)}
		if want, got := stdJSON(t, People{People: ps}), ourJSON(t, func(b []byte) []byte { return appendPeople(b, ps) }); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

// BenchmarkDirJSON encodes a search's answer of 50 people, by hand and
// with encoding/json.
func BenchmarkDirJSON(b *testing.B) {
	p := app.DirPerson{UserID: "manager4711", Name: "欧阳娜娜", Title: "高级软件工程师", Departments: []app.DirDept{{ID: 123456, Name: "研发中心 / 平台部 / 第三组"}, {ID: 654321, Name: "Kantor Jakarta"}},
		JobNumber: "A0012345", Email: "ouyang.nana@example.com", OrgEmail: "nana@corp.example.com", WorkPlace: "杭州市西湖区", MobileHidden: true}
	ps := slices.Repeat([]app.DirPerson{p}, 50)
	b.Run("hand", func(b *testing.B) {
		buf := make([]byte, 0, 16<<10)
		for b.Loop() {
			buf = appendPeople(buf[:0], ps)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			json.NewEncoder(&buf).Encode(People{People: ps})
		}
		b.SetBytes(int64(buf.Len()))
	})
}
