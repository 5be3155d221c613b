package sim_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

func (h *harness) v1get(path, tok string, q url.Values) resp {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.ts.URL+path+"?"+q.Encode(), nil)
	if tok != "" {
		req.Header.Set("x-acs-dingtalk-access-token", tok)
	}
	return h.do(req)
}

func TestEmpLeaveRecords(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	start := h.clock.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05Z")
	var left []string
	for _, p := range h.srv.Org().People[:3] {
		left = append(left, p.UserID)
	}
	for _, u := range left {
		if err := h.srv.RemoveUser(u); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(time.Minute)
	}
	const path = "/v1.0/contact/empLeaveRecords"
	var got []string
	next := "0"
	for pages := 0; next != ""; pages++ {
		r := h.v1get(path, tok, url.Values{"startTime": {start}, "maxResults": {"2"}, "nextToken": {next}})
		if r.status != 200 || pages > 2 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.raw)
		}
		recs, _ := r.body["records"].([]any)
		for _, x := range recs {
			m := x.(map[string]any)
			if m["leaveReason"] != "oapi" || m["leaveTime"] == "" || m["name"] == "" {
				t.Fatalf("record %v", m)
			}
			got = append(got, m["userId"].(string))
		}
		next, _ = r.body["nextToken"].(string)
	}
	if len(got) != 3 || got[0] != left[0] || got[2] != left[2] {
		t.Fatalf("leavers %v, want %v", got, left)
	}
	// the window: before the first leave there is nobody
	r := h.v1get(path, tok, url.Values{"startTime": {start}, "endTime": {start}, "maxResults": {"50"}})
	if recs, _ := r.body["records"].([]any); r.status != 200 || len(recs) != 0 {
		t.Fatalf("empty window: %d %s", r.status, r.raw)
	}
	for name, q := range map[string]url.Values{
		"no startTime":    {"maxResults": {"10"}},
		"maxResults 51":   {"startTime": {start}, "maxResults": {"51"}},
		"window too long": {"startTime": {"2024-01-01T00:00:00Z"}, "endTime": {"2025-06-01T00:00:00Z"}, "maxResults": {"10"}},
		"start too old":   {"startTime": {"2020-01-01T00:00:00Z"}, "maxResults": {"10"}},
		"bad token":       {"startTime": {start}, "maxResults": {"10"}, "nextToken": {"nonsense"}},
	} {
		r := h.v1get(path, tok, q)
		if r.status != 400 || r.str("code") != "invalidParameter.param.invalid" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := h.v1get(path, "", url.Values{"startTime": {start}, "maxResults": {"10"}}); r.status != 400 || r.str("code") != "AuthenticationFailed.MissingParameter" {
		t.Fatalf("no token: %d %s", r.status, r.raw)
	}
	if r := h.v1(path, tok, map[string]any{}); r.status != 404 {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
}
