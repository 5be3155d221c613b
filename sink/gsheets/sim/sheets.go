package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxCells is Google's cap on the cells of a spreadsheet (all tabs).
const maxCells = 10_000_000

// maxCellChars is Google's cap on the characters in one cell.
const maxCellChars = 50000

// verbs are the ":verb" suffixes Sheets routes on; they follow a literal
// colon, while colons inside a range are escaped (%3A).
var verbs = []string{":batchUpdate", ":clear", ":append", ":batchGet", ":batchClear", ":search", ":copyTo",
	":getByDataFilter", ":batchGetByDataFilter", ":batchUpdateByDataFilter", ":batchClearByDataFilter"}

func (sh *sheet) set(r, c int, v Cell) {
	for len(sh.cells) <= r {
		sh.cells = append(sh.cells, nil)
	}
	row := sh.cells[r]
	if v.Kind == "" && c >= len(row) {
		return
	}
	for len(row) <= c {
		row = append(row, Cell{})
	}
	row[c] = v
	sh.cells[r] = row
}

func trimCells(r []Cell) []Cell {
	for len(r) > 0 && r[len(r)-1].Kind == "" {
		r = r[:len(r)-1]
	}
	return slices.Clone(r)
}

func (f *spreadsheet) sheetByTitle(t string) *sheet {
	for _, sh := range f.Sheets {
		if sh.Title == t {
			return sh
		}
	}
	return nil
}

func (f *spreadsheet) sheetByID(id int64) *sheet {
	for _, sh := range f.Sheets {
		if sh.ID == id {
			return sh
		}
	}
	return nil
}

// clone copies f deeply enough for a batch: cell rows are shared (batch
// requests never change a cell in place).
func (f *spreadsheet) clone() *spreadsheet {
	g := *f
	g.Sheets = make([]*sheet, len(f.Sheets))
	for i, sh := range f.Sheets {
		c := *sh
		c.cells = slices.Clone(sh.cells)
		c.hidden, c.textCols = cloneMap(sh.hidden), cloneMap(sh.textCols)
		c.protected = slices.Clone(sh.protected)
		g.Sheets[i] = &c
	}
	g.Meta = slices.Clone(f.Meta)
	g.Perms = slices.Clone(f.Perms)
	return &g
}

func cloneMap(m map[int]bool) map[int]bool {
	out := make(map[int]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// colName turns a zero-based column index into letters (0 → A, 26 → AA).
func colName(c int) string {
	s := ""
	for c++; c > 0; c = (c - 1) / 26 {
		s = string(rune('A'+(c-1)%26)) + s
	}
	return s
}

// a1 is a parsed A1 range: rows and columns zero-based, end exclusive,
// -1 for unbounded.
type a1 struct {
	title          string
	r0, r1, c0, c1 int
}

func quoteTitle(t string) string {
	for _, r := range t {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return "'" + strings.ReplaceAll(t, "'", "''") + "'"
		}
	}
	return t
}

func parseA1(s string) (a1, bool) {
	var title, ref string
	if strings.HasPrefix(s, "'") {
		i := 1
		var b strings.Builder
		for ; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return a1{}, false
		}
		title, ref = b.String(), s[i+1:]
		if ref != "" {
			if ref[0] != '!' {
				return a1{}, false
			}
			ref = ref[1:]
		}
	} else if i := strings.LastIndexByte(s, '!'); i >= 0 {
		title, ref = s[:i], s[i+1:]
	} else {
		title = s
	}
	r := a1{title: title, r0: 0, r1: -1, c0: 0, c1: -1}
	if ref == "" {
		return r, title != ""
	}
	from, to, hasTo := strings.Cut(ref, ":")
	fr, fc, ok1 := cellRef(from)
	if !ok1 {
		return a1{}, false
	}
	if fr >= 0 {
		r.r0 = fr
	}
	if fc >= 0 {
		r.c0 = fc
	}
	if !hasTo {
		if fr < 0 || fc < 0 {
			return a1{}, false
		}
		r.r1, r.c1 = fr+1, fc+1
		return r, true
	}
	tr, tc, ok2 := cellRef(to)
	if !ok2 {
		return a1{}, false
	}
	if tr >= 0 {
		r.r1 = tr + 1
	}
	if tc >= 0 {
		r.c1 = tc + 1
	}
	return r, true
}

// cellRef parses "B12", "B" or "12" into zero-based row and column (-1
// when absent).
func cellRef(s string) (int, int, bool) {
	i := 0
	col := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		col = col*26 + int(s[i]-'A'+1)
		i++
	}
	row := 0
	for j := i; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return 0, 0, false
		}
		row = row*10 + int(s[j]-'0')
	}
	if i == 0 && i == len(s) {
		return 0, 0, false
	}
	r, c := row-1, col-1
	if i == len(s) {
		r = -1
	} else if row == 0 {
		return 0, 0, false
	}
	return r, c, true
}

func (s *Server) sheets(w http.ResponseWriter, r *http.Request, id identity, rest string, body []byte) {
	write := r.Method != http.MethodGet
	s.stats.SheetsReads += b2i(!write)
	s.stats.SheetsWrites += b2i(write)
	if !s.quota(w, id, write) {
		return
	}
	if s.fault(w) {
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		googleError(w, 400, "dingbook's simulator creates spreadsheets through Drive files.create only", "INVALID_ARGUMENT")
		return
	}
	fid, sub := rest, ""
	if i := strings.IndexAny(rest, "/:"); i >= 0 {
		fid, sub = rest[:i], rest[i:]
	}
	f := s.files[fid]
	if f == nil {
		googleError(w, 404, "Requested entity was not found.", "NOT_FOUND")
		return
	}
	role := f.role(id.email)
	if role == "" {
		googleError(w, 403, "The caller does not have permission", "PERMISSION_DENIED")
		return
	}
	if write && role != "owner" && role != "writer" && role != "organizer" {
		googleError(w, 403, "The caller does not have permission", "PERMISSION_DENIED")
		return
	}
	if write && s.drops > 0 {
		s.drops--
		s.route(discard{h: http.Header{}}, r, id, f, sub, body)
		googleError(w, 503, "The service is currently unavailable.", "UNAVAILABLE")
		return
	}
	s.route(w, r, id, f, sub, body)
}

// discard is a ResponseWriter that drops the response.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

func (s *Server) route(w http.ResponseWriter, r *http.Request, id identity, f *spreadsheet, sub string, body []byte) {
	switch {
	case sub == "" && r.Method == http.MethodGet:
		out, ok := partial(r.URL.Query().Get("fields"), f.resource(id))
		if !ok {
			googleError(w, 400, "Request contains an invalid argument.", "INVALID_ARGUMENT")
			return
		}
		writeJSON(w, 200, out)
	case sub == ":batchUpdate" && r.Method == http.MethodPost:
		s.batchUpdate(w, f, body, id.project)
	case sub == "/values:batchUpdate" && r.Method == http.MethodPost:
		s.valuesBatchUpdate(w, f, body)
	case sub == "/developerMetadata:search" && r.Method == http.MethodPost:
		s.metadataSearch(w, f, body, id)
	case strings.HasPrefix(sub, "/values/") && r.Method == http.MethodGet:
		raw := strings.TrimPrefix(sub, "/values/")
		for _, v := range verbs {
			if strings.HasSuffix(raw, v) {
				googleError(w, 400, "unsupported by the simulator: values"+v, "INVALID_ARGUMENT")
				return
			}
		}
		rng, err := url.PathUnescape(raw)
		if err != nil {
			googleError(w, 400, "Unable to parse range: "+raw, "INVALID_ARGUMENT")
			return
		}
		s.valuesGet(w, f, rng, r.URL.Query().Get("valueRenderOption"))
	default:
		googleError(w, 404, "Method not found.", "NOT_FOUND")
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *spreadsheet) role(email string) string {
	best := ""
	rank := map[string]int{"": 0, "reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 3, "organizer": 4, "owner": 5}
	for _, p := range f.Perms {
		ok := p.Type == "anyone" || (p.Type == "user" || p.Type == "group") && strings.EqualFold(p.EmailAddress, email) ||
			p.Type == "domain" && strings.HasSuffix(strings.ToLower(email), "@"+strings.ToLower(p.Domain))
		if ok && rank[p.Role] > rank[best] {
			best = p.Role
		}
	}
	return best
}

func gridRange(sh *sheet, p *protected) map[string]any {
	g := map[string]any{"sheetId": sh.ID}
	if p.StartRow != nil {
		g["startRowIndex"] = *p.StartRow
	}
	if p.EndRow != nil {
		g["endRowIndex"] = *p.EndRow
	}
	return g
}

func (f *spreadsheet) resource(id identity) map[string]any {
	var sheets []any
	for i, sh := range f.Sheets {
		gp := map[string]any{"rowCount": sh.Rows, "columnCount": sh.Cols}
		if sh.Frozen > 0 {
			gp["frozenRowCount"] = sh.Frozen
		}
		m := map[string]any{"properties": map[string]any{"sheetId": sh.ID, "title": sh.Title, "index": i, "sheetType": "GRID", "gridProperties": gp}}
		var prs []any
		for _, p := range sh.protected {
			prs = append(prs, map[string]any{"protectedRangeId": p.ID, "range": gridRange(sh, &p), "description": p.Description, "warningOnly": p.WarningOnly, "requestingUserCanEdit": true})
		}
		if prs != nil {
			m["protectedRanges"] = prs
		}
		sheets = append(sheets, m)
	}
	out := map[string]any{
		"spreadsheetId":  f.ID,
		"properties":     map[string]any{"title": f.Title, "locale": "en_US", "autoRecalc": "ON_CHANGE", "timeZone": "Etc/GMT"},
		"sheets":         sheets,
		"spreadsheetUrl": "https://docs.google.com/spreadsheets/d/" + f.ID + "/edit",
	}
	var md []any
	for _, m := range f.Meta {
		if m.visible(id) {
			md = append(md, m.resource())
		}
	}
	if md != nil {
		out["developerMetadata"] = md
	}
	return out
}

func (m metadata) resource() map[string]any {
	return map[string]any{"metadataId": m.ID, "metadataKey": m.Key, "metadataValue": m.Value,
		"location": map[string]any{"locationType": "SPREADSHEET", "spreadsheet": true}, "visibility": m.Vis}
}

func (s *Server) metadataSearch(w http.ResponseWriter, f *spreadsheet, body []byte, id identity) {
	var req struct {
		DataFilters []struct {
			DeveloperMetadataLookup *struct {
				MetadataKey string `json:"metadataKey"`
			} `json:"developerMetadataLookup"`
		} `json:"dataFilters"`
	}
	if json.Unmarshal(body, &req) != nil || len(req.DataFilters) == 0 {
		googleError(w, 400, "Invalid dataFilters", "INVALID_ARGUMENT")
		return
	}
	var out []any
	for _, df := range req.DataFilters {
		if df.DeveloperMetadataLookup == nil {
			continue
		}
		for _, m := range f.Meta {
			if m.visible(id) && (df.DeveloperMetadataLookup.MetadataKey == "" || m.Key == df.DeveloperMetadataLookup.MetadataKey) {
				out = append(out, map[string]any{"developerMetadata": m.resource(), "dataFilters": []any{df}})
			}
		}
	}
	if out == nil {
		writeJSON(w, 200, map[string]any{})
		return
	}
	writeJSON(w, 200, map[string]any{"matchedDeveloperMetadata": out})
}

func render(c Cell, option string) any {
	switch c.Kind {
	case "number":
		if option == "FORMULA" || option == "UNFORMATTED_VALUE" {
			n, _ := strconv.ParseFloat(c.Value, 64)
			return n
		}
		return c.Value
	case "bool":
		if option == "FORMULA" || option == "UNFORMATTED_VALUE" {
			return c.Value == "TRUE"
		}
		return c.Value
	case "formula":
		if option == "FORMULA" {
			return c.Value
		}
		return "#NAME?" // the simulator does not evaluate formulas
	}
	return c.Value
}

func (s *Server) valuesGet(w http.ResponseWriter, f *spreadsheet, rng, option string) {
	a, ok := parseA1(rng)
	sh := f.sheetByTitle(a.title)
	if !ok || sh == nil {
		googleError(w, 400, "Unable to parse range: "+rng, "INVALID_ARGUMENT")
		return
	}
	r1, c1 := a.r1, a.c1
	if r1 < 0 || r1 > sh.Rows {
		r1 = sh.Rows
	}
	if c1 < 0 || c1 > sh.Cols {
		c1 = sh.Cols
	}
	if a.r0 >= sh.Rows || a.c0 >= sh.Cols {
		googleError(w, 400, fmt.Sprintf("Range (%s) exceeds grid limits. Max rows: %d, max columns: %d", rng, sh.Rows, sh.Cols), "INVALID_ARGUMENT")
		return
	}
	var values [][]any
	for r := a.r0; r < r1 && r < len(sh.cells); r++ {
		row := sh.cells[r]
		var out []any
		last := -1
		for c := a.c0; c < c1 && c < len(row); c++ {
			if row[c].Kind != "" {
				last = c
			}
		}
		for c := a.c0; c <= last; c++ {
			out = append(out, render(row[c], option))
		}
		values = append(values, out)
	}
	for len(values) > 0 && len(values[len(values)-1]) == 0 {
		values = values[:len(values)-1]
	}
	for i, v := range values {
		if v == nil {
			values[i] = []any{}
		}
	}
	resp := map[string]any{"range": fmt.Sprintf("%s!%s%d:%s%d", quoteTitle(sh.Title), colName(a.c0), a.r0+1, colName(c1-1), r1), "majorDimension": "ROWS"}
	if len(values) > 0 {
		resp["values"] = values
	}
	writeJSON(w, 200, resp)
}

// convert turns a JSON input value into a cell under valueInputOption.
func convert(v any, userEntered bool) (Cell, bool) {
	switch v := v.(type) {
	case nil:
		return Cell{}, false // null skips the cell
	case bool:
		if v {
			return Cell{"bool", "TRUE"}, true
		}
		return Cell{"bool", "FALSE"}, true
	case float64:
		return Cell{"number", strconv.FormatFloat(v, 'f', -1, 64)}, true
	case string:
		if v == "" {
			return Cell{}, true
		}
		if !userEntered {
			return Cell{"string", v}, true
		}
		switch {
		case strings.HasPrefix(v, "'"):
			return Cell{"string", v[1:]}, true
		case strings.HasPrefix(v, "="):
			return Cell{"formula", v}, true
		}
		if n, err := strconv.ParseFloat(strings.TrimPrefix(v, "+"), 64); err == nil && !math.IsInf(n, 0) {
			return Cell{"number", strconv.FormatFloat(n, 'f', -1, 64)}, true
		}
		if v == "TRUE" || v == "FALSE" {
			return Cell{"bool", v}, true
		}
		return Cell{"string", v}, true
	}
	return Cell{"string", fmt.Sprint(v)}, true
}

func (s *Server) valuesBatchUpdate(w http.ResponseWriter, f *spreadsheet, body []byte) {
	var req struct {
		ValueInputOption string `json:"valueInputOption"`
		Data             []struct {
			Range  string  `json:"range"`
			Values [][]any `json:"values"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		googleError(w, 400, "Invalid JSON payload received. "+err.Error(), "INVALID_ARGUMENT")
		return
	}
	if req.ValueInputOption != "RAW" && req.ValueInputOption != "USER_ENTERED" {
		googleError(w, 400, "Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED", "INVALID_ARGUMENT")
		return
	}
	type target struct {
		sh   *sheet
		a    a1
		rows int
		cols int
	}
	targets := make([]target, len(req.Data))
	// Validate every range before applying any (the batch is atomic).
	for i, d := range req.Data {
		a, ok := parseA1(d.Range)
		sh := f.sheetByTitle(a.title)
		if !ok || sh == nil {
			googleError(w, 400, fmt.Sprintf("Invalid data[%d]: Unable to parse range: %s", i, d.Range), "INVALID_ARGUMENT")
			return
		}
		cols := 0
		for _, row := range d.Values {
			cols = max(cols, len(row))
			for _, v := range row {
				if str, ok := v.(string); ok && len([]rune(str)) > maxCellChars {
					googleError(w, 400, fmt.Sprintf("Invalid data[%d]: Your input contains more than the maximum of 50000 characters in a single cell.", i), "INVALID_ARGUMENT")
					return
				}
			}
		}
		if (a.r1 >= 0 && a.r0+len(d.Values) > a.r1) || (a.c1 >= 0 && a.c0+cols > a.c1) {
			googleError(w, 400, fmt.Sprintf("Invalid data[%d]: Requested writing within range [%s], but tried writing to row [%d]", i, d.Range, a.r0+len(d.Values)), "INVALID_ARGUMENT")
			return
		}
		if a.r0+len(d.Values) > sh.Rows || a.c0+cols > sh.Cols {
			googleError(w, 400, fmt.Sprintf("Invalid data[%d]: Range (%s!%s%d) exceeds grid limits. Max rows: %d, max columns: %d", i, quoteTitle(sh.Title), colName(a.c0+cols-1), a.r0+len(d.Values), sh.Rows, sh.Cols), "INVALID_ARGUMENT")
			return
		}
		targets[i] = target{sh, a, len(d.Values), cols}
	}
	var responses []any
	totalRows, totalCells := 0, 0
	maxCols := 0
	sheetsTouched := map[int64]bool{}
	for i, d := range req.Data {
		t := targets[i]
		cells := 0
		for r, row := range d.Values {
			for c, v := range row {
				if cell, ok := convert(v, req.ValueInputOption == "USER_ENTERED"); ok {
					t.sh.set(t.a.r0+r, t.a.c0+c, cell)
					cells++
				}
			}
		}
		totalRows += t.rows
		totalCells += cells
		maxCols = max(maxCols, t.cols)
		sheetsTouched[t.sh.ID] = true
		responses = append(responses, map[string]any{"spreadsheetId": f.ID,
			"updatedRange": fmt.Sprintf("%s!%s%d:%s%d", quoteTitle(t.sh.Title), colName(t.a.c0), t.a.r0+1, colName(t.a.c0+max(t.cols, 1)-1), t.a.r0+max(t.rows, 1)),
			"updatedRows":  t.rows, "updatedColumns": t.cols, "updatedCells": cells})
	}
	writeJSON(w, 200, map[string]any{"spreadsheetId": f.ID, "totalUpdatedRows": totalRows, "totalUpdatedColumns": maxCols,
		"totalUpdatedCells": totalCells, "totalUpdatedSheets": len(sheetsTouched), "responses": responses})
}

type gridRangeJSON struct {
	SheetID          int64 `json:"sheetId"`
	StartRowIndex    *int  `json:"startRowIndex"`
	EndRowIndex      *int  `json:"endRowIndex"`
	StartColumnIndex *int  `json:"startColumnIndex"`
	EndColumnIndex   *int  `json:"endColumnIndex"`
}

type dimRange struct {
	SheetID    int64  `json:"sheetId"`
	Dimension  string `json:"dimension"`
	StartIndex *int   `json:"startIndex"`
	EndIndex   *int   `json:"endIndex"`
}

func (s *Server) batchUpdate(w http.ResponseWriter, f *spreadsheet, body []byte, project string) {
	var req struct {
		Requests []map[string]json.RawMessage `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		googleError(w, 400, "Invalid JSON payload received. "+err.Error(), "INVALID_ARGUMENT")
		return
	}
	g := f.clone()
	replies := make([]any, 0, len(req.Requests))
	for i, r := range req.Requests {
		if len(r) != 1 {
			googleError(w, 400, fmt.Sprintf("Invalid requests[%d]: a request holds exactly one kind", i), "INVALID_ARGUMENT")
			return
		}
		for kind, raw := range r {
			reply, err := g.apply(kind, raw, project)
			if err != "" {
				googleError(w, 400, fmt.Sprintf("Invalid requests[%d].%s: %s", i, kind, err), "INVALID_ARGUMENT")
				return
			}
			replies = append(replies, reply)
		}
	}
	*f = *g
	writeJSON(w, 200, map[string]any{"spreadsheetId": f.ID, "replies": replies})
}

func (f *spreadsheet) cells() int {
	n := 0
	for _, sh := range f.Sheets {
		n += sh.Rows * sh.Cols
	}
	return n
}

// apply applies one batchUpdate request, returning its reply or an error
// message.
func (f *spreadsheet) apply(kind string, raw json.RawMessage, project string) (any, string) {
	empty := map[string]any{}
	// decode reads the request into r and finds the sheet id() names;
	// fields, when not nil, is the request's field mask, which update
	// requests need.
	decode := func(r any, id func() int64, fields *string) (*sheet, string) {
		if err := json.Unmarshal(raw, r); err != nil {
			return nil, err.Error()
		}
		sh := f.sheetByID(id())
		switch {
		case sh == nil:
			return nil, fmt.Sprintf("No grid with id: %d", id())
		case fields != nil && *fields == "":
			return nil, "At least one field must be updated, but none were specified."
		}
		return sh, ""
	}
	switch kind {
	case "updateSheetProperties":
		var r struct {
			Properties struct {
				SheetID        int64  `json:"sheetId"`
				Title          string `json:"title"`
				GridProperties struct {
					RowCount, ColumnCount, FrozenRowCount int
				} `json:"gridProperties"`
			} `json:"properties"`
			Fields string `json:"fields"`
		}
		sh, msg := decode(&r, func() int64 { return r.Properties.SheetID }, &r.Fields)
		if msg != "" {
			return nil, msg
		}
		for _, fld := range strings.Split(r.Fields, ",") {
			gp := r.Properties.GridProperties
			switch strings.TrimSpace(fld) {
			case "title":
				if r.Properties.Title == "" {
					return nil, "The sheet title cannot be empty."
				}
				if o := f.sheetByTitle(r.Properties.Title); o != nil && o != sh {
					return nil, fmt.Sprintf("A sheet with the name \"%s\" already exists. Please enter another name.", r.Properties.Title)
				}
				sh.Title = r.Properties.Title
			case "gridProperties.rowCount":
				if gp.RowCount < 1 {
					return nil, "rowCount must be positive"
				}
				sh.Rows = gp.RowCount
				if len(sh.cells) > sh.Rows {
					sh.cells = sh.cells[:sh.Rows]
				}
			case "gridProperties.columnCount":
				if gp.ColumnCount < 1 {
					return nil, "columnCount must be positive"
				}
				sh.Cols = gp.ColumnCount
				for i, row := range sh.cells {
					if len(row) > sh.Cols {
						sh.cells[i] = row[:sh.Cols]
					}
				}
			case "gridProperties.frozenRowCount":
				sh.Frozen = gp.FrozenRowCount
			default:
				return nil, "unsupported field mask " + fld + " in the simulator"
			}
		}
		if f.cells() > maxCells {
			return nil, "This action would increase the number of cells in the workbook above the limit of 10000000 cells."
		}
		if sh.Frozen >= sh.Rows {
			return nil, "You can't freeze all visible rows on the sheet."
		}
		return empty, ""
	case "appendDimension":
		var r struct {
			SheetID   int64  `json:"sheetId"`
			Dimension string `json:"dimension"`
			Length    int    `json:"length"`
		}
		sh, msg := decode(&r, func() int64 { return r.SheetID }, nil)
		if msg != "" {
			return nil, msg
		}
		if r.Length < 1 {
			return nil, "length must be positive"
		}
		if r.Dimension == "ROWS" {
			sh.Rows += r.Length
		} else {
			sh.Cols += r.Length
		}
		if f.cells() > maxCells {
			return nil, "This action would increase the number of cells in the workbook above the limit of 10000000 cells."
		}
		return empty, ""
	case "deleteDimension":
		var r struct {
			Range dimRange `json:"range"`
		}
		sh, msg := decode(&r, func() int64 { return r.Range.SheetID }, nil)
		if msg != "" {
			return nil, msg
		}
		if r.Range.Dimension != "ROWS" || r.Range.StartIndex == nil || r.Range.EndIndex == nil {
			return nil, "the simulator deletes ROWS with a start and end index"
		}
		a, b := *r.Range.StartIndex, min(*r.Range.EndIndex, sh.Rows)
		if a < 0 || a >= b {
			return nil, "Invalid range"
		}
		if a <= sh.Frozen && b >= sh.Rows || sh.Rows-(b-a) <= sh.Frozen {
			return nil, "Sorry, it is not possible to delete all non-frozen rows."
		}
		if a < len(sh.cells) {
			sh.cells = slices.Delete(sh.cells, a, min(b, len(sh.cells)))
		}
		sh.Rows -= b - a
		return empty, ""
	case "updateDimensionProperties":
		var r struct {
			Range      dimRange `json:"range"`
			Properties struct {
				HiddenByUser bool `json:"hiddenByUser"`
				PixelSize    int  `json:"pixelSize"`
			} `json:"properties"`
			Fields string `json:"fields"`
		}
		sh, msg := decode(&r, func() int64 { return r.Range.SheetID }, &r.Fields)
		if msg != "" {
			return nil, msg
		}
		if r.Range.Dimension == "COLUMNS" && strings.Contains(r.Fields, "hiddenByUser") && r.Range.StartIndex != nil && r.Range.EndIndex != nil {
			for c := *r.Range.StartIndex; c < *r.Range.EndIndex; c++ {
				sh.hidden[c] = r.Properties.HiddenByUser
			}
		}
		return empty, ""
	case "repeatCell":
		var r struct {
			Range gridRangeJSON `json:"range"`
			Cell  struct {
				UserEnteredFormat struct {
					NumberFormat struct {
						Type string `json:"type"`
					} `json:"numberFormat"`
				} `json:"userEnteredFormat"`
			} `json:"cell"`
			Fields string `json:"fields"`
		}
		sh, msg := decode(&r, func() int64 { return r.Range.SheetID }, &r.Fields)
		if msg != "" {
			return nil, msg
		}
		c0, c1 := 0, sh.Cols
		if r.Range.StartColumnIndex != nil {
			c0 = *r.Range.StartColumnIndex
		}
		if r.Range.EndColumnIndex != nil {
			c1 = *r.Range.EndColumnIndex
		}
		if c1 > sh.Cols {
			return nil, fmt.Sprintf("Range ('%s'!%s:%s) exceeds grid limits. Max rows: %d, max columns: %d", sh.Title, colName(c0), colName(c1-1), sh.Rows, sh.Cols)
		}
		if strings.Contains(r.Fields, "numberFormat") {
			for c := c0; c < c1; c++ {
				sh.textCols[c] = r.Cell.UserEnteredFormat.NumberFormat.Type == "TEXT"
			}
		}
		return empty, ""
	case "addProtectedRange":
		var r struct {
			ProtectedRange struct {
				Range       gridRangeJSON   `json:"range"`
				Description string          `json:"description"`
				WarningOnly bool            `json:"warningOnly"`
				Editors     json.RawMessage `json:"editors"`
			} `json:"protectedRange"`
		}
		sh, msg := decode(&r, func() int64 { return r.ProtectedRange.Range.SheetID }, nil)
		if msg != "" {
			return nil, msg
		}
		pr := r.ProtectedRange
		if pr.WarningOnly && len(pr.Editors) > 0 && string(pr.Editors) != "null" {
			return nil, "Editors are not supported with warning_only protection."
		}
		f.nextProt++
		p := protected{ID: 1000 + f.nextProt, StartRow: pr.Range.StartRowIndex, EndRow: pr.Range.EndRowIndex, WarningOnly: pr.WarningOnly, Description: pr.Description}
		sh.protected = append(sh.protected, p)
		return map[string]any{"addProtectedRange": map[string]any{"protectedRange": map[string]any{"protectedRangeId": p.ID, "range": gridRange(sh, &p), "description": p.Description, "warningOnly": p.WarningOnly}}}, ""
	case "createDeveloperMetadata":
		var r struct {
			DeveloperMetadata struct {
				MetadataKey   string `json:"metadataKey"`
				MetadataValue string `json:"metadataValue"`
				Location      struct {
					Spreadsheet bool `json:"spreadsheet"`
				} `json:"location"`
				Visibility string `json:"visibility"`
			} `json:"developerMetadata"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, err.Error()
		}
		dm := r.DeveloperMetadata
		if dm.Visibility != "PROJECT" && dm.Visibility != "DOCUMENT" {
			return nil, "Developer metadata visibility must be specified."
		}
		if !dm.Location.Spreadsheet {
			return nil, "the simulator keeps spreadsheet-level metadata only"
		}
		if len(dm.MetadataValue) > 30000 {
			return nil, "Adding the requested developer metadata would exceed the allowed storage limit"
		}
		f.nextMeta++
		m := metadata{ID: 7000 + f.nextMeta, Key: dm.MetadataKey, Value: dm.MetadataValue, Vis: dm.Visibility, Project: project}
		f.Meta = append(f.Meta, m)
		return map[string]any{"createDeveloperMetadata": map[string]any{"developerMetadata": m.resource()}}, ""
	}
	return nil, "the simulator does not support this request"
}
