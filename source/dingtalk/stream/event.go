package stream

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk"
)

// Contact event types (dingtalk-api.md §8.3).
const (
	UserAdd     = "user_add_org"
	UserModify  = "user_modify_org"
	UserLeave   = "user_leave_org"
	UserActive  = "user_active_org"
	DeptCreate  = "org_dept_create"
	DeptModify  = "org_dept_modify"
	DeptRemove  = "org_dept_remove"
	AdminAdd    = "org_admin_add"
	AdminRemove = "org_admin_remove"
)

// Event is one decoded change event. Contact events carry ids only: the
// consumer re-reads what they name (v2/user/get, v2/department/get; a
// leaver or removed department answers 60121 or 60003).
type Event struct {
	// ID is the eventId; for a backlog entry, which has none, it is
	// "backlog:" and a hash of type, time and data (see FromBacklog).
	ID       string
	Type     string
	CorpID   string
	AppID    string // eventUnifiedAppId
	BornTime time.Time
	// UserIDs and DeptIDs are the ids the event names (data.userId,
	// data.deptId; any casing, a list or a single value).
	UserIDs []string
	DeptIDs []int64
	// Diff is user_modify_org's diffInfo: the changed keys only.
	Diff *Diff
	// Data is the event's raw data object.
	Data json.RawMessage
	// FromBacklog marks an event read from the failed-push backlog.
	FromBacklog bool
}

// Diff is user_modify_org's diffInfo.
type Diff struct {
	UserID string         `json:"userid"`
	Prev   map[string]any `json:"prev"`
	Curr   map[string]any `json:"curr"`
}

// decodeData fills the ids and the diff from a data object whose keys
// may be cased as Stream (userId, deptId), backlog (userid, deptid) or
// HTTP push (UserId, DeptId) send them.
func (e *Event) decodeData(data []byte) error {
	e.Data = append(json.RawMessage(nil), data...)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("event %s (%s): data is not a JSON object: %w", e.ID, e.Type, err)
	}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "userid":
			ids, err := stringList(v)
			if err != nil {
				return fmt.Errorf("event %s (%s): data.%s: %w", e.ID, e.Type, k, err)
			}
			e.UserIDs = ids
		case "deptid":
			var ids dingtalk.Ints
			if err := json.Unmarshal(v, &ids); err != nil {
				var one dingtalk.Int
				if json.Unmarshal(v, &one) != nil {
					return fmt.Errorf("event %s (%s): data.%s: %w", e.ID, e.Type, k, err)
				}
				ids = dingtalk.Ints{int64(one)}
			}
			e.DeptIDs = ids
		case "diffinfo":
			var d Diff
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("event %s (%s): data.%s: %w", e.ID, e.Type, k, err)
			}
			e.Diff = &d
		}
	}
	return nil
}

// stringList accepts a list of ids or a single id (ISV leave events).
func stringList(v json.RawMessage) ([]string, error) {
	var ids dingtalk.Strs
	if err := json.Unmarshal(v, &ids); err == nil {
		return ids, nil
	}
	var one dingtalk.Str
	if err := json.Unmarshal(v, &one); err != nil {
		return nil, err
	}
	if one == "" {
		return nil, nil
	}
	return []string{string(one)}, nil
}

// eventFromFrame decodes an EVENT data frame.
func eventFromFrame(f *frame) (Event, error) {
	h := f.Headers
	e := Event{ID: h["eventId"], Type: h["eventType"], CorpID: h["eventCorpId"], AppID: h["eventUnifiedAppId"]}
	if ms, err := strconv.ParseInt(h["eventBornTime"], 10, 64); err == nil {
		e.BornTime = time.UnixMilli(ms)
	}
	if e.ID == "" || e.Type == "" {
		return e, fmt.Errorf("EVENT frame %s has no eventId or eventType", h["messageId"])
	}
	return e, e.decodeData([]byte(f.Data))
}

// eventFromBacklog decodes a failed-push backlog entry.
func eventFromBacklog(p dingtalk.FailedPush) (Event, error) {
	sum := sha256.Sum256([]byte(p.Tag + "\x00" + strconv.FormatInt(p.EventTime, 10) + "\x00" + string(p.Data)))
	e := Event{ID: "backlog:" + hex.EncodeToString(sum[:12]), Type: p.Tag, FromBacklog: true}
	if p.EventTime > 0 {
		e.BornTime = time.UnixMilli(p.EventTime)
	}
	if len(p.Data) == 0 {
		return e, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(p.Data, &m) == nil {
		var corp dingtalk.Str
		json.Unmarshal(m["corpid"], &corp)
		e.CorpID = string(corp)
	}
	return e, e.decodeData(p.Data)
}
