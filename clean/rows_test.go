package clean

import (
	"context"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

// Imported rows are named by the member file's line (Person.SourceRow) in
// duplicate groups, the Quality sheet and the report, as in import's
// messages, whether or not a second pass runs.
func TestMembersNamedByFileLine(t *testing.T) {
	people := []dingbook.Person{
		{Name: "甲", Mobile: "13800138000", Active: true, SourceRow: 4},
		{Name: "乙", Mobile: "13900139000", Active: true, SourceRow: 5},
		{Name: "丙", Mobile: "13800138000", Active: true, SourceRow: 9},
	}
	r, dir := analyzed(t, &dingbook.Org{People: people})
	if len(r.DuplicateGroups) != 1 || len(r.DuplicateGroups[0].Members) != 2 {
		t.Fatalf("groups %+v", r.DuplicateGroups)
	}
	if m := r.DuplicateGroups[0].Members; m[0].Row != 4 || m[1].Row != 9 {
		t.Fatalf("members %+v, want rows 4 and 9", m)
	}
	// The Quality sheet's detail (export's qualitySheet) is this list.
	list := r.DuplicateGroups[0].MemberList("; ")
	found := r.DuplicateGroups[0].Key == "+8613800138000" && strings.HasPrefix(list, "row 4") && strings.Contains(list, "; row 9")
	if err := r.EachPersonProblems(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	if m := r.DuplicateGroups[0].Members; m[0].Row != 4 || m[1].Row != 9 {
		t.Fatalf("after a pass: members %+v", m)
	}
	if !found {
		t.Errorf("group %+v: member list %q", r.DuplicateGroups[0], list)
	}
}
