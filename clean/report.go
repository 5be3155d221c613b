package clean

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/pipeline"
	"github.com/dingbook/dingbook/normalize"
)

// Set is a set of problems, one bit per entry of dingbook.AllProblems.
type Set uint16

var problemBit = func() map[dingbook.Problem]Set {
	m := make(map[dingbook.Problem]Set, len(dingbook.AllProblems))
	for i, p := range dingbook.AllProblems {
		m[p] = 1 << i
	}
	return m
}()

// Bit returns the set holding only p (0 for an unknown problem).
func Bit(p dingbook.Problem) Set { return problemBit[p] }

// Has reports whether s contains p.
func (s Set) Has(p dingbook.Problem) bool { return s&problemBit[p] != 0 }

// List returns the problems in s in report order.
func (s Set) List() []dingbook.Problem {
	var out []dingbook.Problem
	for i, p := range dingbook.AllProblems {
		if s&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// FillProblems are the problems someone must fix by filling in or
// correcting a field; a person with any of them has the status "Needs
// filling". Hidden mobiles, inactive accounts and duplicates are reported
// but do not make a row incomplete.
var FillProblems = Bit(dingbook.ProblemMissingMobile) | Bit(dingbook.ProblemMissingEmail) |
	Bit(dingbook.ProblemInvalidPhone) | Bit(dingbook.ProblemInvalidEmail) |
	Bit(dingbook.ProblemMissingTitle) | Bit(dingbook.ProblemMissingJobNumber) |
	Bit(dingbook.ProblemManagerNotFound)

// ParseProblems parses a comma-separated list of problem names (as
// --fail-on takes them). An unknown name is a *dingbook.Error listing the
// valid ones.
func ParseProblems(list string) (Set, error) {
	var s Set
	for _, name := range splitList(list) {
		b := problemBit[dingbook.Problem(name)]
		if b == 0 {
			return 0, dingbook.Errorf(dingbook.EINVALID, "unknown problem %q", name).
				WithHint("valid problems: %s", problemNames())
		}
		s |= b
	}
	return s, nil
}

func problemNames() string {
	out := ""
	for i, p := range dingbook.AllProblems {
		if i > 0 {
			out += ", "
		}
		out += string(p)
	}
	return out
}

func splitList(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if t := normalize.Text(s[start:i]); t != "" {
				out = append(out, t)
			}
			start = i + 1
		}
	}
	return out
}

// Options configures Analyze.
type Options struct {
	// Region is the default region for numbers without a state_code
	// ("" = normalize.DefaultRegion).
	Region string
	// SizeHint is the expected number of people (0 = unknown); it sizes
	// the key tables up front. An OrgDirectory's size is known anyway.
	SizeHint int
	// Select, when set, returns a person as the report should see them
	// (an export's copy, its hidden mobile left out), or nil to leave
	// them out: the report then covers only the people an export writes.
	// People left out still exist as managers (manager-not-found is
	// judged against everybody). It is called from many goroutines at
	// once and must not keep the person.
	Select func(*dingbook.Person) *dingbook.Person
	// Visible, when not nil, lists the field keys whose values the report
	// may quote (an export's fields; privacy.md R-MIN): a duplicate
	// group's key only when its field is visible (mobile or mobile_e164;
	// email and org_email both, as a key may come from either; name),
	// people's userids and names only when userid and name are (names are
	// then kept during the pass, so no second pass is needed), missing
	// managers' userids only when manager_userid is. Otherwise a group
	// names its people by row and the problem. Nil quotes everything: the
	// admin's own report.
	Visible []string
}

// shown is what a report may quote (Options.Visible).
type shown struct {
	restricted                           bool
	mobile, email, name, userid, manager bool
}

func newShown(visible []string) shown {
	if visible == nil {
		return shown{mobile: true, email: true, name: true, userid: true, manager: true}
	}
	has := func(k string) bool { return slices.Contains(visible, k) }
	return shown{restricted: true, mobile: has("mobile") || has("mobile_e164"), email: has("email") && has("org_email"),
		name: has("name"), userid: has("userid"), manager: has("manager_userid")}
}

// QuotedFields returns the field keys of visible (Options.Visible) whose
// values a report restricted to them quotes; nil for nil (everything).
func QuotedFields(visible []string) []string {
	if visible == nil {
		return nil
	}
	s := newShown(visible)
	out := []string{}
	for _, f := range []struct {
		key string
		on  bool
	}{{"userid", s.userid}, {"name", s.name}, {"mobile", s.mobile}, {"mobile_e164", s.mobile}, {"email", s.email}, {"org_email", s.email}, {"manager_userid", s.manager}} {
		if f.on && slices.Contains(visible, f.key) {
			out = append(out, f.key)
		}
	}
	return out
}

// Report is the quality report of one organisation. The exported fields
// are the JSON report (WriteJSON adds the per-person list by streaming the
// directory again); the unexported ones let Problems look any person up.
type Report struct {
	Org    string `json:"org"`
	CorpID string `json:"corp_id,omitempty"`
	Source string `json:"source,omitempty"`
	Region string `json:"region"`
	// People counts distinct people (a userid seen twice is one person).
	People             int `json:"people"`
	PeopleWithProblems int `json:"people_with_problems"`
	// Counts has, for every problem, the number of people who have it.
	Counts map[dingbook.Problem]int `json:"counts"`
	// GroupCounts has the number of duplicate groups per duplicate problem.
	GroupCounts     map[dingbook.Problem]int `json:"duplicate_group_counts"`
	DuplicateGroups []DuplicateGroup         `json:"duplicate_groups"`
	Departments     []DeptQuality            `json:"departments"`
	// Totals repeats the headline numbers in one object.
	Totals Totals `json:"totals"`
	// MissingManagers maps each manager_userid that names nobody in the
	// org to the number of people who point at it.
	MissingManagers map[string]int `json:"missing_managers"`
	// Merges lists what --dedupe merged before the analysis.
	Merges []Merge `json:"merges,omitempty"`
	// QuotedFields, when set, are the only fields whose values the report
	// quotes (Options.Visible); absent, it quotes any (the admin's view).
	QuotedFields []string `json:"quoted_fields,omitempty"`

	show   shown
	sel    func(*dingbook.Person) *dingbook.Person // Options.Select
	region string
	seed   maphash.Seed
	seen   personTable // person key → first ordinal and problems
	// ordKeys and sets are the person key and the final problems per
	// ordinal (directory order), so that a second pass in the same order
	// finds a person's problems without a hash-table probe (problemsAt).
	ordKeys []uint64
	sets    []Set
	// index replaces seen once the analysis is done (a quarter of its
	// memory): an open-addressing table of 1 + ordinal, probed by
	// comparing ordKeys.
	index []int32
}

// entry is what the report keeps per person key.
type entry struct {
	ord  int32
	set  Set
	used bool // a personTable slot in use
}

// Totals are the report's headline numbers.
type Totals struct {
	People             int                      `json:"people"`
	PeopleWithProblems int                      `json:"people_with_problems"`
	Problems           map[dingbook.Problem]int `json:"problems"`
	DuplicateGroups    int                      `json:"duplicate_groups"`
}

// DuplicateGroup is a set of different people sharing a normalised key.
type DuplicateGroup struct {
	Problem dingbook.Problem `json:"problem"`
	// Key is the shared E.164 mobile, e-mail address or name.
	Key string `json:"key"`
	// DeptID is the department of a duplicate-name group.
	DeptID int64 `json:"dept_id,omitempty"`
	// Members names the group's first MaxGroupMembersShown members, the
	// ones the text report and the Quality sheet name (every member in a
	// group read back from JSON). Len counts them all, EachMember gives
	// them all, and the JSON report lists them all: a report keeps its
	// groups' members as ordinals (4 bytes each) and makes the rest from
	// what the analysis kept (a million people in duplicate groups took
	// ~80 MB as Members).
	Members []Member     `json:"members"`
	ords    []int32      // every member's 0-based ordinal, in directory order
	store   *memberStore // names the members from ords
}

// Len is the number of the group's members.
func (g *DuplicateGroup) Len() int {
	if g.store != nil {
		return len(g.ords)
	}
	return len(g.Members)
}

// EachMember calls fn for every member of the group, in directory order.
func (g *DuplicateGroup) EachMember(fn func(Member) error) error {
	if g.store == nil {
		for _, m := range g.Members {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
	for _, o := range g.ords {
		if err := fn(g.store.member(o)); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON writes the group with every member (Members holds only
// the first ones).
func (g DuplicateGroup) MarshalJSON() ([]byte, error) {
	type plain DuplicateGroup // the fields without this method
	p := plain(g)
	if g.store != nil {
		p.Members = make([]Member, 0, len(g.ords))
		g.EachMember(func(m Member) error { p.Members = append(p.Members, m); return nil })
	}
	return json.Marshal(p)
}

// shown materialises the members that Members holds (again, once names
// have been added to the store).
func (g *DuplicateGroup) shown() {
	g.Members = g.Members[:0]
	for _, o := range g.ords[:min(len(g.ords), MaxGroupMembersShown)] {
		g.Members = append(g.Members, g.store.member(o))
	}
}

// memberStore is what a report keeps to name duplicate groups' members
// from their ordinals: the analysis's pointer-free chunks of texts, with
// each ordinal's userid, member-file row and name located in them.
type memberStore struct {
	labels [][]byte         // the Analyzer's texts (see keepText)
	ids    []uint32         // Analyzer.ids
	longID map[int32]string // Analyzer.longID
	rows   []int32          // Analyzer.rows
	names  []uint32         // each ordinal's cleaned name, nil until known
}

func (s *memberStore) member(ord int32) Member {
	m := Member{UserID: s.longID[ord], Row: int(ord) + 1, ord: int(ord) + 1}
	if int(ord) < len(s.rows) && s.rows[ord] > 0 {
		m.Row = int(s.rows[ord])
	}
	if lab := s.ids[ord]; lab != 0 {
		m.UserID, _ = labelIn(s.labels, kindID, lab)
	}
	if int(ord) < len(s.names) {
		if lab := s.names[ord]; lab != 0 {
			m.Name, _ = labelIn(s.labels, kindID, lab)
		}
	}
	return m
}

// Member names one person of a group: by userid, or for imported rows
// without one by their 1-based position in the directory.
type Member struct {
	UserID string `json:"userid,omitempty"`
	// Row is the line of the member file (Person.SourceRow) for people
	// read from one, else the 1-based position.
	Row  int    `json:"row"`
	Name string `json:"name,omitempty"`
	ord  int    // the 1-based position
}

// DeptQuality is one department's completeness over its direct members.
type DeptQuality struct {
	DeptID  int64  `json:"dept_id"`
	Name    string `json:"name"`
	Path    string `json:"path"`
	Members int    `json:"members"`
	// With* count direct members with a non-empty mobile, e-mail (email or
	// org_email), title and job number; *Rate are the shares (0..1; 1 for
	// a department without direct members).
	WithMobile    int     `json:"with_mobile"`
	WithEmail     int     `json:"with_email"`
	WithTitle     int     `json:"with_title"`
	WithJobNumber int     `json:"with_job_number"`
	MobileRate    float64 `json:"mobile_rate"`
	EmailRate     float64 `json:"email_rate"`
	TitleRate     float64 `json:"title_rate"`
	JobNumberRate float64 `json:"job_number_rate"`
}

type deptStats struct{ members, mobile, email, title, job int }

// keyEntry records that person ord holds a duplicate-detection key.
// Keys are collected in slices and sorted once at the end: far fewer
// cache misses than a map probe per key for a million people.
type keyEntry struct {
	h   uint64
	ord int32
}

// keyList holds the keyEntries of one kind as columns (12 bytes a key
// instead of 16): hashes and ordinals; and the texts kept.
type keyList struct {
	hs   []uint64
	ords []int32
	// texts maps the hash of a key that may have been seen before (see
	// Analyzer.bits) to 1 + where its text (and department) is in
	// Analyzer.labels. The second holder of a key always finds its bit
	// set, so every duplicate group has its text; each text is kept once,
	// however many hold it (in a big organisation where most names
	// repeat, a copy per holder was ~25 MB).
	texts map[uint64]uint32
}

func (l *keyList) add(h uint64, ord int32) {
	l.hs = append(l.hs, h)
	l.ords = append(l.ords, ord)
}

// Key texts are kept in 1 MiB chunks (no copying as they grow), each text
// prefixed by its length (one byte; texts are cut to 255 bytes, enough to
// name a key in the report) and, for names, followed by the department id
// (8 bytes).
const (
	labChunkBits = 20
	labChunkSize = 1 << labChunkBits
)

// The three kinds of duplicate keys.
const (
	kindMobile = iota
	kindEmail
	kindName
	kindManager // only for keepText: a manager's userid
	kindID      // only for keepText: a person's userid
)

var kindProblem = [3]dingbook.Problem{dingbook.ProblemDuplicateMobile, dingbook.ProblemDuplicateEmail, dingbook.ProblemDuplicateName}

// Analyzer builds a Report from people fed one at a time.
type Analyzer struct {
	r      *Report
	keys   [3]keyList
	labels [][]byte // the keys' texts, in chunks
	bits   []uint64 // one bit per hash bucket: a key with this hash bucket was seen
	twice  []uint64 // one bit per hash bucket: a second key fell into it
	// touchSink keeps touch's loads from being optimised away.
	touchSink uint64
	// mgrRefs are the reports whose manager had not been seen when they
	// were committed (a manager may come later in the stream); Report
	// resolves them.
	mgrRefs []mgrRef
	longMgr map[int]string // index in mgrRefs → a manager userid longer than 255 bytes
	depts   map[int64]*deptStats
	rowKeys map[int32]uint64 // imported rows (no userid): ordinal → key
	scratch prepared         // reused by Add
	// ids holds each ordinal's userid as a label location (keepText; 0
	// for imported rows without one), so that a million userids are
	// copied into a few pointer-free chunks instead of kept as strings.
	ids    []uint32
	longID map[int32]string // ordinal → a userid longer than 255 bytes
	// rows holds each ordinal's Person.SourceRow (the member file's line),
	// once any person has one; nil for snapshots pulled from DingTalk.
	rows []int32
	// names holds each ordinal's cleaned name as a label location when a
	// restricted report shows names (Options.Visible), else nil.
	names []uint32
	// others are the person keys of the people Options.Select left out,
	// who still exist as managers.
	others []uint64
}

// NewAnalyzer starts an analysis.
func NewAnalyzer(opts Options) *Analyzer {
	region := opts.Region
	if region == "" {
		region = normalize.DefaultRegion
	}
	r := &Report{
		Region: region, region: region, seed: maphash.MakeSeed(), show: newShown(opts.Visible), sel: opts.Select,
		QuotedFields: QuotedFields(opts.Visible),
		Counts:       map[dingbook.Problem]int{}, GroupCounts: map[dingbook.Problem]int{},
		seen: newPersonTable(0), MissingManagers: map[string]int{},
		DuplicateGroups: []DuplicateGroup{}, Departments: []DeptQuality{},
	}
	a := &Analyzer{r: r, depts: map[int64]*deptStats{}, rowKeys: map[int32]uint64{}}
	if r.show.restricted && r.show.name {
		a.names = []uint32{}
	}
	return a
}

// personKey hashes a person's identity: the userid, or for imported rows
// without one the row's content (two identical rows have identical
// problems, so sharing a flag entry is exact).
func (r *Report) personKey(p *dingbook.Person) (uint64, bool) {
	var h maphash.Hash
	h.SetSeed(r.seed)
	if p.UserID != "" {
		h.WriteByte('u')
		h.WriteString(p.UserID)
		return h.Sum64(), true
	}
	h.WriteByte('r')
	for _, s := range []string{p.Name, p.StateCode, p.Mobile, p.Email, p.OrgEmail, p.Title, p.JobNumber, p.ManagerUserID, p.Telephone} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	var flags [2]byte
	if p.HideMobile {
		flags[0] = 1
	}
	if p.Active {
		flags[1] = 1
	}
	h.Write(flags[:])
	for _, m := range p.Depts {
		h.WriteString(strconv.FormatInt(m.DeptID, 10))
		h.WriteByte(',')
	}
	return h.Sum64(), false
}

func (r *Report) hashKey(kind byte, dept int64, s string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	var b [9]byte
	b[0] = kind
	binary.LittleEndian.PutUint64(b[1:], uint64(dept))
	h.Write(b[:])
	h.WriteString(s)
	return h.Sum64()
}

// intrinsic returns the problems visible from p alone (everything except
// duplicates and manager-not-found) and its normalised form.
func intrinsic(p *dingbook.Person, region string) (Set, normalize.Contact) {
	n := normalize.Person(p, region)
	var s Set
	mobile := normalize.Text(p.Mobile)
	if p.HideMobile {
		s |= Bit(dingbook.ProblemHiddenMobile)
	} else if mobile == "" {
		s |= Bit(dingbook.ProblemMissingMobile)
	}
	if mobile != "" && !n.MobileValid {
		s |= Bit(dingbook.ProblemInvalidPhone)
	}
	if n.Email == "" && n.OrgEmail == "" {
		s |= Bit(dingbook.ProblemMissingEmail)
	}
	if (n.Email != "" && !n.EmailValid) || (n.OrgEmail != "" && !n.OrgEmailValid) {
		s |= Bit(dingbook.ProblemInvalidEmail)
	}
	if n.Title == "" {
		s |= Bit(dingbook.ProblemMissingTitle)
	}
	if n.JobNumber == "" {
		s |= Bit(dingbook.ProblemMissingJobNumber)
	}
	if !p.Active {
		s |= Bit(dingbook.ProblemInactive)
	}
	return s, n
}

// prepared is what the analysis needs of one person, computed without
// touching the Analyzer's state (so workers can prepare people in
// parallel while one goroutine commits them in order).
type prepared struct {
	key      uint64
	hasID    bool
	skip     bool // left out by Options.Select: only key and hasID are set
	userID   string
	row      int // Person.SourceRow
	set      Set
	manager  string
	mgrKey   uint64 // userKey(manager)
	mobile   string // E.164, "" if none
	mobileH  uint64
	emails   [2]string
	emailH   [2]uint64
	nEmail   int
	name     string
	depts    []preparedDept
	withMob  bool
	withMail bool
	withTtl  bool
	withJob  bool
}

type preparedDept struct {
	id    int64
	nameH uint64
}

func (r *Report) prepare(p *dingbook.Person, pp *prepared) {
	*pp = prepared{depts: pp.depts[:0]}
	if r.sel != nil {
		if q := r.sel(p); q != nil {
			p = q
		} else {
			pp.skip = true
			if p.UserID != "" {
				pp.key, pp.hasID = r.userKey(p.UserID), true // personKey's, for a userid
			}
			return
		}
	}
	pp.key, pp.hasID = r.personKey(p)
	pp.userID, pp.row = p.UserID, p.SourceRow
	s, n := intrinsic(p, r.region)
	pp.set = s
	// A manager is found when a person's userid equals manager_userid
	// exactly (as DingTalk compares them); one that is blank once cleaned
	// is no manager at all.
	if n.ManagerUserID != "" {
		pp.manager = p.ManagerUserID
		pp.mgrKey = r.userKey(pp.manager)
	}
	if n.MobileValid {
		pp.mobile = n.Mobile
		pp.mobileH = r.hashKey('m', 0, n.Mobile)
	}
	if n.Email != "" {
		pp.emails[0] = strings.ToLower(n.Email)
		pp.emailH[0] = r.hashKey('e', 0, pp.emails[0])
		pp.nEmail = 1
	}
	if n.OrgEmail != "" {
		if k := strings.ToLower(n.OrgEmail); pp.nEmail == 0 || k != pp.emails[0] {
			pp.emails[pp.nEmail] = k
			pp.emailH[pp.nEmail] = r.hashKey('e', 0, k)
			pp.nEmail++
		}
	}
	pp.name = n.Name
	for i, m := range p.Depts {
		if slices.ContainsFunc(p.Depts[:i], func(x dingbook.Membership) bool { return x.DeptID == m.DeptID }) {
			continue // a department listed twice
		}
		d := preparedDept{id: m.DeptID}
		if n.Name != "" {
			d.nameH = r.hashKey('n', m.DeptID, n.Name)
		}
		pp.depts = append(pp.depts, d)
	}
	pp.withMob = normalize.Text(p.Mobile) != ""
	pp.withMail = n.Email != "" || n.OrgEmail != ""
	pp.withTtl = n.Title != ""
	pp.withJob = n.JobNumber != ""
}

// Add feeds one person to the analysis.
func (a *Analyzer) Add(p *dingbook.Person) {
	a.r.prepare(p, &a.scratch)
	a.commit(&a.scratch)
}

func (a *Analyzer) commit(pp *prepared) {
	r := a.r
	key := pp.key
	if pp.skip {
		if pp.hasID {
			a.others = append(a.others, key)
		}
		return
	}
	ord := int32(len(a.ids))
	if pp.hasID {
		s := r.seen.find(key)
		if s.e.used {
			return // the same person listed again: nothing new to learn
		}
		if r.seen.n+1 <= len(r.seen.slots)*3/4 {
			*s = slot{key: key, e: entry{ord: ord, set: pp.set, used: true}}
			r.seen.n++
		} else {
			r.seen.put(key, entry{ord: ord, set: pp.set})
		}
	} else {
		a.rowKeys[ord] = key
		e, ok := r.seen.get(key)
		if !ok {
			e.ord = ord
		}
		e.set |= pp.set
		r.seen.put(key, e)
	}
	if a.names != nil {
		var lab uint32
		if pp.name != "" {
			lab = a.keepText(pp.name, kindID, 0)
		}
		a.names = append(a.names, lab)
	}
	var lab uint32
	if pp.userID != "" && r.show.userid {
		if len(pp.userID) > 255 {
			if a.longID == nil {
				a.longID = map[int32]string{}
			}
			a.longID[ord] = pp.userID
		} else {
			lab = a.keepText(pp.userID, kindID, 0)
		}
	}
	a.ids = append(a.ids, lab)
	if pp.row > 0 && a.rows == nil {
		a.rows = make([]int32, ord, max(int(ord)+1, cap(a.ids)))
	}
	if a.rows != nil {
		a.rows = append(a.rows, int32(pp.row))
	}
	r.ordKeys = append(r.ordKeys, key)
	r.People++
	if s := pp.set; s != 0 {
		r.PeopleWithProblems++
		for _, p := range s.List() {
			r.Counts[p]++
		}
	}
	if pp.manager != "" {
		if _, ok := r.seen.get(pp.mgrKey); !ok {
			if len(pp.manager) > 255 {
				if a.longMgr == nil {
					a.longMgr = map[int]string{}
				}
				a.longMgr[len(a.mgrRefs)] = pp.manager
			}
			a.mgrRefs = append(a.mgrRefs, mgrRef{key: pp.mgrKey, ord: ord, lab: a.keepText(pp.manager, kindManager, 0)})
		}
	}
	if pp.mobile != "" {
		a.addKey(kindMobile, pp.mobileH, ord, pp.mobile, 0)
	}
	for i := 0; i < pp.nEmail; i++ {
		a.addKey(kindEmail, pp.emailH[i], ord, pp.emails[i], 0)
	}
	for _, d := range pp.depts {
		if pp.name != "" {
			a.addKey(kindName, d.nameH, ord, pp.name, d.id)
		}
		st := a.depts[d.id]
		if st == nil {
			st = &deptStats{}
			a.depts[d.id] = st
		}
		st.members++
		if pp.withMob {
			st.mobile++
		}
		if pp.withMail {
			st.email++
		}
		if pp.withTtl {
			st.title++
		}
		if pp.withJob {
			st.job++
		}
	}
}

func (a *Analyzer) addKey(kind int, h uint64, ord int32, label string, dept int64) {
	if a.bits == nil {
		a.bits = make([]uint64, defaultBits/64)
	}
	if len(a.twice) != len(a.bits) {
		a.twice = make([]uint64, len(a.bits))
	}
	i := h & uint64(len(a.bits)*64-1)
	w, b := i/64, uint64(1)<<(i%64)
	if a.bits[w]&b == 0 {
		// Certainly the key's first holder: its text is not needed.
		a.bits[w] |= b
		a.keys[kind].add(h, ord)
		return
	}
	a.twice[w] |= b
	l := &a.keys[kind]
	if l.texts == nil {
		l.texts = map[uint64]uint32{}
	}
	if _, ok := l.texts[h]; !ok {
		l.texts[h] = a.keepText(label, kind, dept)
	}
	l.add(h, ord)
}

// touch reads the bit-table words that committing pp will test, all at
// once: the loads are independent, so their cache misses overlap instead
// of stalling commit one after another.
func (a *Analyzer) touch(pp []prepared) {
	if a.bits == nil {
		return
	}
	mask := uint64(len(a.bits)*64 - 1)
	var x uint64
	for i := range pp {
		p := &pp[i]
		// The person table too (for the same reason: the look-ups of
		// different people do not depend on one another).
		x += uint64(a.r.seen.find(p.key).e.ord)
		if p.manager != "" {
			x += uint64(a.r.seen.find(p.mgrKey).e.ord)
		}
		if p.mobile != "" {
			x ^= a.bits[(p.mobileH&mask)/64]
		}
		for j := 0; j < p.nEmail; j++ {
			x ^= a.bits[(p.emailH[j]&mask)/64]
		}
		for _, d := range p.depts {
			x ^= a.bits[(d.nameH&mask)/64]
		}
	}
	a.touchSink += x
}

// keepText copies a key's text (cut to 255 bytes) and, for a name, its
// department into the label chunks and returns where (see keyList.texts).
func (a *Analyzer) keepText(label string, kind int, dept int64) uint32 {
	return keepIn(&a.labels, label, kind, dept)
}

// keepIn is keepText into the chunks *labels.
func keepIn(labels *[][]byte, label string, kind int, dept int64) uint32 {
	if len(label) > 255 {
		label = label[:255]
	}
	size := 1 + len(label)
	if kind == kindName {
		size += 8
	}
	n := len(*labels)
	if n == 0 || len((*labels)[n-1])+size > labChunkSize {
		*labels = append(*labels, make([]byte, 0, labChunkSize))
		n++
	}
	c := &(*labels)[n-1]
	loc := uint32(n-1)<<labChunkBits | uint32(len(*c))
	*c = append(*c, byte(len(label)))
	*c = append(*c, label...)
	if kind == kindName {
		*c = binary.LittleEndian.AppendUint64(*c, uint64(dept))
	}
	return loc + 1
}

// mgrRef is a report whose manager (key: userKey, text at lab) had not
// been seen yet.
type mgrRef struct {
	key uint64
	ord int32
	lab uint32
}

// defaultBits is the size of Analyzer.bits when the org's size is unknown
// (2 MiB); presize scales it to about 16 bits per key.
const defaultBits = 1 << 24

// label returns a key's text and, for a name, its department, from lab
// (a keyList.texts value, not 0).
func (a *Analyzer) label(kind int, lab uint32) (string, int64) { return labelIn(a.labels, kind, lab) }

// labelIn is label from the chunks labels.
func labelIn(labels [][]byte, kind int, lab uint32) (string, int64) {
	loc := lab - 1
	c := labels[loc>>labChunkBits]
	off := int(loc & (labChunkSize - 1))
	end := off + 1 + int(c[off])
	var dept int64
	if kind == kindName {
		dept = int64(binary.LittleEndian.Uint64(c[end:]))
	}
	return string(c[off+1 : end]), dept
}

// groups sorts the keys and turns every run of two or more people sharing
// a key into a duplicate group (members in directory order, as ordinals
// named through the report's memberStore).
func (a *Analyzer) groups() {
	r := a.r
	st := &memberStore{labels: a.labels, ids: a.ids, longID: a.longID, rows: a.rows, names: a.names}
	for kind := range a.keys {
		// Only keys whose hash bucket received a second key can be shared
		// (a few percent): sort those alone.
		l := &a.keys[kind]
		var ks []keyEntry
		mask := uint64(len(a.bits)*64 - 1)
		for i, h := range l.hs {
			if b := h & mask; a.twice[b/64]&(1<<(b%64)) != 0 {
				ks = append(ks, keyEntry{h: h, ord: l.ords[i]})
			}
		}
		slices.SortFunc(ks, func(x, y keyEntry) int {
			if x.h != y.h {
				return cmp.Compare(x.h, y.h)
			}
			return cmp.Compare(x.ord, y.ord)
		})
		for i := 0; i < len(ks); {
			j := i + 1
			for j < len(ks) && ks[j].h == ks[i].h {
				j++
			}
			if j-i >= 2 {
				g := DuplicateGroup{Problem: kindProblem[kind], store: st}
				if lab := l.texts[ks[i].h]; lab != 0 {
					g.Key, g.DeptID = a.label(kind, lab)
				}
				for k := i; k < j; k++ {
					if k > i && ks[k].ord == ks[k-1].ord {
						continue
					}
					g.ords = append(g.ords, ks[k].ord)
				}
				if len(g.ords) >= 2 {
					g.ords = slices.Clip(g.ords)
					r.DuplicateGroups = append(r.DuplicateGroups, g)
				}
			}
			i = j
		}
		a.keys[kind] = keyList{}
	}
	a.labels, a.bits, a.twice, a.ids, a.longID, a.rows, a.names = nil, nil, nil, nil, nil, nil, nil
	// By first member, then problem, key, department and the other
	// members: the same order on every run (the hashes' seed is random).
	slices.SortFunc(r.DuplicateGroups, func(x, y DuplicateGroup) int {
		return cmp.Or(cmp.Compare(x.ords[0], y.ords[0]),
			cmp.Compare(slices.Index(kindProblem[:], x.Problem), slices.Index(kindProblem[:], y.Problem)),
			strings.Compare(x.Key, y.Key), cmp.Compare(x.DeptID, y.DeptID), slices.Compare(x.ords, y.ords))
	})
	for i := range r.DuplicateGroups {
		r.DuplicateGroups[i].shown()
	}
}

// Report finishes the analysis: it resolves managers (a manager may come
// later in the stream than their reports), marks duplicate members,
// computes the department rates and the totals. depts are the
// organisation's departments, for names, paths and order.
func (a *Analyzer) Report(depts []dingbook.Department) *Report {
	r := a.r
	need := make([]Set, len(r.ordKeys)) // by ordinal: the problems found now
	others := newIDSet(a.others)
	a.others = nil
	for i, m := range a.mgrRefs {
		if _, ok := r.seen.get(m.key); ok || others.has(m.key) {
			continue
		}
		mgr, long := a.longMgr[i]
		if !long {
			mgr, _ = a.label(kindManager, m.lab)
		}
		r.MissingManagers[mgr]++
		need[m.ord] |= Bit(dingbook.ProblemManagerNotFound)
	}
	a.mgrRefs, a.longMgr = nil, nil
	if !r.show.manager {
		r.MissingManagers = map[string]int{} // the count is Counts[manager-not-found]
	}
	a.groups()
	a.restrictGroups()
	for _, g := range r.DuplicateGroups {
		for _, o := range g.ords {
			need[o] |= Bit(g.Problem)
		}
		r.GroupCounts[g.Problem]++
	}
	keyOf := r.ordKeys // ordinal → person key
	for ord, s := range need {
		if s == 0 {
			continue
		}
		if e, _ := r.seen.get(keyOf[ord]); e.set == 0 {
			r.PeopleWithProblems++
		}
		for _, p := range s.List() {
			r.Counts[p]++
		}
	}
	for ord, s := range need {
		if s != 0 {
			r.seen.find(keyOf[ord]).e.set |= s
		}
	}
	r.sets = make([]Set, len(r.ordKeys))
	for i := range r.seen.slots {
		if s := &r.seen.slots[i]; s.e.used {
			r.sets[s.e.ord] = s.e.set
		}
	}
	for ord, key := range a.rowKeys {
		e, _ := r.seen.get(key)
		r.sets[ord] = e.set
	}
	r.buildIndex()
	r.Departments = deptQuality(depts, a.depts)
	for _, p := range dingbook.AllProblems {
		r.Counts[p] += 0
		if isDup(p) {
			r.GroupCounts[p] += 0
		}
	}
	r.Totals = Totals{People: r.People, PeopleWithProblems: r.PeopleWithProblems, Problems: r.Counts, DuplicateGroups: len(r.DuplicateGroups)}
	return r
}

// restrictGroups takes out of the duplicate groups the keys the report
// may not quote (Options.Visible); the members were named by the names
// kept during the pass, and have userids only when the report may quote
// them (commit keeps them only then).
func (a *Analyzer) restrictGroups() {
	r := a.r
	if !r.show.restricted {
		return
	}
	for gi := range r.DuplicateGroups {
		g := &r.DuplicateGroups[gi]
		switch g.Problem {
		case dingbook.ProblemDuplicateMobile:
			g.Key = keyIf(r.show.mobile, g.Key)
		case dingbook.ProblemDuplicateEmail:
			g.Key = keyIf(r.show.email, g.Key)
		case dingbook.ProblemDuplicateName:
			g.Key = keyIf(r.show.name, g.Key)
		}
	}
}

func keyIf(ok bool, key string) string {
	if ok {
		return key
	}
	return ""
}

func (r *Report) userKey(userid string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteByte('u')
	h.WriteString(userid)
	return h.Sum64()
}

func isDup(p dingbook.Problem) bool {
	return p == dingbook.ProblemDuplicateMobile || p == dingbook.ProblemDuplicateEmail || p == dingbook.ProblemDuplicateName
}

func deptQuality(depts []dingbook.Department, stats map[int64]*deptStats) []DeptQuality {
	tree := dingbook.NewTree(depts)
	var order []int64
	seen := map[int64]bool{}
	var walk func(id int64)
	walk = func(id int64) {
		if seen[id] {
			return
		}
		seen[id] = true
		order = append(order, id)
		for _, c := range tree.Children(id) {
			walk(c)
		}
	}
	for _, d := range depts {
		if d.ParentID == 0 || tree.Dept(d.ParentID) == nil || d.ID == d.ParentID {
			walk(d.ID)
		}
	}
	for _, d := range depts {
		walk(d.ID)
	}
	var extra []int64
	for id := range stats {
		if !seen[id] {
			extra = append(extra, id)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	order = append(order, extra...)
	out := make([]DeptQuality, 0, len(order))
	for _, id := range order {
		q := DeptQuality{DeptID: id}
		if d := tree.Dept(id); d != nil {
			q.Name = d.Name
			q.Path = tree.PathString(id, "/")
		} else {
			q.Path = "(unknown department " + strconv.FormatInt(id, 10) + ")"
		}
		if s := stats[id]; s != nil {
			q.Members, q.WithMobile, q.WithEmail, q.WithTitle, q.WithJobNumber = s.members, s.mobile, s.email, s.title, s.job
		}
		q.MobileRate, q.EmailRate = rate(q.WithMobile, q.Members), rate(q.WithEmail, q.Members)
		q.TitleRate, q.JobNumberRate = rate(q.WithTitle, q.Members), rate(q.WithJobNumber, q.Members)
		out = append(out, q)
	}
	return out
}

func rate(n, of int) float64 {
	if of == 0 {
		return 1
	}
	return float64(n) / float64(of)
}

// Analyze reads every person of dir once and returns the report. With
// more than one CPU, people are prepared (normalised, checked, hashed) by
// worker goroutines in batches and committed in directory order, so the
// result is the same as feeding them to Add one by one.
func Analyze(ctx context.Context, dir dingbook.Directory, opts Options) (*Report, error) {
	a := NewAnalyzer(opts)
	if od, ok := dir.(dingbook.OrgDirectory); ok && od.Org != nil {
		a.presize(len(od.Org.People))
	} else if opts.SizeHint > 0 {
		a.presize(opts.SizeHint)
	}
	var err error
	if workers := runtime.GOMAXPROCS(0); workers > 1 {
		err = pipeline.Pipeline[Batch]{
			Workers: workers,
			Prepare: func(c *pipeline.Chunk[Batch]) { a.prepareBatch(c.People, &c.Data, nil) },
			Each: func(c *pipeline.Chunk[Batch], i int) error {
				if i == 0 {
					a.touch(c.Data.prep[:c.Data.n])
				}
				a.commit(&c.Data.prep[i])
				return nil
			},
		}.Run(ctx, dir)
	} else {
		err = dir.EachPerson(ctx, func(p *dingbook.Person) error {
			a.Add(p)
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	r := a.Report(dir.Departments())
	r.Org, r.CorpID = dir.Info()
	*a = Analyzer{} // the key tables are garbage now
	return r, nil
}

func (a *Analyzer) presize(n int) {
	bits := 1 << 16
	for bits < n*4*16 {
		bits <<= 1
	}
	a.bits = make([]uint64, bits/64)
	a.twice = make([]uint64, bits/64)
	a.r.seen = newPersonTable(n)
	a.ids = make([]uint32, 0, n)
	a.r.ordKeys = make([]uint64, 0, n)
	for kind, c := range [3]int{kindMobile: n, kindEmail: n + n/2, kindName: n + n/8} {
		a.keys[kind] = keyList{hs: make([]uint64, 0, c), ords: make([]int32, 0, c)}
	}
}

// Problems returns p's problems. For a person of the analysed directory it
// is a look-up; for anyone else the intrinsic problems are computed and
// manager-not-found is judged against the analysed org (duplicates cannot
// be known and are not reported).
func (r *Report) Problems(p *dingbook.Person) Set {
	key, _ := r.personKey(p)
	if e, ok := r.lookup(key); ok {
		return e.set
	}
	s, n := intrinsic(p, r.region)
	if n.ManagerUserID != "" {
		if _, ok := r.lookup(r.userKey(p.ManagerUserID)); !ok {
			s |= Bit(dingbook.ProblemManagerNotFound)
		}
	}
	return s
}

// InOrder returns Problems for a second pass over the directory in
// order (as an export writes its status column): called in directory
// order, it finds each person by position (one key comparison) rather
// than by a table probe; any order gives the same answers. It is safe
// for concurrent use.
func (r *Report) InOrder() func(*dingbook.Person) Set {
	var mu sync.Mutex
	next := 0
	return func(p *dingbook.Person) Set {
		mu.Lock()
		defer mu.Unlock()
		return r.problemsAt(p, &next)
	}
}

// Share is n as a share of the report's people (1 for an empty report).
func (r *Report) Share(n int) float64 { return rate(n, max(r.People, 1)) }

// problemsAt is Problems for a second pass in directory order: *next is
// the ordinal expected next, so a person is found by comparing one key
// instead of probing the table. A person skipped by the caller, listed
// again or not in the report falls back to Problems' look-up (and moves
// *next past the person found). The result is always Problems(p).
func (r *Report) problemsAt(p *dingbook.Person, next *int) Set {
	key, _ := r.personKey(p)
	if i := *next; i < len(r.ordKeys) && r.ordKeys[i] == key {
		*next = i + 1
		return r.sets[i]
	}
	if e, ok := r.lookup(key); ok {
		if o := int(e.ord) + 1; o > *next {
			*next = o
		}
		return e.set
	}
	return r.Problems(p)
}

// buildIndex replaces seen by index, once sets and ordKeys are final.
func (r *Report) buildIndex() {
	r.index = make([]int32, max(16, r.seen.len()+r.seen.len()/3+1))
	for i := range r.seen.slots {
		if s := &r.seen.slots[i]; s.e.used {
			*r.indexSlot(s.key) = s.e.ord + 1
		}
	}
	r.seen = personTable{}
}

// indexSlot returns key's slot in index, or the empty slot where it
// would go.
func (r *Report) indexSlot(key uint64) *int32 {
	hi, _ := bits.Mul64(key, uint64(len(r.index)))
	for i := int(hi); ; i++ {
		if i == len(r.index) {
			i = 0
		}
		if o := r.index[i]; o == 0 || r.ordKeys[o-1] == key {
			return &r.index[i]
		}
	}
}

// lookup returns the entry of a person key after the analysis (during
// it, from seen).
func (r *Report) lookup(key uint64) (entry, bool) {
	if r.index == nil {
		return r.seen.get(key)
	}
	if o := *r.indexSlot(key); o != 0 {
		return entry{ord: o - 1, set: r.sets[o-1]}, true
	}
	return entry{}, false
}
