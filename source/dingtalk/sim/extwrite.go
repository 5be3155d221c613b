package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
)

// Writing external contacts (serve.md §B, checklist item 40), so that
// tests can change who a contact is shared with:
// topapi/extcontact/create {"contact":{…}} → {"errcode":0,"userid":…},
// topapi/extcontact/update {"contact":{…,"user_id"}} and
// topapi/extcontact/delete {"user_id"}.
//
// Choices where the docs are silent: the write permission is not checked
// (its scope is not documented here); a missing name, follower or
// state_code, an unknown follower, or more than 20 labels or shares is
// 400002; update of an unknown user_id is 60200 and delete of one 33012
// (as extcontact/get); every write replaces the contact list (the
// caller's Truth is never modified).

type extInput struct {
	UserID       string          `json:"user_id"`
	Name         string          `json:"name"`
	Mobile       string          `json:"mobile"`
	StateCode    json.RawMessage `json:"state_code"`
	Email        string          `json:"email"`
	CompanyName  string          `json:"company_name"`
	Title        string          `json:"title"`
	Address      string          `json:"address"`
	Remark       string          `json:"remark"`
	Follower     string          `json:"follower_user_id"`
	LabelIDs     []json.Number   `json:"label_ids"`
	ShareDeptIDs []json.Number   `json:"share_dept_ids"`
	ShareUserIDs []string        `json:"share_user_ids"`
}

// contact reads and checks the "contact" object; it answers the error
// itself and returns ok=false.
func (s *Server) extContactParam(c *call) (dingbook.ExternalContact, string, bool) {
	var in extInput
	dec := json.NewDecoder(strings.NewReader(c.params["contact"]))
	dec.UseNumber()
	if c.params["contact"] == "" || dec.Decode(&in) != nil {
		s.fail(c, 400002, msgBadParam)
		return dingbook.ExternalContact{}, "", false
	}
	e := dingbook.ExternalContact{Name: strings.TrimSpace(in.Name), Mobile: strings.TrimSpace(in.Mobile),
		StateCode: strings.Trim(string(in.StateCode), `" `), Email: in.Email, CompanyName: in.CompanyName, Title: in.Title,
		Address: in.Address, Remark: in.Remark, FollowerUserID: in.Follower, ShareUserIDs: in.ShareUserIDs}
	ints := func(ns []json.Number) ([]int64, bool) {
		var out []int64
		for _, n := range ns {
			v, err := n.Int64()
			if err != nil {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	}
	labels, ok1 := ints(in.LabelIDs)
	depts, ok2 := ints(in.ShareDeptIDs)
	if !ok1 || !ok2 || e.Name == "" || e.StateCode == "" || s.people[e.FollowerUserID] == nil ||
		len(labels) > 20 || len(depts) > 20 || len(e.ShareUserIDs) > 20 {
		s.fail(c, 400002, msgBadParam)
		return e, "", false
	}
	if len(labels) == 0 {
		s.fail(c, 60204, "标签不能为空")
		return e, "", false
	}
	if len(e.Mobile) < 5 || strings.Trim(e.Mobile, "0123456789") != "" {
		s.fail(c, 60103, "手机号码不合法")
		return e, "", false
	}
	e.LabelIDs, e.ShareDeptIDs = labels, depts
	return e, in.UserID, true
}

// setExternal replaces the external contacts with list (copy on write).
func (s *Server) setExternal(list []dingbook.ExternalContact) {
	s.org.External = list
	s.ext = make(map[string]*dingbook.ExternalContact, len(list))
	for i := range list {
		s.ext[list[i].UserID] = &list[i]
	}
}

func (s *Server) extCreate(c *call) {
	e, _, ok := s.extContactParam(c)
	if !ok {
		return
	}
	s.extMu.Lock()
	defer s.extMu.Unlock()
	for _, x := range s.org.External {
		if x.Mobile == e.Mobile && x.StateCode == e.StateCode {
			s.fail(c, 22005, "外部联系人已存在")
			return
		}
	}
	for n := len(s.org.External); ; n++ {
		e.UserID = fmt.Sprintf("ext%08d", 5000000+n)
		if s.ext[e.UserID] == nil {
			break
		}
	}
	s.setExternal(append(slices.Clone(s.org.External), e))
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "userid": e.UserID})
}

func (s *Server) extUpdate(c *call) {
	e, id, ok := s.extContactParam(c)
	if !ok {
		return
	}
	s.extMu.Lock()
	defer s.extMu.Unlock()
	i := slices.IndexFunc(s.org.External, func(x dingbook.ExternalContact) bool { return x.UserID == id })
	if id == "" || i < 0 {
		s.fail(c, 60200, "外部联系人不存在")
		return
	}
	e.UserID = id
	list := slices.Clone(s.org.External)
	list[i] = e
	s.setExternal(list)
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok"})
}

func (s *Server) extDelete(c *call) {
	id := c.params["user_id"]
	s.extMu.Lock()
	defer s.extMu.Unlock()
	i := slices.IndexFunc(s.org.External, func(x dingbook.ExternalContact) bool { return x.UserID == id })
	if id == "" || i < 0 {
		s.fail(c, 33012, "无效的userId")
		return
	}
	s.setExternal(slices.Delete(slices.Clone(s.org.External), i, i+1))
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok"})
}
