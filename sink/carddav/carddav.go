// Package carddav keeps a directory view in a CardDAV address book the
// company already runs (Radicale, Nextcloud): dingbook push --carddav URL.
//
// It is a small hand-written client of the calls a push needs: PROPFIND
// Depth 1 for the hrefs and ETags of the collection, addressbook-multiget
// (REPORT) for the cards dingbook owns, PUT with If-None-Match: * for a new
// card and If-Match: ETAG for a changed one, DELETE with If-Match. It
// touches only the cards it owns: their UID, and their resource name, start
// with Prefix. Each card carries X-DINGBOOK-HASH, the SHA-256 of the card
// as dingbook wrote it, so a card is skipped when its content is unchanged
// whatever the server did to its text (Radicale re-serialises cards).
package carddav

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
)

// Credential variables (or --carddav-credentials FILE).
const (
	UserEnv     = "DINGBOOK_CARDDAV_USER"
	PasswordEnv = "DINGBOOK_CARDDAV_PASSWORD"
)

// Prefix starts the UID and the resource name of every card dingbook owns.
const Prefix = "dingbook-"

// MultigetBatch is the number of cards one addressbook-multiget reads
// unless Client.Batch says otherwise.
const MultigetBatch = 500

// HashProp is the card property holding the card's content hash.
const HashProp = "X-DINGBOOK-HASH"

// Client talks to one address book collection.
type Client struct {
	URL            string // the collection, e.g. https://dav.example.com/alice/contacts/
	User, Password string
	HTTP           *http.Client
	Batch          int // cards per addressbook-multiget; 0: MultigetBatch
}

// Card is one card to keep: UID (Prefix + a keyed id) and its vCard text
// (CRLF line ends, ending with END:VCARD).
type Card struct {
	UID  string
	Data string
}

// Options changes a push.
type Options struct {
	DryRun bool
}

// Change is one card a push adds, changes or removes.
type Change struct {
	Op   string `json:"op"` // add, change, remove
	Href string `json:"href"`
}

// Result is what a push did (or, with DryRun, would do).
type Result struct {
	URL                     string
	Rows                    int
	Added, Changed, Removed int
	Writes, Reads           int
	Conflicts               int // writes refused with 412 and retried after reading the card again
	Changes                 []Change
}

type remote struct {
	href, etag, hash string
}

// Push makes the cards dingbook owns in the collection equal to cards:
// new ones are created, changed ones replaced, the others deleted; cards
// it does not own are never read or written. It is idempotent (a second
// run writes nothing) and resumable (a run that stopped halfway is
// finished by the next one).
func (c *Client) Push(ctx context.Context, cards []Card, o Options) (*Result, error) {
	res := &Result{URL: c.URL, Rows: len(cards)}
	base, err := url.Parse(c.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--carddav %q is not an http:// or https:// URL", c.URL), Hint: "give the address book collection's URL, e.g. https://dav.example.com/user/contacts/", Field: "carddav"}
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	c.URL = base.String()
	res.URL = c.URL
	owned, err := c.list(ctx, base, res)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, cd := range cards {
		href := base.Path + cd.UID + ".vcf"
		want[href] = true
		data, hash := Stamp(cd.Data)
		r, ok := owned[href]
		switch {
		case !ok:
			res.Added++
			res.Changes = append(res.Changes, Change{"add", href})
			if !o.DryRun {
				if err := c.write(ctx, base, href, data, "", res); err != nil {
					return res, err
				}
			}
		case r.hash != hash:
			res.Changed++
			res.Changes = append(res.Changes, Change{"change", href})
			if !o.DryRun {
				if err := c.write(ctx, base, href, data, r.etag, res); err != nil {
					return res, err
				}
			}
		}
	}
	hrefs := make([]string, 0, len(owned))
	for h := range owned {
		if !want[h] {
			hrefs = append(hrefs, h)
		}
	}
	slices.Sort(hrefs)
	for _, h := range hrefs {
		res.Removed++
		res.Changes = append(res.Changes, Change{"remove", h})
		if o.DryRun {
			continue
		}
		resp, err := c.do(ctx, "DELETE", base, h, nil, map[string]string{"If-Match": owned[h].etag}, res, true)
		if err != nil {
			return res, err
		}
		switch {
		case resp.StatusCode == http.StatusNotFound: // gone already
		case resp.StatusCode == http.StatusPreconditionFailed:
			res.Conflicts++
			etag, err := c.etag(ctx, base, h, res)
			if err != nil {
				return res, err
			}
			if etag == "" {
				continue
			}
			resp, err := c.do(ctx, "DELETE", base, h, nil, map[string]string{"If-Match": etag}, res, true)
			if err != nil {
				return res, err
			}
			if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
				return res, c.statusErr("DELETE", h, resp.StatusCode)
			}
		case resp.StatusCode/100 != 2:
			return res, c.statusErr("DELETE", h, resp.StatusCode)
		}
	}
	return res, nil
}

// Stamp adds the X-DINGBOOK-HASH line (the first 128 bits of data's SHA-256) before
// END:VCARD and returns the card and its hash.
func Stamp(data string) (string, string) {
	sum := sha256.Sum256([]byte(data))
	h := hex.EncodeToString(sum[:16])
	end := strings.LastIndex(data, "END:VCARD")
	if end < 0 {
		return data, h
	}
	return data[:end] + HashProp + ":" + h + "\r\n" + data[end:], h
}

// write PUTs one card: If-None-Match: * when etag is "" (new), else
// If-Match: etag. A 412 (the card was created or changed on the server
// since it was read) reads the card's ETag again and retries once.
func (c *Client) write(ctx context.Context, base *url.URL, href, data, etag string, res *Result) error {
	for attempt := 0; ; attempt++ {
		hdr := map[string]string{"Content-Type": "text/vcard; charset=utf-8"}
		if etag == "" {
			hdr["If-None-Match"] = "*"
		} else {
			hdr["If-Match"] = etag
		}
		resp, err := c.do(ctx, "PUT", base, href, []byte(data), hdr, res, true)
		if err != nil {
			return err
		}
		if resp.StatusCode/100 == 2 {
			return nil
		}
		if resp.StatusCode != http.StatusPreconditionFailed || attempt > 0 {
			return c.statusErr("PUT", href, resp.StatusCode)
		}
		res.Conflicts++
		if etag, err = c.etag(ctx, base, href, res); err != nil {
			return err
		}
	}
}

// etag reads one card's ETag ("" when it does not exist).
func (c *Client) etag(ctx context.Context, base *url.URL, href string, res *Result) (string, error) {
	ms, err := c.propfind(ctx, base, href, "0", res)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.etag != "" {
			return m.etag, nil
		}
	}
	return "", nil
}

// list reads the collection's owned cards: their hrefs and ETags
// (PROPFIND Depth 1), then their hashes (addressbook-multiget).
func (c *Client) list(ctx context.Context, base *url.URL, res *Result) (map[string]remote, error) {
	ms, err := c.propfind(ctx, base, base.Path, "1", res)
	if err != nil {
		return nil, err
	}
	owned := map[string]remote{}
	var hrefs []string
	for _, m := range ms {
		name := path.Base(m.href)
		if path.Dir(m.href)+"/" != base.Path || !strings.HasPrefix(name, Prefix) || !strings.HasSuffix(name, ".vcf") {
			continue
		}
		owned[m.href] = remote{href: m.href, etag: m.etag}
		hrefs = append(hrefs, m.href)
	}
	if len(hrefs) == 0 {
		return owned, nil
	}
	for batch := range slices.Chunk(hrefs, cmp.Or(c.Batch, MultigetBatch)) {
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>`)
		for _, h := range batch {
			b.WriteString("<D:href>")
			xml.EscapeText(&b, []byte(h))
			b.WriteString("</D:href>")
		}
		b.WriteString(`</C:addressbook-multiget>`)
		resp, err := c.do(ctx, "REPORT", base, base.Path, b.Bytes(), map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, res, false)
		if err != nil {
			return nil, err
		}
		got, err := c.multistatus(resp, "REPORT", base.Path)
		if err != nil {
			return nil, err
		}
		for _, m := range got {
			r, ok := owned[m.href]
			if !ok {
				continue
			}
			if m.etag != "" {
				r.etag = m.etag
			}
			r.hash = cardHash(m.data)
			owned[m.href] = r
		}
	}
	return owned, nil
}

// cardHash returns the X-DINGBOOK-HASH value of a card ("" when absent).
func cardHash(data string) string {
	for line := range strings.Lines(data) {
		line = strings.TrimRight(line, "\r\n")
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, HashProp) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

type member struct {
	href, etag, data string
}

func (c *Client) propfind(ctx context.Context, base *url.URL, href, depth string, res *Result) ([]member, error) {
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:resourcetype/></D:prop></D:propfind>`)
	resp, err := c.do(ctx, "PROPFIND", base, href, body, map[string]string{"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}, res, false)
	if err != nil {
		return nil, err
	}
	if depth == "0" && resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	return c.multistatus(resp, "PROPFIND", href)
}

func (c *Client) multistatus(resp *response, method, href string) ([]member, error) {
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, c.statusErr(method, href, resp.StatusCode)
	}
	var ms struct {
		Responses []struct {
			Href     string `xml:"DAV: href"`
			Propstat []struct {
				Status string `xml:"DAV: status"`
				Prop   struct {
					ETag        string `xml:"DAV: getetag"`
					AddressData string `xml:"urn:ietf:params:xml:ns:carddav address-data"`
				} `xml:"DAV: prop"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal(resp.Body, &ms); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("CardDAV %s %s: the server's answer is not a WebDAV multistatus", method, href), Hint: "check that --carddav names a CardDAV address book", Err: err}
	}
	var out []member
	for _, r := range ms.Responses {
		u, err := url.Parse(strings.TrimSpace(r.Href))
		if err != nil {
			continue
		}
		m := member{href: u.Path}
		for _, ps := range r.Propstat {
			if ps.Status != "" && !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			m.etag = cmp.Or(m.etag, ps.Prop.ETag)
			m.data = cmp.Or(m.data, ps.Prop.AddressData)
		}
		out = append(out, m)
	}
	return out, nil
}

type response struct {
	StatusCode int
	Body       []byte
}

// do sends one request to href (a path on base's host). write counts it
// as a write, else as a read. Credentials go in the Authorization header
// only, never in an error.
func (c *Client) do(ctx context.Context, method string, base *url.URL, href string, body []byte, hdr map[string]string, res *Result, write bool) (*response, error) {
	u := *base
	u.Path, u.RawPath, u.RawQuery, u.User = href, "", "", nil
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: "CardDAV " + method + " " + href, Err: err}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c.User != "" || c.Password != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	if write {
		res.Writes++
	} else {
		res.Reads++
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("CardDAV %s %s: %s", method, href, redact(err.Error(), c.Password)), Hint: "check that the CardDAV server is reachable at --carddav; a push that stopped is finished by running it again"}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("CardDAV %s %s: reading the answer: %v", method, href, err), Hint: "run the push again"}
	}
	return &response{StatusCode: resp.StatusCode, Body: b}, nil
}

func (c *Client) statusErr(method, href string, code int) error {
	e := &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("CardDAV %s %s: HTTP %d %s", method, href, code, http.StatusText(code))}
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		e.Code = dingbook.EAUTH
	}
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Hint = "check " + UserEnv + " / " + PasswordEnv + " (or --carddav-credentials) and that the user may write the address book"
	case http.StatusNotFound:
		e.Hint = "check the --carddav URL: it must name an existing address book collection"
	case http.StatusPreconditionFailed:
		e.Hint = "the card changed on the server while dingbook wrote it; run the push again"
	default:
		e.Hint = "check the CardDAV server's log; a push that stopped is finished by running it again"
	}
	return e
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "***")
}
