package export

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
)

// FormatDeptCell writes department paths as the console writes its 部门
// column: the levels of one path joined by "-" (top level first), several
// paths separated by ",". A literal "-", "," or "\" inside a department
// name is preceded by a backslash ("研发\-一部"), so that the cell stays
// unambiguous; names without those characters are written exactly as the
// console writes them. console.ParseDeptCell is the inverse.
func FormatDeptCell(paths [][]string) string {
	var b strings.Builder
	for i, p := range paths {
		if i > 0 {
			b.WriteByte(',')
		}
		writePath(&b, p)
	}
	return b.String()
}

func writePath(b *strings.Builder, path []string) {
	for j, name := range path {
		if j > 0 {
			b.WriteByte('-')
		}
		if !strings.ContainsAny(name, `-,\`) {
			b.WriteString(name)
			continue
		}
		for _, r := range name {
			if r == '-' || r == ',' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
}

func pathCell(path []string) string {
	var b strings.Builder
	writePath(&b, path)
	return b.String()
}

// ResolveDepts turns --dept values (an id, a path, or a name) into
// department ids. A path's levels are separated by "/" or by "-" (with the
// FormatDeptCell escapes); it may start with the company (root) name. A
// name that matches several departments is an error listing them.
func ResolveDepts(tree *dingbook.Tree, depts []dingbook.Department, specs []string) ([]int64, error) {
	var out []int64
	seen := map[int64]bool{}
	for _, spec := range specs {
		id, err := resolveDept(tree, depts, strings.TrimSpace(spec))
		if err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

func resolveDept(tree *dingbook.Tree, depts []dingbook.Department, spec string) (int64, error) {
	if spec == "" {
		return 0, dingbook.Errorf(dingbook.EINVALID, "--dept is empty").WithHint("give a department id, path (研发部/后端组) or name")
	}
	if n, err := strconv.ParseInt(spec, 10, 64); err == nil && tree.Dept(n) != nil {
		return n, nil
	}
	rootName := ""
	if r := tree.Dept(dingbook.RootDeptID); r != nil {
		rootName = r.Name
	}
	var byPath, byName []int64
	for _, d := range depts {
		p := tree.Path(d.ID)
		forms := []string{strings.Join(p, "/"), pathCell(p)}
		if d.ID != dingbook.RootDeptID && rootName != "" {
			full := append([]string{rootName}, p...)
			forms = append(forms, strings.Join(full, "/"), pathCell(full))
		}
		for _, f := range forms {
			if f == spec {
				byPath = append(byPath, d.ID)
				break
			}
		}
		if d.Name == spec {
			byName = append(byName, d.ID)
		}
	}
	if strings.ContainsAny(spec, "/-") && len(byPath) == 1 {
		return byPath[0], nil
	}
	cands := byName
	if len(cands) == 0 {
		cands = byPath
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		var similar []string
		for _, d := range depts {
			if strings.Contains(d.Name, spec) || strings.Contains(spec, d.Name) && d.Name != "" {
				similar = append(similar, describe(tree, d.ID))
			}
			if len(similar) == 10 {
				break
			}
		}
		e := dingbook.Errorf(dingbook.ENOTFOUND, "--dept %q: no department has this id, path or name", spec)
		if len(similar) > 0 {
			return 0, e.WithHint("did you mean one of:\n  %s", strings.Join(similar, "\n  "))
		}
		return 0, e.WithHint("give a department id, a path such as 研发部/后端组, or an exact name")
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i] < cands[j] })
	lines := make([]string, len(cands))
	for i, id := range cands {
		lines[i] = describe(tree, id)
	}
	return 0, dingbook.Errorf(dingbook.EINVALID, "--dept %q is ambiguous: %d departments match", spec, len(cands)).
		WithHint("pass the path or the id of the one you mean:\n  %s", strings.Join(lines, "\n  "))
}

func describe(tree *dingbook.Tree, id int64) string {
	return fmt.Sprintf("%s (id %d)", strings.Join(tree.Path(id), "/"), id)
}

// headcount counts, for the Departments sheet, each department's direct
// members and its members including sub-departments (a person in two
// departments of one subtree counts once there). Each department's chain
// of ancestors is looked up in the tree once, not once per person.
type headcount struct {
	tree  *dingbook.Tree
	depts map[int64]*deptCount
	stamp int // the person being counted, for counting them once per subtree
}

type deptCount struct {
	direct, total int
	chain         []*deptCount // the department and its ancestors
	mark          int
}

func newHeadcount(tree *dingbook.Tree) *headcount {
	return &headcount{tree: tree, depts: map[int64]*deptCount{}}
}

func (h *headcount) add(p *dingbook.Person) {
	h.stamp++
	for _, m := range p.Depts {
		c := h.get(m.DeptID)
		c.direct++
		for _, a := range c.chain {
			if a.mark != h.stamp {
				a.mark = h.stamp
				a.total++
			}
		}
	}
}

// get returns id's counter, making it (and its chain, which the tree
// gives from the department up to the root, stopping at a cycle) on
// first use. A department the tree does not know has an empty chain: its
// members count as direct only.
func (h *headcount) get(id int64) *deptCount {
	if c := h.depts[id]; c != nil {
		return c
	}
	c := &deptCount{}
	h.depts[id] = c
	var seen []int64
	for cur := h.tree.Dept(id); cur != nil && !slices.Contains(seen, cur.ID); cur = h.tree.Dept(cur.ParentID) {
		seen = append(seen, cur.ID)
		if cur.ID == id {
			c.chain = append(c.chain, c)
		} else {
			c.chain = append(c.chain, h.get(cur.ID))
		}
		if cur.ParentID == cur.ID {
			break
		}
	}
	return c
}

func (h *headcount) counts(id int64) (direct, total int) {
	if c := h.depts[id]; c != nil {
		return c.direct, c.total
	}
	return 0, 0
}

// Headcount is a department's members: Direct in it, Total in it and its
// sub-departments (each person once).
type Headcount struct{ Direct, Total int }

// Headcounts counts, over every person of dir (active or not), each
// department's direct members and its members including sub-departments,
// as the Departments sheet does.
func Headcounts(ctx context.Context, dir dingbook.Directory, tree *dingbook.Tree) (map[int64]Headcount, error) {
	h := newHeadcount(tree)
	if err := dir.EachPerson(ctx, func(p *dingbook.Person) error { h.add(p); return nil }); err != nil {
		return nil, err
	}
	out := make(map[int64]Headcount, len(h.depts))
	for id, c := range h.depts {
		out[id] = Headcount{c.direct, c.total}
	}
	return out, nil
}
