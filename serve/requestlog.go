package serve

import (
	"net/http"
	"strings"
	"time"
)

// RequestLogEntry is one answered request, as Server.RequestLog receives
// it: never a query string, header or body (they may carry secrets).
type RequestLogEntry struct {
	Method string
	// Path is the request's path, without its query; a secret in it (a
	// share link's or one-time download's {token}): the route's pattern,
	// "/s/{token}".
	Path   string
	Status int
	// Cards counts the vCards the answer carried: 1 for a card's GET, one
	// per address-data of a REPORT or PROPFIND (CardDAV clients' transfers).
	Cards    int
	Duration time.Duration
}

// logRequest hands a request to RequestLog, if set.
func (s *Server) logRequest(r *http.Request, sw *statusWriter, d time.Duration) {
	if s.RequestLog != nil {
		path := r.URL.Path
		if r.PathValue("token") != "" {
			_, path, _ = strings.Cut(r.Pattern, " ") // the route's, wildcards unfilled
		}
		s.RequestLog(RequestLogEntry{Method: r.Method, Path: path, Status: sw.status, Cards: sw.cards, Duration: d})
	}
}

// carriedCards records that the answer on w carries n cards.
func carriedCards(w http.ResponseWriter, n int) {
	if sw, ok := w.(*statusWriter); ok {
		sw.cards += n
	}
}
