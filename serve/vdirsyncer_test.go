package serve_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/store"
)

// requestLog records the server's answered requests (serve.Server's
// RequestLog hook).
type requestLog struct {
	mu      sync.Mutex
	entries []serve.RequestLogEntry
}

func (l *requestLog) add(e serve.RequestLogEntry) {
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

// mark is the position of the next request.
func (l *requestLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// since are the requests from mark on.
func (l *requestLog) since(mark int) []serve.RequestLogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries[mark:])
}

// transfers counts the cards the requests carried and lists the
// requests as "METHOD STATUS".
func transfers(log []serve.RequestLogEntry) (cards int, reqs []string) {
	for _, e := range log {
		cards += e.Cards
		reqs = append(reqs, e.Method+" "+itoa(int64(e.Status)))
	}
	return cards, reqs
}

// vdirsyncer is Debian's vdirsyncer over one person's book in dir.
type vdirsyncer struct {
	t               *testing.T
	bin, dir, local string
}

func newVdirsyncer(t *testing.T, url, user, pass string) *vdirsyncer {
	t.Helper()
	bin, err := exec.LookPath("vdirsyncer")
	if err != nil {
		t.Fatal("vdirsyncer is missing: apt-get install vdirsyncer (scripts/test.sh installs it)")
	}
	v := &vdirsyncer{t: t, bin: bin, dir: t.TempDir()}
	v.local = filepath.Join(v.dir, "contacts")
	if err := os.MkdirAll(v.local, 0o700); err != nil {
		t.Fatal(err)
	}
	// "book" as the client is told to (read-only); "writer", the same
	// pair of the same folder and status, as a client that believes it
	// may upload
	for _, pair := range []struct{ name, readOnly string }{{"book", "true"}, {"writer", "false"}} {
		cfg := `[general]
status_path = "` + filepath.Join(v.dir, "status") + `/"

[pair book]
a = "remote"
b = "local"
collections = null
conflict_resolution = "b wins"

[storage remote]
type = "carddav"
url = "` + url + `"
username = "` + user + `"
password = "` + pass + `"
read_only = ` + pair.readOnly + `

[storage local]
type = "filesystem"
path = "` + v.local + `/"
fileext = ".vcf"
`
		if err := os.WriteFile(filepath.Join(v.dir, pair.name+".conf"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// run runs vdirsyncer with config name's file; it returns the output and
// whether it succeeded.
func (v *vdirsyncer) run(name string, args ...string) (string, bool) {
	v.t.Helper()
	cmd := exec.Command(v.bin, append([]string{"-c", filepath.Join(v.dir, name+".conf")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+v.dir, "LC_ALL=C.UTF-8")
	cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 5))
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func (v *vdirsyncer) must(args ...string) {
	v.t.Helper()
	if out, ok := v.run("book", args...); !ok {
		v.t.Fatalf("vdirsyncer %v failed:\n%s", args, out)
	}
}

// cards are the folder's cards: UID → body.
func (v *vdirsyncer) cards() map[string]string {
	v.t.Helper()
	files, _ := filepath.Glob(filepath.Join(v.local, "*.vcf"))
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			v.t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if uid, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "UID:"); ok {
				out[uid] = string(b)
			}
		}
	}
	return out
}

// file is the folder's file of the card with uid.
func (v *vdirsyncer) file(uid string) string {
	v.t.Helper()
	files, _ := filepath.Glob(filepath.Join(v.local, "*.vcf"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "UID:"+uid+"\r\n") || strings.Contains(string(b), "UID:"+uid+"\n") {
			return f
		}
	}
	v.t.Fatalf("no file holds %s", uid)
	return ""
}

// khardNames lists the names khard (Debian's) shows for the folder.
func khardNames(t *testing.T, dir, local string) []string {
	t.Helper()
	bin, err := exec.LookPath("khard")
	if err != nil {
		t.Fatal("khard is missing: apt-get install khard (scripts/test.sh installs it)")
	}
	conf := filepath.Join(dir, "khard.conf")
	cfg := "[addressbooks]\n[[company]]\npath = " + local + "/\n\n[general]\ndefault_action = list\n\n[contact table]\ndisplay = formatted_name\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf, "list", "--parsable", "--fields", "name")
	cmd.Env = append(os.Environ(), "HOME="+dir, "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("khard list: %v\n%s", err, out)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimRight(line, "\n"); line != "" {
			names = append(names, line)
		}
	}
	slices.Sort(names)
	return names
}

// fnOf is a card's FN, unescaped as far as the cast's names need.
func fnOf(body string) string {
	for line := range strings.Lines(body) {
		if fn, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "FN:"); ok {
			return strings.NewReplacer(`\,`, ",", `\;`, ";", `\\`, `\`).Replace(fn)
		}
	}
	return ""
}

// Issue 12's real-client test: Debian's vdirsyncer syncs a person's book
// into a folder: first exactly the people they may see; then the
// organisation changes in the simulator (a joiner, a mobile change, a
// leaver, someone moved out of the person's sight), the changes reach
// serve as DingTalk's Stream events, and the next sync transfers exactly those changes, counted in
// serve's request log. khard lists the synced contacts by name. A write
// from the client is refused and the next sync still works.
func TestVdirsyncer(t *testing.T) {
	e, c := newDirEnv(t)
	e.startStream(t) // serve follows DingTalk's contact events
	p := e.browser(c.emp).login().newAppPassword("vdirsyncer")
	book := "/dav/books/" + c.emp + "/directory/"
	v := newVdirsyncer(t, e.url+book, p.Username, p.Password)
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	resp, out := dev.req("PROPFIND", book, `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`, map[string][]string{"Depth": {"1"}})
	want := cardNames(t, parseMS(t, resp, out), book)
	// the book is the portal's view: the cast's cards exactly when the
	// portal shows them
	viewer := e.browser(c.emp).login()
	for _, u := range []string{c.sub, c.hidden, c.xss, c.rIn, c.rOut} {
		var dp struct{}
		if shown := viewer.getJSON("/api/v1/people/"+u, &dp) == 200; slices.Contains(want, u+".vcf") != shown {
			t.Fatalf("%s: in the book %v, in the portal %v", u, !shown, shown)
		}
	}

	v.must("discover")
	mark := e.reqs.mark()
	v.must("sync")
	got := v.cards()
	if n, reqs := transfers(e.reqs.since(mark)); len(got) != len(want) || n != len(want) {
		t.Fatalf("first sync: %d cards in the folder, %d transferred (%v), the book has %d", len(got), n, reqs, len(want))
	}
	for _, n := range want {
		if _, ok := got["dingtalk-"+strings.TrimSuffix(n, ".vcf")]; !ok {
			t.Errorf("card %s not synced", n)
		}
	}
	if _, ok := got["dingtalk-"+c.rOut]; ok {
		t.Error("a restricted person out of sight was synced")
	}

	// khard lists them by name
	var names []string
	for _, body := range got {
		names = append(names, fnOf(body))
	}
	slices.Sort(names)
	if k := khardNames(t, v.dir, v.local); !slices.Equal(k, names) || !slices.Contains(k, "张三丰") || !slices.Contains(k, xssName) {
		t.Errorf("khard lists %d names %q, the cards %d %q", len(k), k, len(names), names)
	}

	// the organisation changes: a joiner, a mobile change, a leaver, and
	// someone the person sees moved into a restricted department out of
	// their sight
	var changed, moved string
	for _, q := range truth.Org.People {
		if n := q.UserID + ".vcf"; slices.Contains(want, n) && q.Active && !q.Restricted && !q.HideMobile && !q.Senior && q.Mobile != "" &&
			!slices.Contains([]string{c.emp, c.sub, c.primary, c.hidden, c.xss, c.rIn}, q.UserID) {
			if changed == "" {
				changed = q.UserID
			} else {
				moved = q.UserID
			}
		}
	}
	if moved == "" || !strings.Contains(got["dingtalk-"+changed], "TEL") {
		t.Fatalf("no one to change (%q) or move (%q)", changed, moved)
	}
	rOutDept := func() int64 {
		q, _, err := e.app.DB.LatestPerson(t.Context(), c.rOut)
		if err != nil || q == nil {
			t.Fatalf("%s: %v", c.rOut, err)
		}
		return q.Depts[0].DeptID
	}()
	const newMobile = "13912345678"
	if err := e.sim.AddUser(dingbook.Person{UserID: "joiner-1", Name: "新同事", Active: true, StateCode: "86", Mobile: "13800000001",
		Depts: []dingbook.Membership{{DeptID: dingbook.RootDeptID}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateUser(changed, func(q *dingbook.Person) { q.Mobile = newMobile }); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.RemoveUser(c.hidden); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateUser(moved, func(q *dingbook.Person) { q.Restricted, q.Depts = true, []dingbook.Membership{{DeptID: rOutDept}} }); err != nil {
		t.Fatal(err)
	}
	// the events flow: wait until serve has applied and acknowledged them
	waitFor(t, "the changes' events", func() bool {
		j, ch, l, m := e.lookup(t, "joiner-1"), e.lookup(t, changed), e.lookup(t, c.hidden), e.lookup(t, moved)
		q, backlog := e.sim.Pending("")
		return j != nil && ch != nil && ch.Mobile == newMobile && l == nil && m != nil && len(m.Departments) == 1 &&
			m.Departments[0].ID == rOutDept && q == 0 && backlog == 0
	}, nil)
	if pulls := revisions(t, e); len(pulls) < 4 || slices.ContainsFunc(pulls[len(pulls)-4:], func(r store.Revision) bool { return r.Cause != store.CauseEvent }) {
		t.Fatalf("the changes did not come as event revisions: %+v", pulls)
	}

	mark = e.reqs.mark()
	v.must("sync")
	after := v.cards()
	n, reqs := transfers(e.reqs.since(mark))
	if n != 2 || slices.ContainsFunc(reqs, func(r string) bool {
		return !strings.HasPrefix(r, "PROPFIND") && !strings.HasPrefix(r, "REPORT") && !strings.HasPrefix(r, "GET")
	}) {
		t.Errorf("second sync transferred %d cards, want 2 (the joiner, the mobile change): %v", n, reqs)
	}
	if len(after) != len(want)-1 || after["dingtalk-joiner-1"] == "" || after["dingtalk-"+c.hidden] != "" || after["dingtalk-"+moved] != "" ||
		!strings.Contains(after["dingtalk-"+changed], "+86"+newMobile) {
		t.Errorf("second sync: %d cards (was %d); joiner %v, leaver kept %v, moved kept %v, mobile changed %v", len(after), len(want),
			after["dingtalk-joiner-1"] != "", after["dingtalk-"+c.hidden] != "", after["dingtalk-"+moved] != "", strings.Contains(after["dingtalk-"+changed], newMobile))
	}
	for uid, body := range got {
		if !slices.Contains([]string{"dingtalk-" + changed, "dingtalk-" + c.hidden, "dingtalk-" + moved}, uid) && after[uid] != body {
			t.Errorf("card %s changed without a change in DingTalk", uid)
		}
	}

	// read-only: a direct PUT is refused
	if resp, out := dev.req("PUT", book+"new.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nUID:x\r\nEND:VCARD\r\n", map[string][]string{"If-None-Match": {"*"}}); resp.StatusCode != 403 {
		t.Errorf("a PUT: %d %s", resp.StatusCode, out)
	}
	// a client that edits a card and uploads it is refused, and fails
	f := v.file("dingtalk-" + changed)
	orig, _ := os.ReadFile(f)
	if err := os.WriteFile(f, []byte(strings.Replace(string(orig), "FN:", "FN:Edited ", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	mark = e.reqs.mark()
	if out, ok := v.run("writer", "discover"); !ok {
		t.Fatalf("vdirsyncer discover (writer): %s", out)
	}
	if out, ok := v.run("writer", "sync"); ok {
		t.Errorf("an upload of a local edit succeeded:\n%s", out)
	}
	if _, reqs := transfers(e.reqs.since(mark)); !slices.Contains(reqs, "PUT 403") {
		t.Errorf("the edit's upload was not refused with 403: %v", reqs)
	}
	// the next sync still works and transfers nothing new
	if err := os.WriteFile(f, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	v.must("discover")
	mark = e.reqs.mark()
	v.must("sync")
	if n, reqs := transfers(e.reqs.since(mark)); n != 0 || !maps.Equal(v.cards(), after) {
		t.Errorf("the sync after a refused upload: %d cards transferred %v; folder unchanged %v", n, reqs, maps.Equal(v.cards(), after))
	}
}
