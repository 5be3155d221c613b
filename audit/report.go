package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report summarises the records of a period for auditors.
type Report struct {
	Since   time.Time      `json:"since"`
	Until   time.Time      `json:"until"`
	Records []Record       `json:"-"`
	Totals  map[string]int `json:"totals"` // "<action>/<outcome>" → count
	Rows    int            `json:"rows_exported"`
}

// NewReport builds a report over recs.
func NewReport(since, until time.Time, recs []Record) *Report {
	r := &Report{Since: since.UTC(), Until: until.UTC(), Records: recs, Totals: map[string]int{}}
	for _, rec := range recs {
		r.Totals[rec.Action+"/"+rec.Outcome]++
		// Rows that left: exports, conversions and pushes (not dry runs).
		if rec.Outcome == OutcomeOK && (rec.Action == ActionExport || rec.Action == ActionConvert || rec.Action == ActionPush && rec.Details["dry_run"] == "") {
			r.Rows += rec.Rows
		}
	}
	return r
}

var reportHeader = []string{"seq", "time", "actor", "action", "outcome", "purpose", "basis", "justification", "profile", "fields", "dept_scope", "rows", "seal", "expires", "outputs", "reason", "hash"}

func (rec Record) cells() []string {
	exp := ""
	if rec.Expires != nil {
		exp = rec.Expires.Format(time.RFC3339)
	}
	var outs []string
	for _, o := range rec.Outputs {
		outs = append(outs, o.Path+"#sha256:"+o.SHA256)
	}
	return []string{strconv.FormatInt(rec.Seq, 10), rec.Time.Format(time.RFC3339), rec.Actor, rec.Action, rec.Outcome,
		rec.Purpose, rec.Basis, rec.Justification, rec.Profile, strings.Join(rec.Fields, " "), strings.Join(rec.DeptScope, " "),
		strconv.Itoa(rec.Rows), rec.Seal, exp, strings.Join(outs, " "), rec.Reason, rec.Hash}
}

// Write renders the report as "table", "csv" or "json".
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		type jrec struct {
			Seq      int64  `json:"seq"`
			PrevHash string `json:"prev_hash"`
			Hash     string `json:"hash"`
			Record
		}
		out := struct {
			*Report
			Records []jrec `json:"records"`
		}{Report: r, Records: []jrec{}}
		for _, rec := range r.Records {
			out.Records = append(out.Records, jrec{rec.Seq, rec.PrevHash, rec.Hash, rec})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(reportHeader)
		for _, rec := range r.Records {
			cells := rec.cells()
			for i, c := range cells {
				cells[i] = neutralise(c)
			}
			cw.Write(cells)
		}
		cw.Flush()
		return cw.Error()
	case "table", "":
		fmt.Fprintf(w, "Audit report %s to %s: %d records\n\n", r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339), len(r.Records))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tOUTCOME\tBASIS\tFIELDS\tROWS\tSEAL\tPURPOSE / REASON")
		for _, rec := range r.Records {
			why := rec.Purpose
			if rec.Reason != "" {
				why = strings.TrimSpace(why + " / " + rec.Reason)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", rec.Seq, rec.Time.Local().Format("2006-01-02 15:04"), rec.Actor, rec.Action, rec.Outcome,
				dash(rec.Basis), len(rec.Fields), rec.Rows, dash(rec.Seal), oneLine(why, 60))
		}
		tw.Flush()
		keys := make([]string, 0, len(r.Totals))
		for k := range r.Totals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "\nTotals:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %-24s %d\n", k, r.Totals[k])
		}
		fmt.Fprintf(w, "  %-24s %d\n", "rows exported", r.Rows)
		return nil
	}
	return fmt.Errorf("unknown report format %q (use table, csv or json)", format)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// neutralise guards a CSV cell against formula injection (OWASP).
func neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
