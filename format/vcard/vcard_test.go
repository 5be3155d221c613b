package vcard

import (
	"bytes"
	"errors"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, state     string
		family, given   string
		split           bool
		phonFam, phonGv string
	}{
		{"欧阳娜娜", "86", "欧阳", "娜娜", true, "Ouyang", "Nana"},
		{"司马光", "86", "司马", "光", true, "Sima", "Guang"},
		{"王小明", "86", "王", "小明", true, "Wang", "Xiaoming"},
		{"单雄信", "86", "单", "雄信", true, "Shan", "Xiongxin"},
		{"曾国藩", "86", "曾", "国藩", true, "Zeng", "Guofan"},
		{"尉迟恭", "86", "尉迟", "恭", true, "Yuchi", "Gong"},
		{"万俟卨", "", "万俟", "卨", true, "Moqi", "Xie"},
		{"诸葛孔明", "86", "诸葛", "孔明", true, "Zhuge", "Kongming"},
		{"王五", "86", "王", "五", true, "Wang", "Wu"},
		{"欧阳", "86", "欧", "阳", true, "Ou", "Yang"}, // two characters: first is the family name
		{"王 小明", "86", "王", "小明", true, "Wang", "Xiaoming"},
		{"买买提·艾力", "86", "", "买买提·艾力", false, "", ""},
		{"阿卜杜热依木江", "86", "", "阿卜杜热依木江", false, "", ""},
		{"Sukarno", "62", "", "Sukarno", false, "", ""},
		{"Siti Nurhaliza", "62", "", "Siti Nurhaliza", false, "", ""},
		{"Siti Nurhaliza", "", "", "Siti Nurhaliza", false, "", ""},
		{"Ahmad bin Ismail", "60", "", "Ahmad bin Ismail", false, "", ""},
		{"John Smith", "1", "Smith", "John", true, "", ""},
		{"Mary Ann O'Neil", "44", "O'Neil", "Mary Ann", true, "", ""},
		{"Nguyễn Văn An", "84", "Nguyễn", "Văn An", true, "", ""},
		{"John", "1", "", "John", false, "", ""},
		{"王John", "86", "", "王John", false, "", ""},
	}
	for _, tt := range tests {
		f, g, s := SplitNameFor(tt.name, tt.state)
		if f != tt.family || g != tt.given || s != tt.split {
			t.Errorf("SplitNameFor(%q, %q) = %q, %q, %v; want %q, %q, %v", tt.name, tt.state, f, g, s, tt.family, tt.given, tt.split)
		}
		if tt.split && isHan(f+g) {
			if pf, pg := PhoneticFamily(f), Phonetic(g); pf != tt.phonFam || pg != tt.phonGv {
				t.Errorf("phonetic %q: %q %q; want %q %q", tt.name, pf, pg, tt.phonFam, tt.phonGv)
			}
		}
	}
	// SplitName alone never splits Latin names.
	if f, g, s := SplitName("John Smith"); f != "" || g != "John Smith" || s {
		t.Errorf("SplitName(John Smith) = %q %q %v", f, g, s)
	}
}

func TestCardForNames(t *testing.T) {
	c := CardFor(&dingbook.Person{UserID: "u1", Name: "单雄信", StateCode: "86"}, nil, Options{})
	if c.PhoneticFamily != "Shan" || c.PhoneticGiven != "Xiongxin" || c.FN != "单雄信" {
		t.Errorf("got %+v", c)
	}
	c = CardFor(&dingbook.Person{UserID: "u2", Name: "Budi Santoso", StateCode: "62"}, nil, Options{})
	if c.Family != "" || c.Given != "Budi Santoso" || c.PhoneticFamily != "" || c.PhoneticGiven != "" {
		t.Errorf("got %+v", c)
	}
	c = CardFor(&dingbook.Person{UserID: "u3", Name: "买买提·艾力"}, nil, Options{})
	if c.PhoneticGiven != "" || c.Given != "买买提·艾力" {
		t.Errorf("got %+v", c)
	}
	c = CardFor(&dingbook.Person{UserID: "u4", Name: "司马相如"}, nil, Options{Names: map[string][2]string{"u4": {"司", "马相如"}}})
	if c.Family != "司" || c.Given != "马相如" || c.PhoneticFamily != "Si" {
		t.Errorf("override: got %+v", c)
	}
}

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"plain":             "plain",
		`a,b;c\d`:           `a\,b\;c\\d`,
		"line1\nline2":      `line1\nline2`,
		"crlf\r\nx\ry":      `crlf\nx\ny`,
		"tab\tok\x00\x07":   "tab\tok",
		"技术部;前端,组":          `技术部\;前端\,组`,
		"bad\xffutf8":       "bad\uFFFDutf8",
		`\n is not newline`: `\\n is not newline`,
	}
	for in, want := range tests {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Structured("A;B", "C,D", `E\`); got != `A\;B;C\,D;E\\` {
		t.Errorf("Structured = %q", got)
	}
}

func unfold(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

func TestFoldNeverSplitsUTF8(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabets := [][]rune{
		[]rune("王小明欧阳娜娜技术部前端组高级工程师深圳研发中心"),
		[]rune("abcXYZ012 ,;"),
		[]rune("𠀀𠀁𪚥🙂é"), // 4-octet and 2-octet sequences
	}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		n := rng.Intn(200)
		for j := 0; j < n; j++ {
			a := alphabets[rng.Intn(len(alphabets))]
			b.WriteRune(a[rng.Intn(len(a))])
		}
		line := "NOTE:" + b.String()
		out := string(AppendFolded(nil, line))
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("no CRLF: %q", out)
		}
		phys := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		for k, p := range phys {
			if len(p) > MaxLine {
				t.Fatalf("line %d of %q has %d octets", k, line, len(p))
			}
			if !utf8.ValidString(p) {
				t.Fatalf("line %d of %q splits a UTF-8 sequence: %q", k, line, p)
			}
			if k > 0 && (p == "" || p[0] != ' ') {
				t.Fatalf("continuation line %d does not start with a space: %q", k, p)
			}
			if k < len(phys)-1 && len(p) < MaxLine-3 {
				t.Fatalf("line %d folded too early (%d octets)", k, len(p))
			}
		}
		if len(line) <= MaxLine && len(phys) != 1 {
			t.Fatalf("short line folded: %q", out)
		}
		if got := unfold(strings.TrimSuffix(out, "\r\n")); got != line {
			t.Fatalf("unfold(fold(%q)) = %q", line, got)
		}
	}
	// Exactly 75 octets: not folded; 76: folded.
	l75 := "NOTE:" + strings.Repeat("a", 70)
	if out := string(AppendFolded(nil, l75)); strings.Count(out, "\r\n") != 1 {
		t.Errorf("75 octets folded: %q", out)
	}
	if out := string(AppendFolded(nil, l75+"b")); out != l75+"\r\n b\r\n" {
		t.Errorf("76 octets: %q", out)
	}
}

func TestE164(t *testing.T) {
	tests := []struct{ sc, in, want string }{
		{"86", "13800138000", "+8613800138000"},
		{"62", "81234567890", "+6281234567890"},
		{"", "+62-812-3456-7890", "+6281234567890"},
		{"86", "138****8000", "138****8000"},
		{"86", "12345", "+86 12345"},
		// Invalid for libphonenumber, but DingTalk holds the state code:
		// never bare local digits a phone would dial in its own country.
		{"62", "8423540524", "+62 8423540524"},
		{"62", "62-8423540524", "+62 8423540524"},
		{"62", "n/a", "n/a"},
		{"", "13800138000", "13800138000"},
	}
	for _, tt := range tests {
		if got := E164(tt.sc, tt.in); got != tt.want {
			t.Errorf("E164(%q, %q) = %q, want %q", tt.sc, tt.in, got, tt.want)
		}
	}
}

func goldenOrg() (*dingbook.Org, *dingbook.Tree) {
	org := &dingbook.Org{Name: "示例公司", CorpID: "dingcorp1",
		Depts: []dingbook.Department{
			{ID: 1, Name: "示例公司"},
			{ID: 2, Name: "技术部", ParentID: 1},
			{ID: 3, Name: "前端组", ParentID: 2},
			{ID: 4, Name: "R&D; Jakarta, ID", ParentID: 1},
			{ID: 5, Name: `Ops\Infra`, ParentID: 4},
		},
		People: []dingbook.Person{
			{UserID: "u001", Name: "王小明", StateCode: "86", Mobile: "13800138000", Telephone: "8001", Title: "高级工程师",
				OrgEmail: "xiaoming@example.com", Email: "xm@example.net", Depts: []dingbook.Membership{{DeptID: 3}, {DeptID: 2}}},
			{UserID: "u002", Name: "欧阳娜娜", StateCode: "86", Mobile: "13900139000", Title: "产品经理, 资深; 负责人",
				Depts: []dingbook.Membership{{DeptID: 2}}},
			{UserID: "u003", Name: "Sukarno", StateCode: "62", Mobile: "81234567890", Title: "Manager",
				Depts: []dingbook.Membership{{DeptID: 5}}},
			{UserID: "u004", Name: "Siti Nurhaliza", StateCode: "62", Mobile: "8123", Depts: []dingbook.Membership{{DeptID: 4}}},
			{UserID: "u005", Name: "John Smith", StateCode: "1", Mobile: "2025550123", OrgEmail: "john@example.com",
				Title: "Line one\nLine two", Remark: `back\slash`, Depts: []dingbook.Membership{{DeptID: 1}}},
			{Name: "买买提·艾力", StateCode: "86", Mobile: "138****0000", HideMobile: true,
				Title: "一个很长很长很长的职位名称用来测试按七十五个八位字节折行而不会把汉字切成两半的情况",
				Depts: []dingbook.Membership{{DeptID: 3}}},
		},
	}
	return org, dingbook.NewTree(org.Depts)
}

func writeAll(t *testing.T, org *dingbook.Org, tree *dingbook.Tree, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := New(&buf, opts)
	for i := range org.People {
		if err := w.WritePerson(&org.People[i], tree); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Cards() != len(org.People) {
		t.Fatalf("Cards() = %d", w.Cards())
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	org, tree := goldenOrg()
	now := func() time.Time { return time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC) }
	for _, v := range []string{V3, V4} {
		got := writeAll(t, org, tree, Options{Version: v, CorpID: org.CorpID, Now: now})
		path := filepath.Join("testdata", "cards-"+v+".vcf.golden")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the output:\n%s", path, got)
		}
		// Structural checks independent of the golden file.
		s := string(got)
		if bytes.Contains(got, []byte{0xEF, 0xBB, 0xBF}) || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
			t.Errorf("BOM or bare LF in output")
		}
		for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
			if len(line) > MaxLine || !utf8.ValidString(line) {
				t.Errorf("bad physical line %q", line)
			}
		}
	}
}

func TestCardShape(t *testing.T) {
	org, tree := goldenOrg()
	s := unfold(string(writeAll(t, org, tree, Options{CorpID: "c1"})))
	for _, want := range []string{
		"BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//dingbook//EN\r\nUID:dingtalk-c1-u001\r\nN:王;小明;;;\r\nFN:王小明\r\nX-PHONETIC-LAST-NAME:Wang\r\nX-PHONETIC-FIRST-NAME:Xiaoming\r\nORG:示例公司;技术部/前端组\r\n",
		"TEL;TYPE=CELL:+8613800138000\r\nTEL;TYPE=WORK;TYPE=VOICE:8001\r\nEMAIL;TYPE=INTERNET;TYPE=WORK:xiaoming@example.com\r\nEMAIL;TYPE=INTERNET:xm@example.net\r\n",
		"N:欧阳;娜娜;;;\r\n", `TITLE:产品经理\, 资深\; 负责人`,
		"N:;Sukarno;;;\r\nFN:Sukarno\r\nORG:示例公司;R&D\\; Jakarta\\, ID/Ops\\\\Infra\r\n", "TEL;TYPE=CELL:+6281234567890\r\n",
		"N:;Siti Nurhaliza;;;\r\n", "TEL;TYPE=CELL:+62 8123\r\n",
		"N:Smith;John;;;\r\nFN:John Smith\r\nORG:示例公司\r\nTITLE:Line one\\nLine two\r\nTEL;TYPE=CELL:+12025550123\r\n", `NOTE:back\\slash`,
		"N:;买买提·艾力;;;\r\nFN:买买提·艾力\r\nORG", "TEL;TYPE=CELL:138****0000\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(s, "REV:") {
		t.Error("REV written without Now")
	}
	if n := strings.Count(s, "BEGIN:VCARD"); n != 6 {
		t.Errorf("%d cards", n)
	}
	// The person without userid gets a stable hashed UID.
	p := org.People[5]
	if u := UID(&p, "c1"); !strings.HasPrefix(u, "dingbook-") || len(u) != 9+32 || u != UID(&p, "c1") || !strings.Contains(s, "UID:"+u) {
		t.Errorf("UID %q", u)
	}
	q := p
	q.Mobile = "13800000001"
	if UID(&q, "c1") == UID(&p, "c1") {
		t.Error("UID ignores the mobile")
	}
}

func TestVersionError(t *testing.T) {
	w := New(&bytes.Buffer{}, Options{Version: "2.1"})
	err := w.WriteCard(Card{FN: "x"})
	var de *dingbook.Error
	if !errors.As(err, &de) || de.Hint == "" || !strings.Contains(de.Message, "2.1") {
		t.Fatalf("got %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorSticks(t *testing.T) {
	w := New(failWriter{}, Options{})
	w.WriteCard(Card{FN: "x"})
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v", err)
	}
}

// A writer remembers each department's ORG unit, but not one whose path
// does not reach the root yet: a growing tree (a member file streamed)
// may add the parent later.
func TestWriterUnitsOfAGrowingTree(t *testing.T) {
	tree := &dingbook.Tree{}
	tree.Add(dingbook.Department{ID: 1, Name: "示例公司"})
	tree.Add(dingbook.Department{ID: 3, Name: "后端组", ParentID: 2})
	var b strings.Builder
	w := New(&b, Options{})
	p := &dingbook.Person{UserID: "u1", Name: "王小明", Depts: []dingbook.Membership{{DeptID: 3}}}
	if err := w.WritePerson(p, tree); err != nil {
		t.Fatal(err)
	}
	tree.Add(dingbook.Department{ID: 2, Name: "研发部", ParentID: 1})
	for range 2 {
		if err := w.WritePerson(p, tree); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if got := strings.Count(b.String(), "ORG:示例公司;后端组\r\n"); got != 1 {
		t.Errorf("%d cards before the parent came", got)
	}
	if got := strings.Count(b.String(), "ORG:示例公司;研发部/后端组\r\n"); got != 2 {
		t.Errorf("%d cards with the whole path:\n%s", got, b.String())
	}
}

// Card.String allocates about a card's size, not the stream Writer's
// 64 KB buffer (serve renders each card of a book with it).
func TestCardStringAllocates(t *testing.T) {
	c := Card{UID: "dingtalk-u1", Family: "张", Given: "三", FN: "张三", Org: []string{"Acme", "R&D"}, Title: "Engineer",
		Tels: []Tel{{Number: "+8613800000000", Types: []string{"CELL"}}}, Emails: []Email{{Address: "zs@example.com", Types: []string{"INTERNET"}}}}
	want := c.String()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 200
	for range n {
		if c.String() != want {
			t.Fatal("String is not stable")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 8<<10 {
		t.Errorf("Card.String allocates %d bytes per card, want at most 8 KB", per)
	}
}
