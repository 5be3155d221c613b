package clean

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/normalize"
	"golang.org/x/text/width"
)

// PersonProblems is one person's entry in the report.
type PersonProblems struct {
	UserID   string             `json:"userid,omitempty"`
	Row      int                `json:"row"`
	Name     string             `json:"name"`
	Problems []dingbook.Problem `json:"problems"`
}

// EachPersonProblems streams dir again (it must be the directory the
// report was made from) and calls fn for every person with at least one
// problem, in directory order. It also fills in the names of duplicate
// group members.
func (r *Report) EachPersonProblems(ctx context.Context, dir dingbook.Directory, fn func(PersonProblems) error) error {
	// The members' names, unless the pass kept them (a restricted report
	// showing names) or an earlier call found them: each member's
	// ordinal is marked, and the names are copied into the store's chunks.
	var want []bool
	var st *memberStore
	if r.show.name {
		for _, g := range r.DuplicateGroups {
			if g.store == nil || g.store.names != nil {
				continue
			}
			st = g.store
			if want == nil {
				want = make([]bool, len(r.ordKeys))
			}
			for _, o := range g.ords {
				want[o] = true
			}
		}
	}
	if fn == nil && want == nil {
		return nil // every name is known already: no pass needed
	}
	var names []uint32
	if want != nil {
		names = make([]uint32, len(want))
	}
	row := 0  // people so far; the next person's ordinal
	next := 0 // for problemsAt
	err := dir.EachPerson(ctx, func(p *dingbook.Person) error {
		if r.sel != nil {
			// The people the report covers, as it saw them.
			if p = r.sel(p); p == nil {
				return nil
			}
		}
		if p.UserID != "" {
			// A userid listed again is one person (and one row), as in
			// Analyze: its first listing had a smaller ordinal.
			if e, ok := r.lookup(r.userKey(p.UserID)); ok && int(e.ord) < row {
				return nil
			}
		}
		row++
		if row <= len(want) && want[row-1] {
			if n := normalize.Name(p.Name); n != "" {
				names[row-1] = keepIn(&st.labels, n, kindID, 0)
			}
		}
		if fn == nil {
			return nil
		}
		s := r.problemsAt(p, &next)
		if s == 0 {
			return nil
		}
		pp := PersonProblems{Row: row, Problems: s.List()}
		if p.SourceRow > 0 {
			pp.Row = p.SourceRow // the member file's line
		}
		if r.show.userid {
			pp.UserID = p.UserID
		}
		if r.show.name {
			pp.Name = normalize.Name(p.Name)
		}
		return fn(pp)
	})
	if st != nil && err == nil {
		st.names = names
		for gi := range r.DuplicateGroups {
			r.DuplicateGroups[gi].shown()
		}
	}
	return err
}

// WriteJSON writes the report as one JSON object: the summary fields of
// Report plus "persons", the per-person problems (only people with at least one problem) streamed from dir.
func (r *Report) WriteJSON(ctx context.Context, w io.Writer, dir dingbook.Directory) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	// The summary comes first but names duplicate members, whose names
	// come from the stream: one extra pass fills them in.
	if err := r.EachPersonProblems(ctx, dir, nil); err != nil {
		return err
	}
	// The summary without its groups, which are then written one at a
	// time where their empty list was: the same bytes as MarshalIndent of
	// the whole report, without a million members' JSON in memory at once.
	c := *r
	c.DuplicateGroups = []DuplicateGroup{}
	head, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	head = head[:len(head)-2] // drop "\n}"
	const empty = "\n  \"duplicate_groups\": []"
	at := bytes.Index(head, []byte(empty)) + len(empty) - 1 // the "]"; keys are unique and values escaped
	bw.Write(head[:at])
	for i := range r.DuplicateGroups {
		b, err := json.MarshalIndent(&r.DuplicateGroups[i], "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(r.DuplicateGroups) > 0 {
		bw.WriteString("\n  ")
	}
	bw.Write(head[at:])
	bw.WriteString(",\n  \"persons\": [")
	first := true
	err = r.EachPersonProblems(ctx, dir, func(pp PersonProblems) error {
		b, err := json.Marshal(pp)
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteString("\n    ")
		_, err = bw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if !first {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

// Summary is the one line `dingbook quality` prints on stderr.
func (r *Report) Summary() string {
	groups := 0
	for _, n := range r.GroupCounts {
		groups += n
	}
	return fmt.Sprintf("%d people, %d with problems, %d duplicate groups", r.People, r.PeopleWithProblems, groups)
}

// Percent writes a rate as a percentage with one decimal ("87.5%").
func Percent(x float64) string { return fmt.Sprintf("%.1f%%", x*100) }

// WriteText writes the report for humans: totals, problem counts,
// duplicate groups, department completeness and the people with problems
// (streamed from dir).
func (r *Report) WriteText(ctx context.Context, w io.Writer, dir dingbook.Directory) error {
	if err := r.EachPersonProblems(ctx, dir, nil); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "Quality report: %s (%d people, region %s)\n\n", r.Org, r.People, r.Region)
	probs := [][]string{{"PROBLEM", "PEOPLE", "SHARE", "GROUPS"}}
	for _, p := range dingbook.AllProblems {
		g := ""
		if isDup(p) {
			g = fmt.Sprint(r.GroupCounts[p])
		}
		probs = append(probs, []string{string(p), fmt.Sprint(r.Counts[p]), Percent(r.Share(r.Counts[p])), g})
	}
	probs = append(probs, []string{"any problem", fmt.Sprint(r.PeopleWithProblems), Percent(r.Share(r.PeopleWithProblems)), ""})
	writeTable(bw, probs)
	if len(r.Merges) > 0 {
		fmt.Fprintf(bw, "\nMerged rows (--dedupe): %d\n", len(r.Merges))
		for _, m := range r.Merges {
			fmt.Fprintf(bw, "  %s\n", m)
		}
	}
	if len(r.MissingManagers) > 0 {
		ids := make([]string, 0, len(r.MissingManagers))
		for id := range r.MissingManagers {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(bw, "\nManagers not found: %d\n", len(ids))
		for _, id := range ids {
			fmt.Fprintf(bw, "  %s (manager of %d)\n", id, r.MissingManagers[id])
		}
	}
	if len(r.DuplicateGroups) > 0 {
		fmt.Fprintf(bw, "\nDuplicate groups: %d (never merged; review them)\n", len(r.DuplicateGroups))
		capped := false
		for _, g := range r.DuplicateGroups {
			capped = capped || g.Len() > MaxGroupMembersShown
			fmt.Fprintf(bw, "  %s", g.Problem)
			if g.Key != "" {
				fmt.Fprintf(bw, " %s", g.Key)
			}
			fmt.Fprint(bw, ":")
			if g.DeptID != 0 {
				fmt.Fprintf(bw, " (department %d)", g.DeptID)
			}
			fmt.Fprintf(bw, " %s\n", g.MemberList(", "))
		}
		if capped {
			fmt.Fprintf(bw, "  (a group lists its first %d members here; 'dingbook quality --report FILE.json' writes them all)\n", MaxGroupMembersShown)
		}
	}
	fmt.Fprintf(bw, "\nDepartments (direct members):\n")
	depts := [][]string{{"DEPT_ID", "PATH", "MEMBERS", "MOBILE", "EMAIL", "TITLE", "JOB_NUMBER"}}
	for _, d := range r.Departments {
		depts = append(depts, []string{fmt.Sprint(d.DeptID), d.Path, fmt.Sprint(d.Members), Percent(d.MobileRate), Percent(d.EmailRate), Percent(d.TitleRate), Percent(d.JobNumberRate)})
	}
	writeTable(bw, depts)
	// The people are streamed, so their columns have fixed widths (wide
	// enough for DingTalk's userids and most names); a longer value pushes
	// the rest of its line right.
	fmt.Fprintf(bw, "\nPeople with problems: %d\n", r.PeopleWithProblems)
	widths := []int{7, 24, 20}
	writeRow(bw, []string{"ROW", "USERID", "NAME", "PROBLEMS"}, widths)
	err := r.EachPersonProblems(ctx, dir, func(pp PersonProblems) error {
		ps := make([]string, len(pp.Problems))
		for i, p := range pp.Problems {
			ps[i] = string(p)
		}
		writeRow(bw, []string{fmt.Sprint(pp.Row), pp.UserID, pp.Name, strings.Join(ps, ",")}, widths)
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeTable writes rows as columns aligned for a terminal: each column
// as wide as its widest cell, counting East Asian wide characters (汉字,
// fullwidth forms) as two columns, which text/tabwriter does not.
func writeTable(w *bufio.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], cellWidth(c))
		}
	}
	for _, r := range rows {
		writeRow(w, r, widths)
	}
}

// writeRow writes cells padded to widths, at least two spaces apart, with
// no trailing spaces.
func writeRow(w *bufio.Writer, cells []string, widths []int) {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(cells)-1 {
			cw, want := cellWidth(c), 0
			if i < len(widths) {
				want = widths[i]
			}
			b.WriteString(strings.Repeat(" ", max(cw, want)-cw+2))
		}
	}
	w.WriteString(strings.TrimRight(b.String(), " "))
	w.WriteByte('\n')
}

// DisplayWidth is the number of terminal columns s takes (East Asian
// wide characters count two).
func DisplayWidth(s string) int { return cellWidth(s) }

// cellWidth is the number of terminal columns s takes.
func cellWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// MaxGroupMembersShown is how many members of a duplicate group the text
// report and the Quality sheet name; the rest are counted ("… and 99,990
// more"). The JSON report (quality --json, --report) lists every member.
const MaxGroupMembersShown = 10

// MemberList names g's first MaxGroupMembersShown members, separated by
// sep, and counts the rest.
func (g *DuplicateGroup) MemberList(sep string) string {
	var b strings.Builder
	for i, m := range g.Members {
		if i == MaxGroupMembersShown {
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(memberLabel(m))
	}
	if n := g.Len(); n > MaxGroupMembersShown {
		b.WriteString(sep + "… and " + thousands(n-MaxGroupMembersShown) + " more")
	}
	return b.String()
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func memberLabel(m Member) string {
	id := m.UserID
	if id == "" {
		id = fmt.Sprintf("row %d", m.Row)
	}
	if m.Name != "" {
		return fmt.Sprintf("%s (%s)", id, m.Name)
	}
	return id
}
