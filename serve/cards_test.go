package serve_test

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/store"
)

// cardScript prints the one card of the vCard on stdin as Debian's
// python3-vobject parses it (validating it).
const cardScript = `
import json, sys, vobject
cards = list(vobject.readComponents(sys.stdin.buffer.read().decode("utf-8"), validate=True))
assert len(cards) == 1, len(cards)
c = cards[0]
json.dump({
    "version": c.version.value,
    "fn": c.fn.value,
    "org": list(c.org.value) if hasattr(c, "org") else [],
    "title": c.title.value if hasattr(c, "title") else "",
    "tels": [[t.value] + sorted(p.upper() for p in t.params.get("TYPE", [])) for t in c.contents.get("tel", [])],
    "emails": [e.value for e in c.contents.get("email", [])],
}, sys.stdout, ensure_ascii=False)
`

type vobjectCard struct {
	Version string     `json:"version"`
	FN      string     `json:"fn"`
	Org     []string   `json:"org"`
	Title   string     `json:"title"`
	Tels    [][]string `json:"tels"`
	Emails  []string   `json:"emails"`
}

// vobjectParse parses a vCard with /usr/bin/python3 and vobject (failing,
// never skipping, without them).
func vobjectParse(t *testing.T, vcf string) vobjectCard {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c", cardScript)
	cmd.Stdin = strings.NewReader(vcf)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("python3-vobject (Debian's python3-vobject, installed by scripts/test.sh) cannot parse the card: %v %s\n%s", err, msg, vcf)
	}
	var c vobjectCard
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return c
}

// zbarDecode decodes a QR code image with Debian's zbarimg (zbar-tools,
// installed by scripts/test.sh; missing, the test fails).
func zbarDecode(t *testing.T, png []byte) string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg is missing: install Debian's zbar-tools (scripts/test.sh does): %v", err)
	}
	path := filepath.Join(t.TempDir(), "card.png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	// binary: the code's bytes exactly as they are, no charset guessing
	out, err := exec.Command(bin, "--quiet", "--raw", "-Sbinary", path).Output()
	if err != nil {
		t.Fatalf("zbarimg cannot decode the QR code: %v", err)
	}
	return string(out)
}

// cardCast adds to the directory cast a colleague with a visible mobile
// and makes sure the employee has one of their own.
type cardCast struct {
	dirCast
	colleague, colleagueMobile, empMobile string
}

func newCardEnv(t *testing.T) (*env, cardCast) {
	e, dc := newDirEnv(t)
	c := cardCast{dirCast: dc}
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && !p.HideMobile && !p.Senior && p.Mobile != "" && p.Telephone != "" &&
			!slices.Contains([]string{c.primary, c.sub, c.emp, c.hidden, c.xss, c.rIn, c.rOut}, p.UserID) {
			c.colleague, c.colleagueMobile = p.UserID, p.Mobile
			break
		}
	}
	if c.colleague == "" {
		t.Fatal("no colleague with a visible mobile and a telephone")
	}
	c.empMobile = "13912345678"
	if err := e.sim.UpdateUser(c.emp, func(p *dingbook.Person) {
		p.Mobile, p.StateCode, p.HideMobile, p.Senior = c.empMobile, "86", false, false
	}); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	return e, c
}

var linkRE = regexp.MustCompile(`/s/([A-Za-z0-9_-]{43})`)

// shareLink creates a share link as b for userid and returns its token.
func shareLink(t *testing.T, e *env, b *browser, userid, form string) (string, string) {
	t.Helper()
	resp, body := b.doBody("POST", e.url+"/people/"+url.PathEscape(userid)+"/share", form,
		map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != 200 {
		t.Fatalf("share %s: %d %s", userid, resp.StatusCode, body)
	}
	m := linkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the share page shows no link: %s", body)
	}
	return m[1], body
}

func cardRecords(t *testing.T, e *env) []audit.Record {
	t.Helper()
	recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{Action: app.ActionCardShare})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// The QR code decodes (zbarimg) to exactly the vCard of the download,
// which python3-vobject parses; a colleague's card holds work fields only.
func TestCardQRDecodes(t *testing.T) {
	e, c := newCardEnv(t)
	emp := e.browser(c.emp).login()
	resp, vcf := emp.do("GET", e.url+"/people/"+c.hidden+"/card.vcf", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/vcard; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("card.vcf: %d %v %s", resp.StatusCode, resp.Header, vcf)
	}
	resp, png := emp.do("GET", e.url+"/people/"+c.hidden+"/card.png", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("card.png: %d %v", resp.StatusCode, resp.Header)
	}
	decoded := zbarDecode(t, []byte(png))
	if decoded != vcf && decoded != vcf+"\n" {
		t.Fatalf("the QR code holds\n%q\nthe download\n%q", decoded, vcf)
	}
	card := vobjectParse(t, decoded)
	root := dingbook.NewTree(truth.Org.Depts).Dept(dingbook.RootDeptID).Name
	if card.Version != "3.0" || card.FN != "张三丰" || len(card.Org) == 0 || card.Org[0] != root {
		t.Errorf("the QR code's card: %+v", card)
	}
	for _, tel := range card.Tels {
		if slices.Contains(tel, "CELL") {
			t.Errorf("a colleague's card holds a mobile: %v", tel)
		}
	}

	// the colleague's card: work fields, no mobile, no personal e-mail
	var p *dingbook.Person
	for i := range truth.Org.People {
		if truth.Org.People[i].UserID == c.colleague {
			p = &truth.Org.People[i]
		}
	}
	_, vcf = emp.do("GET", e.url+"/people/"+c.colleague+"/card.vcf", nil)
	card = vobjectParse(t, vcf)
	if strings.Contains(vcf, c.colleagueMobile) || strings.Contains(vcf, "CELL") || p.Email != "" && strings.Contains(vcf, p.Email) ||
		card.Title != p.Title || len(card.Tels) != 1 || !slices.Contains(card.Tels[0], "WORK") {
		t.Errorf("the colleague's card is not work fields only: %+v\n%s", card, vcf)
	}
	if p.OrgEmail != "" && !slices.Contains(card.Emails, p.OrgEmail) {
		t.Errorf("the colleague's card lacks the work e-mail %s: %v", p.OrgEmail, card.Emails)
	}
	// asking for a colleague's mobile is refused, in every form
	for _, path := range []string{"/card.vcf?mobile=1", "/card.png?mobile=1", "/card.svg?mobile=on"} {
		if resp, body := emp.do("GET", e.url+"/people/"+c.colleague+path, nil); resp.StatusCode != 400 || strings.Contains(body, c.colleagueMobile) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body := emp.doBody("POST", e.url+"/people/"+c.colleague+"/share", "mobile=1", map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != 400 || strings.Contains(body, c.colleagueMobile) {
		t.Errorf("share with a colleague's mobile: %d", resp.StatusCode)
	}

	// the SVG is the same code's grid
	resp, svg := emp.do("GET", e.url+"/people/"+c.colleague+"/card.svg", nil)
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Path    struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || xml.Unmarshal([]byte(svg), &doc) != nil ||
		strings.Count(doc.Path.D, "M") < 100 || strings.Contains(svg, c.colleagueMobile) {
		t.Errorf("card.svg: %d %.300s", resp.StatusCode, svg)
	}

	// the own card: the mobile goes in only when asked for
	_, own := emp.do("GET", e.url+"/people/"+c.emp+"/card.vcf", nil)
	if strings.Contains(own, c.empMobile) {
		t.Errorf("the own card holds the mobile unasked:\n%s", own)
	}
	resp, png = emp.do("GET", e.url+"/people/"+c.emp+"/card.png?mobile=1", nil)
	card = vobjectParse(t, zbarDecode(t, []byte(png)))
	if resp.StatusCode != 200 || !slices.ContainsFunc(card.Tels, func(t []string) bool { return t[0] == "+86"+c.empMobile && slices.Contains(t, "CELL") }) {
		t.Errorf("the own card with the mobile: %d %+v", resp.StatusCode, card.Tels)
	}
	// the person page offers the mobile on the own card only
	_, page := emp.do("GET", e.url+"/people/"+c.emp, nil)
	_, other := emp.do("GET", e.url+"/people/"+c.colleague, nil)
	if !strings.Contains(page, `name="mobile"`) || strings.Contains(other, `name="mobile"`) ||
		!strings.Contains(other, `formaction="/people/`+c.colleague+`/share"`) {
		t.Errorf("the person pages' share sections are wrong:\n%s\n%s", page, other)
	}

	// each download is recorded: who shared whom, which fields
	recs := cardRecords(t, e)
	if len(recs) != 6 {
		t.Fatalf("%d card-share records, want 6 (the refusals record nothing)", len(recs))
	}
	last := recs[len(recs)-1]
	if last.Actor != c.emp || last.Details["subject"] != c.emp || last.Details["kind"] != app.ShareQR || last.Details["include_mobile"] != "true" ||
		!slices.Equal(last.Fields, append(slices.Clone(app.CardWorkFields), "mobile")) || recs[0].Details["subject"] != c.hidden || slices.Contains(recs[0].Fields, "mobile") {
		t.Errorf("card-share records: %+v / %+v", recs[0], last)
	}
}

// A hidden mobile is absent from every card, QR code and share page, for
// every sharer: a colleague, an admin who sees it, the person themselves.
func TestCardHiddenMobile(t *testing.T) {
	e, c := newCardEnv(t)
	hidden := e.browser(c.hidden).login()
	primary := e.browser(c.primary).login()
	emp := e.browser(c.emp).login()
	anon := e.browser("")
	var pages []string
	for _, b := range []*browser{emp, primary, hidden} {
		for _, f := range []string{"card.vcf", "card.png", "card.svg"} {
			resp, body := b.do("GET", e.url+"/people/"+c.hidden+"/"+f, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s as %s: %d", f, b.simUser, resp.StatusCode)
			}
			pages = append(pages, body)
			if f == "card.png" {
				pages = append(pages, zbarDecode(t, []byte(body)))
			}
		}
		token, body := shareLink(t, e, b, c.hidden, "")
		pages = append(pages, body)
		for _, path := range []string{"/s/" + token, "/s/" + token + "/card.vcf"} {
			resp, body := anon.do("GET", e.url+path, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			pages = append(pages, body)
		}
	}
	// the person may not put a hidden mobile on their own card
	if resp, _ := hidden.do("GET", e.url+"/people/"+c.hidden+"/card.vcf?mobile=1", nil); resp.StatusCode != 400 {
		t.Errorf("own card with a hidden mobile: %d", resp.StatusCode)
	}
	_, page := hidden.do("GET", e.url+"/people/"+c.hidden, nil)
	if strings.Contains(page, `name="mobile"`) {
		t.Errorf("the page offers a hidden mobile for the card")
	}
	for i, p := range pages {
		if strings.Contains(p, c.hiddenMobile) || strings.Contains(p, "TYPE=CELL") {
			t.Errorf("card %d holds the hidden mobile %s:\n%s", i, c.hiddenMobile, p)
		}
	}
	// an own link with the mobile loses it when the person hides it later
	token, _ := shareLink(t, e, emp, c.emp, "mobile=1")
	if _, body := anon.do("GET", e.url+"/s/"+token+"/card.vcf", nil); !strings.Contains(body, c.empMobile) {
		t.Errorf("the own link lacks the mobile chosen:\n%s", body)
	}
	if err := e.sim.UpdateUser(c.emp, func(p *dingbook.Person) { p.HideMobile = true }); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	for _, path := range []string{"/s/" + token, "/s/" + token + "/card.vcf"} {
		if resp, body := anon.do("GET", e.url+path, nil); resp.StatusCode != 200 || strings.Contains(body, c.empMobile) {
			t.Errorf("%s after hide_mobile: %d %s", path, resp.StatusCode, body)
		}
	}
}

// Restricted staff: a card nobody may see is not shared (404).
func TestCardRestricted(t *testing.T) {
	e, c := newCardEnv(t)
	emp := e.browser(c.emp).login()
	for _, path := range []string{"/card.vcf", "/card.png", "/card.svg"} {
		if resp, body := emp.do("GET", e.url+"/people/"+c.rOut+path, nil); resp.StatusCode != 404 || strings.Contains(body, c.rOutMobile) {
			t.Errorf("%s of the restricted %s: %d", path, c.rOut, resp.StatusCode)
		}
	}
	if resp, _ := emp.doBody("POST", e.url+"/people/"+c.rOut+"/share", "", nil); resp.StatusCode != 404 {
		t.Errorf("share of the restricted %s: %d", c.rOut, resp.StatusCode)
	}
	if n := len(cardRecords(t, e)); n != 0 {
		t.Errorf("%d card-share records of refusals", n)
	}
	// the sub-admin of their department shares the one in scope
	sub := e.browser(c.sub).login()
	if resp, _ := sub.do("GET", e.url+"/people/"+c.rIn+"/card.vcf", nil); resp.StatusCode != 200 {
		t.Errorf("the sub-admin's card of %s in scope: %d", c.rIn, resp.StatusCode)
	}
}

// A share link shows the card without a login for serve.share_hours, then
// answers 410; revoked, at once. The share is audited with its expiry,
// is a holding 'audit who-has' finds, and the person sees and revokes it.
func TestCardShareLink(t *testing.T) {
	e, c := newCardEnv(t)
	emp := e.browser(c.emp).login()
	anon := e.browser("")
	start := e.clock.Now()
	token, page := shareLink(t, e, emp, c.colleague, "")
	if !strings.Contains(page, e.url+"/s/"+token) || !strings.Contains(page, start.Add(24*time.Hour).Format("2006-01-02 15:04")) {
		t.Errorf("the share page lacks the link or its expiry: %s", page)
	}
	resp, body := anon.do("GET", e.url+"/s/"+token, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/s/`+token+`/card.vcf"`) || strings.Contains(body, c.colleagueMobile) {
		t.Fatalf("the link, anonymous: %d %s", resp.StatusCode, body)
	}
	checkHeaders(t, "share link", resp)
	resp, vcf := anon.do("GET", e.url+"/s/"+token+"/card.vcf", nil)
	if resp.StatusCode != 200 || vobjectParse(t, vcf).Title == "" && strings.Contains(vcf, "TITLE") {
		t.Errorf("the link's vCard: %d %s", resp.StatusCode, vcf)
	}

	// the audit record and the holding, in one transaction
	recs := cardRecords(t, e)
	if len(recs) != 1 {
		t.Fatalf("%d card-share records", len(recs))
	}
	r := recs[0]
	if r.Actor != c.emp || r.Details["op"] != "share" || r.Details["kind"] != app.ShareLink || r.Details["subject"] != c.colleague ||
		r.Expires == nil || !r.Expires.Equal(start.Add(24*time.Hour)) || !slices.Equal(r.Fields, app.CardWorkFields) {
		t.Errorf("the share's audit record: %+v", r)
	}
	h, err := e.app.DB.FindHolding(t.Context(), store.KindShare, r.Details["share"])
	if err != nil || h.AuditSeq != r.Seq || h.People != 1 || !h.Expires.Equal(start.Add(24*time.Hour)) || h.Actor != c.emp {
		t.Fatalf("the share's holding: %+v %v", h, err)
	}
	key, err := store.HolderKey(e.app.DB.Dir)
	if err != nil {
		t.Fatal(err)
	}
	held, err := e.app.DB.WhoHas(t.Context(), key, []string{c.colleague}, time.Time{})
	if err != nil || !slices.ContainsFunc(held, func(x store.Holding) bool { return x.Kind == store.KindShare && x.Ref == h.Ref }) {
		t.Errorf("who-has %s misses the share: %+v %v", c.colleague, held, err)
	}
	if held, _ := e.app.DB.WhoHas(t.Context(), key, []string{c.hidden}, time.Time{}); len(held) != 0 {
		t.Errorf("who-has %s finds %+v", c.hidden, held)
	}

	// expiry: 410 from the 24th hour on; an unknown token is 404
	e.clock.Add(24*time.Hour - time.Second)
	if resp, _ := anon.do("GET", e.url+"/s/"+token, nil); resp.StatusCode != 200 {
		t.Errorf("the link a second before expiry: %d", resp.StatusCode)
	}
	e.clock.Add(time.Second)
	for _, path := range []string{"/s/" + token, "/s/" + token + "/card.vcf"} {
		if resp, body := anon.do("GET", e.url+path, nil); resp.StatusCode != 410 || strings.Contains(body, "BEGIN:VCARD") {
			t.Errorf("%s expired: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, _ := anon.do("GET", e.url+"/s/"+strings.Repeat("A", 43), nil); resp.StatusCode != 404 {
		t.Errorf("an unknown link: %d", resp.StatusCode)
	}

	// the policy's serve.share_hours (a day later: a new session)
	emp = e.browser(c.emp).login()
	e.srv.Policy = policy.Default()
	e.srv.Policy.Serve.ShareHours = 2
	token2, _ := shareLink(t, e, emp, c.colleague, "")
	e.clock.Add(2 * time.Hour)
	if resp, _ := anon.do("GET", e.url+"/s/"+token2, nil); resp.StatusCode != 410 {
		t.Errorf("a 2-hour link after 2 hours: %d", resp.StatusCode)
	}
	e.srv.Policy = nil

	// the colleague sees who shared their card, and revokes a live link
	emp = e.browser(c.emp).login()
	token3, _ := shareLink(t, e, emp, c.colleague, "")
	colleague := e.browser(c.colleague).login()
	var shares serve.CardShares
	if st := colleague.getJSON("/api/v1/me/shares", &shares); st != 200 || len(shares.Shares) != 3 {
		t.Fatalf("the colleague's shares: %d %+v", st, shares)
	}
	states := map[string]int{}
	var live string
	for _, s := range shares.Shares {
		states[s.State]++
		if s.Sharer != c.emp || s.Subject != c.colleague || !s.Own || s.Kind != app.ShareLink {
			t.Errorf("share %+v", s)
		}
		if s.State == "live" {
			live = s.ID
		}
	}
	if states["live"] != 1 || states["expired"] != 2 {
		t.Errorf("share states %v", states)
	}
	_, mine := colleague.do("GET", e.url+"/me/shares", nil)
	if !strings.Contains(mine, c.emp) || !strings.Contains(mine, `action="/me/shares/`+live+`/revoke"`) {
		t.Errorf("/me/shares does not show the sharer or the revoke form: %s", mine)
	}
	// nobody else revokes it
	other := e.browser(c.sub).login()
	if resp, _ := other.do("DELETE", e.url+"/api/v1/me/shares/"+live, nil); resp.StatusCode != 404 {
		t.Errorf("a third person revoked the link: %d", resp.StatusCode)
	}
	if resp, _ := colleague.doBody("POST", e.url+"/me/shares/"+live+"/revoke", "", nil); resp.StatusCode != 303 {
		t.Errorf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := anon.do("GET", e.url+"/s/"+token3, nil); resp.StatusCode != 410 {
		t.Errorf("a revoked link: %d", resp.StatusCode)
	}
	if resp, _ := colleague.do("DELETE", e.url+"/api/v1/me/shares/"+live, nil); resp.StatusCode != 404 {
		t.Errorf("revoked twice: %d", resp.StatusCode)
	}
	if h, err := e.app.DB.FindHolding(t.Context(), store.KindShare, live); err != nil || h.Revoked == nil {
		t.Errorf("the revoked link's holding: %+v %v", h, err)
	}
	recs = cardRecords(t, e)
	if r := recs[len(recs)-1]; r.Actor != c.colleague || r.Details["op"] != "revoke" || r.Details["share"] != live {
		t.Errorf("the revocation's record: %+v", r)
	}
	// the sharer sees it among the shares they made
	var made serve.CardShares
	if emp.getJSON("/api/v1/me/shares", &made); len(made.Shares) != 3 || made.Shares[0].Own || made.Shares[0].State != "revoked" {
		t.Errorf("the sharer's list: %+v", made)
	}
	if v, err := audit.Verify(t.Context(), e.app.DB); err != nil || !v.OK {
		t.Errorf("audit verify: %+v %v", v, err)
	}
}

// A breach revoking the share's holding disables the link.
func TestCardShareBreachRevokes(t *testing.T) {
	e, c := newCardEnv(t)
	emp := e.browser(c.emp).login()
	token, _ := shareLink(t, e, emp, c.colleague, "")
	recs := cardRecords(t, e)
	h, err := e.app.DB.FindHolding(t.Context(), store.KindShare, recs[0].Details["share"])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.app.DB.Write(t.Context(), func(tx *store.Tx) error { _, err := tx.RevokeHolding(h.ID, e.clock.Now()); return err }); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.browser("").do("GET", e.url+"/s/"+token, nil); resp.StatusCode != 410 {
		t.Errorf("a link whose holding a breach revoked: %d", resp.StatusCode)
	}
}
