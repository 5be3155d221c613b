package sim_test

import (
	"strings"
	"testing"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

func TestExternalContactWrites(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 200, Depts: 10, Seed: 9})
	before := len(truth.Org.External)
	firstShares := truth.Org.External[0].ShareUserIDs
	h := newSim(t, sim.Config{Truth: truth})
	tok := h.token()
	follower := truth.Org.People[2].UserID
	sharer := truth.Org.People[4].UserID
	dept := truth.Org.Depts[1].ID
	contact := map[string]any{"name": "潘潘", "follower_user_id": follower, "state_code": "86", "mobile": "13100000001",
		"label_ids": []int64{1561077310}, "share_user_ids": []string{sharer}, "share_dept_ids": []int64{dept}, "company_name": "合作方"}
	r := h.post("/topapi/extcontact/create", tok, map[string]any{"contact": contact})
	id := r.str("userid")
	if r.errcode() != "0" || id == "" || r.body["result"] != nil {
		t.Fatalf("create: %s", r.raw)
	}
	wantCode(t, h.post("/topapi/extcontact/create", tok, map[string]any{"contact": contact}), "22005")
	r = h.post("/topapi/extcontact/get", tok, map[string]any{"user_id": id})
	if r.result()["follower_user_id"] != follower || !strings.Contains(string(r.raw), `"share_user_ids":["`+sharer+`"]`) {
		t.Fatalf("get after create: %s", r.raw)
	}
	// unshare: the lists come back empty, as [] (never omitted)
	contact["user_id"] = id
	contact["share_user_ids"] = []string{}
	contact["share_dept_ids"] = []int64{}
	wantCode(t, h.post("/topapi/extcontact/update", tok, map[string]any{"contact": contact}), "0")
	r = h.post("/topapi/extcontact/get", tok, map[string]any{"user_id": id})
	if !strings.Contains(string(r.raw), `"share_user_ids":[]`) || !strings.Contains(string(r.raw), `"share_dept_ids":[]`) {
		t.Fatalf("get after update: %s", r.raw)
	}
	r = h.post("/topapi/extcontact/list", tok, map[string]any{"offset": 0, "size": 100})
	if !strings.Contains(string(r.raw), id) {
		t.Errorf("list lacks the new contact")
	}
	wantCode(t, h.post("/topapi/extcontact/delete", tok, map[string]any{"user_id": id}), "0")
	wantCode(t, h.post("/topapi/extcontact/get", tok, map[string]any{"user_id": id}), "33012")
	wantCode(t, h.post("/topapi/extcontact/delete", tok, map[string]any{"user_id": id}), "33012")
	contact["user_id"] = "nope"
	wantCode(t, h.post("/topapi/extcontact/update", tok, map[string]any{"contact": contact}), "60200")
	for name, c := range map[string]map[string]any{
		"no labels":        {"name": "x", "follower_user_id": follower, "state_code": "86", "mobile": "13100000002"},
		"bad mobile":       {"name": "x", "follower_user_id": follower, "state_code": "86", "mobile": "13x", "label_ids": []int64{1}},
		"unknown follower": {"name": "x", "follower_user_id": "nobody", "state_code": "86", "mobile": "13100000003", "label_ids": []int64{1}},
	} {
		want := map[string]string{"no labels": "60204", "bad mobile": "60103", "unknown follower": "400002"}[name]
		if r := h.post("/topapi/extcontact/create", tok, map[string]any{"contact": c}); r.errcode() != want {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
	if len(truth.Org.External) != before || len(truth.Org.External[0].ShareUserIDs) != len(firstShares) {
		t.Error("writes changed the caller's truth")
	}
}
