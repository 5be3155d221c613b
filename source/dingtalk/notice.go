package dingtalk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
)

// APINotice sends work notices (工作通知).
const APINotice = "topapi/message/corpconversation/asyncsend_v2"

// Limits of one asyncsend_v2 call: 100 userids (the current doc; the Java
// SDK says 5000), 20 departments, a msg of 2048 bytes.
const (
	NoticeMaxUsers = 100
	NoticeMaxDepts = 20
	NoticeMaxBytes = 2048
)

// WorkNotice is a work notice: its recipients (userids, departments with
// their sub-departments, or everyone) and the msg object, e.g. TextMsg.
type WorkNotice struct {
	UserIDs []string
	DeptIDs []int64
	ToAll   bool
	Msg     map[string]any
}

// TextMsg is a text work notice's msg.
func TextMsg(content string) map[string]any {
	return map[string]any{"msgtype": "text", "text": map[string]any{"content": content}}
}

// MarkdownMsg is a markdown work notice's msg.
func MarkdownMsg(title, text string) map[string]any {
	return map[string]any{"msgtype": "markdown", "markdown": map[string]any{"title": title, "text": text}}
}

// SendWorkNotice sends n as the app (Config.AgentID), in as many calls as
// the recipient limits need, and returns DingTalk's task ids. DingTalk
// sends asynchronously: it accepts and silently drops a notice that repeats
// the same content to the same person on the same day, or exceeds 500 a
// day per person.
func (c *Client) SendWorkNotice(ctx context.Context, n WorkNotice) ([]int64, error) {
	if c.cfg.AgentID == 0 {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "work notices need the app's agentId",
			Hint: "set DINGTALK_AGENT_ID (open-dev.dingtalk.com → the app → 凭证与基础信息 / Credentials → AgentId)"}
	}
	if len(n.UserIDs) == 0 && len(n.DeptIDs) == 0 && !n.ToAll {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "a work notice without recipients", Hint: "name userids, departments or everyone"}
	}
	msg, err := json.Marshal(n.Msg)
	if err != nil {
		return nil, err
	}
	if len(msg) > NoticeMaxBytes || n.Msg["msgtype"] == nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID,
			Message: fmt.Sprintf("a work notice's msg must name its msgtype and hold at most %d bytes (this one: %d)", NoticeMaxBytes, len(msg)),
			Hint:    "shorten the text; link to the portal for details"}
	}
	var tasks []int64
	send := func(users []string, depts []int64, all bool) error {
		body := map[string]any{"agent_id": c.cfg.AgentID, "msg": json.RawMessage(msg)}
		if len(users) > 0 {
			body["userid_list"] = strings.Join(users, ",")
		}
		if len(depts) > 0 {
			ds := make([]string, len(depts))
			for i, d := range depts {
				ds[i] = strconv.FormatInt(d, 10)
			}
			body["dept_id_list"] = strings.Join(ds, ",")
		}
		if all {
			body["to_all_user"] = true
		}
		var raw struct {
			TaskID Int `json:"task_id"`
		}
		detail := fmt.Sprintf("%d userids, %d departments", len(users), len(depts))
		if err := c.call(ctx, APINotice, http.MethodPost, body, &raw, detail, ""); err != nil {
			return err
		}
		tasks = append(tasks, int64(raw.TaskID))
		return nil
	}
	if n.ToAll {
		return tasks, send(nil, nil, true)
	}
	users, depts := n.UserIDs, n.DeptIDs
	for len(users) > 0 || len(depts) > 0 {
		u := users[:min(len(users), NoticeMaxUsers)]
		d := depts[:min(len(depts), NoticeMaxDepts)]
		users, depts = users[len(u):], depts[len(d):]
		if err := send(u, d, false); err != nil {
			return tasks, err
		}
	}
	return tasks, nil
}
