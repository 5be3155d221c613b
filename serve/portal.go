package serve

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The static files, embedded: our own small scripts and DingTalk's JSAPI
// (static/vendor/dingtalk-jsapi, its README names version and source).
//
//go:embed static
var staticFS embed.FS

// setLang switches the language: POST /lang with lang (en, id, zh) and
// next (a local path to return to). The choice is remembered in a cookie
// for a year and, for a person logged in, in the session.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	lang := r.PostFormValue("lang")
	if _, ok := messageKeys[lang]; !ok {
		s.problem(w, r, http.StatusBadRequest, "problem.lang",
			&dingbook.Error{Code: dingbook.EINVALID, Message: "the language (lang) must be en, id or zh", Hint: "choose a language from the list at the foot of the page"})
		return
	}
	next := r.PostFormValue("next")
	if !localPath(next) {
		next = "/"
	}
	if c, err := r.Cookie(SessionCookie); err == nil && sess != nil {
		if err := s.App.SetSessionLang(r.Context(), c.Value, lang); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.setCookie(w, r, LangCookie, lang, "/", 365*24*3600)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// inAppPage is the page the DingTalk workbench opens: inside the DingTalk
// client its script (static/inapp.js, no inline script) calls
// dd.requestAuthCode with the corpId and clientId of its data- attributes
// and goes on to /auth/dingtalk/inapp?code=…; in a browser it offers the
// browser login.
func (s *Server) inAppPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.render(w, r, http.StatusOK, "inapp", pageData{Title: "inapp.title", Session: sess,
		CorpID: s.Client.CorpID(), ClientID: s.Client.AppKey()})
}

// static serves the embedded files; the vendored ones (versioned by their
// README) with a year's cache, ours with an hour's. Directories are not
// listed.
func (s *Server) static(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	name := r.PathValue("file")
	sub, _ := fs.Sub(staticFS, "static")
	if name == "" || strings.HasSuffix(name, "/") {
		http.NotFound(w, r)
		return
	}
	if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(name, "vendor/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=3600")
	}
	http.ServeFileFS(w, r, sub, name)
}
