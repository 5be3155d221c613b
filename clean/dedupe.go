package clean

import (
	"fmt"
	"strings"

	"github.com/dingbook/dingbook"
)

// Dedupe rules for imported rows (which have no userid).
const (
	// RuleJobNumber merges rows with the same (trimmed, non-empty) job number.
	RuleJobNumber = "job-number"
	// RuleMobileName merges rows with the same E.164 mobile and the same
	// (cleaned) name.
	RuleMobileName = "mobile-name"
	// RuleDefault applies RuleJobNumber, then RuleMobileName.
	RuleDefault = "default"
)

// Merge reports rows that Dedupe merged into one person.
type Merge struct {
	Rule string `json:"rule"`
	// Key is the shared job number, or "E.164 mobile / name".
	Key  string `json:"key"`
	Name string `json:"name"`
	// Kept is the row that absorbed the others and Merged are the absorbed
	// rows: each person's SourceRow (the line of the member file), else
	// its 1-based position in the org as given.
	Kept   int   `json:"kept_row"`
	Merged []int `json:"merged_rows"`
	// Depts is the union of the departments, in order.
	Depts []int64 `json:"dept_ids"`
	// Conflicts names fields whose non-empty values differed; the kept
	// row's value was kept.
	Conflicts []string `json:"conflicts,omitempty"`
}

// Dedupe merges imported rows (people with an empty UserID) that are the
// same person under rule (RuleJobNumber, RuleMobileName, RuleDefault or
// ""= RuleDefault), using DefaultRegion for mobiles without a state_code.
// See DedupeRegion.
func Dedupe(org *dingbook.Org, rule string) ([]Merge, error) {
	return DedupeRegion(org, rule, DefaultRegion)
}

// DedupeRegion is Dedupe with the default phone region. The merged person
// keeps the first row's values, fills its empty fields from the later
// rows, and has the union of all rows' memberships. People with a userid
// are never merged. org.People is rewritten; every merge is returned.
func DedupeRegion(org *dingbook.Org, rule, region string) ([]Merge, error) {
	var rules []string
	switch rule {
	case "", RuleDefault:
		rules = []string{RuleJobNumber, RuleMobileName}
	case RuleJobNumber, RuleMobileName:
		rules = []string{rule}
	default:
		return nil, dingbook.Errorf(dingbook.EINVALID, "unknown --dedupe rule %q", rule).
			WithHint("use --dedupe %s, %s or %s (job number first, then mobile and name)", RuleJobNumber, RuleMobileName, RuleDefault)
	}
	rows := make([]int, len(org.People))
	for i := range rows {
		rows[i] = i + 1
		if r := org.People[i].SourceRow; r > 0 {
			rows[i] = r
		}
	}
	var merges []Merge
	for _, ru := range rules {
		kept := map[string]int{} // key → index in org.People
		mergeOf := map[int]int{} // kept index → index in merges
		removed := map[int]bool{}
		for i := range org.People {
			p := &org.People[i]
			if p.UserID != "" {
				continue
			}
			key := dedupeKey(p, ru, region)
			if key == "" {
				continue
			}
			k, ok := kept[key]
			if !ok {
				kept[key] = i
				continue
			}
			mi, ok := mergeOf[k]
			if !ok {
				mi = len(merges)
				mergeOf[k] = mi
				merges = append(merges, Merge{Rule: ru, Key: key, Name: CleanName(org.People[k].Name), Kept: rows[k]})
			}
			m := &merges[mi]
			m.Merged = append(m.Merged, rows[i])
			m.Conflicts = mergeInto(&org.People[k], p, m.Conflicts)
			removed[i] = true
		}
		if len(removed) == 0 {
			continue
		}
		for k, mi := range mergeOf {
			merges[mi].Depts = org.People[k].DeptIDs()
		}
		people := org.People[:0]
		newRows := rows[:0]
		for i := range org.People {
			if !removed[i] {
				people = append(people, org.People[i])
				newRows = append(newRows, rows[i])
			}
		}
		org.People, rows = people, newRows
	}
	return merges, nil
}

func dedupeKey(p *dingbook.Person, rule, region string) string {
	switch rule {
	case RuleJobNumber:
		return CleanText(p.JobNumber)
	case RuleMobileName:
		e, ok := E164(p.Mobile, p.StateCode, region)
		name := CleanName(p.Name)
		if !ok || name == "" {
			return ""
		}
		return e + " / " + name
	}
	return ""
}

// mergeInto folds src into dst: memberships are united, empty fields of
// dst are filled from src, and differing non-empty values are recorded.
func mergeInto(dst, src *dingbook.Person, conflicts []string) []string {
	for _, m := range src.Depts {
		if _, ok := dst.Membership(m.DeptID); !ok {
			dst.Depts = append(dst.Depts, m)
		} else if m.Leader {
			for i := range dst.Depts {
				if dst.Depts[i].DeptID == m.DeptID {
					dst.Depts[i].Leader = true
				}
			}
		}
	}
	fields := []struct {
		name     string
		dst, src *string
	}{
		{"name", &dst.Name, &src.Name}, {"mobile", &dst.Mobile, &src.Mobile}, {"state_code", &dst.StateCode, &src.StateCode},
		{"telephone", &dst.Telephone, &src.Telephone}, {"job_number", &dst.JobNumber, &src.JobNumber},
		{"title", &dst.Title, &src.Title}, {"email", &dst.Email, &src.Email}, {"org_email", &dst.OrgEmail, &src.OrgEmail},
		{"work_place", &dst.WorkPlace, &src.WorkPlace}, {"remark", &dst.Remark, &src.Remark},
		{"manager_userid", &dst.ManagerUserID, &src.ManagerUserID},
	}
	for _, f := range fields {
		d, s := CleanText(*f.dst), CleanText(*f.src)
		switch {
		case s == "":
		case d == "":
			*f.dst = *f.src
		case d != s && !(f.name == "name" && CleanName(d) == CleanName(s)) && !contains(conflicts, f.name):
			conflicts = append(conflicts, f.name)
		}
	}
	if dst.HiredDate == 0 {
		dst.HiredDate = src.HiredDate
	}
	if src.Active {
		dst.Active = true
	}
	for k, v := range src.Extension {
		if dst.Extension == nil {
			dst.Extension = map[string]string{}
		}
		if cur, ok := dst.Extension[k]; !ok || cur == "" {
			dst.Extension[k] = v
		} else if v != "" && v != cur && !contains(conflicts, "extension."+k) {
			conflicts = append(conflicts, "extension."+k)
		}
	}
	return conflicts
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String describes m in one line for the terminal, naming at most
// MaxGroupMembersShown merged rows ("… and 99,990 more"; Merged has them
// all).
func (m Merge) String() string {
	rows := make([]string, 0, min(len(m.Merged), MaxGroupMembersShown+1))
	for i, r := range m.Merged {
		if i == MaxGroupMembersShown {
			rows = append(rows, "… and "+thousands(len(m.Merged)-i)+" more")
			break
		}
		rows = append(rows, fmt.Sprint(r))
	}
	s := fmt.Sprintf("rows %s merged into row %d (%s, rule %s: %s)", strings.Join(rows, ", "), m.Kept, m.Name, m.Rule, m.Key)
	if len(m.Conflicts) > 0 {
		s += "; differing " + strings.Join(m.Conflicts, ", ") + " kept from row " + fmt.Sprint(m.Kept)
	}
	return s
}
