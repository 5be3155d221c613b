package serve

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// Grants (issue 11 §2): an approved request's grant, its terms, the
// step-up, the bundle and its one-time download link, revocation. The
// use cases are app.Grants; these handlers only translate HTTP.

func (s *Server) grantRoutes() []Route {
	return []Route{
		{Pattern: "GET /api/v1/grants", Rule: Person, handle: s.apiGrants},
		{Pattern: "GET /api/v1/grants/{id}/terms", Rule: Person, handle: s.apiGrantTerms},
		{Pattern: "POST /api/v1/grants/{id}/accept-terms", Rule: Person, handle: s.apiAcceptTerms},
		{Pattern: "POST /api/v1/grants/{id}/bundle", Rule: Person, handle: s.apiGrantBundle},
		{Pattern: "POST /api/v1/grants/{id}/revoke", Rule: Person, handle: s.apiRevokeGrant},
		{Pattern: "GET /grants/download/{token}", Rule: Person, handle: s.grantDownload},
	}
}

func (s *Server) grants() *app.Grants {
	return &app.Grants{App: s.App, Policy: s.Policy, Client: s.Client, Say: tr}
}

// GrantList is the answer of GET /api/v1/grants.
type GrantList struct {
	Grants []app.Grant `json:"grants"`
}

func (s *Server) apiGrants(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	list, err := s.grants().List(r.Context(), sess, r.URL.Query().Get("role"))
	if err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, GrantList{Grants: list})
}

// apiGrantTerms answers the confidentiality terms in the person's
// language (the text whose hash an acceptance records) to the grant's
// grantee and those who may revoke it; to anyone else 404, as Show.
func (s *Server) apiGrantTerms(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if _, err := s.grants().Show(r.Context(), sess, r.PathValue("id")); err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.grants().Terms(pickLang(r, sess)))
}

// TermsAccept is the body of POST /api/v1/grants/{id}/accept-terms.
type TermsAccept struct {
	Accept bool `json:"accept"`
}

// TermsAccepted is its answer.
type TermsAccepted struct {
	Version string `json:"terms_version"`
	SHA256  string `json:"terms_sha256"`
	Lang    string `json:"lang"`
}

func (s *Server) apiAcceptTerms(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var body TermsAccept
	if !s.readJSON(w, r, &body, false) {
		return
	}
	g, err := s.grants().AcceptTerms(r.Context(), sess, r.PathValue("id"), pickLang(r, sess), body.Accept)
	if err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TermsAccepted{Version: g.Terms.Version, SHA256: g.Terms.SHA256, Lang: g.Terms.Lang})
}

// BundleAsk is the optional body of POST /api/v1/grants/{id}/bundle.
type BundleAsk struct {
	AgeRecipient string `json:"age_recipient"`
}

// BundleReady is its answer: the link works once; the passphrase (empty
// for an age bundle) is shown this once and never stored.
type BundleReady struct {
	DownloadURL string    `json:"download_url"`
	Passphrase  string    `json:"passphrase"`
	ExpiresAt   time.Time `json:"expires_at"`
	SHA256      string    `json:"sha256"`
}

func (s *Server) apiGrantBundle(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var body BundleAsk
	if !s.readJSON(w, r, &body, true) {
		return
	}
	b, err := s.grants().Bundle(r.Context(), sess, r.PathValue("id"), app.BundleOptions{AgeRecipient: body.AgeRecipient})
	if err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.bundleReady(b))
}

// bundleReady is the answer (API and page) to a bundle just made.
func (s *Server) bundleReady(b *app.GrantBundle) *BundleReady {
	return &BundleReady{DownloadURL: strings.TrimRight(s.BaseURL, "/") + "/grants/download/" + b.Token,
		Passphrase: b.Passphrase, ExpiresAt: b.ExpiresAt, SHA256: b.SHA256}
}

// Revocation is the optional body of POST /api/v1/grants/{id}/revoke.
type Revocation struct {
	Reason string `json:"reason"`
}

func (s *Server) apiRevokeGrant(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var body Revocation
	if !s.readJSON(w, r, &body, true) {
		return
	}
	g, err := s.grants().Revoke(r.Context(), sess, r.PathValue("id"), body.Reason)
	if err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// grantDownload sends the bundle behind a link once (it is deleted from
// the server as it goes); then the link answers 410 Gone.
func (s *Server) grantDownload(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	f, err := s.grants().Download(r.Context(), sess, r.PathValue("token"))
	if err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	defer f.File.Close()
	ct := "application/octet-stream"
	if strings.HasSuffix(f.Name, ".zip") {
		ct = "application/zip"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="`+f.Name+`"`)
	w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w.Header().Set("Cache-Control", "no-store")
	if _, err := io.Copy(w, f.File); err != nil {
		s.logf("serve: a grant download broke off: %v", err)
	}
}

// refuseGrant answers a grant's refusal: the terms not accepted 403, a
// login older than the step-up allows 403 with the login link that
// returns to the grant's page, a used, revoked or expired link 410 Gone; the
// rest as a request's refusal.
func (s *Server) refuseGrant(w http.ResponseWriter, r *http.Request, err error) {
	var de *dingbook.Error
	if !errors.As(err, &de) {
		s.fail(w, r, err)
		return
	}
	switch de.Code {
	case app.CodeTerms:
		s.problem(w, r, http.StatusForbidden, "grant.terms", err)
	case app.CodeStepUp:
		lang := pickLang(r, nil)
		login := stepUpLogin(r.PathValue("id"))
		writeJSON(w, http.StatusForbidden, map[string]string{"error": app.CodeStepUp, "message": tr(lang, "grant.step_up.message", app.StepUpMinutes()),
			"hint": tr(lang, "grant.step_up.hint", login, app.StepUpMinutes()), "login": login})
	case app.CodeGone:
		s.problem(w, r, http.StatusGone, "grant.gone", err)
	default:
		s.refuseRequest(w, r, err)
	}
}
