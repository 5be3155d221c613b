package dingtalk

import (
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

// FuzzDecodeAnswer feeds any body to the response decoder as the answer of
// each kind of call (v2/user/list, v2/department/get, listsubid,
// extcontact/list's "results", listadmin) and to the tolerant scalars on
// their own. It checks that nothing panics, that every failure is one of
// the decoder's three kinds with a message, that an integer is accepted
// only when the text is exactly that integer (never truncated, rounded or
// overflowed), and that a cursor goes back out as valid JSON.
// The seed corpus is testdata/fuzz/FuzzDecodeAnswer.
func FuzzDecodeAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var (
			page   UserPage
			simple SimplePage
			dept   Dept
			ext    []ExtContact
			admins []struct {
				UserID   Str `json:"userid"`
				SysLevel Int `json:"sys_level"`
			}
			sub struct {
				IDs Ints `json:"dept_id_list"`
			}
		)
		calls := []struct {
			api, field string
			out        any
		}{
			{APIUserList, "result", &page},
			{APIListSimple, "result", &simple},
			{APIDeptGet, "result", &dept},
			{APIListSubID, "result", &sub},
			{APIListAdmin, "result", &admins},
			{APIExtList, "results", &ext},
			{"gettoken", "", &page},
		}
		for _, c := range calls {
			ae, err := decodeAnswer(c.api, "dept_id 1", 200, body, c.out, c.field)
			checkAnswerErr(t, c.api, ae, err)
		}
		for i := range page.List {
			p := page.List[i].Person(7)
			if len(p.Depts) == 0 {
				t.Fatalf("user %q listed in department 7 has no membership", p.UserID)
			}
		}
		_ = dept.Department()
		for i := range ext {
			_ = ext[i].Contact()
		}
		for _, cur := range []Cursor{page.NextCursor, simple.NextCursor} {
			b, err := json.Marshal(map[string]any{"cursor": cur})
			if err != nil || !json.Valid(b) {
				t.Fatalf("cursor %q goes back out as invalid JSON %q: %v", []byte(cur), b, err)
			}
		}

		// The scalars on their own.
		var n Int
		if err := json.Unmarshal(body, &n); err == nil {
			checkExactInt(t, body, int64(n))
		}
		var ids Ints
		if err := json.Unmarshal(body, &ids); err == nil {
			var elems []json.RawMessage
			if json.Unmarshal(body, &elems) == nil {
				for i, e := range elems {
					checkExactInt(t, e, ids[i])
				}
			}
		}
		var (
			b    Bool
			s    Str
			ss   Strs
			ext1 Extension
		)
		_ = json.Unmarshal(body, &b)
		_ = json.Unmarshal(body, &s)
		_ = json.Unmarshal(body, &ss)
		_ = json.Unmarshal(body, &ext1)
	})
}

// checkAnswerErr checks that a decoder failure is an *APIError with a
// code, an *errTransient or a *dingbook.Error with a message and a hint.
func checkAnswerErr(t *testing.T, api string, ae *APIError, err error) {
	t.Helper()
	if ae != nil {
		if err != nil {
			t.Fatalf("%s: both an API error and %v", api, err)
		}
		if ae.Code == 0 {
			t.Fatalf("%s: API error with code 0: %+v", api, ae)
		}
		return
	}
	if err == nil {
		return
	}
	var te *errTransient
	var de *dingbook.Error
	switch {
	case errors.As(err, &te):
		if te.msg == "" {
			t.Fatalf("%s: transient error without a message", api)
		}
	case errors.As(err, &de):
		if de.Message == "" || de.Hint == "" || !strings.Contains(de.Message, api) {
			t.Fatalf("%s: error without the call, a message or a hint: %+v", api, de)
		}
	default:
		t.Fatalf("%s: unexpected error type %T: %v", api, err, err)
	}
}

// checkExactInt checks that raw (a JSON number, or a string holding one)
// denotes exactly the integer got. null and "" are 0.
func checkExactInt(t *testing.T, raw []byte, got int64) {
	t.Helper()
	text := strings.TrimSpace(string(raw))
	if text == "null" {
		return
	}
	if strings.HasPrefix(text, `"`) {
		if err := json.Unmarshal([]byte(text), &text); err != nil {
			t.Fatalf("%s accepted as %d but is not a JSON string", raw, got)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			if got != 0 {
				t.Fatalf("%s read as %d, want 0", raw, got)
			}
			return
		}
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || !r.IsInt() || r.Num().Cmp(big.NewInt(got)) != 0 {
		t.Fatalf("%s accepted as the integer %d, which it is not", raw, got)
	}
}
