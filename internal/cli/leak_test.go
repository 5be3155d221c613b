package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/internal/openpyxl"
	"github.com/dingbook/dingbook/source/gen"
)

// leakOrg is a generated org with data problems planted around 法务部
// (the exported department): two of its people share a mobile, one
// shares a mobile and one an org e-mail with people outside it, two hide
// the same mobile, and one reports to a manager outside it.
func leakOrg(t *testing.T) (org dingbook.Org, legal int64, hidden string) {
	t.Helper()
	truth := gen.Generate(gen.Options{Users: 600, Seed: 11})
	org = truth.Org
	for _, d := range org.Depts {
		if d.Name == "法务部" {
			legal = d.ID
		}
	}
	var in, out []int
	for i := range org.People {
		p := &org.People[i]
		if _, ok := p.Membership(legal); ok {
			p.Active = true
			p.HideMobile = false
			in = append(in, i)
		} else if len(p.Depts) > 0 {
			out = append(out, i)
		}
	}
	if legal == 0 || len(in) < 10 || len(out) < 100 {
		t.Fatalf("generated org unfit: dept %d, %d in, %d out", legal, len(in), len(out))
	}
	P := func(i int) *dingbook.Person { return &org.People[i] }
	P(in[1]).Mobile, P(in[1]).StateCode = P(in[0]).Mobile, P(in[0]).StateCode // a duplicate inside
	P(out[0]).Mobile, P(out[0]).StateCode = P(in[2]).Mobile, P(in[2]).StateCode
	P(out[1]).OrgEmail = P(in[3]).OrgEmail
	if P(in[3]).OrgEmail == "" {
		P(in[3]).OrgEmail, P(out[1]).OrgEmail = "legal.team@example.com", "legal.team@example.com"
	}
	hidden = "13700001111"
	for _, i := range in[4:6] {
		P(i).Mobile, P(i).StateCode, P(i).HideMobile = hidden, "86", true
	}
	P(in[6]).ManagerUserID = P(out[2]).UserID // exists, outside the selection
	return org, legal, hidden
}

// TestExportQualityLeaksNothing: an export of one department (法务部)
// with the minimal or the contact profile holds, in every sheet of its
// xlsx (read back with openpyxl in both modes), only exported values of
// exported people, counts, labels and problem names: the Quality sheet
// covers the exported people only, a duplicate group quotes its key only
// when the export carries that field, and a hidden mobile appears
// nowhere; with --mask mobile no whole mobile appears either. The
// manifest lists the Quality sheet and what it holds.
func TestExportQualityLeaksNothing(t *testing.T) {
	org, legal, hidden := leakOrg(t)
	tree := dingbook.NewTree(org.Depts)
	for _, c := range []struct {
		name, profile string
		mask          bool
		quoted        []string // the fields the Quality sheet may quote
	}{
		{"minimal", "minimal", false, []string{"name"}},
		{"contact", "contact", false, []string{"name", "mobile", "email", "org_email"}},
		{"contact masked", "contact", true, []string{"name", "email", "org_email"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, out, errb := exportEnv(t)
			saveSnapshot(t, env, org)
			args := []string{"export", "--dept", "法务部", "--profile", c.profile, "--format", "xlsx", "--out", "out", "--json"}
			if c.mask {
				args = append(args, "--mask", "mobile")
			}
			code := Main(context.Background(), withGov(args...), env)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb)
			}
			var sum ExportSummary
			if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			files, dir := unbundle(t, sum.Bundle)
			book := openpyxl.Read(t, files["xlsx"])
			if !slices.Equal(book.Sheets, []string{"通讯录", "Departments", "Quality"}) {
				t.Fatalf("sheets %v", book.Sheets)
			}
			main := book.Rows["通讯录"]
			header := cells(main[0])
			col := func(h string) int { return slices.Index(header, h) }
			nameCol, mobileCol := col("姓名"), col("手机")

			// The exported people: every active member of 法务部.
			var exported []*dingbook.Person
			for i := range org.People {
				if _, ok := org.People[i].Membership(legal); ok {
					exported = append(exported, &org.People[i])
				}
			}
			if len(main)-1 != len(exported) || sum.Rows != len(exported) {
				t.Fatalf("%d rows (summary %d), want the %d members of 法务部", len(main)-1, sum.Rows, len(exported))
			}

			// What a cell outside the main sheet may hold.
			values := map[string]bool{} // exported values
			for _, r := range main[1:] {
				for _, c := range cells(r) {
					values[c] = true
				}
				if mobileCol >= 0 {
					if e, ok := clean.E164(cells(r)[mobileCol], "", "CN"); ok {
						values[e] = true // the same number, as a duplicate key
					}
				}
			}
			labels := map[string]bool{org.Name: true}
			for _, w := range []string{"合计", "问题", "重复", "部门", "人员", "有问题的人员", "重复组"} {
				labels[w] = true
			}
			for _, p := range dingbook.AllProblems {
				labels[string(p)], labels[clean.ProblemLabels["zh"][p]] = true, true
			}
			for _, s := range book.Sheets {
				for _, h := range cells(book.Rows[s][0]) {
					labels[h] = true
				}
			}
			for _, id := range tree.Descendants(legal) {
				path := tree.Path(id)
				labels[tree.Dept(id).Name], labels["dept_id "+strconv.FormatInt(id, 10)] = true, true
				for _, sep := range []string{"/", "-"} {
					labels[strings.Join(path, sep)] = true
					labels[org.Name+sep+strings.Join(path, sep)] = true
				}
			}
			number := regexp.MustCompile(`^[0-9]+(\.[0-9]+%)?$`)
			member := regexp.MustCompile(`^row ([0-9]+)(?: \((.*)\))?$`)
			allowed := func(v string) bool { return values[v] || labels[v] || number.MatchString(v) }

			var secrets []string // values no cell outside the main sheet may contain
			secrets = append(secrets, hidden, "+86"+hidden)
			for i := range org.People {
				p := &org.People[i]
				secrets = append(secrets, p.UserID)
				if p.Mobile != "" && (mobileCol < 0 || p.HideMobile || c.mask) {
					secrets = append(secrets, p.Mobile)
				}
			}
			var groups []string // the duplicate groups' details
			for _, s := range book.Sheets[1:] {
				for ri, r := range book.Rows[s][1:] {
					cs := cells(r)
					for ci, c := range cs {
						for _, x := range secrets {
							if x != "" && strings.Contains(c, x) {
								t.Errorf("%s row %d: %q holds %q, which the export does not carry", s, ri+2, c, x)
							}
						}
						if s == "Quality" && cs[0] == "重复" && ci == len(cs)-1 {
							groups = append(groups, strings.TrimPrefix(c, "'"))
							// A cell starting with + is neutralised with ' (it is not only a phone number).
							for _, part := range strings.Split(strings.TrimPrefix(c, "'"), "; ") {
								m := member.FindStringSubmatch(part)
								if m == nil {
									if !allowed(part) {
										t.Errorf("Quality row %d: duplicate key %q is not an exported value", ri+2, part)
									}
									continue
								}
								n, _ := strconv.Atoi(m[1])
								if n < 1 || n >= len(main) || m[2] != cells(main[n])[nameCol] {
									t.Errorf("Quality row %d: %q is not exported row %d (%v)", ri+2, part, n, main[min(n, len(main)-1)])
								}
							}
							continue
						}
						if !allowed(c) {
							t.Errorf("%s row %d column %d: %q is neither an exported value nor a count or label", s, ri+2, ci+1, c)
						}
					}
				}
			}
			q := book.Rows["Quality"]
			if got := cells(q[1]); got[2] != strconv.Itoa(len(exported)) {
				t.Errorf("Quality covers %s people, want the %d exported: %v", got[2], len(exported), got)
			}
			// The duplicate inside 法务部 is reported; the ones with
			// people outside it, or through the hidden mobile, are not.
			// It quotes the shared number only when the export carries it.
			if len(groups) != 1 || strings.HasPrefix(groups[0], "+86") != slices.Contains(c.quoted, "mobile") {
				t.Errorf("duplicate groups %q, want the one inside 法务部, its number quoted only if mobiles are exported unmasked", groups)
			}
			ids := map[string]bool{}
			for _, p := range org.People {
				ids[p.UserID] = true
			}
			missing := 0
			for _, p := range exported {
				if p.ManagerUserID != "" && !ids[p.ManagerUserID] {
					missing++
				}
			}
			for _, r := range q {
				if cs := cells(r); cs[len(cs)-1] == "manager-not-found" && cs[2] != strconv.Itoa(missing) {
					t.Errorf("%s people with a missing manager, want %d (one reports to somebody outside 法务部)", cs[2], missing)
				}
			}

			// The manifest says what the Quality sheet holds.
			b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var man govern.Manifest
			if err := json.Unmarshal(b, &man); err != nil {
				t.Fatal(err)
			}
			var qs *dingbook.SheetInfo
			for _, f := range man.Files {
				for i, s := range f.Sheets {
					if s.Name == "Quality" {
						qs = &f.Sheets[i]
					}
				}
			}
			if qs == nil || qs.Holds != "quality" || qs.People != len(exported) || !slices.Equal(qs.Fields, c.quoted) || qs.Rows != len(q)-1 {
				t.Errorf("manifest's Quality sheet %+v, want quality of %d people quoting %v\n%s", qs, len(exported), c.quoted, b)
			}
		})
	}
}

// cells returns a row's values as text ("" for empty cells).
func cells(r []any) []string {
	out := make([]string, len(r))
	for i, v := range r {
		if v != nil {
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

// TestExportFromMemberFileHidesHiddenMobiles: a member file streamed into
// an export with mobiles (contact profile): the mobile two people hid in
// DingTalk (the same number) is in no sheet of the xlsx, the Quality
// sheet included, and in no other file.
func TestExportFromMemberFileHidesHiddenMobiles(t *testing.T) {
	org, _, hidden := leakOrg(t)
	env, out, errb := exportEnv(t)
	plainFiles(t, env.Dir, "members", &org, "xlsx")
	code := Main(context.Background(), withGov("export", "--from", "members.xlsx", "--profile", "contact", "--format", "xlsx,csv", "--out", "out", "--json"), env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var sum ExportSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.LeftOut.HiddenMobiles < 2 {
		t.Fatalf("%d hidden mobiles left out, want at least the 2 planted", sum.LeftOut.HiddenMobiles)
	}
	files, _ := unbundle(t, sum.Bundle)
	book := openpyxl.Read(t, files["xlsx"])
	if len(book.Rows["Quality"]) < 10 {
		t.Fatalf("Quality sheet: %v", book.Rows["Quality"])
	}
	for _, s := range book.Sheets {
		for i, r := range book.Rows[s] {
			for _, c := range cells(r) {
				if strings.Contains(c, hidden) {
					t.Errorf("%s row %d: %q holds the hidden mobile", s, i+1, c)
				}
			}
		}
	}
	b, err := os.ReadFile(files["csv"])
	if err != nil || strings.Contains(string(b), hidden) {
		t.Errorf("csv: %v, holds the hidden mobile: %v", err, strings.Contains(string(b), hidden))
	}
}
