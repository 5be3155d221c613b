package serve

import (
	"encoding/xml"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The CardDAV address book: a small dedicated read-only WebDAV server
// written with encoding/xml. go-webdav (v0.7.0) was not used: it has no
// sync-collection, sync tokens, getctag or read-only privileges, which
// are most of what a read-only directory needs, and wrapping it would
// mean intercepting every request anyway.
//
// Layout (userid path-escaped):
//
//	/.well-known/carddav                      301 to /dav/
//	/dav/                                     the root (current-user-principal)
//	/dav/principals/<userid>/                 the principal
//	/dav/books/<userid>/                      addressbook-home-set
//	/dav/books/<userid>/directory/            the one address book
//	/dav/books/<userid>/directory/<userid>.vcf a card
//
// Every /dav/ request is authenticated by an app password (Basic auth);
// another person's paths are not found.

// DAVRoot is the CardDAV root, below the base URL.
const DAVRoot = "/dav/"

// SyncTokenPrefix starts every sync token (a URI, RFC 6578); the book's
// version follows (app.Book.Version: the live directory's revision, then
// the external contacts' consent withdrawals applied). The tokens of
// earlier versions (urn:dingbook:sync:SNAPSHOT[.WITHDRAWN], or a bare
// revision) get 403 valid-sync-token, and the client syncs afresh.
const SyncTokenPrefix = "https://dingbook.invalid/sync/"

// The namespaces of the properties served.
const (
	nsDAV     = "DAV:"
	nsCardDAV = "urn:ietf:params:xml:ns:carddav"
	nsCS      = "http://calendarserver.org/ns/"
)

func (s *Server) cardDAVRoutes() []Route {
	rs := []Route{
		{Pattern: "GET /.well-known/carddav", Rule: Anonymous, handle: s.wellKnownCardDAV},
		{Pattern: "PROPFIND /.well-known/carddav", Rule: Anonymous, handle: s.wellKnownCardDAV},
		{Pattern: "OPTIONS " + DAVRoot + "{path...}", Rule: Device, handle: s.davOptions},
		{Pattern: "PROPFIND " + DAVRoot + "{path...}", Rule: Device, handle: s.davPropfind},
		{Pattern: "REPORT " + DAVRoot + "{path...}", Rule: Device, handle: s.davReport},
		{Pattern: "GET " + DAVRoot + "{path...}", Rule: Device, handle: s.davGet},
	}
	// read-only: every write is refused
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "PROPPATCH", "COPY", "MOVE", "POST"} {
		rs = append(rs, Route{Pattern: m + " " + DAVRoot + "{path...}", Rule: Device, handle: s.davReadOnly})
	}
	return rs
}

// basicSession returns the session of the request's Basic auth app
// password, or nil.
func (s *Server) basicSession(r *http.Request) (*app.Session, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil, nil
	}
	return s.App.AppPasswordSession(r.Context(), user, pass)
}

// davUnauthorized asks a CardDAV client for its app password.
func davUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="dingbook", charset="UTF-8"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, "log in with your user name and an app password created in dingbook's portal (POST /api/v1/app-passwords)\n")
}

func (s *Server) wellKnownCardDAV(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	http.Redirect(w, r, DAVRoot, http.StatusMovedPermanently)
}

func (s *Server) davOptions(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	w.Header().Set("DAV", "1, 3, addressbook")
	w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND, REPORT")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) davReadOnly(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	davError(w, http.StatusForbidden, "d:need-privileges")
}

// davError answers a WebDAV or CardDAV (RFC 6352 §6.3.2.1) precondition
// failure: <d:error><cond/></d:error>, cond prefixed "d:" or "card:".
func davError(w http.ResponseWriter, status int, cond string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header+`<d:error xmlns:d="DAV:" xmlns:card="`+nsCardDAV+`"><`+cond+`/></d:error>`)
}

// davKind is what a /dav/ path names.
type davKind int

const (
	davNone davKind = iota
	davRootKind
	davPrincipal
	davHome
	davBook
	davCard
)

// davResource resolves a /dav/ path for the session's person: the kind,
// and the card's name for a card.
func davResource(sess *app.Session, path string) (davKind, string) {
	me := url.PathEscape(sess.UserID)
	rest := strings.TrimPrefix(path, DAVRoot)
	switch strings.TrimSuffix(rest, "/") {
	case "":
		return davRootKind, ""
	case "principals/" + me:
		return davPrincipal, ""
	case "books/" + me:
		return davHome, ""
	case "books/" + me + "/directory":
		return davBook, ""
	}
	if name, ok := strings.CutPrefix(rest, "books/"+me+"/directory/"); ok && name != "" && !strings.Contains(name, "/") {
		return davCard, name
	}
	return davNone, ""
}

func principalHref(sess *app.Session) string {
	return DAVRoot + "principals/" + url.PathEscape(sess.UserID) + "/"
}
func homeHref(sess *app.Session) string {
	return DAVRoot + "books/" + url.PathEscape(sess.UserID) + "/"
}
func bookHref(sess *app.Session) string { return homeHref(sess) + "directory/" }

// bookCards is the session's person's latest book, its cards rendered as
// they are written (app.BookCards: never the whole book held); false: it
// answered.
func (s *Server) bookCards(w http.ResponseWriter, r *http.Request, sess *app.Session) (*app.BookCards, bool) {
	b, err := s.App.AddressBookCards(r.Context(), sess, s.policy())
	return b, !s.bookFailed(w, r, err)
}

// bookCard is the card named name of the session's person's latest book
// (nil: none); false: it answered.
func (s *Server) bookCard(w http.ResponseWriter, r *http.Request, sess *app.Session, name string) (*app.BookCard, bool) {
	c, err := s.App.BookCard(r.Context(), sess, s.policy(), name)
	return c, !s.bookFailed(w, r, err)
}

// bookFailed answers err of reading a book (503 before the first
// complete snapshot, else 500); false: err is nil.
func (s *Server) bookFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	var de *dingbook.Error
	if errors.As(err, &de) && de.Code == dingbook.ENOTFOUND && de.Field == "snapshot" {
		http.Error(w, "no complete snapshot yet: an admin must pull the organisation first", http.StatusServiceUnavailable)
		return true
	}
	s.logf("serve: %s %s: %v", r.Method, r.URL.Path, err)
	http.Error(w, "the server could not answer", http.StatusInternalServerError)
	return true
}

func (s *Server) davGet(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	kind, name := davResource(sess, r.URL.Path)
	if kind != davCard {
		if kind == davNone {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "dingbook's CardDAV address book: add "+s.BaseURL+DAVRoot+" as a CardDAV account\n")
		return
	}
	c, ok := s.bookCard(w, r, sess, name)
	if !ok {
		return
	}
	if c == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", c.ETag)
	w.Header().Set("Cache-Control", "no-store")
	if inm := r.Header.Get("If-None-Match"); inm != "" && slices.Contains(strings.Split(strings.ReplaceAll(inm, " ", ""), ","), c.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/vcard; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.Body)))
	carriedCards(w, 1)
	io.WriteString(w, c.Body)
}

// davRequest is a PROPFIND or REPORT body, as far as this server reads it.
type davRequest struct {
	XMLName xml.Name
	Allprop *struct{} `xml:"allprop"`
	Prop    *struct {
		Names []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"prop"`
	Hrefs     []string `xml:"href"`
	SyncToken *string  `xml:"sync-token"`
	Limit     *struct {
		NResults int `xml:"nresults"`
	} `xml:"limit"`
	// Filter is addressbook-query's (carddavquery.go).
	Filter *cardFilter `xml:"filter"`
}

// props are the names asked for (nil: all).
func (d *davRequest) props() []xml.Name {
	if d.Prop == nil {
		return nil
	}
	out := []xml.Name{}
	for _, n := range d.Prop.Names {
		out = append(out, n.XMLName)
	}
	return out
}

func readDAVRequest(w http.ResponseWriter, r *http.Request) (*davRequest, bool) {
	var d davRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = xml.Unmarshal(body, &d)
	}
	if err != nil {
		http.Error(w, "the request body is not a WebDAV XML document: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return &d, true
}

// multistatus collects a 207 answer; cards counts its address-data. A
// streamed one (stream) goes out in pieces as it grows, so that a book
// of 100,000 cards is never held whole.
type multistatus struct {
	b     strings.Builder
	cards int
	out   http.ResponseWriter // streaming to, once stream was called
	// left: a streamed write failed (the client has gone); the loops
	// over the book stop rendering cards
	left bool
}

// streamChunk is how much a streamed multistatus holds before it writes.
const streamChunk = 64 << 10

// stream sends the 207's header now and the answer as it grows: call it
// once nothing can fail any more.
func (m *multistatus) stream(w http.ResponseWriter) {
	m.header(w)
	m.out = w
}

func (m *multistatus) header(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusMultiStatus)
}

// flush writes what a streamed answer holds, once it holds atLeast.
func (m *multistatus) flush(atLeast int) {
	if m.out != nil && m.b.Len() >= atLeast {
		if _, err := io.WriteString(m.out, m.b.String()); err != nil {
			m.left = true
		}
		m.b.Reset()
	}
}

func newMultistatus() *multistatus {
	m := &multistatus{}
	m.b.WriteString(xml.Header + `<d:multistatus xmlns:d="DAV:" xmlns:card="` + nsCardDAV + `" xmlns:cs="` + nsCS + `">`)
	return m
}

// response adds href with the asked properties found in have (inner
// XML) under 200 and those missing under 404; ask nil: all of have.
func (m *multistatus) response(href string, have map[xml.Name]string, ask []xml.Name) {
	m.b.WriteString("<d:response><d:href>" + html.EscapeString(href) + "</d:href>")
	var found, missing strings.Builder
	if ask == nil {
		for _, n := range propOrder {
			if v, ok := have[n]; ok {
				writeProp(&found, n, v)
			}
		}
	}
	for _, n := range ask {
		if v, ok := have[n]; ok {
			writeProp(&found, n, v)
		} else {
			writeProp(&missing, n, "")
		}
	}
	if _, ok := have[card("address-data")]; ok {
		m.cards++
	}
	if found.Len() > 0 {
		m.b.WriteString("<d:propstat><d:prop>" + found.String() + "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>")
	}
	if missing.Len() > 0 {
		m.b.WriteString("<d:propstat><d:prop>" + missing.String() + "</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>")
	}
	m.b.WriteString("</d:response>")
	m.flush(streamChunk)
}

// gone adds href as not found (a removed card).
func (m *multistatus) gone(href string) {
	m.b.WriteString("<d:response><d:href>" + html.EscapeString(href) + "</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>")
	m.flush(streamChunk)
}

func (m *multistatus) write(w http.ResponseWriter, tail string) {
	m.b.WriteString(tail + "</d:multistatus>")
	carriedCards(w, m.cards)
	if m.out != nil {
		m.flush(0)
		return
	}
	m.header(w)
	io.WriteString(w, m.b.String())
}

func writeProp(b *strings.Builder, n xml.Name, inner string) {
	prefix := map[string]string{nsDAV: "d:", nsCardDAV: "card:", nsCS: "cs:"}[n.Space]
	open := prefix + n.Local
	if prefix == "" {
		open = `x:` + n.Local + ` xmlns:x="` + html.EscapeString(n.Space) + `"`
		prefix = "x:"
	}
	if inner == "" {
		b.WriteString("<" + open + "/>")
		return
	}
	b.WriteString("<" + open + ">" + inner + "</" + prefix + n.Local + ">")
}

func dav(local string) xml.Name  { return xml.Name{Space: nsDAV, Local: local} }
func card(local string) xml.Name { return xml.Name{Space: nsCardDAV, Local: local} }

// propOrder is the order of properties in an allprop answer.
var propOrder = []xml.Name{dav("resourcetype"), dav("displayname"), dav("current-user-principal"), dav("principal-URL"),
	card("addressbook-home-set"), dav("current-user-privilege-set"), dav("supported-report-set"), card("supported-address-data"),
	{Space: nsCS, Local: "getctag"}, dav("sync-token"), dav("getetag"), dav("getcontenttype"), dav("getcontentlength")}

// readPriv is the only privilege anyone has.
const readPriv = "<d:privilege><d:read/></d:privilege>"

func hrefXML(h string) string { return "<d:href>" + html.EscapeString(h) + "</d:href>" }

// collectionProps are the properties of the root, principal, home and book.
// The book's getctag is computed only when asked (ask nil: allprop): it
// renders every card.
func (s *Server) collectionProps(r *http.Request, sess *app.Session, kind davKind, b *app.BookCards, ask []xml.Name) map[xml.Name]string {
	p := map[xml.Name]string{
		dav("current-user-principal"):     hrefXML(principalHref(sess)),
		dav("current-user-privilege-set"): readPriv,
		dav("resourcetype"):               "<d:collection/>",
	}
	switch kind {
	case davPrincipal:
		p[dav("resourcetype")] = "<d:collection/><d:principal/>"
		p[dav("principal-URL")] = hrefXML(principalHref(sess))
		p[card("addressbook-home-set")] = hrefXML(homeHref(sess))
		p[dav("displayname")] = html.EscapeString(sess.Name)
	case davHome:
		p[card("addressbook-home-set")] = hrefXML(homeHref(sess))
	case davBook:
		p[dav("resourcetype")] = "<d:collection/><card:addressbook/>"
		p[dav("displayname")] = html.EscapeString(tr(pickLang(r, sess), "carddav.book_name"))
		p[dav("supported-report-set")] = "<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>" +
			"<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>" +
			"<d:supported-report><d:report><card:addressbook-query/></d:report></d:supported-report>"
		p[card("supported-address-data")] = `<card:address-data-type content-type="text/vcard" version="3.0"/>`
		if ctag := (xml.Name{Space: nsCS, Local: "getctag"}); ask == nil || slices.Contains(ask, ctag) {
			p[ctag] = html.EscapeString(b.CTag())
		}
		p[dav("sync-token")] = SyncTokenPrefix + b.Version()
	}
	return p
}

// cardProps are a card's properties; address-data only when asked.
func cardProps(c *app.BookCard, ask []xml.Name) map[xml.Name]string {
	p := map[xml.Name]string{
		dav("getetag"):                    html.EscapeString(c.ETag),
		dav("getcontenttype"):             "text/vcard; charset=utf-8",
		dav("getcontentlength"):           strconv.Itoa(len(c.Body)),
		dav("resourcetype"):               "",
		dav("current-user-privilege-set"): readPriv,
	}
	if slices.Contains(ask, card("address-data")) {
		p[card("address-data")] = html.EscapeString(c.Body)
	}
	return p
}

func (s *Server) davPropfind(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	kind, name := davResource(sess, r.URL.Path)
	if kind == davNone {
		http.NotFound(w, r)
		return
	}
	d, ok := readDAVRequest(w, r)
	if !ok {
		return
	}
	ask := d.props()
	depth1 := r.Header.Get("Depth") != "0"
	var b *app.BookCards
	if kind == davBook || (kind == davHome && depth1) {
		if b, ok = s.bookCards(w, r, sess); !ok {
			return
		}
	}
	m := newMultistatus()
	switch kind {
	case davCard:
		c, ok := s.bookCard(w, r, sess, name)
		if !ok {
			return
		}
		if c == nil {
			http.NotFound(w, r)
			return
		}
		m.response(bookHref(sess)+c.Name, cardProps(c, ask), ask)
	case davBook:
		m.response(bookHref(sess), s.collectionProps(r, sess, kind, b, ask), ask)
		if depth1 {
			// each card rendered as it is written
			m.stream(w)
			for c := range b.All {
				if m.left {
					break
				}
				m.response(bookHref(sess)+c.Name, cardProps(c, ask), ask)
			}
		}
	case davHome:
		m.response(homeHref(sess), s.collectionProps(r, sess, kind, nil, ask), ask)
		if depth1 {
			// exactly one address book
			m.response(bookHref(sess), s.collectionProps(r, sess, davBook, b, ask), ask)
		}
	default:
		href := DAVRoot
		if kind == davPrincipal {
			href = principalHref(sess)
		}
		m.response(href, s.collectionProps(r, sess, kind, nil, ask), ask)
	}
	m.write(w, "")
}

func (s *Server) davReport(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	kind, _ := davResource(sess, r.URL.Path)
	if kind != davBook {
		davError(w, http.StatusForbidden, "d:supported-report")
		return
	}
	d, ok := readDAVRequest(w, r)
	if !ok {
		return
	}
	ask := d.props()
	switch d.XMLName {
	case card("addressbook-multiget"):
		// each card rendered alone (clients fetch a big book in batches),
		// all from one book: one look at the store, not one per href
		m := newMultistatus()
		var b *app.BookCards
		for _, h := range d.Hrefs {
			var c *app.BookCard
			if u, err := url.Parse(strings.TrimSpace(h)); err == nil {
				if k, name := davResource(sess, u.Path); k == davCard {
					if b == nil {
						if b, ok = s.bookCards(w, r, sess); !ok {
							return
						}
					}
					c = b.Card(name)
				}
			}
			if c != nil {
				m.response(h, cardProps(c, ask), ask)
			} else {
				m.gone(h)
			}
		}
		m.write(w, "")
	case card("addressbook-query"):
		s.addressbookQuery(w, r, sess, d, ask) // carddavquery.go
	case dav("sync-collection"):
		s.syncCollection(w, r, sess, d, ask)
	default:
		davError(w, http.StatusForbidden, "d:supported-report")
	}
}

// syncCollection answers RFC 6578's report: an empty token gives every
// card; a token (a revision of the live directory the client saw) gives
// the cards added or changed since as 200 and those removed (left, or
// moved out of this person's sight) as 404, from the change log
// (app.BookSince). An unknown token is 403 valid-sync-token (400 for
// Thunderbird, which cannot recover from 403).
func (s *Server) syncCollection(w http.ResponseWriter, r *http.Request, sess *app.Session, d *davRequest, ask []xml.Name) {
	token := ""
	if d.SyncToken != nil {
		token = strings.TrimSpace(*d.SyncToken)
	}
	// the cards to send (n with the removed), one at a time: the whole
	// book for an empty token, rendered as it is written
	var cards func(yield func(*app.BookCard) bool)
	var removed []string
	var version string
	n := 0
	if token == "" {
		b, ok := s.bookCards(w, r, sess)
		if !ok {
			return
		}
		cards, n, version = b.All, b.Len(), b.Version()
	} else {
		var ch *app.BookChanges
		rev, withdrawn, ok := app.ParseBookVersion(strings.TrimPrefix(token, SyncTokenPrefix))
		if ok && strings.HasPrefix(token, SyncTokenPrefix) {
			var err error
			ch, err = s.App.BookSince(r.Context(), sess, s.policy(), rev, withdrawn)
			if err != nil && !errors.Is(err, app.ErrSyncToken) && s.bookFailed(w, r, err) {
				return
			}
		}
		if ch == nil {
			status := http.StatusForbidden
			if strings.Contains(r.Header.Get("User-Agent"), "Thunderbird") {
				status = http.StatusBadRequest
			}
			davError(w, status, "d:valid-sync-token")
			return
		}
		cards = func(yield func(*app.BookCard) bool) {
			for i := range ch.Changed {
				if !yield(&ch.Changed[i]) {
					return
				}
			}
		}
		n, removed, version = len(ch.Changed)+len(ch.Removed), ch.Removed, ch.Version()
	}
	if d.Limit != nil && d.Limit.NResults > 0 && n > d.Limit.NResults {
		// a token names a whole revision: a part of its changes has no
		// token of its own
		davError(w, http.StatusInsufficientStorage, "d:number-of-matches-within-limits")
		return
	}
	m := newMultistatus()
	m.stream(w)
	for c := range cards {
		if m.left {
			break
		}
		m.response(bookHref(sess)+c.Name, cardProps(c, ask), ask)
	}
	for _, name := range removed {
		m.gone(bookHref(sess) + name)
	}
	m.write(w, "<d:sync-token>"+SyncTokenPrefix+version+"</d:sync-token>")
}
