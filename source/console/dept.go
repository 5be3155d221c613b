package console

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
)

// ParseDeptCell splits a 部门 cell into department paths, top level first:
// "市场部-杭州分部,技术部" → [[市场部 杭州分部] [技术部]]. Departments are
// separated by `,` (full-width `，` and `；` are accepted too, see
// ParseDeptCellWarn), levels by `-`. A backslash escapes the next
// character, so names containing `-`, `,` or `\` are written `\-`, `\,`,
// `\\` (dingbook's exporter does this); a plain cell has no backslashes and
// reads the same. Spaces around names are trimmed. An empty cell gives nil.
func ParseDeptCell(cell string) ([][]string, error) {
	paths, _, err := ParseDeptCellWarn(cell)
	return paths, err
}

// ParseDeptCellWarn is ParseDeptCell that also returns warnings, e.g. for
// full-width separators. The names may share cell's memory.
func ParseDeptCellWarn(cell string) (paths [][]string, warnings []string, err error) {
	if strings.TrimSpace(cell) == "" {
		return nil, nil, nil
	}
	if strings.IndexByte(cell, '\\') < 0 && utf8.ValidString(cell) {
		return splitDeptCell(cell)
	}
	return parseDeptCell(cell)
}

// splitDeptCell is ParseDeptCellWarn for a cell of valid UTF-8 without
// backslashes (nearly every cell): its names are pieces of cell, and
// every path shares one slice, so a million rows make two slices each
// instead of a string per name.
func splitDeptCell(cell string) (paths [][]string, warnings []string, err error) {
	full := strings.Count(cell, "，") + strings.Count(cell, "；")
	seps := strings.Count(cell, ",") + full
	paths = make([][]string, 0, seps+1)
	names := make([]string, 0, seps+1+strings.Count(cell, "-"))
	start, first := 0, 0 // the name's and the path's first
	endName := func(end int) error {
		n := strings.TrimSpace(cell[start:end])
		if n == "" {
			return fmt.Errorf("empty department name in %q", cell)
		}
		names = append(names, n)
		return nil
	}
	endPath := func() {
		paths = append(paths, names[first:len(names):len(names)])
		first = len(names)
	}
	for i, r := range cell {
		switch r {
		case '-':
			if err := endName(i); err != nil {
				return nil, nil, err
			}
			start = i + 1
		case ',', '，', '；':
			if err := endName(i); err != nil {
				return nil, nil, err
			}
			endPath()
			start = i + utf8.RuneLen(r)
		}
	}
	if err := endName(len(cell)); err != nil {
		return nil, nil, err
	}
	endPath()
	if full > 0 {
		warnings = append(warnings, fmt.Sprintf("department cell %q uses full-width separators (，or ；); read them as ','", cell))
	}
	return paths, warnings, nil
}

// parseDeptCell is ParseDeptCellWarn for any cell: escapes, and bytes
// that are not UTF-8 (read as U+FFFD).
func parseDeptCell(cell string) (paths [][]string, warnings []string, err error) {
	var (
		path      []string
		name      strings.Builder
		escaped   bool // the current name holds an escaped character
		fullWidth bool
	)
	endName := func() error {
		n := strings.TrimSpace(name.String())
		if n == "" && !escaped {
			return fmt.Errorf("empty department name in %q", cell)
		}
		path = append(path, n)
		name.Reset()
		escaped = false
		return nil
	}
	endPath := func() error {
		if err := endName(); err != nil {
			return err
		}
		paths = append(paths, path)
		path = nil
		return nil
	}
	rs := []rune(cell)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch r {
		case '\\':
			if i+1 == len(rs) {
				return nil, nil, fmt.Errorf("%q ends with a lone backslash", cell)
			}
			i++
			name.WriteRune(rs[i])
			escaped = true
		case '-':
			if err := endName(); err != nil {
				return nil, nil, err
			}
		case ',', '，', '；':
			if r != ',' {
				fullWidth = true
			}
			if err := endPath(); err != nil {
				return nil, nil, err
			}
		default:
			name.WriteRune(r)
		}
	}
	if err := endPath(); err != nil {
		return nil, nil, err
	}
	if fullWidth {
		warnings = append(warnings, fmt.Sprintf("department cell %q uses full-width separators (，or ；); read them as ','", cell))
	}
	return paths, warnings, nil
}

// deptBuilder builds the department tree from paths. Ids are synthetic
// but stable: derived from a hash of the path (so a department keeps its id
// when rows are added or reordered), below 2^40, with collisions resolved
// in order of first appearance. The root (id 1) is the company.
type deptBuilder struct {
	depts  []dingbook.Department
	byPath map[string]int64
	used   map[int64]bool
	root   string
	// guessedRoot is true while the root's name is only the file name.
	guessedRoot bool
	// tree holds copies of depts, each added as it is created (for Stream).
	tree *dingbook.Tree
	// index is the position of each id in depts.
	index map[int64]int
	// key is scratch for a path's key: a department already known is
	// found without making its key (most rows name known ones).
	key []byte
}

func newDeptBuilder(company string, guessed bool) *deptBuilder {
	root := dingbook.Department{ID: dingbook.RootDeptID, Name: company}
	tree := &dingbook.Tree{}
	tree.Add(root)
	return &deptBuilder{
		guessedRoot: guessed,
		depts:       []dingbook.Department{root},
		byPath:      map[string]int64{},
		used:        map[int64]bool{dingbook.RootDeptID: true},
		root:        company,
		tree:        tree,
		index:       map[int64]int{dingbook.RootDeptID: 0},
	}
}

// appendPathKey appends the key of path in byPath to dst: its names
// joined by NUL bytes.
func appendPathKey(dst []byte, path []string) []byte {
	for i, p := range path {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, p...)
	}
	return dst
}

// known returns the id of path if it is known.
func (b *deptBuilder) known(path []string) (int64, bool) {
	b.key = appendPathKey(b.key[:0], path)
	id, ok := b.byPath[string(b.key)]
	return id, ok
}

// id returns the id of path, creating it (and its ancestors) if needed.
// A path that starts with the company name is taken below the root; the
// company name alone is the root. want, when non-zero, is the id a
// dept_id_list column gives for the path.
func (b *deptBuilder) id(path []string, want int64) int64 {
	if len(path) > 0 && b.root != "" && path[0] == b.root {
		path = path[1:]
	}
	if len(path) == 0 {
		return dingbook.RootDeptID
	}
	if want == dingbook.RootDeptID && len(path) == 1 && b.guessedRoot {
		// dingbook's own export: the root written with id 1 names the
		// company the file name only guessed.
		root := strings.Clone(path[0])
		b.root, b.depts[0].Name, b.guessedRoot = root, root, false
		b.tree.Dept(dingbook.RootDeptID).Name = root
		return dingbook.RootDeptID
	}
	if id, ok := b.known(path); ok {
		return id
	}
	key := string(b.key)
	parent := b.id(path[:len(path)-1], 0)
	id := want
	if id <= 0 || b.used[id] {
		h := fnv.New64a()
		h.Write([]byte(key))
		id = int64(h.Sum64()&(1<<40-1)) + 2
		for b.used[id] {
			id++
		}
	}
	b.used[id] = true
	b.byPath[key] = id
	// The name is copied: it may be a piece of the workbook's shared
	// strings, which the tree must not keep.
	d := dingbook.Department{ID: id, Name: strings.Clone(path[len(path)-1]), ParentID: parent, Order: int64(len(b.depts))}
	b.index[id] = len(b.depts)
	b.depts = append(b.depts, d)
	b.tree.Add(d)
	return id
}
