package jsonl_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/jsonl"
)

var tree = dingbook.NewTree([]dingbook.Department{
	{ID: 1, Name: "示例公司"},
	{ID: 2, Name: "研发部", ParentID: 1},
	{ID: 3, Name: "后端-组", ParentID: 2},
})

var person = dingbook.Person{
	UserID: "u1", Name: "王小明 <b>&", StateCode: "86", Mobile: "13800138000", JobNumber: "00123",
	Extension: map[string]string{"爱好": "旅游", "年龄": "24"}, HiredDate: 1614556800000, Active: true,
	Depts: []dingbook.Membership{{DeptID: 3, Order: 5, Leader: true}, {DeptID: 1, Order: 1}},
}

func TestFullObject(t *testing.T) {
	var b bytes.Buffer
	w := jsonl.New(&b, jsonl.Options{})
	if err := w.WritePerson(&person, tree); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line := b.String()
	if !strings.HasSuffix(line, "}\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("not one line: %q", line)
	}
	if !strings.Contains(line, `"name":"王小明 <b>&"`) {
		t.Fatalf("HTML-escaped or mangled name: %s", line)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(jsonl.Keys(nil)) {
		t.Fatalf("%d keys, want %d", len(m), len(jsonl.Keys(nil)))
	}
	checks := map[string]any{
		"userid": "u1", "mobile": "13800138000", "mobile_e164": "+8613800138000", "job_number": "00123",
		"hired_date": 1614556800000.0, "active": true, "admin": false, "email": "",
		"dept_id_list":    []any{3.0, 1.0},
		"dept_paths":      []any{[]any{"研发部", "后端-组"}, []any{"示例公司"}},
		"leader_in_dept":  []any{map[string]any{"dept_id": 3.0, "leader": true}, map[string]any{"dept_id": 1.0, "leader": false}},
		"dept_order_list": []any{map[string]any{"dept_id": 3.0, "order": 5.0}, map[string]any{"dept_id": 1.0, "order": 1.0}},
		"extension":       map[string]any{"爱好": "旅游", "年龄": "24"},
	}
	for k, v := range checks {
		if !reflect.DeepEqual(m[k], v) {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	// key order is the documented one
	dec := json.NewDecoder(strings.NewReader(line))
	dec.Token()
	var order []string
	for dec.More() {
		k, _ := dec.Token()
		order = append(order, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if !reflect.DeepEqual(order, jsonl.Keys(nil)) {
		t.Fatalf("key order %v", order)
	}
}

func TestRestrictedAndMasked(t *testing.T) {
	var b bytes.Buffer
	fields := []string{"name", "mobile", "mobile_e164", "dept", "extension.爱好"}
	w := jsonl.New(&b, jsonl.Options{Fields: fields, MaskMobile: true})
	w.WritePerson(&person, tree)
	w.Close()
	want := `{"userid":"u1","name":"王小明 <b>&","mobile":"138****8000","mobile_e164":"+86138****8000","dept_paths":[["研发部","后端-组"],["示例公司"]],"extension":{"爱好":"旅游"}}` + "\n"
	if b.String() != want {
		t.Fatalf("got  %s\nwant %s", b.String(), want)
	}
	if got := jsonl.Keys(fields); !reflect.DeepEqual(got, []string{"userid", "name", "mobile", "mobile_e164", "dept_paths", "extension"}) {
		t.Fatalf("Keys = %v", got)
	}
}
