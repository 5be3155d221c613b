package serve

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// App passwords for the CardDAV address book (carddav.go): a person
// creates one per device, sees each one's last use, and revokes it. The
// password is in the creation's answer only.

// NewAppPassword is the answer of POST /api/v1/app-passwords.
type NewAppPassword struct {
	ID         string `json:"id"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	CardDAVURL string `json:"carddav_url"`
}

// AppPassword is one entry of GET /api/v1/app-passwords.
type AppPassword struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// LastUsed is null for a password never used.
	LastUsed *time.Time `json:"last_used"`
}

// AppPasswords is the answer of GET /api/v1/app-passwords.
type AppPasswords struct {
	AppPasswords []AppPassword `json:"app_passwords"`
}

func (s *Server) appPasswordRoutes() []Route {
	return []Route{
		{Pattern: "POST /api/v1/app-passwords", Rule: Person, handle: s.createAppPassword},
		{Pattern: "GET /api/v1/app-passwords", Rule: Person, handle: s.listAppPasswords},
		{Pattern: "DELETE /api/v1/app-passwords/{id}", Rule: Person, handle: s.revokeAppPassword},
	}
}

func (s *Server) createAppPassword(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	var req struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		s.problem(w, r, http.StatusBadRequest, "problem.app_password_name", &dingbook.Error{Code: dingbook.EINVALID, Field: "name",
			Message: "the request body is not a JSON object with a name", Hint: `send {"name":"<device>"}`})
		return
	}
	p, err := s.App.CreateAppPassword(r.Context(), sess, req.Name)
	var de *dingbook.Error
	if errors.As(err, &de) && de.Code == dingbook.EINVALID {
		s.problem(w, r, http.StatusBadRequest, "problem.app_password_name", err)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, NewAppPassword{ID: p.ID, Username: p.Username, Password: p.Password, CardDAVURL: s.cardDAVURL()})
}

func (s *Server) listAppPasswords(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	ps, err := s.App.AppPasswords(r.Context(), sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AppPasswords{AppPasswords: appPasswordsOf(ps)})
}

// appPasswordsOf lists stored app passwords as the API and the devices
// page show them.
func appPasswordsOf(ps []app.AppPassword) []AppPassword {
	out := []AppPassword{}
	for _, p := range ps {
		e := AppPassword{ID: p.ID, Name: p.Name, Created: p.Created}
		if !p.LastUsed.IsZero() {
			e.LastUsed = &p.LastUsed
		}
		out = append(out, e)
	}
	return out
}

// cardDAVURL is the CardDAV root's address, for a client's setup.
func (s *Server) cardDAVURL() string { return strings.TrimSuffix(s.BaseURL, "/") + DAVRoot }

func (s *Server) revokeAppPassword(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if s.revokeOwnAppPassword(w, r, sess, "problem.app_password") {
		w.WriteHeader(http.StatusNoContent)
	}
}

// revokeOwnAppPassword revokes the session's person's app password {id};
// false: it answered (404 titled notFound for an id not theirs).
func (s *Server) revokeOwnAppPassword(w http.ResponseWriter, r *http.Request, sess *app.Session, notFound string) bool {
	err := s.App.RevokeAppPassword(r.Context(), sess, r.PathValue("id"))
	var de *dingbook.Error
	switch {
	case errors.As(err, &de) && de.Code == dingbook.ENOTFOUND:
		s.problem(w, r, http.StatusNotFound, notFound, err)
	case err != nil:
		s.fail(w, r, err)
	default:
		return true
	}
	return false
}
