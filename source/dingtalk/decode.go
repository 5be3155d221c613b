package dingtalk

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
)

// Tolerant JSON scalars: DingTalk (and its doc examples) send numbers as
// strings, booleans as "true", and empty values either as "" or not at all.
// Integers are parsed from the raw text, never through float64, because
// order values exceed 2^53.

// Int is an int64 that accepts a JSON number, a numeric string, null or "".
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
		if s == "" {
			*n = 0
			return nil
		}
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int(v)
		return nil
	}
	// A number written as 1.0 or 1e3: accept when it is exactly an
	// integer that fits, never truncated, rounded or overflowed.
	v, ok := integral(s)
	if !ok {
		return fmt.Errorf("%q is not an integer", s)
	}
	*n = Int(v)
	return nil
}

// integral parses a decimal number with an optional fraction and exponent
// (1.0, 1e3, -2.50E+1) exactly, reporting false unless its value is an
// integer within int64.
func integral(s string) (int64, bool) {
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expText)
		if err != nil || e > 1<<30 || e < -1<<30 {
			return 0, false
		}
		exp = e
	}
	// point: how many of digits stand before the decimal point.
	trimmed := strings.TrimLeft(digits, "0")
	if trimmed == "" {
		return 0, true
	}
	point := int64(len(intPart)) - int64(len(digits)-len(trimmed)) + int64(exp)
	digits = trimmed
	if point <= 0 || point > 19 {
		return 0, false
	}
	if int(point) < len(digits) {
		if strings.Trim(digits[point:], "0") != "" {
			return 0, false
		}
		digits = digits[:point]
	} else {
		digits += strings.Repeat("0", int(point)-len(digits))
	}
	v, err := strconv.ParseInt(sign+digits, 10, 64)
	return v, err == nil
}

// Bool is a bool that accepts true/false, "true"/"false", 0/1 and null.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	switch strings.ToLower(s) {
	case "true", "1":
		*v = true
	default:
		*v = false
	}
	return nil
}

// Str is a string that also accepts a JSON number or boolean.
type Str string

// UnmarshalJSON implements json.Unmarshaler.
func (v *Str) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Str(s)
		return nil
	}
	if b[0] == '{' || b[0] == '[' {
		*v = Str(b)
		return nil
	}
	*v = Str(b)
	return nil
}

// Ints is a []int64 that accepts numbers or numeric strings, or a JSON
// string holding such a list.
type Ints []int64

// UnmarshalJSON implements json.Unmarshaler.
func (v *Ints) UnmarshalJSON(b []byte) error {
	out, err := decodeList(b, func(x Int) int64 { return int64(x) })
	if err == nil {
		*v = out
	}
	return err
}

// Strs is a []string that accepts strings or numbers as elements.
type Strs []string

// UnmarshalJSON implements json.Unmarshaler.
func (v *Strs) UnmarshalJSON(b []byte) error {
	out, err := decodeList(b, func(x Str) string { return string(x) })
	if err == nil {
		*v = out
	}
	return err
}

// decodeList decodes a JSON array of T, or a JSON string holding one, and
// converts each element; null, "" and [] give nil.
func decodeList[T, R any](b []byte, conv func(T) R) ([]R, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		b = []byte(s)
	}
	var raw []T
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]R, len(raw))
	for i, x := range raw {
		out[i] = conv(x)
	}
	return out, nil
}

// Extension is DingTalk's custom-field map: a JSON-encoded string holding
// an object (the documented form), or the object itself.
type Extension map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (v *Extension) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" || s == "{}" {
			return nil
		}
		b = []byte(s)
	}
	var raw map[string]Str
	if err := json.Unmarshal(b, &raw); err != nil {
		// An extension that is not an object is dropped (TestDecodeTolerant).
		return nil
	}
	if len(raw) == 0 {
		return nil
	}
	m := make(map[string]string, len(raw))
	for k, x := range raw {
		m[k] = string(x)
	}
	*v = m
	return nil
}

// Cursor is v2/user/list's next_cursor, kept opaque: whatever JSON value
// the server sent is sent back unchanged.
type Cursor json.RawMessage

// UnmarshalJSON implements json.Unmarshaler.
func (c *Cursor) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" || string(b) == `""` {
		*c = nil
		return nil
	}
	*c = append(Cursor(nil), b...)
	return nil
}

// MarshalJSON implements json.Marshaler; an empty cursor is 0.
func (c Cursor) MarshalJSON() ([]byte, error) {
	if len(c) == 0 {
		return []byte("0"), nil
	}
	return []byte(c), nil
}

// String returns the cursor's text.
func (c Cursor) String() string {
	if len(c) == 0 {
		return "0"
	}
	return strings.Trim(string(c), `"`)
}

// User is one user as v2/user/list and v2/user/get return it; unknown
// fields are ignored.
type User struct {
	UserID           Str       `json:"userid"`
	UnionID          Str       `json:"unionid"`
	Name             Str       `json:"name"`
	Avatar           Str       `json:"avatar"`
	StateCode        Str       `json:"state_code"`
	Mobile           Str       `json:"mobile"`
	HideMobile       Bool      `json:"hide_mobile"`
	Telephone        Str       `json:"telephone"`
	JobNumber        Str       `json:"job_number"`
	Title            Str       `json:"title"`
	Email            Str       `json:"email"`
	OrgEmail         Str       `json:"org_email"`
	OrgEmailType     Str       `json:"org_email_type"`
	WorkPlace        Str       `json:"work_place"`
	Remark           Str       `json:"remark"`
	DeptIDList       Ints      `json:"dept_id_list"`
	DeptOrder        Int       `json:"dept_order"`
	Extension        Extension `json:"extension"`
	HiredDate        Int       `json:"hired_date"`
	Active           Bool      `json:"active"`
	Admin            Bool      `json:"admin"`
	Boss             Bool      `json:"boss"`
	Leader           Bool      `json:"leader"`
	Senior           Bool      `json:"senior"`
	RealAuthed       Bool      `json:"real_authed"`
	ExclusiveAccount Bool      `json:"exclusive_account"`
	LoginID          Str       `json:"login_id"`
	ManagerUserID    Str       `json:"manager_userid"`
	// v2/user/get only.
	DeptOrderList []struct {
		DeptID Int `json:"dept_id"`
		Order  Int `json:"order"`
	} `json:"dept_order_list"`
	LeaderInDept []struct {
		DeptID Int  `json:"dept_id"`
		Leader Bool `json:"leader"`
	} `json:"leader_in_dept"`
}

// Person converts u to a dingbook.Person. Memberships list every
// department of dept_id_list; order and leader are filled from
// dept_order_list/leader_in_dept when present (v2/user/get), and for
// listDept from dept_order/leader (v2/user/list of that department).
func (u *User) Person(listDept int64) dingbook.Person {
	p := dingbook.Person{
		UserID: string(u.UserID), UnionID: string(u.UnionID), Name: string(u.Name), Avatar: string(u.Avatar),
		StateCode: string(u.StateCode), Mobile: string(u.Mobile), HideMobile: bool(u.HideMobile),
		Telephone: string(u.Telephone), JobNumber: string(u.JobNumber), Title: string(u.Title),
		Email: string(u.Email), OrgEmail: string(u.OrgEmail), OrgEmailType: string(u.OrgEmailType),
		WorkPlace: string(u.WorkPlace), Remark: string(u.Remark), HiredDate: int64(u.HiredDate),
		Active: bool(u.Active), Admin: bool(u.Admin), Boss: bool(u.Boss), Senior: bool(u.Senior),
		RealAuthed: bool(u.RealAuthed), ExclusiveAccount: bool(u.ExclusiveAccount), LoginID: string(u.LoginID),
		ManagerUserID: string(u.ManagerUserID),
	}
	if len(u.Extension) > 0 {
		p.Extension = map[string]string(u.Extension)
	}
	orders := map[int64]int64{}
	leaders := map[int64]bool{}
	for _, o := range u.DeptOrderList {
		orders[int64(o.DeptID)] = int64(o.Order)
	}
	for _, l := range u.LeaderInDept {
		leaders[int64(l.DeptID)] = bool(l.Leader)
	}
	if listDept != 0 {
		orders[listDept] = int64(u.DeptOrder)
		leaders[listDept] = bool(u.Leader)
	}
	ids := []int64(u.DeptIDList)
	if len(ids) == 0 && listDept != 0 {
		ids = []int64{listDept}
	}
	for _, id := range ids {
		p.Depts = append(p.Depts, dingbook.Membership{DeptID: id, Order: orders[id], Leader: leaders[id]})
	}
	return p
}

// Dept is a department as listsub and department/get return it.
type Dept struct {
	DeptID            Int  `json:"dept_id"`
	Name              Str  `json:"name"`
	ParentID          Int  `json:"parent_id"`
	Order             Int  `json:"order"`
	MemberCount       *Int `json:"member_count"`
	OwningMemberCount *Int `json:"owning_member_count"`
	ManagerUserIDs    Strs `json:"dept_manager_userid_list"`
	HideDept          Bool `json:"hide_dept"`
	OuterDept         Bool `json:"outer_dept"`
}

// Department converts d; counts it did not carry are -1.
func (d *Dept) Department() dingbook.Department {
	out := dingbook.Department{
		ID: int64(d.DeptID), Name: string(d.Name), ParentID: int64(d.ParentID), Order: int64(d.Order),
		MemberCount: -1, OwningMemberCount: -1, Hidden: bool(d.HideDept), Outer: bool(d.OuterDept),
	}
	if d.MemberCount != nil {
		out.MemberCount = int(*d.MemberCount)
	}
	if d.OwningMemberCount != nil {
		out.OwningMemberCount = int(*d.OwningMemberCount)
	}
	if len(d.ManagerUserIDs) > 0 {
		out.ManagerUserIDs = []string(d.ManagerUserIDs)
	}
	return out
}

// ExtContact is one external contact (extcontact/list).
type ExtContact struct {
	UserID         Str  `json:"userid"`
	Name           Str  `json:"name"`
	Mobile         Str  `json:"mobile"`
	StateCode      Str  `json:"state_code"`
	Email          Str  `json:"email"`
	CompanyName    Str  `json:"company_name"`
	Title          Str  `json:"title"`
	Address        Str  `json:"address"`
	Remark         Str  `json:"remark"`
	FollowerUserID Str  `json:"follower_user_id"`
	LabelIDs       Ints `json:"label_ids"`
	ShareDeptIDs   Ints `json:"share_dept_ids"`
	ShareUserIDs   Strs `json:"share_user_ids"`
}

// Contact converts x.
func (x *ExtContact) Contact() dingbook.ExternalContact {
	return dingbook.ExternalContact{
		UserID: string(x.UserID), Name: string(x.Name), Mobile: string(x.Mobile), StateCode: string(x.StateCode),
		Email: string(x.Email), CompanyName: string(x.CompanyName), Title: string(x.Title), Address: string(x.Address),
		Remark: string(x.Remark), FollowerUserID: string(x.FollowerUserID), LabelIDs: []int64(x.LabelIDs),
		ShareDeptIDs: []int64(x.ShareDeptIDs), ShareUserIDs: []string(x.ShareUserIDs),
	}
}

// labelGroupsAnswer is extcontact/listlabelgroups' answer. The documented
// shape is a top-level "results" list of groups; the "result" wrapper
// (a list, or an object with "list" or "results") is accepted too, as
// are label_list / label_id / label_name / group_name for the
// documented names (the shape is UNCONFIRMED beyond the doc's example).
type labelGroupsAnswer struct {
	Results json.RawMessage `json:"results"`
	Result  json.RawMessage `json:"result"`
}

func (a *labelGroupsAnswer) groups() ([]ExtLabelGroup, error) {
	raw := a.Results
	if len(raw) == 0 || string(raw) == "null" {
		raw = a.Result
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '{' {
		var inner struct {
			List    json.RawMessage `json:"list"`
			Results json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(raw, &inner); err != nil {
			return nil, err
		}
		raw = inner.List
		if len(raw) == 0 {
			raw = inner.Results
		}
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
	}
	var out []ExtLabelGroup
	err := json.Unmarshal(raw, &out)
	return out, err
}

// ExtLabelGroup is one label group of extcontact/listlabelgroups.
type ExtLabelGroup struct {
	Name      Str        `json:"name"`
	GroupName Str        `json:"group_name"`
	Color     Int        `json:"color"`
	Labels    []ExtLabel `json:"labels"`
	LabelList []ExtLabel `json:"label_list"`
}

// ExtLabel is one label of a group.
type ExtLabel struct {
	ID        Int `json:"id"`
	LabelID   Int `json:"label_id"`
	Name      Str `json:"name"`
	LabelName Str `json:"label_name"`
}

// labels returns g's labels, each with the group's name.
func (g *ExtLabelGroup) labels() []dingbook.ExternalLabel {
	group := cmp.Or(string(g.Name), string(g.GroupName))
	var out []dingbook.ExternalLabel
	for _, l := range append(slices.Clone(g.Labels), g.LabelList...) {
		id := cmp.Or(int64(l.ID), int64(l.LabelID))
		if id == 0 {
			continue
		}
		out = append(out, dingbook.ExternalLabel{ID: id, Name: cmp.Or(string(l.Name), string(l.LabelName)), Group: group})
	}
	return out
}
