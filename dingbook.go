// Package dingbook holds the domain of dingbook: an organisation's address
// book as read from DingTalk (departments, people and their memberships),
// the snapshot a pull produces, the completeness receipt that vouches for
// it, the catalogue of exportable fields, and the error type that carries a
// remedy to the user.
//
// The package has no I/O. Each outside system lives in its own package:
//
//	source/dingtalk      the DingTalk Open API client
//	source/dingtalk/sim  the DingTalk simulator (an http.Handler)
//	source/gen           the deterministic org generator (the simulator's truth)
//	source/console       the admin console's Excel/CSV member file
//	pull                 walking the org, checkpoints, the receipt
//	store                the SQLite state database
//	format/...           xlsx, csv, vcard and jsonl writers
//	export               choosing people and fields, writing files
//	clean                normalising, duplicates, quality report
//	seal                 encrypted bundles (WinZip AES, age)
//	audit, policy        the audit trail and the export policy
package dingbook

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// RootDeptID is the id of an organisation's root department in DingTalk.
const RootDeptID int64 = 1

// Department is one node of the department tree.
type Department struct {
	ID       int64  `json:"dept_id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parent_id"` // 0 for the root
	// Order is the department's order within its parent (int64: DingTalk
	// order values exceed 2^53).
	Order int64 `json:"order,omitempty"`
	// MemberCount counts members including sub-departments and
	// OwningMemberCount direct members, as v2/department/get reports them
	// (-1 when unknown).
	MemberCount       int      `json:"member_count,omitempty"`
	OwningMemberCount int      `json:"owning_member_count,omitempty"`
	ManagerUserIDs    []string `json:"dept_manager_userid_list,omitempty"`
	Hidden            bool     `json:"hide_dept,omitempty"`
	Outer             bool     `json:"outer_dept,omitempty"`
}

// Membership is a person's place in one department.
type Membership struct {
	DeptID int64 `json:"dept_id"`
	// Order is the person's order within the department (int64).
	Order  int64 `json:"order"`
	Leader bool  `json:"leader"`
}

// Person is one member of the organisation with every DingTalk user field.
// JSON names follow DingTalk's own API field names.
type Person struct {
	UserID  string `json:"userid"`
	UnionID string `json:"unionid,omitempty"`
	Name    string `json:"name"`
	Avatar  string `json:"avatar,omitempty"`

	StateCode  string `json:"state_code,omitempty"` // dialling code without '+', e.g. "86"
	Mobile     string `json:"mobile,omitempty"`
	HideMobile bool   `json:"hide_mobile,omitempty"`
	Telephone  string `json:"telephone,omitempty"` // extension (分机号)

	JobNumber    string `json:"job_number,omitempty"`
	Title        string `json:"title,omitempty"`
	Email        string `json:"email,omitempty"`
	OrgEmail     string `json:"org_email,omitempty"`
	OrgEmailType string `json:"org_email_type,omitempty"`
	WorkPlace    string `json:"work_place,omitempty"`
	Remark       string `json:"remark,omitempty"`

	// Extension holds the tenant's custom fields (DingTalk sends them as a
	// JSON-encoded string; here they are decoded).
	Extension map[string]string `json:"extension,omitempty"`

	// HiredDate is the hire date in Unix milliseconds; 0 when unknown.
	HiredDate int64 `json:"hired_date,omitempty"`

	Active           bool   `json:"active"`
	Admin            bool   `json:"admin"`
	Boss             bool   `json:"boss"`
	Senior           bool   `json:"senior,omitempty"`
	RealAuthed       bool   `json:"real_authed,omitempty"`
	ExclusiveAccount bool   `json:"exclusive_account,omitempty"`
	LoginID          string `json:"login_id,omitempty"`
	// Restricted marks access-restricted staff (only listed with
	// contain_access_limit=true). DingTalk does not flag them in the list
	// response; it is known from the generator's truth or from a pull that
	// compared both listings.
	Restricted bool `json:"restricted,omitempty"`

	ManagerUserID string `json:"manager_userid,omitempty"`

	// Depts lists every membership, in DingTalk's dept_id_list order.
	Depts []Membership `json:"depts"`

	// SourceRow is the line (row) of the member file the person was read
	// from, 0 for people pulled from DingTalk: every message about an
	// imported row names it, so import, quality and --dedupe agree.
	SourceRow int `json:"source_row,omitempty"`
}

// DeptIDs returns the ids of the person's departments in order.
func (p *Person) DeptIDs() []int64 {
	ids := make([]int64, len(p.Depts))
	for i, m := range p.Depts {
		ids[i] = m.DeptID
	}
	return ids
}

// Membership returns the person's membership in dept, if any.
func (p *Person) Membership(dept int64) (Membership, bool) {
	for _, m := range p.Depts {
		if m.DeptID == dept {
			return m, true
		}
	}
	return Membership{}, false
}

// ExtensionKeys returns the custom field names in sorted order.
func (p *Person) ExtensionKeys() []string {
	keys := make([]string, 0, len(p.Extension))
	for k := range p.Extension {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Org is a whole organisation: its department tree and its people.
type Org struct {
	CorpID string       `json:"corp_id,omitempty"`
	Name   string       `json:"name"`
	Depts  []Department `json:"departments"`
	People []Person     `json:"people"`
	// External holds external contacts when pulled with --external.
	External []ExternalContact `json:"external_contacts,omitempty"`
}

// Tree indexes an Org's departments for path look-ups.
type Tree struct {
	byID     map[int64]*Department
	children map[int64][]int64
}

// NewTree indexes depts.
func NewTree(depts []Department) *Tree {
	t := &Tree{byID: make(map[int64]*Department, len(depts)), children: map[int64][]int64{}}
	for i := range depts {
		d := &depts[i]
		t.byID[d.ID] = d
	}
	for i := range depts {
		d := &depts[i]
		if d.ID != d.ParentID && d.ParentID != 0 {
			t.children[d.ParentID] = append(t.children[d.ParentID], d.ID)
		}
	}
	for _, c := range t.children {
		sort.Slice(c, func(i, j int) bool {
			a, b := t.byID[c[i]], t.byID[c[j]]
			if a.Order != b.Order {
				return a.Order < b.Order
			}
			return a.ID < b.ID
		})
	}
	return t
}

// Dept returns the department with id, or nil.
func (t *Tree) Dept(id int64) *Department { return t.byID[id] }

// Children returns the ids of id's direct sub-departments, ordered.
func (t *Tree) Children(id int64) []int64 { return t.children[id] }

// Descendants returns id and every department below it.
func (t *Tree) Descendants(id int64) []int64 {
	out := []int64{id}
	for i := 0; i < len(out); i++ {
		out = append(out, t.children[out[i]]...)
	}
	return out
}

// Path returns the names from the first level below the root down to id,
// as the console writes them (the root itself is the company and is not
// part of the path). The root's own path is its name alone.
func (t *Tree) Path(id int64) []string {
	var names []string
	// The ids on the way up, to stop at a cycle: a short list searched
	// in place (paths are a few levels deep; this runs for every person
	// of an export), a map only for a very deep one.
	var few [16]int64
	up := few[:0]
	var seen map[int64]bool
	visited := func(id int64) bool {
		if seen != nil {
			return seen[id]
		}
		return slices.Contains(up, id)
	}
	for cur := t.byID[id]; cur != nil && !visited(cur.ID); cur = t.byID[cur.ParentID] {
		switch {
		case seen != nil:
			seen[cur.ID] = true
		case len(up) < len(few):
			up = append(up, cur.ID)
		default:
			seen = map[int64]bool{cur.ID: true}
			for _, x := range up {
				seen[x] = true
			}
		}
		if cur.ID == RootDeptID && len(names) > 0 {
			break
		}
		names = append(names, cur.Name)
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return names
}

// PathString joins Path(id) with sep.
func (t *Tree) PathString(id int64, sep string) string {
	return strings.Join(t.Path(id), sep)
}

// Snapshot is one stored copy of an organisation.
type Snapshot struct {
	ID      int64     `json:"id"`
	Source  string    `json:"source"` // "dingtalk:<base url>" or "file:<name>"
	TakenAt time.Time `json:"taken_at"`
	Org     Org       `json:"org"`
	// Receipt is the completeness receipt of the pull (nil for imports).
	Receipt *Receipt `json:"receipt,omitempty"`
}

// SheetInfo says what one sheet of an exported xlsx holds (the manifest
// lists them).
type SheetInfo struct {
	Name string `json:"name"`
	// Holds is "people" (the exported rows), "departments" (the
	// department tree with headcounts), "quality" (the quality report of
	// the exported people) or "extra".
	Holds string `json:"holds"`
	// Rows is the number of rows below the header.
	Rows int `json:"rows"`
	// Fields are the fields whose values the sheet holds: the exported
	// fields for people; for quality, the fields it quotes (duplicate
	// keys, people's userids and names); the rest is counts, labels and
	// problem names.
	Fields []string `json:"fields"`
	// People is the number of people the quality report covers.
	People int `json:"people,omitempty"`
}

// Receipt vouches for (or refuses to vouch for) the completeness of a pull.
type Receipt struct {
	Complete bool `json:"complete"`
	// Problems says, in plain words, every reason Complete is false.
	Problems []string `json:"problems,omitempty"`

	Departments int `json:"departments"`
	People      int `json:"people"`
	// PeoplePerDept counts the direct members fetched per department.
	PeoplePerDept map[int64]int `json:"people_per_dept,omitempty"`
	// OrgCount is user/count(only_active=false); -1 when it could not be read.
	OrgCount int `json:"org_count"`
	// OutOfRange lists departments the app may not read (50004).
	OutOfRange []RangeGap `json:"out_of_range,omitempty"`
	// HiddenFields lists fields the app may not read (e.g. mobile, email).
	HiddenFields []string `json:"hidden_fields,omitempty"`
	// Restricted counts access-restricted staff included; -1 when unknown.
	Restricted int `json:"restricted"`
	// HiddenMobiles counts people whose mobile is hidden (hide_mobile).
	HiddenMobiles int `json:"hidden_mobiles"`
	APICalls      int `json:"api_calls"`
	Retries       int `json:"retries"`
	// Duration of the pull.
	Duration time.Duration `json:"duration_ns"`
}

// RangeGap is a department outside the app's contact range.
type RangeGap struct {
	DeptID int64  `json:"dept_id"`
	Name   string `json:"name,omitempty"`
}
