package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dingbook/dingbook"
)

// GET /v1.0/contact/empLeaveRecords (dingtalk-api.md §9.3, checklist 32),
// served from the leavers RemoveUser records.
//
// Choices where the doc is silent: records come in leave order;
// nextToken is an opaque 16-character hex text (the first call sends
// "0") and is absent on the last page; leaveReason is "oapi" (the leaver
// was removed through the API); the window checks use the simulator's
// clock.

const leaveRecordsPath = "/v1.0/contact/empLeaveRecords"

// leaveTimeLayout is the doc's YYYY-MM-DDTHH:mm:ssZ.
const leaveTimeLayout = "2006-01-02T15:04:05Z"

// tokenMask hides the offset in nextToken.
const tokenMask = 0x5DCC7A656FFA6F07

type leaveRecord struct {
	p    dingbook.Person
	time time.Time
}

// recordLeave remembers a leaver for empLeaveRecords.
func (s *Server) recordLeave(p dingbook.Person) {
	es := s.events
	es.mu.Lock()
	es.leaves = append(es.leaves, leaveRecord{p: p, time: s.cfg.Now().UTC()})
	es.mu.Unlock()
}

func (s *Server) leaveRecords(w http.ResponseWriter, r *http.Request, bad func(msg string)) {
	q := r.URL.Query()
	now := s.cfg.Now()
	start, err := time.Parse(leaveTimeLayout, q.Get("startTime"))
	if err != nil {
		bad("startTime is required, as YYYY-MM-DDTHH:mm:ssZ")
		return
	}
	end := now
	if e := q.Get("endTime"); e != "" {
		if end, err = time.Parse(leaveTimeLayout, e); err != nil || end.Before(start) {
			bad("endTime must be YYYY-MM-DDTHH:mm:ssZ and not before startTime")
			return
		}
		if end.Sub(start) > 365*24*time.Hour {
			bad("the window from startTime to endTime exceeds 365 days")
			return
		}
	} else if now.Sub(start) > 365*24*time.Hour {
		bad("without endTime, startTime must lie within 365 days")
		return
	}
	max, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || max < 1 || max > 50 {
		bad("maxResults is required, 1 to 50")
		return
	}
	off := 0
	if t := q.Get("nextToken"); t != "" && t != "0" {
		v, err := strconv.ParseUint(t, 16, 64)
		if err != nil || len(t) != 16 || v^tokenMask > 1<<31 {
			bad("nextToken is not one this API returned")
			return
		}
		off = int(v ^ tokenMask)
	}
	es := s.events
	es.mu.Lock()
	var in []leaveRecord
	for _, l := range es.leaves {
		if !l.time.Before(start) && !l.time.After(end) {
			in = append(in, l)
		}
	}
	es.mu.Unlock()
	lo := min(off, len(in))
	hi := min(lo+max, len(in))
	records := []any{}
	for _, l := range in[lo:hi] {
		m := map[string]any{"userId": l.p.UserID, "name": l.p.Name, "leaveTime": l.time.Format(leaveTimeLayout), "leaveReason": "oapi"}
		if l.p.Mobile != "" {
			m["mobile"], m["stateCode"] = l.p.Mobile, l.p.StateCode
		}
		records = append(records, m)
	}
	body := map[string]any{"records": records}
	if hi < len(in) {
		body["nextToken"] = fmt.Sprintf("%016X", uint64(hi)^tokenMask)
	}
	s.v1Headers(w)
	w.WriteHeader(http.StatusOK)
	writeJSON(w, body)
}
