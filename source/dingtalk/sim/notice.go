package sim

import (
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Notice is one work notice accepted by
// topapi/message/corpconversation/asyncsend_v2, as the simulator
// recorded it.
type Notice struct {
	TaskID  int64
	App     string
	AgentID int64
	// UserIDs, DeptIDs and ToAll are the request's recipients.
	UserIDs []string
	DeptIDs []int64
	ToAll   bool
	// Msg is the msg object as sent (JSON).
	Msg json.RawMessage
	// Delivered are the userids that receive it: the listed members, the
	// members of the listed departments and their sub-departments, minus
	// unknown userids and minus what DingTalk's limits drop (it accepts
	// those calls but does not deliver): the same content from the same
	// app to the same person on the same day, more than 500 notices from
	// one app to one person a day, more than 3 to_all_user sends a day.
	Delivered []string
	// Dropped are the userids that do not receive it.
	Dropped []string
	Time    time.Time
}

// Notices returns the work notices accepted so far, oldest first.
func (s *Server) Notices() []Notice {
	l := s.login
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Notice(nil), l.notices...)
}

// sendNotice answers asyncsend_v2: {"errcode":0,"errmsg":"ok",
// "task_id":N,"request_id":…} (task_id at the top level).
func (s *Server) sendNotice(c *call) {
	agent, present, ok := c.intParam("agent_id")
	if !present || !ok || agent <= 0 {
		s.fail(c, 400002, msgBadParam)
		return
	}
	if c.app.AgentID != 0 && agent != c.app.AgentID {
		// The real code for a foreign agent_id is not documented in
		// serve.md or dingtalk-api.md; 400002 keeps it a plain refusal.
		s.fail(c, 400002, "无效的agent_id")
		return
	}
	users := listParam(c.params["userid_list"])
	var depts []int64
	for _, d := range listParam(c.params["dept_id_list"]) {
		id, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			s.fail(c, 400002, msgBadParam)
			return
		}
		depts = append(depts, id)
	}
	toAll, _, _ := c.boolParam("to_all_user")
	if len(users) == 0 && len(depts) == 0 && !toAll {
		s.fail(c, 400002, "userid_list、dept_id_list、to_all_user 必须有一个不能为空")
		return
	}
	if len(users) > s.login.cfg.NoticeMaxUsers || len(depts) > 20 {
		s.fail(c, 400002, "接收者列表超过最大长度")
		return
	}
	raw := c.params["msg"]
	var msg struct {
		MsgType string `json:"msgtype"`
	}
	if raw == "" || len(raw) > 2048 || json.Unmarshal([]byte(raw), &msg) != nil || msg.MsgType == "" {
		s.fail(c, 400002, "消息内容无效")
		return
	}
	// recipients
	want := map[string]bool{}
	var order []string
	add := func(u string) {
		if !want[u] {
			want[u] = true
			order = append(order, u)
		}
	}
	for _, u := range users {
		add(u)
	}
	for _, d := range depts {
		if s.tree.Dept(d) == nil {
			continue
		}
		for _, x := range s.tree.Descendants(d) {
			for _, p := range s.members[x] {
				add(p.UserID)
			}
		}
	}
	if toAll {
		for i := range s.org.People {
			add(s.org.People[i].UserID)
		}
	}
	now := s.cfg.Now()
	sum := sha256.Sum256([]byte(raw))
	day := now.In(cst).Format("2006-01-02")
	n := Notice{App: c.app.Key, AgentID: agent, UserIDs: users, DeptIDs: depts, ToAll: toAll, Msg: json.RawMessage(raw), Time: now}
	l := s.login
	l.mu.Lock()
	l.nextTask++
	n.TaskID = l.nextTask
	allOver := false
	if toAll {
		l.daily[c.app.Key+"|all|"+day]++
		allOver = l.daily[c.app.Key+"|all|"+day] > 3
	}
	for _, u := range order {
		key := c.app.Key + "|" + u + "|" + day + "|" + string(sum[:])
		perDay := c.app.Key + "|" + u + "|" + day
		if s.people[u] == nil || l.delivered[key] || allOver || l.daily[perDay] >= 500 {
			n.Dropped = append(n.Dropped, u)
			continue
		}
		l.delivered[key] = true
		l.daily[perDay]++
		n.Delivered = append(n.Delivered, u)
	}
	l.notices = append(l.notices, n)
	l.mu.Unlock()
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "task_id": n.TaskID})
}

// listParam reads a comma-separated list, or a JSON array as some
// clients send it.
func listParam(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		var arr []any
		if json.Unmarshal([]byte(v), &arr) == nil {
			var out []string
			for _, x := range arr {
				switch t := x.(type) {
				case string:
					out = append(out, t)
				case float64:
					out = append(out, strconv.FormatInt(int64(t), 10))
				}
			}
			return out
		}
	}
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
