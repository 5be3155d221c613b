package account

import (
	"reflect"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
)

// TestPersonFields: a subject report lists the person's non-empty fields
// in a fixed order with their headers, the mobile with its country code,
// the hire date as a day, and custom fields last in name order.
func TestPersonFields(t *testing.T) {
	p := &dingbook.Person{UserID: "u1", Name: "张三", JobNumber: "J1", Title: " ", StateCode: "86", Mobile: "13800138000",
		Email: "z@example.com", OrgEmail: "z@corp.example", WorkPlace: "杭州", Remark: "r", ManagerUserID: "m1",
		HiredDate: time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), Extension: map[string]string{"爱好": "篮球", "A": "1"}}
	want := [][2]string{{"UserID", "u1"}, {"Name", "张三"}, {"Job Number", "J1"}, {"Mobile", "+86 13800138000"},
		{"Email", "z@example.com"}, {"Org Email", "z@corp.example"}, {"Work Place", "杭州"}, {"Remark", "r"},
		{"Hire Date", "2021-03-01"}, {"Manager", "m1"}, {"A", "1"}, {"爱好", "篮球"}}
	if got := personFields(p, "en"); !reflect.DeepEqual(got, want) {
		t.Errorf("personFields =\n%q\nwant\n%q", got, want)
	}
	p.StateCode, p.HiredDate, p.Telephone = "", 0, "8001"
	got := personFields(p, "zh")
	if got[3] != [2]string{"手机", "13800138000"} || got[4] != [2]string{"分机号", "8001"} || len(got) != len(want) {
		t.Errorf("without a country code or hire date: %q", got)
	}
}
