// Package diff compares two directories (usually two stored snapshots):
// who joined, who left, who moved between departments and whose fields
// changed. Cells are computed by export (the same text an export writes,
// people who hid their mobile without it), so a change reads as it would
// in a spreadsheet; the report quotes old and new values only of the
// fields it is told to (the policy's default profile), and names the
// other changed fields without their values.
package diff

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
)

// Options tune Compare.
type Options struct {
	// Quoted are the field keys whose old and new values the report
	// shows; other changed fields are named only. Names, userids and
	// department paths are always shown: they say who and where.
	Quoted []string
	// Region is the default phone region ("" = CN).
	Region string
}

// Side describes one of the compared directories.
type Side struct {
	Snapshot int64  `json:"snapshot,omitempty"`
	TakenAt  string `json:"taken_at,omitempty"`
	People   int    `json:"people"`
}

// Person is a joiner or a leaver.
type Person struct {
	UserID string `json:"userid"`
	Name   string `json:"name"`
	Depts  string `json:"departments"`
}

// Move is a change of departments.
type Move struct {
	UserID string `json:"userid"`
	Name   string `json:"name"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// FieldChange is one changed field; Old and New are present only for a
// quoted field.
type FieldChange struct {
	Field string  `json:"field"`
	Old   *string `json:"old,omitempty"`
	New   *string `json:"new,omitempty"`
}

// Change lists a person's changed fields.
type Change struct {
	UserID string        `json:"userid"`
	Name   string        `json:"name"`
	Fields []FieldChange `json:"fields"`
}

// Counts sums the report up.
type Counts struct {
	Joiners int `json:"joiners"`
	Leavers int `json:"leavers"`
	Moves   int `json:"moves"`
	Changed int `json:"changed"`
}

// Report is what changed from one directory to the other.
type Report struct {
	From         Side     `json:"from"`
	To           Side     `json:"to"`
	Counts       Counts   `json:"counts"`
	Joiners      []Person `json:"joiners"`
	Leavers      []Person `json:"leavers"`
	Moves        []Move   `json:"moves"`
	Changes      []Change `json:"changes"`
	QuotedFields []string `json:"quoted_fields"`
}

// compared are the fields compared, besides the extension fields: the
// full profile without mobile_e164 (it follows mobile).
func compared(extKeys func() ([]string, error)) ([]string, error) {
	fields, err := export.ResolveFields(nil, "full", nil, extKeys)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fields, func(k string) bool { return k == "mobile_e164" }), nil
}

type row struct {
	seq   int
	cells []string
}

// Compare reports the changes from a to b. People without a userid
// (imported from files that carry none) cannot be matched and are left
// out.
func Compare(ctx context.Context, a, b dingbook.Directory, opts Options) (*Report, error) {
	fields, err := compared(func() ([]string, error) {
		keys := map[string]bool{}
		for _, d := range []dingbook.Directory{a, b} {
			err := d.EachPerson(ctx, func(p *dingbook.Person) error {
				for k := range p.Extension {
					keys[k] = true
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return slices.Sorted(maps.Keys(keys)), nil
	})
	if err != nil {
		return nil, err
	}
	col := func(k string) int { return slices.Index(fields, k) }
	iName, iDept, iDeptIDs, iLeader := col("name"), col("dept"), col("dept_id_list"), col("leader_in_dept")
	quoted := map[string]bool{}
	for _, k := range opts.Quoted {
		quoted[k] = true
	}
	rep := &Report{Joiners: []Person{}, Leavers: []Person{}, Moves: []Move{}, Changes: []Change{}, QuotedFields: []string{}}
	for _, k := range fields {
		if quoted[k] {
			rep.QuotedFields = append(rep.QuotedFields, k)
		}
	}
	rows := func(d dingbook.Directory, fn func(userid string, cells []string) error) (int, error) {
		res, err := export.Run(ctx, d, export.Options{Fields: fields, Headers: "en", IncludeInactive: true,
			HideHiddenMobiles: true, Region: opts.Region, Rows: fn})
		if err != nil {
			return 0, err
		}
		return res.People, nil
	}
	before := map[string]row{}
	n, err := rows(a, func(userid string, cells []string) error {
		if userid != "" {
			before[userid] = row{len(before), slices.Clone(cells)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.From.People = n
	n, err = rows(b, func(userid string, cells []string) error {
		if userid == "" {
			return nil
		}
		old, ok := before[userid]
		if !ok {
			rep.Joiners = append(rep.Joiners, Person{UserID: userid, Name: cells[iName], Depts: cells[iDept]})
			return nil
		}
		delete(before, userid)
		moved := old.cells[iDeptIDs] != cells[iDeptIDs]
		if moved {
			rep.Moves = append(rep.Moves, Move{UserID: userid, Name: cells[iName], From: old.cells[iDept], To: cells[iDept]})
		}
		var fc []FieldChange
		for i, k := range fields {
			if i == iDept || i == iDeptIDs || (moved && i == iLeader) || old.cells[i] == cells[i] {
				continue
			}
			c := FieldChange{Field: k}
			if quoted[k] {
				c.Old, c.New = new(old.cells[i]), new(cells[i])
			}
			fc = append(fc, c)
		}
		if len(fc) > 0 {
			rep.Changes = append(rep.Changes, Change{UserID: userid, Name: cells[iName], Fields: fc})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.To.People = n
	left := slices.SortedFunc(maps.Keys(before), func(x, y string) int { return before[x].seq - before[y].seq })
	for _, u := range left {
		rep.Leavers = append(rep.Leavers, Person{UserID: u, Name: before[u].cells[iName], Depts: before[u].cells[iDept]})
	}
	rep.Counts = Counts{Joiners: len(rep.Joiners), Leavers: len(rep.Leavers), Moves: len(rep.Moves), Changed: len(rep.Changes)}
	return rep, nil
}

// Summary is one line: the counts.
func (r *Report) Summary() string {
	return fmt.Sprintf("%d joined, %d left, %d moved, %d changed", r.Counts.Joiners, r.Counts.Leavers, r.Counts.Moves, r.Counts.Changed)
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s: %s\n", sideName(r.From), sideName(r.To), r.Summary())
	if len(r.Joiners) > 0 {
		fmt.Fprintf(&b, "\nJoined (%d):\n", len(r.Joiners))
		for _, p := range r.Joiners {
			fmt.Fprintf(&b, "  + %s (%s)  %s\n", p.Name, p.UserID, p.Depts)
		}
	}
	if len(r.Leavers) > 0 {
		fmt.Fprintf(&b, "\nLeft (%d):\n", len(r.Leavers))
		for _, p := range r.Leavers {
			fmt.Fprintf(&b, "  - %s (%s)  %s\n", p.Name, p.UserID, p.Depts)
		}
	}
	if len(r.Moves) > 0 {
		fmt.Fprintf(&b, "\nMoved (%d):\n", len(r.Moves))
		for _, m := range r.Moves {
			fmt.Fprintf(&b, "  ~ %s (%s)  %s → %s\n", m.Name, m.UserID, m.From, m.To)
		}
	}
	if len(r.Changes) > 0 {
		fmt.Fprintf(&b, "\nChanged (%d):\n", len(r.Changes))
		for _, c := range r.Changes {
			parts := make([]string, len(c.Fields))
			for i, f := range c.Fields {
				parts[i] = f.Field
				if f.Old != nil {
					parts[i] = fmt.Sprintf("%s %q → %q", f.Field, *f.Old, *f.New)
				}
			}
			fmt.Fprintf(&b, "  * %s (%s)  %s\n", c.Name, c.UserID, strings.Join(parts, "; "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sideName(s Side) string {
	if s.Snapshot == 0 {
		return fmt.Sprintf("(%d people)", s.People)
	}
	return fmt.Sprintf("snapshot %d (%s, %d people)", s.Snapshot, s.TakenAt, s.People)
}
