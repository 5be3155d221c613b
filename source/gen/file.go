package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fileutil"
	"gopkg.in/yaml.v3"
)

// fileOrg is the on-disk shape: a dingbook.Org (DingTalk field names) plus
// the optional truth keys.
type fileOrg struct {
	dingbook.Org
	Problems   map[dingbook.Problem][]string `json:"problems,omitempty"`
	Restricted []string                      `json:"restricted,omitempty"`
}

// Load reads an exact organisation from a .json, .yaml or .yml file in the
// dingbook.Org shape ({"name", "departments":[…], "people":[…]}) with
// DingTalk field names. Conveniences for hand-written files: a person's
// "active" defaults to true when absent; "extension" may be an object or a
// JSON-encoded string; "dept_id_list" (with optional "dept_order_list" and
// "leader_in_dept") may replace "depts"; a missing root department (id 1)
// is added with the org's name. Problems are empty unless the file has a
// "problems" key; Restricted comes from a "restricted" key and people
// marked "restricted": true.
func Load(path string) (*Truth, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("cannot read org file %s", path),
			Hint: "check the path given to --org", Err: err}
	}
	var raw any
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		var y any
		if err := yaml.Unmarshal(data, &y); err != nil {
			return nil, invalid(path, "is not valid YAML", err)
		}
		raw, err = jsonable(y)
		if err != nil {
			return nil, invalid(path, "has a YAML value that has no JSON form", err)
		}
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, invalid(path, "is not valid JSON", err)
		}
	default:
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("org file %s: unknown extension %q", path, filepath.Ext(path)),
			Hint: "use a .json, .yaml or .yml file"}
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, invalid(path, "must hold an object with \"name\", \"departments\" and \"people\"", nil)
	}
	if err := normalise(top); err != nil {
		return nil, invalid(path, err.Error(), nil)
	}
	norm, err := json.Marshal(top)
	if err != nil {
		return nil, invalid(path, "cannot be re-encoded", err)
	}
	var f fileOrg
	dec := json.NewDecoder(bytes.NewReader(norm))
	if err := dec.Decode(&f); err != nil {
		return nil, invalid(path, "does not have the dingbook org shape", err)
	}
	t := &Truth{Org: f.Org, Problems: map[dingbook.Problem][]string{}}
	for p, ids := range f.Problems {
		ids = append([]string(nil), ids...)
		sort.Strings(ids)
		t.Problems[p] = ids
	}
	if err := check(path, t, f.Restricted); err != nil {
		return nil, err
	}
	CountMembers(&t.Org)
	return t, nil
}

func invalid(path, what string, err error) *dingbook.Error {
	return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("org file %s %s", path, what),
		Hint: "the file must have the dingbook org shape: {\"name\":…, \"departments\":[{\"dept_id\":1,…}], \"people\":[{\"userid\":…,\"name\":…,\"depts\":[{\"dept_id\":1,\"order\":0,\"leader\":false}]}]}", Err: err}
}

// jsonable converts YAML's decoded values to JSON-compatible ones.
func jsonable(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []any:
		for i, e := range x {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	default:
		return v, nil
	}
}

// textFields are the keys of a person's text values (the domain's
// accessor table: dingbook.Fields and dingbook.Attributes).
var textFields = func() []string {
	var keys []string
	for _, f := range append(slices.Clone(dingbook.Fields), dingbook.Attributes...) {
		if f.Kind == dingbook.KindText {
			keys = append(keys, f.Key)
		}
	}
	return keys
}()

// normalise applies Load's conveniences to the decoded file in place.
func normalise(top map[string]any) error {
	if _, ok := top["departments"]; !ok {
		if d, ok := top["depts"]; ok {
			top["departments"] = d
		}
	}
	people, _ := top["people"].([]any)
	for i, pv := range people {
		p, ok := pv.(map[string]any)
		if !ok {
			return fmt.Errorf("people[%d] is not an object", i)
		}
		if _, ok := p["active"]; !ok {
			p["active"] = true
		}
		// unquoted numbers in text fields (mobile: 13800138000 in YAML)
		for _, k := range textFields {
			switch v := p[k].(type) {
			case int, int64, uint64, json.Number:
				p[k] = fmt.Sprint(v)
			case float64:
				p[k] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		if s, ok := p["extension"].(string); ok {
			if strings.TrimSpace(s) == "" {
				delete(p, "extension")
			} else {
				var m map[string]string
				if err := json.Unmarshal([]byte(s), &m); err != nil {
					return fmt.Errorf("people[%d] (userid %v): extension is not a JSON object string: %v", i, p["userid"], err)
				}
				p["extension"] = m
			}
		}
		if _, ok := p["depts"]; !ok {
			ids, _ := p["dept_id_list"].([]any)
			orders := map[string]any{}
			if l, ok := p["dept_order_list"].([]any); ok {
				for _, e := range l {
					if m, ok := e.(map[string]any); ok {
						orders[fmt.Sprint(m["dept_id"])] = m["order"]
					}
				}
			}
			leaders := map[string]any{}
			if l, ok := p["leader_in_dept"].([]any); ok {
				for _, e := range l {
					if m, ok := e.(map[string]any); ok {
						leaders[fmt.Sprint(m["dept_id"])] = m["leader"]
					}
				}
			}
			var ms []any
			for _, id := range ids {
				m := map[string]any{"dept_id": id, "order": 0, "leader": false}
				if o, ok := orders[fmt.Sprint(id)]; ok {
					m["order"] = o
				}
				if l, ok := leaders[fmt.Sprint(id)]; ok {
					m["leader"] = l
				}
				ms = append(ms, m)
			}
			p["depts"] = ms
		}
		delete(p, "dept_id_list")
		delete(p, "dept_order_list")
		delete(p, "leader_in_dept")
	}
	return nil
}

// check validates the loaded org and fills the restricted list.
func check(path string, t *Truth, restricted []string) error {
	org := &t.Org
	hasRoot := false
	ids := map[int64]bool{}
	for i, d := range org.Depts {
		if d.ID < 1 {
			return invalid(path, fmt.Sprintf("departments[%d] (%q): dept_id must be ≥ 1", i, d.Name), nil)
		}
		if ids[d.ID] {
			return invalid(path, fmt.Sprintf("departments[%d]: dept_id %d appears twice", i, d.ID), nil)
		}
		ids[d.ID] = true
		if d.ID == dingbook.RootDeptID {
			hasRoot = true
		}
	}
	if !hasRoot {
		org.Depts = append([]dingbook.Department{{ID: dingbook.RootDeptID, Name: org.Name}}, org.Depts...)
		ids[dingbook.RootDeptID] = true
	}
	for i := range org.Depts {
		d := &org.Depts[i]
		if d.ID == dingbook.RootDeptID {
			d.ParentID = 0
			continue
		}
		if d.ParentID == 0 {
			d.ParentID = dingbook.RootDeptID
		}
		if !ids[d.ParentID] {
			return invalid(path, fmt.Sprintf("department %d (%q): parent_id %d is not a department in the file", d.ID, d.Name, d.ParentID), nil)
		}
	}
	// cycles
	parent := map[int64]int64{}
	for _, d := range org.Depts {
		parent[d.ID] = d.ParentID
	}
	for _, d := range org.Depts {
		cur, hops := d.ID, 0
		for cur != dingbook.RootDeptID && cur != 0 {
			cur = parent[cur]
			if hops++; hops > len(org.Depts) {
				return invalid(path, fmt.Sprintf("department %d (%q) is in a parent_id cycle", d.ID, d.Name), nil)
			}
		}
	}
	users := map[string]bool{}
	rset := map[string]bool{}
	for _, u := range restricted {
		rset[u] = true
	}
	for i := range org.People {
		p := &org.People[i]
		if strings.TrimSpace(p.UserID) == "" {
			return invalid(path, fmt.Sprintf("people[%d] (%q) has no userid", i, p.Name), nil)
		}
		if users[p.UserID] {
			return invalid(path, fmt.Sprintf("people[%d]: userid %q appears twice", i, p.UserID), nil)
		}
		users[p.UserID] = true
		if len(p.Depts) == 0 {
			p.Depts = []dingbook.Membership{{DeptID: dingbook.RootDeptID}}
		}
		for _, m := range p.Depts {
			if !ids[m.DeptID] {
				return invalid(path, fmt.Sprintf("people[%d] (userid %q): department %d is not in the file", i, p.UserID, m.DeptID), nil)
			}
		}
		if rset[p.UserID] {
			p.Restricted = true
		}
		if p.Restricted {
			t.Restricted = append(t.Restricted, p.UserID)
		}
	}
	for _, u := range restricted {
		if !users[u] {
			return invalid(path, fmt.Sprintf("restricted: userid %q is not a person in the file", u), nil)
		}
	}
	sort.Strings(t.Restricted)
	return nil
}

// Save writes the truth as JSON (the shape Load reads) to path, atomically
// with mode 0600, replacing an existing file.
func (t *Truth) Save(path string) error {
	f := fileOrg{Org: t.Org, Problems: t.Problems, Restricted: t.Restricted}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: "cannot encode org for " + path, Err: err}
	}
	if err := fileutil.WriteFile(path, append(data, '\n'), true); err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot write org file " + path,
			Hint: "check that the directory exists and is writable", Err: err}
	}
	return nil
}
