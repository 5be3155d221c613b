package serve

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// Business cards (issue 11 §3): from a person page anyone logged in
// shares the card as they see it (app/cards.go decides what it holds): a
// vCard download, a QR code holding the same vCard, or a link that shows
// the card without a login until it expires (policy serve.share_hours)
// or is revoked, then answers 410. The person sees who shared their card
// on /me/shares (and GET /api/v1/me/shares) and revokes links there.
//
// The QR codes come from github.com/skip2/go-qrcode: no dependencies of
// its own, byte mode (the vCard's UTF-8 as it is), PNG output and the
// module grid (Bitmap) for the SVG.

// qrLevel is the QR codes' error correction: medium (15%), enough for a
// phone's camera, and a vCard still fits a readable code.
const qrLevel = qrcode.Medium

// qrModulePixels is the PNG's size of one module.
const qrModulePixels = 6

// cardPage is the data of the card pages (pageData.Card).
type cardPage struct {
	Card *app.CardView
	// Link is a new share link (shown once) and Expires its expiry.
	Link    string
	Token   string
	Expires time.Time
	Shares  []CardShare
}

// CardShare is one entry of GET /api/v1/me/shares: a share of the
// person's card, or one they made. State is app's CardShareRow.StateAt:
// "download" (a vCard or QR code: nothing to revoke), "live", "expired"
// or "revoked".
type CardShare struct {
	app.CardShareRow
	State string `json:"state"`
	Own   bool   `json:"own"`
}

// CardShares is the answer of GET /api/v1/me/shares.
type CardShares struct {
	Shares []CardShare `json:"shares"`
}

func (s *Server) cardRoutes() []Route {
	return []Route{
		{Pattern: "GET /people/{userid}/card.vcf", Rule: Person, handle: s.cardVCF},
		{Pattern: "GET /people/{userid}/card.png", Rule: Person, handle: s.cardPNG},
		{Pattern: "GET /people/{userid}/card.svg", Rule: Person, handle: s.cardSVG},
		{Pattern: "POST /people/{userid}/share", Rule: Person, handle: s.shareCard},
		{Pattern: "GET /s/{token}", Rule: Anonymous, handle: s.sharedCard},
		{Pattern: "GET /s/{token}/card.vcf", Rule: Anonymous, handle: s.sharedCardVCF},
		{Pattern: "GET /me/shares", Rule: Person, handle: s.mySharesPage},
		{Pattern: "POST /me/shares/{id}/revoke", Rule: Person, handle: s.revokeSharePage},
		{Pattern: "GET /api/v1/me/shares", Rule: Person, handle: s.apiMyShares},
		{Pattern: "DELETE /api/v1/me/shares/{id}", Rule: Person, handle: s.apiRevokeShare},
	}
}

// shareOf shares the request's {userid} card as kind, spending the quota
// like a person view; nil: it answered the request. The mobile is asked
// for with mobile=1 (query or form).
func (s *Server) shareOf(w http.ResponseWriter, r *http.Request, sess *app.Session, kind string) *app.SharedCard {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "card.bad_request", &dingbook.Error{Code: dingbook.EINVALID, Field: "mobile",
			Message: "the form is not valid: " + err.Error(), Hint: "share the card from its person page"})
		return nil
	}
	if !s.browse(w, r, sess) {
		return nil
	}
	mobile := r.Form.Get("mobile")
	sh, err := s.App.ShareCard(r.Context(), sess, app.CardShareRequest{UserID: r.PathValue("userid"), Kind: kind,
		IncludeMobile: mobile == "1" || mobile == "on", Hours: s.policy().Serve.ShareHours})
	if s.cardFail(w, r, err, dingbook.EINVALID, http.StatusBadRequest, "card.bad_request", s.dirFail) {
		return nil
	}
	return sh
}

// cardFail answers err, when there is one: an error of code as status
// with the catalogue's key, any other through other.
func (s *Server) cardFail(w http.ResponseWriter, r *http.Request, err error, code string, status int, key string,
	other func(http.ResponseWriter, *http.Request, error)) bool {
	if err == nil {
		return false
	}
	var de *dingbook.Error
	if errors.As(err, &de) && de.Code == code {
		s.problem(w, r, status, key, err)
	} else {
		other(w, r, err)
	}
	return true
}

// writeVCard answers a card's vCard as a download.
func writeVCard(w http.ResponseWriter, c *app.CardView) {
	h := w.Header()
	h.Set("Content-Type", "text/vcard; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	name := mime.FormatMediaType("attachment", map[string]string{"filename": c.Name + ".vcf"})
	if name == "" {
		name = `attachment; filename="business-card.vcf"`
	}
	h.Set("Content-Disposition", name)
	w.Write([]byte(c.VCard))
}

func (s *Server) cardVCF(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if sh := s.shareOf(w, r, sess, app.ShareVCard); sh != nil {
		writeVCard(w, sh.Card)
	}
}

// qrCard shares the request's {userid} card as a QR code and answers it
// as image type, drawn by draw.
func (s *Server) qrCard(w http.ResponseWriter, r *http.Request, sess *app.Session, typ string, draw func(*qrcode.QRCode) ([]byte, error)) {
	sh := s.shareOf(w, r, sess, app.ShareQR)
	if sh == nil {
		return
	}
	q, err := qrcode.New(sh.Card.VCard, qrLevel)
	var img []byte
	if err == nil {
		img, err = draw(q)
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("QR code of %s's card (%d bytes): %w", sh.Card.UserID, len(sh.Card.VCard), err))
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(img)
}

func (s *Server) cardPNG(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.qrCard(w, r, sess, "image/png", func(q *qrcode.QRCode) ([]byte, error) { return q.PNG(-qrModulePixels) })
}

func (s *Server) cardSVG(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.qrCard(w, r, sess, "image/svg+xml", func(q *qrcode.QRCode) ([]byte, error) { return qrSVG(q.Bitmap()), nil })
}

// qrSVG draws a module grid (quiet zone included) as one SVG path, a
// unit square per dark module.
func qrSVG(bits [][]bool) []byte {
	var b bytes.Buffer
	n := len(bits)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges">`, n, n, n*qrModulePixels, n*qrModulePixels)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}

func (s *Server) shareCard(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	sh := s.shareOf(w, r, sess, app.ShareLink)
	if sh == nil {
		return
	}
	link := strings.TrimSuffix(s.BaseURL, "/") + "/s/" + sh.Token
	s.render(w, r, http.StatusOK, "card_shared", pageData{Title: "card.shared.title", Session: sess,
		Card: &cardPage{Card: sh.Card, Link: link, Token: sh.Token, Expires: sh.Share.Expires}})
}

// shared is the card of the request's share link {token}; nil: it
// answered the request (404 unknown, 410 expired or revoked).
func (s *Server) shared(w http.ResponseWriter, r *http.Request) *app.CardView {
	c, _, err := s.App.SharedCardByToken(r.Context(), r.PathValue("token"))
	var de *dingbook.Error
	switch {
	case errors.Is(err, app.ErrShareGone):
		s.problem(w, r, http.StatusGone, "card.gone", err)
	case errors.As(err, &de) && de.Code == dingbook.ENOTFOUND && de.Field == "share":
		s.problem(w, r, http.StatusNotFound, "card.not_found", err)
	case err != nil:
		s.dirFail(w, r, err)
	default:
		return c
	}
	return nil
}

func (s *Server) sharedCard(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if c := s.shared(w, r); c != nil {
		w.Header().Set("X-Robots-Tag", "noindex")
		s.render(w, r, http.StatusOK, "card", pageData{Title: "card.title", Session: sess, Card: &cardPage{Card: c, Token: r.PathValue("token")}})
	}
}

func (s *Server) sharedCardVCF(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	if c := s.shared(w, r); c != nil {
		writeVCard(w, c)
	}
}

// myShares lists the shares of the session's person's card and those
// they made.
func (s *Server) myShares(r *http.Request, sess *app.Session) ([]CardShare, error) {
	shs, err := s.App.CardShares(r.Context(), sess)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []CardShare{}
	for _, sh := range shs {
		out = append(out, CardShare{CardShareRow: sh, State: sh.StateAt(now), Own: sh.Subject == sess.UserID})
	}
	return out, nil
}

func (s *Server) mySharesPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	shs, err := s.myShares(r, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "my_shares", pageData{Title: "card.shares.title", Session: sess, Card: &cardPage{Shares: shs}})
}

func (s *Server) apiMyShares(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	shs, err := s.myShares(r, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CardShares{Shares: shs})
}

// revokeShare revokes the request's share {id}; false: it answered the
// request.
func (s *Server) revokeShare(w http.ResponseWriter, r *http.Request, sess *app.Session) bool {
	err := s.App.RevokeCardShare(r.Context(), sess, r.PathValue("id"))
	return !s.cardFail(w, r, err, dingbook.ENOTFOUND, http.StatusNotFound, "card.no_share", s.fail)
}

func (s *Server) revokeSharePage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if s.revokeShare(w, r, sess) {
		http.Redirect(w, r, "/me/shares", http.StatusSeeOther)
	}
}

func (s *Server) apiRevokeShare(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if s.revokeShare(w, r, sess) {
		w.WriteHeader(http.StatusNoContent)
	}
}
