// Package gsheets keeps a Google Sheet equal to a governed view of the
// directory (dingbook push --sheets). It holds a small hand-written client
// of the Sheets v4 and Drive v3 calls it needs (no Google library: see
// ../shared/docs/sheets.md §1.7), the OAuth token flows (a service-account
// key with an RS256-signed JWT, optionally impersonating a Workspace user,
// or a user token file with a refresh token), retries with truncated
// exponential backoff and jitter, a client-side limit of writes per
// minute, and the diff that writes only what changed (sync.go).
//
// Its simulator is sink/gsheets/sim.
package gsheets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/ctxsleep"
)

// Default API bases (DINGBOOK_SHEETS_BASE, DINGBOOK_DRIVE_BASE).
const (
	DefaultSheetsBase = "https://sheets.googleapis.com"
	DefaultDriveBase  = "https://www.googleapis.com"
	SheetsBaseEnv     = "DINGBOOK_SHEETS_BASE"
	DriveBaseEnv      = "DINGBOOK_DRIVE_BASE"
)

// Tokens supplies access tokens (*TokenSource).
type Tokens interface {
	Token(ctx context.Context) (string, error)
}

// Stats count what a client sent.
type Stats struct {
	Requests  int   `json:"requests"` // HTTP requests, retries included
	Reads     int   `json:"reads"`    // read calls (Sheets and Drive), retries excluded
	Writes    int   `json:"writes"`   // write calls (Sheets and Drive), retries excluded
	Retries   int   `json:"retries"`
	BytesSent int64 `json:"bytes_sent"` // request bodies and URLs
	BytesRead int64 `json:"bytes_read"` // response bodies
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n *int64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// Client calls Sheets and Drive.
type Client struct {
	SheetsBase, DriveBase string
	HTTP                  *http.Client
	Tokens                Tokens
	// PerMinute caps Sheets read requests and Sheets write requests, each,
	// in any 60 s (default 55, under Google's 60 per user).
	PerMinute int
	// MaxTries is the attempts per call (default 8).
	MaxTries int
	// MaxBackoff caps one wait (default 32 s).
	MaxBackoff time.Duration
	// Now and Sleep are the clock (tests advance a fake one).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	Stats Stats
	// recent Sheets reads and writes, for pacing
	reads, writes []time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return ctxsleep.Sleep(ctx, d)
}

// apiError is Google's error envelope, Sheets' or Drive's.
type apiError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"errors"`
	} `json:"error"`
}

// call describes one API call.
type call struct {
	name   string // "Sheets values.batchUpdate", for messages
	method string
	url    string
	body   any
	write  bool
	sheets bool // a Sheets call (paced: 60 a minute per user)
	// retry5xx: the call is idempotent and may be repeated after a 5xx
	// or a lost response (values writes with absolute ranges, reads).
	retry5xx bool
}

// do runs a call with retries and decodes the answer into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return err
		}
	}
	if cl.write {
		c.Stats.Writes++
	} else {
		c.Stats.Reads++
	}
	tries := c.MaxTries
	if tries <= 0 {
		tries = 8
	}
	maxWait := c.MaxBackoff
	if maxWait <= 0 {
		maxWait = 32 * time.Second
	}
	var last error
	for n := 0; n < tries; n++ {
		if n > 0 {
			c.Stats.Retries++
			wait := min(time.Duration(1<<(n-1))*time.Second+time.Duration(rand.IntN(1000))*time.Millisecond, maxWait)
			if err := c.sleep(ctx, wait); err != nil {
				return err
			}
		}
		if cl.sheets {
			q := &c.reads
			if cl.write {
				q = &c.writes
			}
			if err := c.pace(ctx, q); err != nil {
				return err
			}
		}
		tok, err := c.Tokens.Token(ctx)
		if err != nil {
			return err // the token endpoint's refusal names its remedy
		}
		status, apiErr, err := c.once(ctx, cl, tok, body, out)
		if err == nil && status < 300 {
			return nil
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			last = &dingbook.Error{Code: dingbook.EINTERNAL, Message: cl.name + ": no answer from Google", Hint: "check the network; run push again (it re-reads the sheet and writes only what differs)", Err: err}
			if !cl.retry5xx {
				return uncertain{last}
			}
		default:
			last = c.apiErr(cl, status, apiErr)
			if !retryable(status, apiErr, cl.retry5xx) {
				if status == 408 || status >= 500 {
					return uncertain{last}
				}
				return last
			}
		}
	}
	return last
}

// uncertain wraps the error of a write that may or may not have been
// applied (a 5xx or no answer to a call that is not idempotent): Push
// then reads the sheet again and diffs anew instead of repeating it.
type uncertain struct{ error }

func (u uncertain) Unwrap() error { return u.error }

// retryable: 429 and Drive's usageLimits 403 were not applied, so any call
// may be repeated; 408 and 5xx only when the call is idempotent.
func retryable(status int, e *apiError, idempotent bool) bool {
	switch {
	case status == 429:
		return true
	case status == 403 && e != nil:
		for _, x := range e.Error.Errors {
			if x.Domain == "usageLimits" || strings.HasSuffix(x.Reason, "RateLimitExceeded") {
				return true
			}
		}
		return false
	case status == 408 || status >= 500:
		return idempotent
	}
	return false
}

func (c *Client) once(ctx context.Context, cl call, tok string, body []byte, out any) (int, *apiError, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, cl.url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.Stats.Requests++
	c.Stats.BytesSent += int64(len(body) + len(cl.url))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb := counter{resp.Body, &c.Stats.BytesRead}
	if resp.StatusCode >= 300 {
		var e apiError
		b, _ := io.ReadAll(io.LimitReader(rb, 1<<20))
		if json.Unmarshal(b, &e) != nil {
			e.Error.Message = strings.TrimSpace(string(b))
		}
		return resp.StatusCode, &e, nil
	}
	if out == nil {
		io.Copy(io.Discard, rb)
		return resp.StatusCode, nil, nil
	}
	if err := json.NewDecoder(rb).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return resp.StatusCode, nil, nil
}

// pace keeps the requests recorded in q under PerMinute in any 60
// seconds (Google counts Sheets reads and writes a minute per user).
func (c *Client) pace(ctx context.Context, q *[]time.Time) error {
	limit := c.PerMinute
	if limit <= 0 {
		limit = 55
	}
	for {
		now := c.now()
		cut := 0
		for cut < len(*q) && !(*q)[cut].After(now.Add(-time.Minute)) {
			cut++
		}
		*q = (*q)[cut:]
		if len(*q) < limit {
			*q = append(*q, now)
			return nil
		}
		if err := c.sleep(ctx, (*q)[0].Add(time.Minute).Sub(now)+time.Millisecond); err != nil {
			return err
		}
	}
}

func (c *Client) apiErr(cl call, status int, e *apiError) error {
	msg := fmt.Sprintf("%s: HTTP %d", cl.name, status)
	if e != nil {
		if e.Error.Status != "" {
			msg += " " + e.Error.Status
		}
		if e.Error.Message != "" {
			msg += ": " + e.Error.Message
		}
	}
	code, hint := dingbook.EINTERNAL, "run push again later; it re-reads the sheet and writes only what differs"
	switch {
	case status == 401:
		code, hint = dingbook.EAUTH, "the credentials in "+CredentialsEnv+" were refused: check the key or token file"
	case status == 403:
		code, hint = dingbook.EPERM, "share the spreadsheet with the identity dingbook runs as (writer), and enable the Sheets and Drive APIs in its Cloud project"
		if e != nil && len(e.Error.Errors) > 0 && e.Error.Errors[0].Reason == "storageQuotaExceeded" {
			hint = "a service account has no Drive storage: use --impersonate USER (domain-wide delegation) or --sheets-folder with a shared drive folder"
		}
	case status == 404:
		code, hint = dingbook.ENOTFOUND, "check the spreadsheet or folder id; with the drive.file scope only files dingbook created are visible"
	case status == 429:
		hint = "Google's quota is 60 writes a minute per user: wait a minute and run push again"
	case status >= 400 && status < 500:
		code = dingbook.EINVALID
	}
	return &dingbook.Error{Code: code, Message: msg, Hint: hint}
}

// sheetsURL joins the Sheets base and a path (already escaped).
func (c *Client) sheetsURL(path string, q url.Values) string {
	u := strings.TrimRight(c.SheetsBase, "/") + "/v4/spreadsheets" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (c *Client) driveURL(path string, q url.Values) string {
	u := strings.TrimRight(c.DriveBase, "/") + "/drive/v3/files" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// escapeRange makes an A1 range one path segment: its colons escaped, so
// that only a verb follows a literal colon.
func escapeRange(r string) string {
	return strings.ReplaceAll(url.PathEscape(r), ":", "%3A")
}

// quoteTitle writes a sheet title for A1 notation: quoted, ' doubled.
func quoteTitle(t string) string { return "'" + strings.ReplaceAll(t, "'", "''") + "'" }

// colName turns a zero-based column index into letters (0 → A, 26 → AA).
func colName(c int) string {
	s := ""
	for c++; c > 0; c = (c - 1) / 26 {
		s = string(rune('A'+(c-1)%26)) + s
	}
	return s
}
