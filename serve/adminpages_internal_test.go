package serve

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// Chart labels keep the end of a long path, within the label column.
func TestShorten(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"销售部", "销售部"},
		{"Sales", "Sales"},
		{strings.Repeat("部", 30) + "/渠道组", "…" + strings.Repeat("部", 14) + "/渠道组"},
		{strings.Repeat("a", 40), "…" + strings.Repeat("a", 31)},
	} {
		if got := shorten(c.in, 244); got != c.want {
			t.Errorf("shorten(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A failed pull's error and its receipt's problems may name departments
// outside a sub-admin's scope: their view of the job holds neither.
func TestPullViewSubAdmin(t *testing.T) {
	secret := "部门 法务部 (dept 42) is outside the contact range"
	job := app.PullJob{ID: "p1", State: app.PullFailed, Actor: "schedule", Error: secret,
		Receipt: &dingbook.Receipt{Problems: []string{secret}, People: 3, PeoplePerDept: map[int64]int{42: 3}, OutOfRange: []dingbook.RangeGap{{DeptID: 42, Name: "法务部"}}}}
	s := &Server{}
	sub := &app.Session{UserID: "s", Roles: []string{app.RoleEmployee, app.RoleSubAdmin}, AdminScope: []int64{7}}
	primary := &app.Session{UserID: "p", Roles: []string{app.RoleEmployee, app.RoleAdmin}}
	b, err := json.Marshal(s.pullView(sub, job))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "法务部") || strings.Contains(string(b), "42") || !strings.Contains(string(b), `"people":3`) || !strings.Contains(string(b), `"state":"failed"`) {
		t.Errorf("the sub-admin's view: %s", b)
	}
	if b, _ := json.Marshal(s.pullView(primary, job)); !strings.Contains(string(b), "法务部") {
		t.Errorf("the primary admin's view lacks the error: %s", b)
	}
}
