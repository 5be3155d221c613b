package serve

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The devices page (/me/devices): a person's app passwords for the
// CardDAV address book as plain HTML forms over the same use cases as
// the JSON API (apppasswords.go). A created password is on the answer to
// the creating POST only (no redirect: it is shown once), with the
// CardDAV address and how to add it to iOS/macOS, DAVx5 and Thunderbird.

func (s *Server) devicePageRoutes() []Route {
	return []Route{
		{Pattern: "GET /me/devices", Rule: Person, handle: s.devicesPage},
		{Pattern: "POST /me/devices", Rule: Person, handle: s.createDeviceForm},
		{Pattern: "POST /me/devices/{id}/revoke", Rule: Person, handle: s.revokeDeviceForm},
	}
}

// devicePage is the data of the devices page (pageData.Dev).
type devicePage struct {
	List []AppPassword
	// New is the app password just created (its password shown once).
	New *NewAppPassword
	// CardDAVURL is the address for DAVx5 and Thunderbird, Host the
	// server for iOS and macOS.
	CardDAVURL, Host string
	// Error is the refusal of the form (translated), Name the name sent.
	Error, Name string
}

// Used formats a last use; "" for never.
func (p *devicePage) Used(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// renderDevices shows the devices page with status.
func (s *Server) renderDevices(w http.ResponseWriter, r *http.Request, sess *app.Session, status int, p *devicePage) {
	ps, err := s.App.AppPasswords(r.Context(), sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.List, p.CardDAVURL = appPasswordsOf(ps), s.cardDAVURL()
	if u, err := url.Parse(s.BaseURL); err == nil {
		p.Host = u.Host
	}
	s.render(w, r, status, "devices", pageData{Title: "device.title", Session: sess, Dev: p})
}

func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.renderDevices(w, r, sess, http.StatusOK, &devicePage{})
}

func (s *Server) createDeviceForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	name := r.PostForm.Get("name")
	np, err := s.App.CreateAppPassword(r.Context(), sess, name)
	var de *dingbook.Error
	switch {
	case errors.As(err, &de) && de.Code == dingbook.EINVALID:
		s.renderDevices(w, r, sess, http.StatusBadRequest, &devicePage{Error: tr(pickLang(r, sess), "device.error.name"), Name: name})
	case err != nil:
		s.fail(w, r, err)
	default:
		s.renderDevices(w, r, sess, http.StatusCreated, &devicePage{New: &NewAppPassword{ID: np.ID, Username: np.Username, Password: np.Password,
			CardDAVURL: s.cardDAVURL()}, Name: strings.TrimSpace(name)})
	}
}

func (s *Server) revokeDeviceForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if s.revokeOwnAppPassword(w, r, sess, "device.not_found") {
		http.Redirect(w, r, "/me/devices", http.StatusSeeOther)
	}
}
