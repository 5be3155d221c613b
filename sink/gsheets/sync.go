package gsheets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
)

// Layout of a pushed sheet: one tab, the header in row 1 (frozen,
// protected with a warning), a hidden key column A holding each row's
// key, then the view's columns; every cell a string written RAW, every
// column formatted as text.
const (
	// SheetTitle is the tab dingbook keeps.
	SheetTitle = "dingbook"
	// KeyHeader heads the hidden key column.
	KeyHeader = "dingbook_key"
	// MarkerKey is the spreadsheet-level developer metadata key that
	// marks a spreadsheet as dingbook's; a spreadsheet without it is
	// never written.
	MarkerKey = "dingbook.managed"
	// ChunkBytes caps one values.batchUpdate body (Google recommends 2 MB).
	ChunkBytes = 2 << 20
	// MaxCells and MaxCellChars are Google's limits: cells in a
	// spreadsheet, characters in a cell.
	MaxCells     = 10_000_000
	MaxCellChars = 50_000
)

// Share is one permission of the spreadsheet, as push reports it.
type Share struct {
	Type   string `json:"type"` // user, group, domain, anyone
	Role   string `json:"role"`
	Domain string `json:"domain,omitempty"`
	Email  string `json:"email,omitempty"`
}

// Row is one person's row: a stable key and the cells.
type Row struct {
	Key   string
	Cells []string
}

// View is what the sheet must hold.
type View struct {
	Header []string
	Rows   []Row
}

// Target says which spreadsheet: an existing one, or a new one.
type Target struct {
	SpreadsheetID string
	CreateTitle   string
	Folder        string // parent folder (or shared drive) of a new one
}

// Options tune a push.
type Options struct {
	// DryRun reads and diffs but writes nothing.
	DryRun bool
	// Owner goes into the marker (a hash of the organisation); a sheet
	// marked for another owner is refused.
	Owner string
	// CheckSharing is called with the spreadsheet's permissions before
	// anything is written; an error refuses the push.
	CheckSharing func([]Share) error
	// Clear removes every data row of an existing sheet, keeping its
	// header (the view is ignored): purge does it when the retention of
	// the last push has ended.
	Clear bool
}

// Result is what a push did.
type Result struct {
	SpreadsheetID string  `json:"spreadsheet_id"`
	Created       bool    `json:"created"`
	Rows          int     `json:"rows"`
	Added         int     `json:"added"`
	Changed       int     `json:"changed"`
	Removed       int     `json:"removed"`
	Writes        int     `json:"writes"`
	Reads         int     `json:"reads"`
	Sharing       []Share `json:"sharing"`
	Requests      int     `json:"requests"`
	BytesSent     int64   `json:"bytes_sent"`
	BytesRead     int64   `json:"bytes_read"`
}

type marker struct {
	V     int    `json:"v"`
	Owner string `json:"owner"`
	Sheet int64  `json:"sheet"`
}

type sheetProps struct {
	SheetID        int64  `json:"sheetId"`
	Title          string `json:"title"`
	GridProperties struct {
		RowCount       int `json:"rowCount"`
		ColumnCount    int `json:"columnCount"`
		FrozenRowCount int `json:"frozenRowCount"`
	} `json:"gridProperties"`
}

type spreadsheetInfo struct {
	SpreadsheetID string `json:"spreadsheetId"`
	Sheets        []struct {
		Properties sheetProps `json:"properties"`
	} `json:"sheets"`
	DeveloperMetadata []struct {
		MetadataKey   string `json:"metadataKey"`
		MetadataValue string `json:"metadataValue"`
	} `json:"developerMetadata"`
}

func (c *Client) getSpreadsheet(ctx context.Context, id string) (*spreadsheetInfo, error) {
	var info spreadsheetInfo
	q := url.Values{"fields": {"spreadsheetId,sheets(properties(sheetId,title,gridProperties)),developerMetadata(metadataKey,metadataValue)"}}
	err := c.do(ctx, call{sheets: true, name: "Sheets spreadsheets.get " + id, method: "GET", url: c.sheetsURL("/"+url.PathEscape(id), q), retry5xx: true}, &info)
	return &info, err
}

// Permissions lists the spreadsheet's Drive permissions (every page).
func (c *Client) Permissions(ctx context.Context, id string) ([]Share, error) {
	var out []Share
	token := ""
	for {
		q := url.Values{"supportsAllDrives": {"true"}, "pageSize": {"100"},
			"fields": {"nextPageToken,permissions(id,type,role,emailAddress,domain,allowFileDiscovery)"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		var page struct {
			NextPageToken string `json:"nextPageToken"`
			Permissions   []struct {
				Type, Role, EmailAddress, Domain string
			} `json:"permissions"`
		}
		if err := c.do(ctx, call{name: "Drive permissions.list " + id, method: "GET", url: c.driveURL("/"+url.PathEscape(id)+"/permissions", q), retry5xx: true}, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Permissions {
			out = append(out, Share{Type: p.Type, Role: p.Role, Domain: p.Domain, Email: p.EmailAddress})
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		token = page.NextPageToken
	}
}

// readValues reads the data block with valueRenderOption=FORMULA: a cell
// holding a formula comes back as its formula, never as its result.
func (c *Client) readValues(ctx context.Context, id, title string, cols int) ([][]string, error) {
	rng := quoteTitle(title) + "!A1:" + colName(max(cols, 1)-1)
	var vr struct {
		Values [][]any `json:"values"`
	}
	q := url.Values{"valueRenderOption": {"FORMULA"}, "majorDimension": {"ROWS"}}
	if err := c.do(ctx, call{sheets: true, name: "Sheets values.get " + id, method: "GET", url: c.sheetsURL("/"+url.PathEscape(id)+"/values/"+escapeRange(rng), q), retry5xx: true}, &vr); err != nil {
		return nil, err
	}
	out := make([][]string, len(vr.Values))
	for i, r := range vr.Values {
		row := make([]string, len(r))
		for j, v := range r {
			switch v := v.(type) {
			case string:
				row[j] = v
			case nil:
			case float64:
				row[j] = strconv.FormatFloat(v, 'f', -1, 64)
			default:
				row[j] = fmt.Sprint(v)
			}
		}
		out[i] = row
	}
	return out, nil
}

func (c *Client) batchUpdate(ctx context.Context, id string, reqs []map[string]any) (json.RawMessage, error) {
	var out struct {
		Replies json.RawMessage `json:"replies"`
	}
	err := c.do(ctx, call{sheets: true, name: "Sheets spreadsheets.batchUpdate " + id, method: "POST", url: c.sheetsURL("/"+url.PathEscape(id)+":batchUpdate", nil),
		body: map[string]any{"requests": reqs}, write: true}, &out)
	return out.Replies, err
}

// valueRange is one block of a values.batchUpdate.
type valueRange struct {
	Range  string     `json:"range"`
	Values [][]string `json:"values"`
}

// writeValues writes blocks RAW with values.batchUpdate, in requests of
// at most ChunkBytes; absolute ranges make a repeat harmless.
func (c *Client) writeValues(ctx context.Context, id string, data []valueRange) error {
	for len(data) > 0 {
		n, size := 0, 0
		for n < len(data) {
			s := 40 + len(data[n].Range)
			for _, r := range data[n].Values {
				for _, v := range r {
					s += len(v) + 3
				}
			}
			if n > 0 && size+s > ChunkBytes {
				break
			}
			size += s
			n++
		}
		body := map[string]any{"valueInputOption": "RAW", "data": data[:n], "includeValuesInResponse": false}
		if err := c.do(ctx, call{sheets: true, name: "Sheets values.batchUpdate " + id, method: "POST", url: c.sheetsURL("/"+url.PathEscape(id)+"/values:batchUpdate", nil),
			body: body, write: true, retry5xx: true}, nil); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// blocks cuts rows (grid rows from start) into value ranges of about
// ChunkBytes, so that writeValues can send them in several requests.
func blocks(title string, start int, rows [][]string, width int) []valueRange {
	var out []valueRange
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && (n == 0 || size < ChunkBytes*7/8) {
			for _, v := range rows[n] {
				size += len(v) + 3
			}
			n++
		}
		out = append(out, valueRange{Range: fmt.Sprintf("%s!A%d:%s%d", quoteTitle(title), start+1, colName(width-1), start+n), Values: rows[:n]})
		rows, start = rows[n:], start+n
	}
	return out
}

// Push makes the sheet equal to v: it checks the sharing and the marker,
// reads what the sheet holds, writes only what differs (one structural
// write for added or removed rows, values writes for changed and added
// rows) and reads the sheet back to verify. A result is returned with a
// refusal too, so the caller can record the sharing.
func (c *Client) Push(ctx context.Context, t Target, v View, o Options) (*Result, error) {
	before := c.Stats
	res := &Result{SpreadsheetID: t.SpreadsheetID, Rows: len(v.Rows)}
	defer func() {
		res.Writes, res.Reads = c.Stats.Writes-before.Writes, c.Stats.Reads-before.Reads
		res.Requests, res.BytesSent, res.BytesRead = c.Stats.Requests-before.Requests, c.Stats.BytesSent-before.BytesSent, c.Stats.BytesRead-before.BytesRead
	}()
	width := len(v.Header) + 1
	want := make([][]string, 0, len(v.Rows)+1)
	want = append(want, append([]string{KeyHeader}, v.Header...))
	if cells := (len(v.Rows) + 1) * width; cells > MaxCells {
		return res, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("push: %d rows of %d columns are %d cells, more than a Google spreadsheet holds (%d)", len(v.Rows), width, cells, MaxCells),
			Hint: "push part of the directory (--dept) or fewer fields (--fields)"}
	}
	seen := make(map[string]bool, len(v.Rows))
	for _, r := range v.Rows {
		if seen[r.Key] || r.Key == "" {
			return res, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("push: row key %q is empty or repeated", r.Key), Hint: "every person needs a distinct userid"}
		}
		seen[r.Key] = true
		for j, c := range r.Cells {
			if len(c) > MaxCellChars && utf8.RuneCountInString(c) > MaxCellChars {
				return res, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("push: the %s cell of row key %s holds more than %d characters, Google's limit for a cell", v.Header[j], r.Key, MaxCellChars),
					Hint: "leave that field out (--fields) or shorten it in DingTalk"}
			}
		}
		want = append(want, append([]string{r.Key}, r.Cells...))
	}
	check := func(id string) error {
		shares, err := c.Permissions(ctx, id)
		if err != nil {
			return err
		}
		res.Sharing = shares
		if o.CheckSharing != nil {
			return o.CheckSharing(shares)
		}
		return nil
	}

	if t.SpreadsheetID == "" {
		res.Added = len(v.Rows)
		if o.DryRun {
			return res, nil
		}
		return res, c.create(ctx, t, want, width, o, res, check)
	}

	id := t.SpreadsheetID
	if err := check(id); err != nil {
		return res, err
	}
	// A structural write that failed with a 5xx may have landed: read
	// the sheet again and diff anew (the diff is by key, so a second
	// pass writes only what is still missing).
	var first *Result // the diff against the sheet as it was
	for attempt := 0; ; attempt++ {
		err := c.update(ctx, id, want, width, o, res)
		if first != nil {
			res.Added, res.Changed, res.Removed = first.Added, first.Changed, first.Removed
		}
		var u uncertain
		if !errors.As(err, &u) || attempt == 2 {
			return res, err
		}
		if first == nil {
			r := *res
			first = &r
		}
		if err := c.sleep(ctx, time.Duration(1<<attempt)*time.Second+time.Duration(rand.IntN(1000))*time.Millisecond); err != nil {
			return res, err
		}
	}
}

// update reads an existing spreadsheet, checks its marker and syncs it.
func (c *Client) update(ctx context.Context, id string, want [][]string, width int, o Options, res *Result) error {
	info, err := c.getSpreadsheet(ctx, id)
	if err != nil {
		return err
	}
	var mk *marker
	for _, m := range info.DeveloperMetadata {
		if m.MetadataKey == MarkerKey {
			var x marker
			if json.Unmarshal([]byte(m.MetadataValue), &x) == nil {
				mk = &x
			}
		}
	}
	if mk == nil {
		return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("push refused: spreadsheet %s carries no %s marker, so dingbook did not create it and will not overwrite it", id, MarkerKey),
			Hint: "push into a new spreadsheet with --sheets-create TITLE (dingbook keeps only sheets it made); if dingbook made it with credentials of another Google Cloud project, use those: the marker is visible to its own project only"}
	}
	if o.Owner != "" && mk.Owner != o.Owner {
		return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("push refused: spreadsheet %s is kept by dingbook for another organisation", id),
			Hint: "push this organisation into its own spreadsheet with --sheets-create TITLE"}
	}
	var sh *sheetProps
	for i := range info.Sheets {
		if info.Sheets[i].Properties.SheetID == mk.Sheet {
			sh = &info.Sheets[i].Properties
		}
	}
	if sh == nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("push: spreadsheet %s has lost dingbook's tab (sheet id %d)", id, mk.Sheet),
			Hint: "someone deleted the tab: push into a new spreadsheet with --sheets-create TITLE"}
	}
	have, err := c.readValues(ctx, id, sh.Title, max(sh.GridProperties.ColumnCount, width))
	if err != nil {
		return err
	}
	if o.Clear && len(have) > 0 {
		width = sh.GridProperties.ColumnCount
		want = [][]string{append(have[0], make([]string, max(width-len(have[0]), 0))...)[:width]}
	}
	return c.sync(ctx, id, sh, have, want, width, o, res)
}

// create makes a new spreadsheet through Drive (so it can go into a
// folder, and ignoring the domain's default visibility), lays out the tab
// and writes every row.
func (c *Client) create(ctx context.Context, t Target, want [][]string, width int, o Options, res *Result, check func(string) error) error {
	body := map[string]any{"name": t.CreateTitle, "mimeType": "application/vnd.google-apps.spreadsheet"}
	if t.Folder != "" {
		body["parents"] = []string{t.Folder}
	}
	var f struct {
		ID string `json:"id"`
	}
	q := url.Values{"supportsAllDrives": {"true"}, "ignoreDefaultVisibility": {"true"}, "fields": {"id,name,mimeType"}}
	if err := c.do(ctx, call{name: "Drive files.create", method: "POST", url: c.driveURL("", q), body: body, write: true}, &f); err != nil {
		return err
	}
	res.SpreadsheetID, res.Created = f.ID, true
	if err := check(f.ID); err != nil {
		return err
	}
	info, err := c.getSpreadsheet(ctx, f.ID)
	if err != nil {
		return err
	}
	if len(info.Sheets) == 0 {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: "Sheets spreadsheets.get " + f.ID + ": the new spreadsheet has no tab", Hint: "run push with --sheets-create again"}
	}
	sid := info.Sheets[0].Properties.SheetID
	mv, _ := json.Marshal(marker{V: 1, Owner: o.Owner, Sheet: sid})
	rows := max(len(want), 2)
	reqs := []map[string]any{
		{"updateSheetProperties": map[string]any{"properties": map[string]any{"sheetId": sid, "title": SheetTitle,
			"gridProperties": map[string]any{"rowCount": rows, "columnCount": width, "frozenRowCount": 1}},
			"fields": "title,gridProperties.rowCount,gridProperties.columnCount,gridProperties.frozenRowCount"}},
		{"updateDimensionProperties": map[string]any{"range": map[string]any{"sheetId": sid, "dimension": "COLUMNS", "startIndex": 0, "endIndex": 1},
			"properties": map[string]any{"hiddenByUser": true}, "fields": "hiddenByUser"}},
		textFormat(sid, 0, width),
		{"addProtectedRange": map[string]any{"protectedRange": map[string]any{"range": map[string]any{"sheetId": sid, "startRowIndex": 0, "endRowIndex": 1},
			"description": "dingbook: the header; change the data in DingTalk, not here", "warningOnly": true}}},
		{"createDeveloperMetadata": map[string]any{"developerMetadata": map[string]any{"metadataKey": MarkerKey, "metadataValue": string(mv),
			"location": map[string]any{"spreadsheet": true}, "visibility": "PROJECT"}}},
	}
	if _, err := c.batchUpdate(ctx, f.ID, reqs); err != nil {
		return err
	}
	if err := c.writeValues(ctx, f.ID, blocks(SheetTitle, 0, want, width)); err != nil {
		return err
	}
	return c.verify(ctx, f.ID, SheetTitle, width, want)
}

// textFormat formats columns [c0, c1) as text, so that later edits by
// people keep leading zeros and + signs too.
func textFormat(sid int64, c0, c1 int) map[string]any {
	return map[string]any{"repeatCell": map[string]any{
		"range":  map[string]any{"sheetId": sid, "startColumnIndex": c0, "endColumnIndex": c1},
		"cell":   map[string]any{"userEnteredFormat": map[string]any{"numberFormat": map[string]any{"type": "TEXT", "pattern": "@"}}},
		"fields": "userEnteredFormat.numberFormat"}}
}

// sync diffs have (the sheet's rows, header first) against want by key
// and writes the difference.
func (c *Client) sync(ctx context.Context, id string, sh *sheetProps, have, want [][]string, width int, o Options, res *Result) error {
	pad := func(r []string) []string {
		if len(r) >= width {
			return r[:width]
		}
		return append(slices.Clone(r), make([]string, width-len(r))...)
	}
	wantAt := make(map[string]int, len(want))
	for i, r := range want[1:] {
		wantAt[r[0]] = i + 1
	}
	headerOK := len(have) > 0 && slices.Equal(pad(have[0]), want[0]) && sh.GridProperties.ColumnCount == width
	// Data rows as the sheet holds them (grid row i+1).
	var data [][]string
	if len(have) > 1 {
		data = have[1:]
	}
	var final [][]string // the rows after the push, in order
	var removed []int    // grid rows to delete
	var changedAt []int  // indexes into final
	kept := map[string]bool{}
	for i, r := range data {
		k := ""
		if len(r) > 0 {
			k = r[0]
		}
		j, ok := wantAt[k]
		if !ok || kept[k] {
			removed = append(removed, i+1)
			continue
		}
		kept[k] = true
		if !headerOK || !slices.Equal(pad(r), want[j]) {
			changedAt = append(changedAt, len(final))
		}
		final = append(final, want[j])
	}
	res.Changed = len(changedAt)
	// Trailing empty rows of the grid are not data: they go with the
	// structural write.
	res.Removed = 0
	for _, g := range removed {
		if k := data[g-1]; len(k) > 0 && k[0] != "" {
			res.Removed++
		} else if slices.ContainsFunc(data[g-1], func(s string) bool { return s != "" }) {
			res.Removed++ // a row without a key that someone added
		}
	}
	firstAdded := len(final)
	for _, r := range want[1:] {
		if !kept[r[0]] {
			final = append(final, r)
		}
	}
	res.Added = len(final) - firstAdded
	if o.DryRun {
		return nil
	}

	// Structural write: grow first (so deletes never take every
	// non-frozen row), then delete bottom-up.
	grid := sh.GridProperties.RowCount
	need := max(len(final)+1, 2)
	var reqs []map[string]any
	if !headerOK && sh.GridProperties.ColumnCount != width {
		reqs = append(reqs, map[string]any{"updateSheetProperties": map[string]any{"properties": map[string]any{"sheetId": sh.SheetID,
			"gridProperties": map[string]any{"columnCount": width}}, "fields": "gridProperties.columnCount"}}, textFormat(sh.SheetID, 0, width))
	}
	afterDeletes := grid - len(removed)
	if afterDeletes < need {
		reqs = append(reqs, map[string]any{"appendDimension": map[string]any{"sheetId": sh.SheetID, "dimension": "ROWS", "length": need - afterDeletes}})
	}
	var dels [][2]int // [start, end) grid rows, bottom-up
	if end := 1 + len(data); afterDeletes > need && grid > end {
		dels = append(dels, [2]int{max(end, grid-(afterDeletes-need)), grid})
		afterDeletes -= dels[0][1] - dels[0][0]
	}
	for i := len(removed) - 1; i >= 0; {
		j := i
		for j > 0 && removed[j-1] == removed[j]-1 {
			j--
		}
		dels = append(dels, [2]int{removed[j], removed[i] + 1})
		i = j - 1
	}
	for _, d := range dels {
		reqs = append(reqs, map[string]any{"deleteDimension": map[string]any{"range": map[string]any{"sheetId": sh.SheetID, "dimension": "ROWS", "startIndex": d[0], "endIndex": d[1]}}})
	}
	if len(reqs) > 0 {
		if _, err := c.batchUpdate(ctx, id, reqs); err != nil {
			return err
		}
	}

	// Values write: the header when it changed, runs of changed rows, the
	// added rows, and blanks where rows fell away at the end.
	var vals []valueRange
	if !headerOK {
		vals = append(vals, blocks(sh.Title, 0, want[:1], width)...)
	}
	for i := 0; i < len(changedAt); {
		j := i
		for j+1 < len(changedAt) && changedAt[j+1] == changedAt[j]+1 {
			j++
		}
		vals = append(vals, blocks(sh.Title, 1+changedAt[i], final[changedAt[i]:changedAt[j]+1], width)...)
		i = j + 1
	}
	if firstAdded < len(final) {
		vals = append(vals, blocks(sh.Title, 1+firstAdded, final[firstAdded:], width)...)
	}
	if len(final) == 0 && len(data) > 0 {
		vals = append(vals, blocks(sh.Title, 1, [][]string{make([]string, width)}, width)...)
	}
	if len(vals) > 0 {
		if err := c.writeValues(ctx, id, vals); err != nil {
			return err
		}
	}
	if len(reqs) == 0 && len(vals) == 0 {
		return nil // nothing changed: nothing written, nothing to verify
	}
	return c.verify(ctx, id, sh.Title, width, append([][]string{want[0]}, final...))
}

// verify reads the sheet back and compares it with want.
func (c *Client) verify(ctx context.Context, id, title string, width int, want [][]string) error {
	got, err := c.readValues(ctx, id, title, width)
	if err != nil {
		return err
	}
	for len(got) > 0 && len(got[len(got)-1]) == 0 {
		got = got[:len(got)-1]
	}
	bad := -1
	if len(got) != len(want) {
		bad = min(len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)) && bad < 0; i++ {
		g := got[i]
		for len(g) < width {
			g = append(g, "")
		}
		w := want[i]
		for len(w) < width {
			w = append(w, "")
		}
		if !slices.Equal(g[:width], w[:width]) {
			bad = i
		}
	}
	if bad >= 0 {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("push: spreadsheet %s differs from the view after writing (row %d; %d rows read, %d expected)", id, bad+1, len(got), len(want)),
			Hint: "someone may have edited the sheet meanwhile: run push again (it writes only what differs)"}
	}
	return nil
}
