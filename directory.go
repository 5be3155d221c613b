package dingbook

import "context"

// ExternalContact is one of the organisation's external contacts
// (topapi/extcontact/list).
type ExternalContact struct {
	UserID         string   `json:"userid"`
	Name           string   `json:"name"`
	Mobile         string   `json:"mobile,omitempty"`
	StateCode      string   `json:"state_code,omitempty"`
	Email          string   `json:"email,omitempty"`
	CompanyName    string   `json:"company_name,omitempty"`
	Title          string   `json:"title,omitempty"`
	Address        string   `json:"address,omitempty"`
	Remark         string   `json:"remark,omitempty"`
	FollowerUserID string   `json:"follower_user_id,omitempty"`
	LabelIDs       []int64  `json:"label_ids,omitempty"`
	ShareDeptIDs   []int64  `json:"share_dept_ids,omitempty"`
	ShareUserIDs   []string `json:"share_user_ids,omitempty"`
	// Labels names LabelIDs (topapi/extcontact/listlabelgroups at the
	// pull), in LabelIDs' order; a label the organisation no longer lists
	// has no name.
	Labels []ExternalLabel `json:"labels,omitempty"`
}

// ExternalLabel is one of an external contact's labels (标签): its id,
// name and the name of its group (e.g. 客户 in 类型).
type ExternalLabel struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Group string `json:"group"`
}

// NameLabels sets x.Labels from x.LabelIDs and the organisation's labels
// by id.
func (x *ExternalContact) NameLabels(byID map[int64]ExternalLabel) {
	x.Labels = nil
	for _, id := range x.LabelIDs {
		l, ok := byID[id]
		if !ok {
			l = ExternalLabel{ID: id}
		}
		x.Labels = append(x.Labels, l)
	}
}

// Directory is a readable organisation: the department tree in memory and
// the people streamed, so that a million-person snapshot never has to be
// held whole. Both a stored snapshot and an in-memory Org implement it.
type Directory interface {
	// Info returns the organisation's name and corp id.
	Info() (name, corpID string)
	// Departments returns every department.
	Departments() []Department
	// EachPerson calls fn for every person in a stable order, stopping at
	// the first error. fn must not keep p or p.Depts after it returns (a
	// Directory may reuse them for the next person); the strings and the
	// Extension map stay valid.
	EachPerson(ctx context.Context, fn func(*Person) error) error
}

// UserIDLister is a Directory that lists its people's userids without
// reading the people: a stored snapshot reads them from an index. A pass
// that must know every userid before it reaches the people (to tell
// whether a person's manager exists) uses it instead of a second pass.
type UserIDLister interface {
	// EachUserID calls fn with the userid of every person (in any order;
	// people imported without one give "").
	EachUserID(ctx context.Context, fn func(string) error) error
}

// MissingManagerLister is a Directory that knows which manager_userids
// name nobody in it without reading its people: a stored snapshot
// recorded them when it was saved. It spares a pass that checks managers
// the listing of every userid (UserIDLister).
type MissingManagerLister interface {
	// MissingManagers returns every manager_userid that names nobody in
	// the directory; ok is false when that is not known.
	MissingManagers(ctx context.Context) (ids []string, ok bool, err error)
}

// OrgDirectory adapts an in-memory Org to Directory.
type OrgDirectory struct{ Org *Org }

var (
	_ Directory    = OrgDirectory{}
	_ UserIDLister = OrgDirectory{}
)

// Info implements Directory.
func (d OrgDirectory) Info() (string, string) { return d.Org.Name, d.Org.CorpID }

// Departments implements Directory.
func (d OrgDirectory) Departments() []Department { return d.Org.Depts }

// EachUserID implements UserIDLister.
func (d OrgDirectory) EachUserID(ctx context.Context, fn func(string) error) error {
	for i := range d.Org.People {
		if err := fn(d.Org.People[i].UserID); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// EachPerson implements Directory.
func (d OrgDirectory) EachPerson(ctx context.Context, fn func(*Person) error) error {
	for i := range d.Org.People {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(&d.Org.People[i]); err != nil {
			return err
		}
	}
	return nil
}
