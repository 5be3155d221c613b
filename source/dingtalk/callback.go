package dingtalk

import (
	"context"
	"encoding/json"
	"net/http"
)

// APICallbackFailed is the failed-push backlog (dingtalk-api.md §8.5).
const APICallbackFailed = "call_back/get_call_back_failed_result"

// FailedPush is one event DingTalk could not deliver: its type, when it
// happened and its data object (keyed as the backlog sends it, e.g.
// {"userid":[…],"corpid":…}).
type FailedPush struct {
	Tag       string
	EventTime int64 // Unix ms
	Data      json.RawMessage
}

// FailedPushes calls GET call_back/get_call_back_failed_result: up to 200
// undelivered events, which DingTalk hands out once; more says whether
// another call would return more.
func (c *Client) FailedPushes(ctx context.Context) (list []FailedPush, more bool, err error) {
	var raw struct {
		HasMore    Bool                         `json:"has_more"`
		FailedList []map[string]json.RawMessage `json:"failed_list"`
	}
	if err := c.call(ctx, APICallbackFailed, http.MethodGet, nil, &raw, "", ""); err != nil {
		return nil, false, err
	}
	for _, item := range raw.FailedList {
		var tag Str
		var at Int
		json.Unmarshal(item["call_back_tag"], &tag)
		json.Unmarshal(item["event_time"], &at)
		list = append(list, FailedPush{Tag: string(tag), EventTime: int64(at), Data: item[string(tag)]})
	}
	return list, bool(raw.HasMore), nil
}
