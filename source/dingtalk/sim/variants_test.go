package sim_test

import (
	"strings"
	"testing"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

// UNCONFIRMED variants (§11) the simulator can produce.

func TestSeparateV1Tokens(t *testing.T) {
	app := sim.DefaultApp()
	h := newSim(t, sim.Config{SeparateV1Tokens: true})
	a := h.token()
	r := h.v1("/v1.0/oauth2/accessToken", "", map[string]string{"appKey": app.Key, "appSecret": app.Secret})
	b := r.str("accessToken")
	if b == "" || b == a {
		t.Fatalf("tokens %q and %q", a, b)
	}
	// each endpoint keeps returning its own; both work on oapi
	if h.token() != a {
		t.Error("gettoken token changed")
	}
	if r := h.v1("/v1.0/oauth2/accessToken", "", map[string]string{"appKey": app.Key, "appSecret": app.Secret}); r.str("accessToken") != b {
		t.Error("v1 token changed")
	}
	wantCode(t, h.post("/topapi/user/count", a, `{"only_active":true}`), "0")
	wantCode(t, h.post("/topapi/user/count", b, `{"only_active":true}`), "0")
}

func TestWrapBusinessErrors(t *testing.T) {
	h := newSim(t, sim.Config{WrapBusinessErrors: true})
	tok := h.token()
	r := h.post("/topapi/v2/user/get", tok, `{"userid":"nobody"}`)
	wantSub(t, r, "60121")
	if r.str("sub_msg") != "找不到该用户" {
		t.Errorf("sub_msg %s", r.raw)
	}
	wantSub(t, h.post("/topapi/v2/department/get", tok, `{"dept_id":999}`), "60003")
	// others stay direct
	wantCode(t, h.post("/topapi/user/count", tok, `{}`), "400002")
}

func TestOpaqueCursor(t *testing.T) {
	h := newSim(t, sim.Config{OpaqueCursor: true})
	tok := h.token()
	// the root of the 400-person test org has several pages of size 3
	var ids []string
	cursor := any(0)
	for i := 0; i < 1000; i++ {
		r := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": 1, "cursor": cursor, "size": 3, "contain_access_limit": true})
		wantCode(t, r, "0")
		for _, it := range asList(r.result()["list"]) {
			ids = append(ids, asMap(it)["userid"].(string))
		}
		if numStr(r.result()["has_more"]) != "true" {
			break
		}
		next := numStr(r.result()["next_cursor"])
		if next == "3" && i == 0 {
			t.Fatal("next_cursor is the plain offset")
		}
		cursor = next
	}
	plain := newSim(t, sim.Config{})
	want := pageAll(t, plain, plain.token(), 1, 3, map[string]any{"contain_access_limit": true})
	if len(ids) != len(want) || len(ids) < 4 {
		t.Fatalf("opaque paging got %d, plain %d", len(ids), len(want))
	}
	for i := range ids {
		if ids[i] != want[i]["userid"] {
			t.Fatalf("opaque paging order differs at %d", i)
		}
	}
	// a client computing cursor+size skips or repeats people
	r := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": 1, "cursor": 3, "size": 3})
	wantCode(t, r, "40035")
}

func TestV1DeniedDetailKey(t *testing.T) {
	app := sim.DefaultApp()
	app.Scopes = []string{"qyapi_base"}
	h := newSim(t, sim.Config{Apps: []sim.App{app}, V1DeniedDetailKey: "AccessDeniedDetail"})
	r := h.v1("/v1.0/contact/users/search", h.token(), map[string]any{"queryWord": "x"})
	if r.status != 403 || !strings.Contains(string(r.raw), `"AccessDeniedDetail":{"requiredScopes":["qyapi_addresslist_search"]}`) {
		t.Errorf("%d %s", r.status, r.raw)
	}
}
