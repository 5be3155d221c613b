package serve

import (
	"net/http"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// External contacts (issue 10 §4, issue 11 §4): in the search page's
// results (marked as external), on /external/{id}, and in their own JSON
// API beside the people's (GET /api/v1/people keeps its contract:
// people only). What a viewer sees is app's to decide (SeesExternal in
// app/visibility.go, app/external.go). A contact's follower, or an admin
// who sees it, marks its consent withdrawn (the API, or the form on its
// page); it is then gone from every page, search and address book.

// ExternalList is the answer of GET /api/v1/external.
type ExternalList struct {
	External []app.DirExternal `json:"external"`
}

func (s *Server) externalRoutes() []Route {
	return []Route{
		{Pattern: "GET /external/{id}", Rule: Person, handle: s.externalPage},
		{Pattern: "POST /external/{id}/withdraw-consent", Rule: Person, handle: s.withdrawExternalForm},
		{Pattern: "GET /api/v1/external", Rule: Person, handle: s.apiExternalSearch},
		{Pattern: "GET /api/v1/external/{id}", Rule: Person, handle: s.apiExternal},
		{Pattern: "POST /api/v1/external/{id}/withdraw-consent", Rule: Person, handle: s.apiWithdrawExternal},
	}
}

// searchExternal runs the request's search (q) over the external
// contacts, without spending the quota (the caller did); false: it
// answered the request.
func (s *Server) searchExternal(w http.ResponseWriter, r *http.Request, sess *app.Session, q string) ([]app.DirExternal, bool) {
	list, err := s.App.SearchExternal(r.Context(), sess, s.policy(), q)
	if err != nil {
		s.dirFail(w, r, err)
		return nil, false
	}
	return list, true
}

// external looks up the request's {id} as the session's person may see
// it, spending the quota; nil: it answered the request.
func (s *Server) external(w http.ResponseWriter, r *http.Request, sess *app.Session) *app.DirExternal {
	if !s.browse(w, r, sess) {
		return nil
	}
	e, err := s.App.ExternalContact(r.Context(), sess, s.policy(), r.PathValue("id"))
	if err != nil {
		s.dirFail(w, r, err)
		return nil
	}
	return e
}

func (s *Server) externalPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	e := s.external(w, r, sess)
	if e == nil {
		return
	}
	s.render(w, r, http.StatusOK, "external", pageData{Title: "external.title", Session: sess, Dir: &dirPage{Contact: e}})
}

func (s *Server) apiExternalSearch(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) != "" && !s.browse(w, r, sess) {
		return
	}
	list, ok := s.searchExternal(w, r, sess, q)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, ExternalList{External: list})
}

func (s *Server) apiExternal(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if e := s.external(w, r, sess); e != nil {
		writeJSON(w, http.StatusOK, e)
	}
}

// ConsentWithdrawn is the answer of POST
// /api/v1/external/{id}/withdraw-consent.
type ConsentWithdrawn struct {
	ID        string `json:"id"`
	Withdrawn bool   `json:"consent_withdrawn"`
}

// withdrawExternal marks the request's {id} withdrawn; false: it answered
// the refusal (404 for a contact the person may not see, 403 for one
// they see but may not mark).
func (s *Server) withdrawExternal(w http.ResponseWriter, r *http.Request, sess *app.Session) bool {
	if err := s.App.WithdrawExternalConsent(r.Context(), sess, s.policy(), r.PathValue("id")); err != nil {
		if dingbook.ErrorCode(err) == dingbook.ENOTFOUND {
			s.dirFail(w, r, err)
		} else {
			s.refuseRequest(w, r, err)
		}
		return false
	}
	return true
}

func (s *Server) apiWithdrawExternal(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var none struct{}
	if !s.readJSON(w, r, &none, true) || !s.withdrawExternal(w, r, sess) {
		return
	}
	writeJSON(w, http.StatusOK, ConsentWithdrawn{ID: r.PathValue("id"), Withdrawn: true})
}

func (s *Server) withdrawExternalForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.withdrawExternal(w, r, sess) {
		return
	}
	s.render(w, r, http.StatusOK, "external_withdrawn", pageData{Title: "external.withdrawn", Session: sess})
}
