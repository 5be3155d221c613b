package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/vcard"
)

// DirDept names one department of a person in the directory.
type DirDept struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// DirPerson is a person as a viewer of the directory may see them: a
// mobile the viewer may not see is empty and MobileHidden is set.
type DirPerson struct {
	UserID       string    `json:"userid"`
	Name         string    `json:"name"`
	Title        string    `json:"title"`
	Departments  []DirDept `json:"departments"`
	JobNumber    string    `json:"job_number,omitempty"`
	StateCode    string    `json:"state_code,omitempty"`
	Mobile       string    `json:"mobile,omitempty"`
	MobileHidden bool      `json:"mobile_hidden"`
	Telephone    string    `json:"telephone,omitempty"`
	Email        string    `json:"email,omitempty"`
	OrgEmail     string    `json:"org_email,omitempty"`
	WorkPlace    string    `json:"work_place,omitempty"`
}

// DeptView is one department's page: the department, its
// sub-departments and the members the viewer may see.
type DeptView struct {
	DeptInfo
	Children []DeptInfo  `json:"children"`
	People   []DirPerson `json:"people"`
}

// SearchLimit is the most people a search returns.
const SearchLimit = 50

// peopleIndex is the directory of one complete snapshot, in memory: the
// people, the tree with headcounts, and each person's search text.
type peopleIndex struct {
	snapshot int64
	// rev is the last revision of the live directory applied (live.go).
	rev      int64
	deptList []dingbook.Department
	tree     *dingbook.Tree
	depts    *Departments
	deptPos  map[int64]int
	people   []dingbook.Person
	byID     map[string]int
	// names holds people[i]'s names as searched (lower-case name, pinyin
	// in full and as initials, English names), others their job number,
	// title and department names: each text without spaces and ended by
	// a newline (which a query never holds), all people's in one string
	// so that a search is a few fast strings.Index calls.
	names, others blob
}

type peopleCache struct {
	mu  sync.Mutex
	idx *peopleIndex
}

// directory returns the index of the live directory (live.go): the
// latest complete snapshot with the revisions after it, built when a
// newer snapshot appeared since the last call (a pull by the CLI or the
// schedule is picked up without a restart) and brought up to date when
// new revisions were committed.
func (a *App) directory(ctx context.Context) (*peopleIndex, error) {
	return a.liveDirectory(ctx)
}

func (a *App) buildIndex(ctx context.Context, id int64) (*peopleIndex, error) {
	depts, err := a.Departments(ctx, id)
	if err != nil {
		return nil, err
	}
	sd, err := a.DB.Directory(ctx, id)
	if err != nil {
		return nil, err
	}
	idx, b := newIndex(id, sd.Departments(), depts, sd.Len())
	err = sd.EachPerson(ctx, func(p *dingbook.Person) error {
		idx.add(b, p, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	idx.finish(b)
	return idx, nil
}

// indexBuild holds an index's search texts while it is built.
type indexBuild struct{ names, others strings.Builder }

// newIndex starts the index of snapshot id for about n people; add them,
// then call finish.
func newIndex(id int64, deptList []dingbook.Department, depts *Departments, n int) (*peopleIndex, *indexBuild) {
	idx := &peopleIndex{snapshot: id, deptList: deptList, tree: dingbook.NewTree(deptList), depts: depts,
		deptPos: make(map[int64]int, len(depts.Departments)), people: make([]dingbook.Person, 0, n), byID: make(map[string]int, n)}
	for i, d := range depts.Departments {
		idx.deptPos[d.ID] = i
	}
	idx.names.off, idx.others.off = make([]int32, 1, n+1), make([]int32, 1, n+1)
	return idx, &indexBuild{}
}

// add appends p with its search texts (text nil: computed from p; else
// {names, others} taken from an older index).
func (idx *peopleIndex) add(b *indexBuild, p *dingbook.Person, text []string) {
	var n, o string
	if text != nil {
		n, o = text[0], text[1]
	} else {
		n, o = idx.searchText(p)
	}
	b.names.WriteString(n)
	b.others.WriteString(o)
	idx.names.off = append(idx.names.off, int32(b.names.Len()))
	idx.others.off = append(idx.others.off, int32(b.others.Len()))
	trim(p)
	idx.byID[p.UserID] = len(idx.people)
	idx.people = append(idx.people, *p)
}

// trim drops what the directory never shows from p: it stays in the
// snapshot (the custom fields alone would triple the index's memory).
func trim(p *dingbook.Person) {
	p.Extension, p.Remark, p.Avatar, p.LoginID, p.ManagerUserID = nil, "", "", "", ""
}

func (idx *peopleIndex) finish(b *indexBuild) {
	idx.names.text, idx.others.text = b.names.String(), b.others.String()
}

// blob is every person's search text in one string: person i's is
// text[off[i]:off[i+1]].
type blob struct {
	text string
	off  []int32
}

// each calls fn with every person whose text contains q, in order, until
// fn returns false.
func (b *blob) each(q string, fn func(i int) bool) {
	for pos := 0; pos < len(b.text); {
		j := strings.Index(b.text[pos:], q)
		if j < 0 {
			return
		}
		// the person whose text holds the match: the last offset at or
		// before it
		i, _ := slices.BinarySearch(b.off, int32(pos+j)+1)
		i--
		if !fn(i) {
			return
		}
		pos = int(b.off[i+1])
	}
}

// englishKeys are the custom fields (extension) that hold an English name.
var englishKeys = []string{"english_name", "englishName", "英文名", "Nama Inggris"}

func (idx *peopleIndex) searchText(p *dingbook.Person) (names, others string) {
	var b strings.Builder
	add := func(s string) {
		if s != "" {
			b.WriteString(strings.ToLower(strings.Join(strings.Fields(s), "")))
			b.WriteByte('\n')
		}
	}
	add(p.Name)
	add(vcard.Phonetic(p.Name))
	add(initials(p.Name))
	for _, k := range englishKeys {
		add(p.Extension[k])
		add(initials(p.Extension[k]))
	}
	names = b.String()
	b.Reset()
	add(p.JobNumber)
	add(p.Title)
	for _, m := range p.Depts {
		if d := idx.tree.Dept(m.DeptID); d != nil {
			add(d.Name)
		}
	}
	return names, b.String()
}

// initials are the first letters of a name's syllables: the pinyin
// initial of each Han character (张三 → "zs") and the first letter of
// each Latin word (John Smith → "js").
func initials(name string) string {
	var b strings.Builder
	word := false
	for _, r := range name {
		switch {
		case unicode.Is(unicode.Han, r):
			if py := vcard.Phonetic(string(r)); py != "" {
				b.WriteByte(py[0])
			}
			word = false
		case unicode.IsLetter(r):
			if !word {
				b.WriteRune(r)
			}
			word = true
		default:
			word = false
		}
	}
	return b.String()
}

// viewer is the session's Viewer over this index's snapshot.
func (idx *peopleIndex) viewer(s *Session) Viewer {
	var self *dingbook.Person
	if i, ok := idx.byID[s.UserID]; ok {
		self = &idx.people[i]
	}
	return ViewerOf(s, self, idx.tree)
}

// view is p as v may see it.
func (idx *peopleIndex) view(v Viewer, p *dingbook.Person) DirPerson {
	out := DirPerson{UserID: p.UserID, Name: p.Name, Title: p.Title, JobNumber: p.JobNumber, Telephone: p.Telephone,
		Email: p.Email, OrgEmail: p.OrgEmail, WorkPlace: p.WorkPlace, Departments: []DirDept{}}
	for _, m := range p.Depts {
		d := DirDept{ID: m.DeptID}
		if dd := idx.tree.Dept(m.DeptID); dd != nil {
			d.Name = dd.Name
		}
		out.Departments = append(out.Departments, d)
	}
	if v.SeesMobile(p) {
		out.StateCode, out.Mobile = p.StateCode, p.Mobile
	} else if p.Mobile != "" {
		out.MobileHidden = true
	}
	return out
}

// SearchPeople finds, in the latest complete snapshot, up to SearchLimit
// people the session's person may see whose name (Chinese, pinyin in full
// or as initials, English), job number, title or department contains q
// (any case; spaces ignored), those found by name first. An empty q
// finds nobody, without reading
// the snapshot.
func (a *App) SearchPeople(ctx context.Context, s *Session, q string) ([]DirPerson, error) {
	q = strings.ToLower(strings.Join(strings.Fields(q), ""))
	out := []DirPerson{}
	if q == "" {
		return out, nil
	}
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	v := idx.viewer(s)
	// by name first, then by job number, title or department
	byName := map[int]bool{}
	idx.names.each(q, func(i int) bool {
		byName[i] = true
		if p := &idx.people[i]; v.CanSee(p) {
			out = append(out, idx.view(v, p))
		}
		return len(out) < SearchLimit
	})
	if len(out) < SearchLimit {
		idx.others.each(q, func(i int) bool {
			if p := &idx.people[i]; !byName[i] && v.CanSee(p) {
				out = append(out, idx.view(v, p))
			}
			return len(out) < SearchLimit
		})
	}
	return out, nil
}

// Person returns userid as the session's person may see them; a person
// they may not see is not found, exactly like one who does not exist.
func (a *App) Person(ctx context.Context, s *Session, userid string) (*DirPerson, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	v := idx.viewer(s)
	if i, ok := idx.byID[userid]; ok && v.CanSee(&idx.people[i]) {
		p := idx.view(v, &idx.people[i])
		return &p, nil
	}
	return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no person %q in the directory", userid),
		Hint: "search the directory for the person's name", Field: "userid"}
}

// DirectoryTree returns the department tree of the latest complete
// snapshot with headcounts.
func (a *App) DirectoryTree(ctx context.Context) (*Departments, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	return idx.depts, nil
}

// Department returns department id of the latest complete snapshot with
// its sub-departments and the direct members the session's person may see.
func (a *App) Department(ctx context.Context, s *Session, id int64) (*DeptView, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	pos, ok := idx.deptPos[id]
	if !ok {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no department %d in the directory", id),
			Hint: "open the department tree at /departments/1", Field: "dept_id"}
	}
	dv := &DeptView{DeptInfo: idx.depts.Departments[pos], Children: []DeptInfo{}, People: []DirPerson{}}
	for _, c := range idx.tree.Children(id) {
		if cp, ok := idx.deptPos[c]; ok {
			dv.Children = append(dv.Children, idx.depts.Departments[cp])
		}
	}
	v := idx.viewer(s)
	for i := range idx.people {
		p := &idx.people[i]
		if _, member := p.Membership(id); member && v.CanSee(p) {
			dv.People = append(dv.People, idx.view(v, p))
		}
	}
	return dv, nil
}
