package dingtalk

import (
	"context"
	"fmt"
	"net/http"

	"github.com/dingbook/dingbook"
)

// API paths, as used for per-API pacing and statistics.
const (
	APIScopes       = "auth/scopes"
	APIListSub      = "topapi/v2/department/listsub"
	APIListSubID    = "topapi/v2/department/listsubid"
	APIDeptGet      = "topapi/v2/department/get"
	APIUserList     = "topapi/v2/user/list"
	APIListSimple   = "topapi/user/listsimple"
	APIUserGet      = "topapi/v2/user/get"
	APIUserCount    = "topapi/user/count"
	APIListAdmin    = "topapi/user/listadmin"
	APIExtList      = "topapi/extcontact/list"
	APIExtLabels    = "topapi/extcontact/listlabelgroups"
	APIListID       = "topapi/user/listid"
	PageSize        = 100
	ExtPageSize     = 100
	homeSchoolDept  = -7
	maxCursorOffset = 100000
)

// Scopes is what auth/scopes says the app may read.
type Scopes struct {
	AuthUserField  []string `json:"auth_user_field"`
	ConditionField []string `json:"condition_field"`
	AuthedDept     []int64  `json:"authed_dept"`
	AuthedUser     []string `json:"authed_user"`
}

// WholeOrg reports whether the contact range is the whole organisation.
func (s *Scopes) WholeOrg() bool {
	for _, d := range s.AuthedDept {
		if d == dingbook.RootDeptID {
			return true
		}
	}
	return false
}

// AuthScopes calls GET auth/scopes (no result wrapper).
func (c *Client) AuthScopes(ctx context.Context) (*Scopes, error) {
	var raw struct {
		AuthUserField  Strs `json:"auth_user_field"`
		ConditionField Strs `json:"condition_field"`
		AuthOrgScopes  struct {
			AuthedDept Ints `json:"authed_dept"`
			AuthedUser Strs `json:"authed_user"`
		} `json:"auth_org_scopes"`
	}
	if err := c.call(ctx, APIScopes, http.MethodGet, nil, &raw, "", ""); err != nil {
		return nil, err
	}
	return &Scopes{
		AuthUserField: raw.AuthUserField, ConditionField: raw.ConditionField,
		AuthedDept: raw.AuthOrgScopes.AuthedDept, AuthedUser: raw.AuthOrgScopes.AuthedUser,
	}, nil
}

func checkDept(api string, id int64) error {
	if id <= 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s: refusing dept_id %d", api, id),
			Hint: "department ids start at 1 (the root); 0 is never valid and -7 is the home-school directory"}
	}
	return nil
}

// ListSub returns dept's direct sub-departments (v2/department/listsub).
func (c *Client) ListSub(ctx context.Context, dept int64) ([]dingbook.Department, error) {
	if err := checkDept(APIListSub, dept); err != nil {
		return nil, err
	}
	var raw []Dept
	if err := c.Call(ctx, APIListSub, map[string]any{"dept_id": dept}, &raw, fmt.Sprintf("dept_id %d", dept)); err != nil {
		return nil, err
	}
	out := make([]dingbook.Department, 0, len(raw))
	for i := range raw {
		d := raw[i].Department()
		if d.ID <= 0 {
			continue // never walk into 0 or the home-school directory
		}
		if d.ParentID == 0 {
			d.ParentID = dept
		}
		out = append(out, d)
	}
	return out, nil
}

// ListSubID returns the ids of dept's direct sub-departments; this API
// ignores the contact range.
func (c *Client) ListSubID(ctx context.Context, dept int64) ([]int64, error) {
	if err := checkDept(APIListSubID, dept); err != nil {
		return nil, err
	}
	var raw struct {
		IDs Ints `json:"dept_id_list"`
	}
	if err := c.Call(ctx, APIListSubID, map[string]any{"dept_id": dept}, &raw, fmt.Sprintf("dept_id %d", dept)); err != nil {
		return nil, err
	}
	out := raw.IDs[:0:0]
	for _, id := range raw.IDs {
		if id > 0 {
			out = append(out, id)
		}
	}
	return out, nil
}

// GetDept returns a department's details (v2/department/get).
func (c *Client) GetDept(ctx context.Context, dept int64) (*dingbook.Department, error) {
	if err := checkDept(APIDeptGet, dept); err != nil {
		return nil, err
	}
	var raw Dept
	if err := c.Call(ctx, APIDeptGet, map[string]any{"dept_id": dept}, &raw, fmt.Sprintf("dept_id %d", dept)); err != nil {
		return nil, err
	}
	d := raw.Department()
	if d.ID == 0 {
		d.ID = dept
	}
	return &d, nil
}

// UserPage is one page of v2/user/list.
type UserPage struct {
	HasMore    Bool   `json:"has_more"`
	NextCursor Cursor `json:"next_cursor"`
	List       []User `json:"list"`
}

// ListUsers returns one page of dept's direct members with full details,
// access-restricted staff included (contain_access_limit=true). cursor is
// nil for the first page, then the previous page's NextCursor.
func (c *Client) ListUsers(ctx context.Context, dept int64, cursor Cursor) (*UserPage, error) {
	if err := checkDept(APIUserList, dept); err != nil {
		return nil, err
	}
	body := map[string]any{"dept_id": dept, "cursor": cursor, "size": PageSize, "contain_access_limit": true}
	var page UserPage
	if err := c.Call(ctx, APIUserList, body, &page, fmt.Sprintf("dept_id %d, cursor %s", dept, cursor)); err != nil {
		return nil, err
	}
	return &page, nil
}

// SimplePage is one page of user/listsimple.
type SimplePage struct {
	HasMore    Bool   `json:"has_more"`
	NextCursor Cursor `json:"next_cursor"`
	List       []struct {
		UserID Str `json:"userid"`
		Name   Str `json:"name"`
	} `json:"list"`
}

// ListSimple returns one page of userid+name of dept's direct members;
// withRestricted sets contain_access_limit.
func (c *Client) ListSimple(ctx context.Context, dept int64, cursor Cursor, size int, withRestricted bool) (*SimplePage, error) {
	if err := checkDept(APIListSimple, dept); err != nil {
		return nil, err
	}
	if size <= 0 || size > PageSize {
		size = PageSize
	}
	body := map[string]any{"dept_id": dept, "cursor": cursor, "size": size, "contain_access_limit": withRestricted}
	var page SimplePage
	if err := c.Call(ctx, APIListSimple, body, &page, fmt.Sprintf("dept_id %d, cursor %s", dept, cursor)); err != nil {
		return nil, err
	}
	return &page, nil
}

// GetUser returns one user's full details (v2/user/get), with every
// membership's order and leader flag.
func (c *Client) GetUser(ctx context.Context, userid string) (*dingbook.Person, error) {
	var u User
	if err := c.Call(ctx, APIUserGet, map[string]any{"userid": userid}, &u, "userid "+userid); err != nil {
		return nil, err
	}
	p := u.Person(0)
	if p.UserID == "" {
		p.UserID = userid
	}
	return &p, nil
}

// UserCount returns user/count; onlyActive=false counts everyone.
func (c *Client) UserCount(ctx context.Context, onlyActive bool) (int, error) {
	var raw struct {
		Count Int `json:"count"`
	}
	if err := c.Call(ctx, APIUserCount, map[string]any{"only_active": onlyActive}, &raw, ""); err != nil {
		return 0, err
	}
	return int(raw.Count), nil
}

// Admin is one entry of user/listadmin: sys_level 1 primary, 2 sub-admin.
type Admin struct {
	UserID   string `json:"userid"`
	SysLevel int    `json:"sys_level"`
}

// ListAdmin returns the organisation's administrators.
func (c *Client) ListAdmin(ctx context.Context) ([]Admin, error) {
	var raw []struct {
		UserID   Str `json:"userid"`
		SysLevel Int `json:"sys_level"`
	}
	if err := c.Call(ctx, APIListAdmin, map[string]any{}, &raw, ""); err != nil {
		return nil, err
	}
	out := make([]Admin, len(raw))
	for i, a := range raw {
		out[i] = Admin{UserID: string(a.UserID), SysLevel: int(a.SysLevel)}
	}
	return out, nil
}

// ListExternal returns one page of external contacts (extcontact/list,
// top-level "results").
func (c *Client) ListExternal(ctx context.Context, offset, size int) ([]dingbook.ExternalContact, error) {
	if size <= 0 || size > ExtPageSize {
		size = ExtPageSize
	}
	var raw []ExtContact
	if err := c.call(ctx, APIExtList, http.MethodPost, map[string]any{"offset": offset, "size": size}, &raw, fmt.Sprintf("offset %d", offset), "results"); err != nil {
		return nil, err
	}
	out := make([]dingbook.ExternalContact, len(raw))
	for i := range raw {
		out[i] = raw[i].Contact()
	}
	return out, nil
}

// AllExternal pages extcontact/list until a page has fewer than size rows.
func (c *Client) AllExternal(ctx context.Context) ([]dingbook.ExternalContact, error) {
	var all []dingbook.ExternalContact
	for offset := 0; ; offset += ExtPageSize {
		page, err := c.ListExternal(ctx, offset, ExtPageSize)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < ExtPageSize {
			return all, nil
		}
	}
}

// ListLabelGroups returns one page of the external contacts' label groups
// (extcontact/listlabelgroups), each group's labels named with the
// group's name.
func (c *Client) ListLabelGroups(ctx context.Context, offset, size int) ([][]dingbook.ExternalLabel, error) {
	if size <= 0 || size > ExtPageSize {
		size = ExtPageSize
	}
	var ans labelGroupsAnswer
	if err := c.call(ctx, APIExtLabels, http.MethodPost, map[string]any{"offset": offset, "size": size}, &ans, fmt.Sprintf("offset %d", offset), ""); err != nil {
		return nil, err
	}
	groups, err := ans.groups()
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Err: err,
			Message: fmt.Sprintf("DingTalk %s returned label groups dingbook cannot read", callName(APIExtLabels, fmt.Sprintf("offset %d", offset))),
			Hint:    "report this with the answer's request_id"}
	}
	out := make([][]dingbook.ExternalLabel, len(groups))
	for i, g := range groups {
		out[i] = g.labels()
	}
	return out, nil
}

// ExternalLabels pages extcontact/listlabelgroups until a page has fewer
// than size groups, and returns every label by id.
func (c *Client) ExternalLabels(ctx context.Context) (map[int64]dingbook.ExternalLabel, error) {
	byID := map[int64]dingbook.ExternalLabel{}
	for offset := 0; ; offset += ExtPageSize {
		page, err := c.ListLabelGroups(ctx, offset, ExtPageSize)
		if err != nil {
			return nil, err
		}
		for _, g := range page {
			for _, l := range g {
				byID[l.ID] = l
			}
		}
		if len(page) < ExtPageSize {
			return byID, nil
		}
	}
}
