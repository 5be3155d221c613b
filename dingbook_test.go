package dingbook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/dingbook/dingbook"
)

func TestTreePaths(t *testing.T) {
	tree := dingbook.NewTree([]dingbook.Department{
		{ID: 1, Name: "示例公司"},
		{ID: 3, Name: "后端组", ParentID: 2, Order: 2},
		{ID: 2, Name: "研发部", ParentID: 1},
		{ID: 4, Name: "前端组", ParentID: 2, Order: 1},
	})
	if got := tree.Path(3); !reflect.DeepEqual(got, []string{"研发部", "后端组"}) {
		t.Errorf("path 3 = %v", got)
	}
	if got := tree.Path(1); !reflect.DeepEqual(got, []string{"示例公司"}) {
		t.Errorf("root path = %v", got)
	}
	if got := tree.Children(2); !reflect.DeepEqual(got, []int64{4, 3}) {
		t.Errorf("children ordered by order: %v", got)
	}
	if got := tree.Descendants(1); len(got) != 4 {
		t.Errorf("descendants %v", got)
	}
	if got := tree.PathString(4, "-"); got != "研发部-前端组" {
		t.Errorf("path string %q", got)
	}
}

func TestFieldCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range dingbook.Fields {
		if seen[f.Key] {
			t.Errorf("duplicate field %s", f.Key)
		}
		seen[f.Key] = true
		for _, lang := range []string{"zh", "en", "id"} {
			if f.Header(lang) == "" {
				t.Errorf("%s has no %s header", f.Key, lang)
			}
		}
	}
	for name, keys := range dingbook.Profiles {
		for _, k := range keys {
			if _, ok := dingbook.FieldByKey(k); !ok {
				t.Errorf("profile %s names unknown field %s", name, k)
			}
		}
	}
	f, ok := dingbook.FieldByKey("extension.爱好")
	if !ok || f.Class != dingbook.ClassSensitive || f.Header("zh") != "爱好" {
		t.Errorf("extension field %+v %v", f, ok)
	}
	if m, _ := dingbook.FieldByKey("mobile"); m.Class != dingbook.ClassPersonal {
		t.Errorf("mobile class %s", m.Class)
	}
}

// TestFieldAccessors checks the accessor table against Person's JSON
// keys: writing a text or flag field through its accessor changes
// exactly the Person value whose JSON key is the field's key, and every
// field has the accessor its kind needs.
func TestFieldAccessors(t *testing.T) {
	all := append(slices.Clone(dingbook.Fields), dingbook.Attributes...)
	jsonOf := func(p *dingbook.Person) map[string]any {
		var m map[string]any
		b, _ := json.Marshal(p)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	zero := jsonOf(&dingbook.Person{})
	texts, flags := 0, 0
	for _, f := range all {
		if (f.Kind == dingbook.KindText) != (f.Text != nil) || (f.Kind == dingbook.KindFlag) != (f.Flag != nil) || f.Kind == 0 {
			t.Errorf("%s: kind %d with text accessor %v, flag accessor %v", f.Key, f.Kind, f.Text != nil, f.Flag != nil)
			continue
		}
		var p dingbook.Person
		var want any
		switch f.Kind {
		case dingbook.KindText:
			*f.Text(&p) = "v-" + f.Key
			want = "v-" + f.Key
			if got := *f.Text(&p); got != want {
				t.Errorf("%s: read back %q", f.Key, got)
			}
			texts++
		case dingbook.KindFlag:
			*f.Flag(&p) = !*f.Flag(&p)
			want = true
			flags++
		default:
			continue
		}
		got := jsonOf(&p)
		for k, v := range got {
			if k == f.Key && !reflect.DeepEqual(v, want) || k != f.Key && !reflect.DeepEqual(v, zero[k]) {
				t.Errorf("%s: writing it set JSON %s to %v", f.Key, k, v)
			}
		}
		if _, ok := got[f.Key]; !ok {
			t.Errorf("%s: no JSON key %s after writing it", f.Key, f.Key)
		}
		if g, ok := dingbook.Attribute(f.Key); !ok || g.Key != f.Key || g.Kind != f.Kind {
			t.Errorf("Attribute(%s) = %+v, %v", f.Key, g, ok)
		}
	}
	if texts != 16 || flags != 7 {
		t.Errorf("%d text and %d flag accessors, want 16 and 7", texts, flags)
	}
	if f, ok := dingbook.FieldByKey("extension.爱好"); !ok || f.Kind != dingbook.KindExtension {
		t.Errorf("extension field kind %d", f.Kind)
	}
	if _, ok := dingbook.FieldByKey("avatar"); ok {
		t.Error("avatar is an attribute, not an exportable field")
	}
}

func TestWithHintCopies(t *testing.T) {
	sentinel := &dingbook.Error{Code: dingbook.ENOTFOUND, Message: "nothing stored", Hint: "store something first"}
	c := sentinel.WithHint("pull first")
	if sentinel.Hint != "store something first" {
		t.Fatalf("WithHint changed the shared error: %q", sentinel.Hint)
	}
	if c == sentinel || c.Hint != "pull first" || c.Message != sentinel.Message || c.Code != sentinel.Code {
		t.Fatalf("copy %+v", c)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", c), sentinel) || !errors.Is(c.WithHint("again"), sentinel) {
		t.Fatal("errors.Is does not match a copy of the sentinel")
	}
	other := &dingbook.Error{Code: dingbook.ENOTFOUND, Message: "nothing stored"}
	if errors.Is(c, other) || errors.Is(other, sentinel) {
		t.Fatal("errors.Is matched an equal-looking error that is not a copy")
	}
}

// NameLabels names a contact's label ids in their order; an id the
// organisation no longer lists keeps its id without a name.
func TestNameLabels(t *testing.T) {
	x := dingbook.ExternalContact{LabelIDs: []int64{2, 9, 1}}
	x.NameLabels(map[int64]dingbook.ExternalLabel{1: {ID: 1, Name: "客户", Group: "类型"}, 2: {ID: 2, Name: "VIP", Group: "等级"}})
	want := []dingbook.ExternalLabel{{ID: 2, Name: "VIP", Group: "等级"}, {ID: 9}, {ID: 1, Name: "客户", Group: "类型"}}
	if !slices.Equal(x.Labels, want) {
		t.Errorf("labels %+v, want %+v", x.Labels, want)
	}
	x.NameLabels(nil)
	if !slices.Equal(x.Labels, []dingbook.ExternalLabel{{ID: 2}, {ID: 9}, {ID: 1}}) {
		t.Errorf("without names: %+v", x.Labels)
	}
}

// Path stops at a cycle, on a short path and on one deeper than the ids
// it keeps in place, and walks a deep chain to the root.
func TestTreePathDeepAndCycles(t *testing.T) {
	depts := []dingbook.Department{{ID: 1, Name: "co"}}
	var want []string
	for i := int64(2); i <= 41; i++ {
		depts = append(depts, dingbook.Department{ID: i, Name: fmt.Sprint("d", i), ParentID: i - 1})
		want = append(want, fmt.Sprint("d", i))
	}
	// a cycle of 3 and one of 30, outside the root's tree
	depts = append(depts, dingbook.Department{ID: 100, Name: "a", ParentID: 102}, dingbook.Department{ID: 101, Name: "b", ParentID: 100},
		dingbook.Department{ID: 102, Name: "c", ParentID: 101})
	var long []string
	for i := int64(200); i < 230; i++ {
		parent := i - 1
		if i == 200 {
			parent = 229
		}
		depts = append(depts, dingbook.Department{ID: i, Name: fmt.Sprint("x", i), ParentID: parent})
	}
	for i := int64(229); i >= 200; i-- {
		long = append(long, fmt.Sprint("x", i))
	}
	slices.Reverse(long)
	tree := dingbook.NewTree(depts)
	if got := tree.Path(41); !reflect.DeepEqual(got, want) {
		t.Errorf("deep path = %v", got)
	}
	if got := tree.Path(102); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("short cycle = %v", got)
	}
	if got := tree.Path(229); !reflect.DeepEqual(got, long) {
		t.Errorf("long cycle = %v, want %v", got, long)
	}
}
