package sim_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/sink/gsheets/sim"
)

type harness struct {
	t   *testing.T
	s   *sim.Server
	srv *httptest.Server
	tok string
}

// newHarness gets a token the way a user token file does (refresh grant).
func newHarness(t *testing.T) *harness {
	s := sim.New(sim.Options{})
	s.AddUser("cid", "secret", "1//r", "hr@contoh.co.id")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h := &harness{t: t, s: s, srv: srv}
	st, body := h.form(url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"secret"}, "refresh_token": {"1//r"}})
	if st != 200 {
		t.Fatalf("token: %d %s", st, body)
	}
	var tk struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	json.Unmarshal([]byte(body), &tk)
	if tk.TokenType != "Bearer" || tk.ExpiresIn != 3599 || tk.AccessToken == "" {
		t.Fatalf("token body %s", body)
	}
	h.tok = tk.AccessToken
	return h
}

func (h *harness) form(v url.Values) (int, string) {
	resp, err := http.Post(h.srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (h *harness) do(method, path, body string) (int, string) {
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if h.tok != "" {
		req.Header.Set("Authorization", "Bearer "+h.tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestRoutingRangesAndBatches(t *testing.T) {
	h := newHarness(t)
	id := h.s.NewSpreadsheet("hr@contoh.co.id", "t", nil)
	// Rename the tab to a title that needs quoting, then write and read
	// through escaped ranges: the colon of the range is %3A, the verb's is
	// literal.
	st, body := h.do("POST", "/v4/spreadsheets/"+id+":batchUpdate", `{"requests":[{"updateSheetProperties":{"properties":{"sheetId":0,"title":"Kontak Aktif","gridProperties":{"rowCount":3,"columnCount":2}},"fields":"title,gridProperties.rowCount,gridProperties.columnCount"}}]}`)
	if st != 200 {
		t.Fatalf("rename: %d %s", st, body)
	}
	st, body = h.do("POST", "/v4/spreadsheets/"+id+"/values:batchUpdate", `{"valueInputOption":"RAW","data":[{"range":"'Kontak Aktif'!A1:B2","values":[["a","0812"],["=1+1",null]]}]}`)
	if st != 200 || !strings.Contains(body, `"totalUpdatedCells":3`) {
		t.Fatalf("write: %d %s", st, body)
	}
	st, body = h.do("GET", "/v4/spreadsheets/"+id+"/values/%27Kontak%20Aktif%27%21A1%3AB3?valueRenderOption=FORMULA", "")
	if st != 200 || body != `{"majorDimension":"ROWS","range":"'Kontak Aktif'!A1:B3","values":[["a","0812"],["=1+1"]]}` {
		t.Fatalf("read: %d %s", st, body)
	}
	// Outside the grid: Google's message, and nothing of the batch applied.
	st, body = h.do("POST", "/v4/spreadsheets/"+id+"/values:batchUpdate", `{"valueInputOption":"RAW","data":[{"range":"'Kontak Aktif'!A1","values":[["changed"]]},{"range":"'Kontak Aktif'!A4","values":[["x"]]}]}`)
	if st != 400 || !strings.Contains(body, `Invalid data[1]: Range ('Kontak Aktif'!A4) exceeds grid limits. Max rows: 3, max columns: 2`) || !strings.Contains(body, `"status":"INVALID_ARGUMENT"`) {
		t.Fatalf("grid: %d %s", st, body)
	}
	if h.s.Values(id)[0][0].Value != "a" {
		t.Error("a refused batch was partly applied")
	}
	// Deleting every non-frozen row is refused; the batch is atomic.
	st, body = h.do("POST", "/v4/spreadsheets/"+id+":batchUpdate", `{"requests":[{"updateSheetProperties":{"properties":{"sheetId":0,"gridProperties":{"frozenRowCount":1}},"fields":"gridProperties.frozenRowCount"}},{"deleteDimension":{"range":{"sheetId":0,"dimension":"ROWS","startIndex":1,"endIndex":3}}}]}`)
	if st != 400 || !strings.Contains(body, "Invalid requests[1].deleteDimension: Sorry, it is not possible to delete all non-frozen rows.") {
		t.Fatalf("delete all: %d %s", st, body)
	}
	if _, _, frozen := h.s.Grid(id); frozen != 0 {
		t.Error("the first request of a refused batch was applied")
	}
	// USER_ENTERED makes numbers and formulas; RAW never does.
	h.do("POST", "/v4/spreadsheets/"+id+"/values:batchUpdate", `{"valueInputOption":"USER_ENTERED","data":[{"range":"'Kontak Aktif'!A3:B3","values":[["+62812","=A1"]]}]}`)
	if c := h.s.Values(id)[2]; c[0].Kind != "number" || c[1].Kind != "formula" {
		t.Errorf("USER_ENTERED: %+v", c)
	}
}

func TestErrorsAndQuota(t *testing.T) {
	h := newHarness(t)
	// Drive's 404 has errors[] and no status.
	st, body := h.do("GET", "/drive/v3/files/nope/permissions", "")
	if st != 404 || body != `{"error":{"code":404,"errors":[{"domain":"global","location":"fileId","locationType":"parameter","message":"File not found: nope.","reason":"notFound"}],"message":"File not found: nope."}}` {
		t.Fatalf("drive 404: %d %s", st, body)
	}
	st, body = h.do("GET", "/v4/spreadsheets/nope", "")
	if st != 404 || body != `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}` {
		t.Fatalf("sheets 404: %d %s", st, body)
	}
	// Reads: 60 a minute, then the read 429.
	id := h.s.NewSpreadsheet("hr@contoh.co.id", "t", nil)
	for i := 0; i < 59; i++ { // the 404 above was read 1 of 60
		if st, body := h.do("GET", "/v4/spreadsheets/"+id, ""); st != 200 {
			t.Fatalf("read %d: %d %s", i, st, body)
		}
	}
	st, body = h.do("GET", "/v4/spreadsheets/"+id, "")
	if st != 429 || !strings.Contains(body, `"quota_limit":"ReadRequestsPerMinutePerUser"`) {
		t.Fatalf("read quota: %d %s", st, body)
	}
	// Without a token: 401.
	h.tok = ""
	if st, body := h.do("GET", "/v4/spreadsheets/"+id, ""); st != 401 || !strings.Contains(body, "UNAUTHENTICATED") {
		t.Fatalf("no token: %d %s", st, body)
	}
	// A revoked refresh token.
	if st, body := h.form(url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"secret"}, "refresh_token": {"1//old"}}); st != 400 ||
		body != `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}` {
		t.Fatalf("revoked: %d %s", st, body)
	}
}

func TestJWTSignatureChecked(t *testing.T) {
	s := sim.New(sim.Options{})
	good, _ := rsa.GenerateKey(rand.Reader, 2048)
	s.AddServiceAccount("sa@p.iam.gserviceaccount.com", &good.PublicKey)
	srv := httptest.NewServer(s)
	defer srv.Close()
	// A JWT signed with another key: refused. (Signing itself is tested
	// through the client in sink/gsheets; here a forged signature.)
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": "sa@p.iam.gserviceaccount.com", "scope": "s", "aud": srv.URL + "/token", "iat": now, "exp": now + 3600})
	jwt := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".AAAA"
	resp, _ := http.PostForm(srv.URL+"/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(b) != `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`+"\n" {
		t.Fatalf("forged: %d %s", resp.StatusCode, b)
	}
}

func TestFieldsMask(t *testing.T) {
	h := newHarness(t)
	id := h.s.NewSpreadsheet("hr@contoh.co.id", "t", nil)
	st, body := h.do("GET", "/v4/spreadsheets/"+id+"?fields="+url.QueryEscape("spreadsheetId,sheets(properties(sheetId,gridProperties(rowCount)))"), "")
	if st != 200 || body != `{"sheets":[{"properties":{"gridProperties":{"rowCount":1000},"sheetId":0}}],"spreadsheetId":"`+id+`"}` {
		t.Fatalf("sheets mask: %d %s", st, body)
	}
	if st, _ := h.do("GET", "/v4/spreadsheets/"+id+"?fields=sheets(properties", ""); st != 400 {
		t.Fatalf("bad mask: %d", st)
	}
	st, body = h.do("GET", "/drive/v3/files/"+id+"/permissions?fields="+url.QueryEscape("permissions(type,role)"), "")
	if st != 200 || body != `{"permissions":[{"role":"owner","type":"user"}]}` {
		t.Fatalf("drive mask: %d %s", st, body)
	}
}
