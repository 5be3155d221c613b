package serve

import (
	"net/http"

	"github.com/dingbook/dingbook/app"
)

// BrowseForTest is a browsing route for tests of the quota until the
// directory's routes exist: behind the Person rule, it spends from the
// quota and answers 200 {"browsed": true}. It is never in Routes.
func BrowseForTest(s *Server) http.Handler {
	return s.authorize(Route{Pattern: "GET /test/browse", Rule: Person, handle: func(w http.ResponseWriter, r *http.Request, sess *app.Session) {
		if s.browse(w, r, sess) {
			writeJSON(w, http.StatusOK, map[string]bool{"browsed": true})
		}
	}})
}
