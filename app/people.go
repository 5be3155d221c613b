package app

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

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
	// english[i] holds people[i]'s English names (custom fields, which
	// the index drops), each ended by a newline; mostly empty
	english []string
	byID    map[string]int
	// names are the people's names as searched (lower-case name, pinyin
	// in full and as initials, English names), others their job number,
	// title and department names: each distinct text once, with the
	// people who have it, so that a search reads each title and
	// department name once, not once per person.
	names, others keyIndex
	// ov is what changed since names and others were built (live.go);
	// nil: they hold people's keys as they are
	ov *overlay
	// sets are a search's two bitsets (*[2]bitset, empty), reused: a
	// search would otherwise leave 25 KB of garbage at 100,000 people
	sets sync.Pool
}

type peopleCache struct {
	mu  sync.Mutex
	idx *peopleIndex
	// build is held while a new base's index is built (live.go): one at
	// a time, and readers meanwhile keep idx
	build sync.Mutex
	// warming: a new base is being made in the background (warmLater);
	// warmErr: how the last one failed (nil: it did not)
	warming bool
	warmErr error
	// gen is the store's generation when idx's snapshot was last found
	// the latest
	gen int64
	// rebuilding: idx's key indexes are being built again (live.go)
	rebuilding bool
	// hold, if set, is called at each stage of the live index's work
	// ("bridge": a bridge's drift; "build": a new base's index;
	// "rebuild": first on the background rebuild's goroutine, with the
	// App's context): tests hold the work there
	hold func(ctx context.Context, stage string) error
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
	idx := &peopleIndex{snapshot: id, deptList: sd.Departments(), depts: depts, people: make([]dingbook.Person, 0, sd.Len())}
	idx.tree = dingbook.NewTree(idx.deptList)
	err = sd.EachPerson(ctx, func(p *dingbook.Person) error {
		idx.english = append(idx.english, englishOf(p))
		trim(p)
		idx.people = append(idx.people, *p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	idx.finish()
	return idx, nil
}

// finish makes the maps and the search keys of idx's people (keyBuilder
// over all of them).
func (idx *peopleIndex) finish() {
	idx.maps()
	idx.names, idx.others = idx.keys()
}

// maps makes idx's maps: departments' and people's positions.
func (idx *peopleIndex) maps() {
	idx.deptPos = make(map[int64]int, len(idx.depts.Departments))
	for i, d := range idx.depts.Departments {
		idx.deptPos[d.ID] = i
	}
	idx.byID = make(map[string]int, len(idx.people))
	for i := range idx.people {
		idx.byID[idx.people[i].UserID] = i
	}
}

// keys builds the search keys' indexes of idx's people.
func (idx *peopleIndex) keys() (names, others keyIndex) {
	var nb, ob keyBuilder
	for i := range idx.people {
		idx.searchKeys(&idx.people[i], idx.english[i], func(k string) { nb.add(int32(i), k) }, func(k string) { ob.add(int32(i), k) })
	}
	return nb.index(), ob.index()
}

// trim drops what the directory never shows from p: it stays in the
// snapshot (the custom fields alone would triple the index's memory;
// the English names the search needs are kept apart, englishOf).
func trim(p *dingbook.Person) {
	p.Extension, p.Remark, p.Avatar, p.LoginID, p.ManagerUserID = nil, "", "", "", ""
}

// keyIndex is a search index over texts (keys) shared by many people:
// every distinct key once in one string, each followed by a newline
// (which a query never holds), and the people who have it.
type keyIndex struct {
	text string
	// off[k] is where key k starts in text; off[len(off)-1] is len(text)
	off []int32
	// people[at[k]:at[k+1]] are the people (positions in
	// peopleIndex.people, ascending) who have key k
	people, at []int32
	// bigrams and trigrams find the keys holding a query of two bytes,
	// or of three or more, without scanning text
	bigrams, trigrams grams
}

// keyBuilder builds a keyIndex person by person, in order.
type keyBuilder struct {
	ids   map[string]int32
	text  strings.Builder
	off   []int32
	last  []int32    // the last person added to each key
	pairs [][2]int32 // key, person
}

// add gives person the key k (lower-case, without spaces).
func (b *keyBuilder) add(person int32, k string) {
	if b.ids == nil {
		b.ids, b.off = map[string]int32{}, []int32{0}
	}
	id, ok := b.ids[k]
	if !ok {
		id = int32(len(b.last))
		b.ids[k] = id
		b.text.WriteString(k)
		b.text.WriteByte('\n')
		b.off = append(b.off, int32(b.text.Len()))
		b.last = append(b.last, -1)
	}
	if b.last[id] != person {
		b.last[id] = person
		b.pairs = append(b.pairs, [2]int32{id, person})
	}
}

// index returns the keys' index: each key's people in the order added,
// with the keys' bigrams and trigrams.
func (b *keyBuilder) index() keyIndex {
	x := b.keys()
	x.bigrams, x.trigrams = x.grams(2), x.grams(3)
	return x
}

// keys is index without the grams (a search scans the keys' text: for
// a few keys).
func (b *keyBuilder) keys() keyIndex {
	// the builder's memory goes as soon as it can: the peak of the
	// process is the index's build
	b.ids = nil
	x := keyIndex{text: b.text.String(), off: b.off, at: make([]int32, len(b.last)+1), people: make([]int32, len(b.pairs))}
	if x.off == nil {
		x.off = []int32{0}
	}
	for _, p := range b.pairs {
		x.at[p[0]+1]++
	}
	for k := 1; k < len(x.at); k++ {
		x.at[k] += x.at[k-1]
	}
	next := slices.Clone(x.at[:len(x.at)-1])
	for _, p := range b.pairs {
		x.people[next[p[0]]] = p[1]
		next[p[0]]++
	}
	b.pairs, b.last, next = nil, nil, nil
	return x
}

// key returns key k.
func (x *keyIndex) key(k int) string { return x.text[x.off[k] : x.off[k+1]-1] }

// grams is an index of the keys by their n-grams (n bytes from the start
// of a character, packed): keys[at[g]:at[g+1]] (ascending) hold gram[g].
type grams struct {
	n        int
	gram     []uint32
	at, keys []int32
}

// grams indexes the keys by their n-grams.
func (x *keyIndex) grams(n int) grams {
	// each key's n-grams as gram<<32 | key, sorted (at most one per byte
	// of text)
	gk := make([]uint64, 0, len(x.text))
	for k := range len(x.off) - 1 {
		from := len(gk)
		eachGram(x.key(k), n, func(g uint32) { gk = append(gk, uint64(g)<<32|uint64(k)) })
		slices.Sort(gk[from:])
		gk = append(gk[:from], slices.Compact(gk[from:])...)
	}
	slices.Sort(gk)
	t := grams{n: n, keys: make([]int32, len(gk))}
	for i, v := range gk {
		if g := uint32(v >> 32); len(t.gram) == 0 || t.gram[len(t.gram)-1] != g {
			t.gram = append(t.gram, g)
			t.at = append(t.at, int32(i))
		}
		t.keys[i] = int32(v)
	}
	t.at = append(t.at, int32(len(gk)))
	t.gram = slices.Clip(t.gram)
	return t
}

// eachGram calls fn with each n-gram (n ≤ 4) of s that starts a
// character: a query found in a key starts a character there, so the
// query's n-grams are among the key's.
func eachGram(s string, n int, fn func(uint32)) {
	for i := 0; i+n <= len(s); i++ {
		if utf8.RuneStart(s[i]) {
			var g uint32
			for _, c := range []byte(s[i : i+n]) {
				g = g<<8 | uint32(c)
			}
			fn(g)
		}
	}
}

// lookup returns the keys that hold every n-gram of q (len(q) ≥ n): a
// superset of the keys containing q.
func (t *grams) lookup(q string) []int32 {
	var best []int32
	found := true
	eachGram(q, t.n, func(g uint32) {
		i, ok := slices.BinarySearch(t.gram, g)
		if !ok {
			found = false
			return
		}
		if ks := t.keys[t.at[i]:t.at[i+1]]; best == nil || len(ks) < len(best) {
			best = ks
		}
	})
	if !found {
		return nil
	}
	return best
}

// mark sets, in set, the bit of every person who has a key containing q,
// unless it is set in skip (nil: none). With an overlay ov, x's people
// are base positions: each is taken to its current one, unless gone or
// stale.
func (x *keyIndex) mark(q string, set, skip bitset, ov *overlay) {
	add := func(k int) {
		for _, p := range x.people[x.at[k]:x.at[k+1]] {
			if ov != nil {
				if ov.pos != nil {
					if p = ov.pos[p]; p < 0 {
						continue
					}
				}
				if ov.stale.has(p) {
					continue
				}
			}
			if skip == nil || !skip.has(p) {
				set.add(p)
			}
		}
	}
	var t *grams
	switch {
	case len(q) >= 3 && x.trigrams.n > 0:
		t = &x.trigrams
	case len(q) == 2 && x.bigrams.n > 0:
		t = &x.bigrams
	}
	if t != nil {
		for _, k := range t.lookup(q) {
			if strings.Contains(x.key(int(k)), q) {
				add(int(k))
			}
		}
		return
	}
	for pos := 0; pos < len(x.text); {
		j := strings.Index(x.text[pos:], q)
		if j < 0 {
			return
		}
		// the key that holds the match: the last offset at or before it
		k, _ := slices.BinarySearch(x.off, int32(pos+j)+1)
		k--
		add(k)
		pos = int(x.off[k+1])
	}
}

// bitset holds a set of people by their position.
type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (s bitset) add(i int32)      { s[i>>6] |= 1 << (i & 63) }
func (s bitset) has(i int32) bool { return s[i>>6]&(1<<(i&63)) != 0 }

// each calls fn with the set's people in order until fn returns false.
func (s bitset) each(fn func(i int) bool) {
	for w, word := range s {
		for word != 0 {
			if !fn(w*64 + bits.TrailingZeros64(word)) {
				return
			}
			word &= word - 1
		}
	}
}

// englishKeys are the custom fields (extension) that hold an English name.
var englishKeys = []string{"english_name", "englishName", "英文名", "Nama Inggris"}

// englishOf is p's English names (from its custom fields), each ended
// by a newline.
func englishOf(p *dingbook.Person) string {
	var b strings.Builder
	for _, k := range englishKeys {
		if v := p.Extension[k]; v != "" {
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// searchKeys gives p's search keys to name (names, English names from
// english, englishOf) and other (job number, title, department names):
// lower-case, without spaces.
func (idx *peopleIndex) searchKeys(p *dingbook.Person, english string, name, other func(string)) {
	add := func(to func(string), s string) {
		if s = normQuery(s); s != "" {
			to(s)
		}
	}
	add(name, p.Name)
	add(name, vcard.Phonetic(p.Name))
	add(name, initials(p.Name))
	for e := range strings.Lines(english) {
		e = e[:len(e)-1]
		add(name, e)
		add(name, initials(e))
	}
	add(other, p.JobNumber)
	add(other, p.Title)
	for _, m := range p.Depts {
		if d := idx.tree.Dept(m.DeptID); d != nil {
			add(other, d.Name)
		}
	}
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
	if q = normQuery(q); q == "" {
		return []DirPerson{}, nil
	}
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	return idx.search(idx.viewer(s), q), nil
}

// normQuery is q as searched (and a key as indexed): lower-case,
// without spaces.
func normQuery(q string) string { return strings.ToLower(strings.Join(strings.Fields(q), "")) }

// search is SearchPeople in idx for v, q normalised.
func (idx *peopleIndex) search(v Viewer, q string) []DirPerson {
	out := []DirPerson{}
	// by name first, then by job number, title or department
	sets, _ := idx.sets.Get().(*[2]bitset)
	if sets == nil {
		sets = &[2]bitset{newBitset(len(idx.people)), newBitset(len(idx.people))}
	}
	defer func() {
		clear(sets[0])
		clear(sets[1])
		idx.sets.Put(sets)
	}()
	byName, byOther := sets[0], sets[1]
	idx.names.mark(q, byName, nil, idx.ov)
	if idx.ov != nil {
		idx.ov.names.mark(q, byName, nil, nil)
	}
	idx.others.mark(q, byOther, byName, idx.ov)
	if idx.ov != nil {
		idx.ov.others.mark(q, byOther, byName, nil)
	}
	for _, set := range []bitset{byName, byOther} {
		if len(out) == SearchLimit {
			break
		}
		set.each(func(i int) bool {
			if p := &idx.people[i]; v.CanSee(p) {
				out = append(out, idx.view(v, p))
			}
			return len(out) < SearchLimit
		})
	}
	return out
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
