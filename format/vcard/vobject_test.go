package vcard

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

// vobjectScript prints, for every card of a file, its structured values as
// python3-vobject parsed them.
const vobjectScript = `
import json, sys, vobject
out = []
with open(sys.argv[1], encoding="utf-8", newline="") as f:
    data = f.read()
for c in vobject.readComponents(data, validate=True):
    n = c.n.value
    def comp(v):
        return v if isinstance(v, str) else ",".join(v)
    card = {
        "uid": c.uid.value,
        "fn": c.fn.value,
        "n": [comp(n.family), comp(n.given), comp(n.additional), comp(n.prefix), comp(n.suffix)],
        "org": list(c.org.value) if hasattr(c, "org") else [],
        "title": c.title.value if hasattr(c, "title") else "",
        "tels": [[t.value, sorted(p.upper() for p in t.params.get("TYPE", []))] for t in c.contents.get("tel", [])],
        "emails": [[e.value, sorted(p.upper() for p in e.params.get("TYPE", []))] for e in c.contents.get("email", [])],
        "phon_last": c.contents["x-phonetic-last-name"][0].value if "x-phonetic-last-name" in c.contents else "",
        "phon_first": c.contents["x-phonetic-first-name"][0].value if "x-phonetic-first-name" in c.contents else "",
    }
    out.append(card)
json.dump(out, sys.stdout, ensure_ascii=False)
`

type parsedCard struct {
	UID       string   `json:"uid"`
	FN        string   `json:"fn"`
	N         []string `json:"n"`
	Org       []string `json:"org"`
	Title     string   `json:"title"`
	Tels      [][2]any `json:"tels"`
	Emails    [][2]any `json:"emails"`
	PhonLast  string   `json:"phon_last"`
	PhonFirst string   `json:"phon_first"`
}

// generatedOrg builds ~200 people with Chinese, Indonesian and English
// names, and commas, semicolons, backslashes and newlines in titles and
// department names.
func generatedOrg(n int) *dingbook.Org {
	rng := rand.New(rand.NewSource(42))
	surnames := []string{"王", "李", "张", "刘", "陈", "单", "曾", "欧阳", "司马", "诸葛", "尉迟", "解", "区", "朴"}
	givens := []string{"小明", "娜娜", "光", "伟", "秀英", "建国", "雄信", "丽", "子涵", "浩然"}
	indo := []string{"Sukarno", "Siti Nurhaliza", "Budi Santoso", "Dewi Lestari", "Agus", "Putri Ayu Wulandari"}
	eng := []string{"John Smith", "Mary Ann Jones", "Peter O'Brien", "Alice"}
	odd := []string{"买买提·艾力", "阿卜杜热依木江", "王John"}
	depts := []dingbook.Department{{ID: 1, Name: "示例公司, Ltd; \"CN\""}}
	names := []string{"技术部", "R&D; Jakarta, ID", `Ops\Infra`, "销售部-华南", "Line\nBreak", "前端组", "QA,Test"}
	for i, nm := range names {
		parent := int64(1)
		if i > 0 && i%2 == 0 {
			parent = int64(i + 1) // nest under the previous department
		}
		depts = append(depts, dingbook.Department{ID: int64(i + 2), Name: nm, ParentID: parent})
	}
	titles := []string{"工程师", "Manager, Sales; APAC", `C:\Users\boss`, "两行\n职位", "", "一个特别长的职位名称：负责华南区、华东区以及东南亚各国（印度尼西亚、马来西亚）的渠道拓展与客户成功"}
	org := &dingbook.Org{Name: "示例公司", CorpID: "dingX", Depts: depts}
	for i := 0; i < n; i++ {
		p := dingbook.Person{UserID: fmt.Sprintf("user%04d", i), Title: titles[rng.Intn(len(titles))]}
		switch k := rng.Intn(10); {
		case k < 6:
			p.Name = surnames[rng.Intn(len(surnames))] + givens[rng.Intn(len(givens))]
			p.StateCode, p.Mobile = "86", fmt.Sprintf("138%08d", rng.Intn(1e8))
		case k < 8:
			p.Name = indo[rng.Intn(len(indo))]
			p.StateCode, p.Mobile = "62", fmt.Sprintf("812%08d", rng.Intn(1e8))
		case k < 9:
			p.Name = eng[rng.Intn(len(eng))]
			p.StateCode, p.Mobile = "1", "2025550123"
		default:
			p.Name = odd[rng.Intn(len(odd))]
			p.StateCode, p.Mobile = "86", "138****0000"
		}
		if i%7 == 0 {
			p.UserID = ""
			p.Name = p.Name + " " // untrimmed
		}
		if i%3 == 0 {
			p.Telephone = fmt.Sprintf("%04d", i)
		}
		if i%4 == 0 {
			p.OrgEmail = fmt.Sprintf("u%d@corp.example.com", i)
		}
		if i%5 == 0 {
			p.Email = fmt.Sprintf("u%d@mail.example.net", i)
		}
		if i%11 != 0 {
			p.Depts = []dingbook.Membership{{DeptID: int64(2 + rng.Intn(len(names)))}, {DeptID: 2}}
		}
		org.People = append(org.People, p)
	}
	return org
}

func TestVobjectParsesEveryCard(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import vobject").CombinedOutput(); err != nil {
		t.Fatalf("python3-vobject is required (apt-get install python3-vobject): %v: %s", err, out)
	}
	org := generatedOrg(200)
	tree := dingbook.NewTree(org.Depts)
	opts := Options{CorpID: org.CorpID, Company: "示例公司, Ltd; \"CN\""}
	got, raw := parseWithVobject(t, org, tree, opts, V3)
	if len(got) != len(org.People) {
		t.Fatalf("vobject read %d cards, want %d", len(got), len(org.People))
	}
	if strings.Count(string(raw), "\r\n ") == 0 {
		t.Error("no line was folded; the test data should force folding")
	}
	for i := range org.People {
		p := &org.People[i]
		c := CardFor(p, tree, opts)
		g := got[i]
		if g.UID != c.UID {
			t.Errorf("card %d: UID %q, want %q", i, g.UID, c.UID)
		}
		if want := []string{c.Family, c.Given, "", "", ""}; !reflect.DeepEqual(g.N, want) {
			t.Errorf("card %d (%q): N %q, want %q", i, p.Name, g.N, want)
		}
		if g.FN != c.FN || g.FN != strings.TrimSpace(p.Name) {
			t.Errorf("card %d: FN %q, want %q", i, g.FN, c.FN)
		}
		if !reflect.DeepEqual(g.Org, c.Org) {
			t.Errorf("card %d: ORG %q, want %q", i, g.Org, c.Org)
		}
		if len(p.Depts) > 0 && g.Org[1] != tree.PathString(p.Depts[0].DeptID, "/") {
			t.Errorf("card %d: ORG unit %q", i, g.Org[1])
		}
		if g.Title != p.Title {
			t.Errorf("card %d: TITLE %q, want %q", i, g.Title, p.Title)
		}
		var wantTels [][2]any
		for _, tel := range c.Tels {
			types := append([]string(nil), tel.Types...)
			sort.Strings(types)
			wantTels = append(wantTels, [2]any{tel.Number, types})
		}
		if fmt.Sprint(g.Tels) != fmt.Sprint(wantTels) {
			t.Errorf("card %d: TEL %v, want %v", i, g.Tels, wantTels)
		}
		if p.StateCode == "86" && p.Mobile[3] != '*' && fmt.Sprint(g.Tels[0][0]) != "+86"+p.Mobile {
			t.Errorf("card %d: mobile %v not E.164", i, g.Tels[0])
		}
		var wantEmails [][2]any
		for _, e := range c.Emails {
			types := append([]string(nil), e.Types...)
			sort.Strings(types)
			wantEmails = append(wantEmails, [2]any{e.Address, types})
		}
		if fmt.Sprint(g.Emails) != fmt.Sprint(wantEmails) {
			t.Errorf("card %d: EMAIL %v, want %v", i, g.Emails, wantEmails)
		}
		if g.PhonLast != c.PhoneticFamily || g.PhonFirst != c.PhoneticGiven {
			t.Errorf("card %d: phonetic %q %q", i, g.PhonLast, g.PhonFirst)
		}
	}
}

// parseWithVobject writes org as one file in version v and returns what
// python3-vobject read from it, and the file.
func parseWithVobject(t *testing.T, org *dingbook.Org, tree *dingbook.Tree, opts Options, v string) ([]parsedCard, []byte) {
	t.Helper()
	opts.Version = v
	path := filepath.Join(t.TempDir(), "all.vcf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := New(f, opts)
	for i := range org.People {
		if err := w.WritePerson(&org.People[i], tree); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	script := filepath.Join(t.TempDir(), "parse.py")
	os.WriteFile(script, []byte(vobjectScript), 0o600)
	out, err := exec.Command("/usr/bin/python3", script, path).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("vobject failed on the %s file: %v\n%s", v, err, stderr)
	}
	var got []parsedCard
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	return got, raw
}

// TestVobjectParsesV4 checks the names, ORG and UID of a 4.0 file.
func TestVobjectParsesV4(t *testing.T) {
	org := generatedOrg(60)
	tree := dingbook.NewTree(org.Depts)
	opts := Options{CorpID: org.CorpID}
	got, _ := parseWithVobject(t, org, tree, opts, V4)
	if len(got) != len(org.People) {
		t.Fatalf("vobject read %d cards, want %d", len(got), len(org.People))
	}
	for i := range org.People {
		c := CardFor(&org.People[i], tree, opts)
		g := got[i]
		if g.UID != c.UID || g.FN != c.FN || !reflect.DeepEqual(g.N, []string{c.Family, c.Given, "", "", ""}) || !reflect.DeepEqual(g.Org, c.Org) {
			t.Errorf("card %d: %+v, want %+v", i, g, c)
		}
		if len(g.Tels) != len(c.Tels) {
			t.Errorf("card %d: %d TELs, want %d", i, len(g.Tels), len(c.Tels))
		}
	}
}
