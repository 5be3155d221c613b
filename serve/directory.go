package serve

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The directory: the search page, person and department pages and their
// JSON API. What a viewer sees is app's to decide (app/visibility.go);
// these handlers only translate. Each search, person view and department
// page spends one from the person's hourly quota (browse); the tree and
// an empty search do not.

// dirPage is the data of the directory's pages (pageData.Dir).
type dirPage struct {
	Query  string
	People []app.DirPerson
	Person *app.DirPerson
	Dept   *app.DeptView
	// Offer: what the viewer may choose when sharing Person's card.
	Offer app.CardOffer
	// External holds the external contacts a search found, Contact the
	// one of an external contact's page (external.go).
	External []app.DirExternal
	Contact  *app.DirExternal
}

// People is the answer of GET /api/v1/people.
type People struct {
	People []app.DirPerson `json:"people"`
}

// dirFail answers a directory error: a person or department the viewer
// may not see (or that does not exist) is 404, no complete snapshot yet
// 503, anything else 500.
func (s *Server) dirFail(w http.ResponseWriter, r *http.Request, err error) {
	var de *dingbook.Error
	switch {
	case errors.As(err, &de) && de.Code == dingbook.ENOTFOUND && de.Field == "snapshot":
		s.problem(w, r, http.StatusServiceUnavailable, "problem.no_snapshot", err)
	case errors.As(err, &de) && de.Code == dingbook.ENOTFOUND:
		s.problem(w, r, http.StatusNotFound, "problem.not_found", err)
	default:
		s.fail(w, r, err)
	}
}

// searchPeople runs the request's search (q), spending the quota when
// there is one; false: it answered the request.
func (s *Server) searchPeople(w http.ResponseWriter, r *http.Request, sess *app.Session) (string, []app.DirPerson, bool) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) != "" && !s.browse(w, r, sess) {
		return q, nil, false
	}
	people, err := s.App.SearchPeople(r.Context(), sess, q)
	if err != nil {
		s.dirFail(w, r, err)
		return q, nil, false
	}
	return q, people, true
}

// search is the home page of a logged-in person: the search form and,
// with q, the results.
func (s *Server) search(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	q, people, ok := s.searchPeople(w, r, sess)
	if !ok {
		return
	}
	external, ok := s.searchExternal(w, r, sess, q)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "search", pageData{Title: "index.title", Session: sess, Dir: &dirPage{Query: q, People: people, External: external}})
}

// person looks up the request's {userid} as the session's person may
// see them, spending the quota; nil: it answered the request.
func (s *Server) person(w http.ResponseWriter, r *http.Request, sess *app.Session) *app.DirPerson {
	if !s.browse(w, r, sess) {
		return nil
	}
	p, err := s.App.Person(r.Context(), sess, r.PathValue("userid"))
	if err != nil {
		s.dirFail(w, r, err)
		return nil
	}
	return p
}

func (s *Server) personPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	p := s.person(w, r, sess)
	if p == nil {
		return
	}
	offer, err := s.App.CardOffer(r.Context(), sess, p.UserID)
	if err != nil {
		s.dirFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "person", pageData{Title: "dir.person.title", Session: sess, Dir: &dirPage{Person: p, Offer: offer}})
}

// deptID is the request's {dept_id}, or an answered 400.
func (s *Server) deptID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("dept_id"), 10, 64)
	if err != nil {
		s.problem(w, r, http.StatusBadRequest, "problem.dept_id", &dingbook.Error{Code: dingbook.EINVALID, Field: "dept_id",
			Message: "the department id " + strconv.Quote(r.PathValue("dept_id")) + " in " + r.URL.Path + " is not a number", Hint: "open the department tree at /departments/1"})
		return 0, false
	}
	return id, true
}

func (s *Server) deptPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	id, ok := s.deptID(w, r)
	if !ok || !s.browse(w, r, sess) {
		return
	}
	d, err := s.App.Department(r.Context(), sess, id)
	if err != nil {
		s.dirFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "department", pageData{Title: "dir.dept.title", Session: sess, Dir: &dirPage{Dept: d}})
}

func (s *Server) apiPeople(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	_, people, ok := s.searchPeople(w, r, sess)
	if !ok {
		return
	}
	writeJSONBytes(w, http.StatusOK, func(b []byte) []byte { return appendPeople(b, people) })
}

func (s *Server) apiPerson(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	p := s.person(w, r, sess)
	if p == nil {
		return
	}
	writeJSONBytes(w, http.StatusOK, func(b []byte) []byte { return appendPerson(b, p) })
}

func (s *Server) apiDepartments(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	d, err := s.App.DirectoryTree(r.Context())
	if err != nil {
		s.dirFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
