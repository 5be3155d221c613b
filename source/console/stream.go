package console

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"sort"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/xuri/excelize/v2"
)

// Stream is a member file opened for a single streaming pass: each row
// becomes a person as soon as it is read, and the department tree grows as
// rows arrive (department ids are a hash of the path, so no row needs a
// later one). A goroutine reads the file ahead of the caller and workers
// parse its rows into people on every core, so reading and parsing overlap
// whatever the caller does with each person. Memory stays small:
// a few thousand rows in flight, the tree, and a hash of each userid seen.
//
// Stream implements dingbook.Directory (Info, Departments, EachPerson) and
// export's growing directory (Tree), so export.Run writes a member file to
// vCard without holding it. What it gives up against ReadFile:
//
//   - managers (直属主管) are matched only to the userid of someone in the
//     same or an earlier row; a name, or a userid first seen further down,
//     is left empty and counted in one warning (ReadFile resolves names and
//     forward references, which needs the whole file);
//   - Departments and Tree list only the departments seen so far, until
//     EachPerson has returned; the counts (MemberCount, OwningMemberCount,
//     ManagerUserIDs) are complete only then;
//   - the warning about a repeated userid comes at the row that repeats it,
//     not after all rows.
//
// Otherwise the people, in order, and the final departments are exactly
// ReadFile's. A file written by dingbook's own export (with a 部门ID column
// whose id 1 names the company) read without Options.Company holds people
// back until the row naming the company, so that every card carries it (at
// worst all of them, when no row does: pass Options.Company to avoid it).
type Stream struct {
	rd   *reader
	tree *dingbook.Tree
	used bool
	done bool
	// hold: people wait until the company is named (see above).
	hold bool
	// mgrs, when set, resolves managers as ReadFile does (ResolveManagers).
	mgrs *Managers
}

// Managers is what resolving the 直属主管 cells as ReadFile does needs
// from the whole file, without its rows: a 64-bit hash of every userid,
// and per name (hashed) how many people have it and the first one's
// userid. A million people cost ~70 MB instead of the file read whole
// (~1.5 GB); a false match needs a hash collision (see EachPerson).
type Managers struct {
	seed  maphash.Seed
	users *hashSet
	names map[uint64]nameRef
}

type nameRef struct {
	n      int32
	userid string
}

// ReadManagers reads the member file at path once (a first pass: rows go
// by unkept) for Stream.ResolveManagers.
func ReadManagers(ctx context.Context, path string, opts Options) (*Managers, error) {
	s, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	m := &Managers{seed: maphash.MakeSeed(), users: newHashSet(s.SizeHint()), names: make(map[uint64]nameRef, min(s.SizeHint(), 1<<22))}
	err = s.rd.each(ctx, func(p *dingbook.Person, _ string, _ int) error {
		if p.UserID != "" {
			m.users.add(maphash.String(m.seed, p.UserID))
		}
		k := maphash.String(m.seed, p.Name)
		r := m.names[k]
		if r.n == 0 {
			r.userid = strings.Clone(p.UserID) // not a piece of the workbook's shared strings
		}
		r.n++
		m.names[k] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ResolveManagers makes EachPerson resolve managers as ReadFile does (a
// userid anywhere in the file, or the name of exactly one person with a
// userid), from m, ReadManagers' first pass over the same file. Call it
// before EachPerson.
func (s *Stream) ResolveManagers(m *Managers) { s.mgrs = m }

// resolve sets p's manager from the cell's text as ReadFile's finish
// does, with its warnings.
func (m *Managers) resolve(rd *reader, p *dingbook.Person, manager string, row int) {
	if m.users.has(maphash.String(m.seed, manager)) {
		p.ManagerUserID = manager
		return
	}
	switch r := m.names[maphash.String(m.seed, manager)]; {
	case r.n == 1 && r.userid != "":
		p.ManagerUserID = r.userid
	case r.n > 1:
		rd.rep.warn("%s: manager %q matches %d people by name; left empty", rd.rowName(row), manager, r.n)
	default:
		rd.rep.warn("%s: manager %q matches no userid and no person with a userid; left empty", rd.rowName(row), manager)
	}
}

// Open opens the member file at path and reads it up to its header row;
// EachPerson reads the rest. Close releases the file.
func Open(path string, opts Options) (*Stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot open %s", path),
			Hint: "check the file name and its permissions", Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, dingbook.Errorf(dingbook.EINVALID, "%s is a directory", path).
			WithHint("give the member file exported from the DingTalk admin console (.xlsx or .csv)")
	}
	rd, err := open(f, st.Size(), path, opts, func(o excelize.Options) (*excelize.File, error) {
		return excelize.OpenFile(path, o)
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	rd.closers = append([]func(){func() { f.Close() }}, rd.closers...)
	sort.Strings(rd.rep.Unknown)
	s := &Stream{rd: rd, tree: rd.depts.tree}
	for _, c := range rd.cols {
		if c.key == "dept_id_list" {
			s.hold = rd.depts.guessedRoot
		}
	}
	return s, nil
}

// StreamFile reads the member file at path, calling fn with each person
// and the department tree as known so far (it holds every department of p).
// p and tree are valid only during the call. See Stream for what differs
// from ReadFile.
func StreamFile(ctx context.Context, path string, opts Options, fn func(p *dingbook.Person, tree *dingbook.Tree) error) (*Report, error) {
	s, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.EachPerson(ctx, func(p *dingbook.Person) error { return fn(p, s.tree) }); err != nil {
		return nil, err
	}
	return s.Report(), nil
}

// Report returns what the reader did; Rows and the warnings are complete
// once EachPerson has returned.
func (s *Stream) Report() *Report { return s.rd.rep }

// Info returns the company (the root department's name) and no corp id.
// The name is "" while only a later row can still name the company (see
// Stream): writers then take the root department's name from Tree, which
// is kept current.
func (s *Stream) Info() (string, string) {
	if s.hold && !s.done && s.rd.depts.guessedRoot {
		return "", ""
	}
	return s.rd.depts.root, ""
}

// Departments returns the departments known so far: every one once
// EachPerson has returned, with their member counts and leaders.
func (s *Stream) Departments() []dingbook.Department { return s.rd.depts.depts }

// Tree returns the department tree. It grows during EachPerson, on the
// goroutine that calls fn, before the first person in a new department
// reaches fn; after EachPerson it indexes Departments().
func (s *Stream) Tree() *dingbook.Tree { return s.tree }

// ExtensionKeys returns the names of the custom-field columns (unknown
// headers and --map … =extension.<name>), sorted. Unlike ReadFile's people,
// it also names columns that turn out to be empty in every row.
func (s *Stream) ExtensionKeys() []string {
	var keys []string
	for _, c := range s.rd.cols {
		if name, ok := strings.CutPrefix(c.key, dingbook.ExtensionPrefix); ok && !containsString(keys, name) {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MissingManagers implements dingbook.MissingManagerLister: there are
// none. A streamed read sets a manager only when it is the userid of
// someone in the same or an earlier row (see Stream), so no manager it
// hands over names nobody, and a quality export needs no second pass.
func (s *Stream) MissingManagers(context.Context) ([]string, bool, error) { return nil, true, nil }

// errStreamUsed is returned by a second EachPerson.
var errStreamUsed = errors.New("the member file was already read (a Stream is read once)")

// EachPerson reads the rest of the file, calling fn with each person in
// file order. It can be called once; fn must not keep p.
func (s *Stream) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	if s.used {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: s.rd.name + ": " + errStreamUsed.Error(),
			Hint: "open the file again", Err: errStreamUsed}
	}
	s.used = true
	rd, b := s.rd, s.rd.depts
	// userids holds a 64-bit hash of each userid seen, not the userid: a
	// million-row file costs ~20 MB instead of ~80 MB; a false match needs
	// a hash collision (odds ~n²/2⁶⁵, 3·10⁻⁸ for a million userids).
	seed := maphash.MakeSeed()
	userids := newHashSet(s.SizeHint())
	unresolved := 0
	var held []dingbook.Person
	var anc []int64
	err := rd.each(ctx, func(p *dingbook.Person, manager string, row int) error {
		if p.UserID != "" {
			if userids.add(maphash.String(seed, p.UserID)) {
				rd.rep.warn("%s: userid %q appears more than once", rd.rowName(row), p.UserID)
			}
		}
		if manager != "" && s.mgrs != nil {
			s.mgrs.resolve(rd, p, manager, row)
		} else if manager != "" {
			if userids.has(maphash.String(seed, manager)) {
				p.ManagerUserID = manager
			} else {
				unresolved++
			}
		}
		anc = s.count(p, anc)
		rd.rep.Rows++
		if s.hold {
			if b.guessedRoot {
				held = append(held, *p)
				return nil
			}
			s.hold = false
			for i := range held {
				if err := fn(&held[i]); err != nil {
					return err
				}
			}
			held = nil
		}
		return fn(p)
	})
	if err != nil {
		return err
	}
	for i := range held {
		if err := fn(&held[i]); err != nil {
			return err
		}
	}
	s.hold = false
	if unresolved > 0 {
		rd.rep.warn("%s: %d managers (直属主管) left empty: a streamed read matches a manager only to the userid of someone in the same or an earlier row", rd.name, unresolved)
	}
	s.done = true
	*s.tree = *dingbook.NewTree(b.depts)
	return nil
}

// count adds p to its departments' counts as ReadFile's finish does:
// direct members, leaders, and distinct members including sub-departments.
func (s *Stream) count(p *dingbook.Person, anc []int64) []int64 {
	b := s.rd.depts
	depts := b.depts
	for _, m := range p.Depts {
		d := &depts[b.index[m.DeptID]]
		d.OwningMemberCount++
		if m.Leader && p.UserID != "" {
			d.ManagerUserIDs = append(d.ManagerUserIDs, p.UserID)
		}
	}
	anc = anc[:0]
	for _, m := range p.Depts {
		for id, hops := m.DeptID, 0; id != 0 && hops < len(depts); hops++ {
			if !containsID(anc, id) {
				anc = append(anc, id)
			}
			d := s.tree.Dept(id)
			if d == nil {
				break
			}
			id = d.ParentID
		}
	}
	for _, id := range anc {
		if i, ok := b.index[id]; ok {
			depts[i].MemberCount++
		}
	}
	return anc
}

func containsID(list []int64, id int64) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}

// Progress reports how far the reading has got, from any goroutine: the
// rows read so far (ahead of what EachPerson has handed over) and the
// fraction of the file read, or -1 where it is not known (a workbook read
// by excelize).
func (s *Stream) Progress() (rows int, frac float64) {
	rows = int(s.rd.rowsRead.Load())
	if s.rd.progress == nil {
		return rows, -1
	}
	return rows, s.rd.progress()
}

// SizeHint estimates the number of people from what the workbook says
// its sheet spans (0 when unknown: a CSV, a sheet without a dimension),
// so that an analysis riding along can size its tables once instead of
// growing them. It is an estimate: rows may be empty or skipped.
func (s *Stream) SizeHint() int {
	return max(0, s.rd.rowsHint-s.rd.header)
}

// Close releases the file and the temporary directory.
func (s *Stream) Close() error {
	s.rd.close()
	return nil
}

var _ dingbook.Directory = (*Stream)(nil)
