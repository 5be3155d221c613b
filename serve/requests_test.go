package serve_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/serve"
)

// postJSON POSTs body as JSON (lang: Accept-Language) and decodes the
// answer into v when it is JSON.
func (b *browser) postJSON(path, body, lang string, v any) (int, map[string]string) {
	b.e.t.Helper()
	req, err := http.NewRequest("POST", b.e.url+path, strings.NewReader(body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		b.e.t.Fatalf("%s: Content-Type %q: %s", path, ct, raw)
	}
	var problem map[string]string
	if resp.StatusCode >= 400 {
		json.Unmarshal(raw, &problem)
	} else if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			b.e.t.Fatalf("%s: %v: %s", path, err, raw)
		}
	}
	return resp.StatusCode, problem
}

// TestRequestsAPI: the JSON contract, end to end through the
// simulator: an employee asks, the sub-admin of the department sees it in
// their inbox and approves a narrower version; the requester cannot
// approve their own; bad bodies get 4xx answers in the requester's
// language and store nothing.
func TestRequestsAPI(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	_, sub, emp := demoUsers(t, e.sim)
	dept := scopeDept(e, sub)
	requester, approver := e.browser(emp).login(), e.browser(sub).login()
	good := `{"departments": [` + itoa(dept) + `], "profile": "contact", "formats": ["xlsx", "csv"], "purpose": "legal review", "basis": "hr-management", "justification": "to call the team", "days": 3}`

	for name, c := range map[string]struct {
		body, lang string
		status     int
		want       string // in the message
	}{
		"malformed":          {`{"departments": [`, "zh", 400, "请求体无效"},
		"unknown field":      {strings.Replace(good, `"days"`, `"weeks": 1, "days"`, 1), "id", 400, "Isi permintaan tidak valid"},
		"two objects":        {good + good, "en", 400, "not valid"},
		"oversized":          {`{"purpose": "` + strings.Repeat("x", serve.MaxBodyBytes) + `"}`, "zh", 413, "64 KiB"},
		"negative days":      {strings.Replace(good, `"days": 3`, `"days": -2`, 1), "en", 400, "days"},
		"huge days":          {strings.Replace(good, `"days": 3`, `"days": 99999999999`, 1), "en", 422, "maximum"},
		"unknown department": {strings.Replace(good, "["+itoa(dept)+"]", "[987654321]", 1), "en", 400, "987654321"},
		"no justification":   {strings.Replace(good, `"to call the team"`, `""`, 1), "en", 422, "justification"},
	} {
		status, problem := requester.postJSON("/api/v1/requests", c.body, c.lang, nil)
		if status != c.status || !strings.Contains(problem["message"], c.want) {
			t.Errorf("%s: %d %v, want %d with %q", name, status, problem, c.status, c.want)
		}
	}
	var mine serve.RequestList
	if st := requester.getJSON("/api/v1/requests?role=mine", &mine); st != 200 || len(mine.Requests) != 0 {
		t.Fatalf("refused requests were stored: %d %+v", st, mine)
	}

	var created serve.RequestCreated
	if st, p := requester.postJSON("/api/v1/requests", good, "", &created); st != 201 || created.State != "pending" || created.ID == "" || len(created.Approvers) == 0 {
		t.Fatalf("create: %d %v %+v", st, p, created)
	}
	if n := e.sim.Notices(); len(n) != 1 || strings.Join(n[0].UserIDs, ",") != strings.Join(created.Approvers, ",") || !strings.Contains(string(n[0].Msg), created.ID) {
		t.Fatalf("work notices %+v, approvers %v", n, created.Approvers)
	}
	var inbox serve.RequestList
	if st := approver.getJSON("/api/v1/requests?role=approver", &inbox); st != 200 || len(inbox.Requests) != 1 || inbox.Requests[0].ID != created.ID || inbox.Requests[0].Requester != emp {
		t.Fatalf("the approver's inbox: %d %+v", st, inbox)
	}
	if st := approver.getJSON("/api/v1/requests?role=everyone", &inbox); st != 400 {
		t.Fatalf("an unknown role: %d", st)
	}
	if st, _ := requester.postJSON("/api/v1/requests/"+created.ID+"/approve", "", "", nil); st != 403 {
		t.Fatalf("self-approval: %d", st)
	}
	if st, _ := approver.postJSON("/api/v1/requests/"+created.ID+"/approve", `{"fields": ["name", "hired_date"]}`, "", nil); st != 400 {
		t.Fatalf("a widening approval: %d", st)
	}
	if st, _ := approver.postJSON("/api/v1/requests/"+created.ID+"/approve", `{"reason": "x"}`, "", nil); st != 400 {
		t.Fatalf("an approval with an unknown field: %d", st)
	}
	var got map[string]any
	if st, p := approver.postJSON("/api/v1/requests/"+created.ID+"/approve", `{"fields": ["name", "org_email"], "days": 1}`, "", &got); st != 200 || got["state"] != "approved" {
		t.Fatalf("approve: %d %v %v", st, p, got)
	}
	if st := requester.getJSON("/api/v1/requests", &mine); st != 200 || len(mine.Requests) != 1 || mine.Requests[0].State != "approved" ||
		mine.Requests[0].Granted == nil || mine.Requests[0].Granted.Days != 1 || strings.Join(mine.Requests[0].Granted.Fields, ",") != "name,org_email" {
		t.Fatalf("the requester sees %d %+v", st, mine)
	}
	if st, _ := approver.postJSON("/api/v1/requests/"+created.ID+"/deny", `{"reason": "changed my mind"}`, "", nil); st != 422 {
		t.Fatalf("denying a decided request: %d", st)
	}
	if st, _ := approver.postJSON("/api/v1/requests/r-nosuch/deny", `{"reason": "no"}`, "", nil); st != 404 {
		t.Fatalf("denying an unknown request: %d", st)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
