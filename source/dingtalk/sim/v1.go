package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// v1.0 endpoints (besides the token endpoint).
var v1apis = map[string]string{
	"/v1.0/contact/users/search":       "qyapi_addresslist_search",
	"/v1.0/contact/departments/search": "qyapi_addresslist_search",
}

// serveV1 answers the new-style API family: token from the
// x-acs-dingtalk-access-token header only, HTTP 4xx errors with
// {code, message, requestid}.
func (s *Server) serveV1(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	scope, known := v1apis[path]
	if path == leaveRecordsPath {
		scope, known = "Contact.Common.Read", r.Method == http.MethodGet
	} else if r.Method != http.MethodPost {
		known = false
	}
	status := http.StatusOK
	defer func() { s.logf("sim: %s %s → HTTP %d", r.Method, path, status) }()
	fail := func(st int, code, msg string, extra map[string]any) {
		status = st
		s.v1ErrorExtra(w, st, code, msg, extra)
	}
	if !known {
		fail(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", nil)
		return
	}
	tok := r.Header.Get("x-acs-dingtalk-access-token")
	if tok == "" {
		fail(http.StatusBadRequest, "AuthenticationFailed.MissingParameter", "缺少参数：x-acs-dingtalk-access-token", nil)
		return
	}
	app, _ := s.tokenState(tok)
	if app == nil {
		fail(http.StatusBadRequest, "InvalidAuthentication", "不合法的access_token", nil)
		return
	}
	if len(app.IPWhitelist) > 0 {
		ip := clientIP(r)
		allowed := false
		for _, x := range app.IPWhitelist {
			allowed = allowed || x == ip
		}
		if !allowed {
			fail(http.StatusForbidden, "Forbidden.AccessDenied.IpNotInWhiteList", "访问ip不在白名单之中,request ip="+ip+" appKey("+app.Key+")", nil)
			return
		}
	}
	if code, msg := s.v1Throttle(app, path); code != "" {
		fail(http.StatusForbidden, code, msg, nil)
		return
	}
	if !app.scopes[scope] {
		fail(http.StatusForbidden, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "没有调用该接口的权限",
			map[string]any{s.cfg.V1DeniedDetailKey: map[string]any{"requiredScopes": []string{scope}}})
		return
	}
	if s.transient() {
		fail(http.StatusInternalServerError, "system.busy", "系统繁忙", nil)
		return
	}
	if path == leaveRecordsPath {
		s.leaveRecords(w, r, func(msg string) { fail(http.StatusBadRequest, "invalidParameter.param.invalid", msg, nil) })
		return
	}
	var body struct {
		QueryWord      string          `json:"queryWord"`
		Offset         json.Number     `json:"offset"`
		Size           json.Number     `json:"size"`
		FullMatchField json.RawMessage `json:"fullMatchField"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.QueryWord == "" {
		fail(http.StatusBadRequest, "parameter.error", "参数错误", nil)
		return
	}
	off, err1 := strconv.Atoi(orZero(body.Offset))
	size, err2 := 10, error(nil)
	if body.Size != "" {
		size, err2 = strconv.Atoi(body.Size.String())
	}
	if err1 != nil || err2 != nil || off < 0 || size < 1 || size > 100 {
		fail(http.StatusBadRequest, "parameter.error", "参数错误", nil)
		return
	}
	exact := strings.Trim(string(body.FullMatchField), `"`) == "1"
	match := func(name string) bool {
		if exact {
			return name == body.QueryWord
		}
		return strings.Contains(strings.ToLower(name), strings.ToLower(body.QueryWord))
	}
	var hits []any
	if strings.HasSuffix(path, "/users/search") {
		for i := range s.org.People {
			if p := &s.org.People[i]; match(p.Name) {
				hits = append(hits, p.UserID)
			}
		}
	} else {
		for i := range s.org.Depts {
			if d := &s.org.Depts[i]; match(d.Name) {
				hits = append(hits, d.ID)
			}
		}
	}
	lo := min(off, len(hits))
	hi := min(lo+size, len(hits))
	list := hits[lo:hi]
	if list == nil {
		list = []any{}
	}
	s.v1Headers(w)
	w.WriteHeader(http.StatusOK)
	writeJSON(w, map[string]any{"hasMore": hi < len(hits), "totalCount": len(hits), "list": list})
}

// v1Throttle applies the throttles to a v1.0 call; it returns the error
// code and message of a refusal, or "".
func (s *Server) v1Throttle(app *appState, path string) (string, string) {
	sub, msg := s.throttle(app, path)
	switch sub {
	case "":
		return "", ""
	case "90002":
		return "Forbidden.AccessDenied.QpsLimitForApi", msg
	}
	return "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", msg
}

func orZero(n json.Number) string {
	if n == "" {
		return "0"
	}
	return n.String()
}
