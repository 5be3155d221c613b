package serve_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

// vdirsyncer (Debian's) syncs a person's book into a folder: first every
// card they may see, then, after the organisation changed and was pulled
// again, exactly the changes. It must be installed (scripts/test.sh).
func TestVdirsyncer(t *testing.T) {
	bin, err := exec.LookPath("vdirsyncer")
	if err != nil {
		t.Fatal("vdirsyncer is missing: apt-get install vdirsyncer (scripts/test.sh installs it)")
	}
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("vdirsyncer")
	dir := t.TempDir()
	local := filepath.Join(dir, "contacts")
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	book := "/dav/books/" + c.emp + "/directory/"
	cfg := `[general]
status_path = "` + filepath.Join(dir, "status") + `/"

[pair book]
a = "remote"
b = "local"
collections = null

[storage remote]
type = "carddav"
url = "` + e.url + book + `"
username = "` + p.Username + `"
password = "` + p.Password + `"
read_only = true

[storage local]
type = "filesystem"
path = "` + local + `/"
fileext = ".vcf"
`
	conf := filepath.Join(dir, "config")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-c", conf}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "LC_ALL=C.UTF-8")
		cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 5))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("vdirsyncer %v: %v\n%s", args, err, out)
		}
	}
	// the folder's cards: UID → body
	cards := func() map[string]string {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(local, "*.vcf"))
		out := map[string]string{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				if uid, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "UID:"); ok {
					out[uid] = string(b)
				}
			}
		}
		return out
	}
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	resp, out := dev.req("PROPFIND", book, `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`, map[string][]string{"Depth": {"1"}})
	want := cardNames(t, parseMS(t, resp, out), book)

	run("discover")
	run("sync")
	got := cards()
	if len(got) != len(want) {
		t.Fatalf("first sync: %d cards, the book has %d", len(got), len(want))
	}
	for _, n := range want {
		if _, ok := got["dingtalk-"+strings.TrimSuffix(n, ".vcf")]; !ok {
			t.Errorf("card %s not synced", n)
		}
	}
	if _, ok := got["dingtalk-"+c.rOut]; ok {
		t.Error("a restricted person out of sight was synced")
	}
	// a joiner, a change, a leaver
	if err := e.sim.AddUser(dingbook.Person{UserID: "joiner-1", Name: "新同事", Active: true, StateCode: "86", Mobile: "13800000001",
		Depts: []dingbook.Membership{{DeptID: dingbook.RootDeptID}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateUser(c.xss, func(q *dingbook.Person) { q.Title = "Chief Tester" }); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.RemoveUser(c.hidden); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	run("sync")
	after := cards()
	if len(after) != len(want) || after["dingtalk-joiner-1"] == "" || after["dingtalk-"+c.hidden] != "" ||
		!strings.Contains(after["dingtalk-"+c.xss], "TITLE:Chief Tester") {
		t.Errorf("second sync: %d cards (was %d); joiner %v, leaver kept %v, change %v", len(after), len(want),
			after["dingtalk-joiner-1"] != "", after["dingtalk-"+c.hidden] != "", strings.Contains(after["dingtalk-"+c.xss], "TITLE:Chief Tester"))
	}
	for uid, body := range got {
		if uid != "dingtalk-"+c.xss && uid != "dingtalk-"+c.hidden && after[uid] != body {
			t.Errorf("card %s changed without a change in DingTalk", uid)
		}
	}
}
