package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// api describes one old-style endpoint.
type api struct {
	method string // "POST" or "GET"
	scope  string
	// handle answers the call.
	handle func(s *Server, c *call)
}

var oapis = map[string]api{
	"/topapi/v2/department/listsub":          {"POST", "qyapi_get_department_list", (*Server).deptListsub},
	"/topapi/v2/department/listsubid":        {"POST", "qyapi_get_department_list", (*Server).deptListsubid},
	"/topapi/v2/department/get":              {"POST", "qyapi_get_department_list", (*Server).deptGet},
	"/topapi/v2/department/listparentbydept": {"POST", "qyapi_get_department_list", (*Server).deptParentsByDept},
	"/topapi/v2/department/listparentbyuser": {"POST", "qyapi_get_department_list", (*Server).deptParentsByUser},
	"/topapi/v2/user/list":                   {"POST", "qyapi_get_department_member", (*Server).userList},
	"/topapi/user/listsimple":                {"POST", "qyapi_get_department_member", (*Server).userListSimple},
	"/topapi/v2/user/get":                    {"POST", "qyapi_get_member", (*Server).userGet},
	"/topapi/user/listid":                    {"POST", "qyapi_get_member", (*Server).userListID},
	"/topapi/user/count":                     {"POST", "qyapi_get_member", (*Server).userCount},
	"/topapi/user/listadmin":                 {"POST", "qyapi_get_member", (*Server).userListAdmin},
	"/topapi/user/getbyunionid":              {"POST", "qyapi_get_member", (*Server).userByUnionID},
	"/topapi/v2/user/getbymobile":            {"POST", "qyapi_get_member_by_mobile", (*Server).userByMobile},
	"/topapi/v2/user/getuserinfo":            {"POST", "qyapi_base", (*Server).inAppUserInfo},
	"/topapi/user/get_admin_scope":           {"POST", "qyapi_get_member", (*Server).adminScope},
	"/topapi/role/list":                      {"POST", "qyapi_get_department_list", (*Server).roleList},
	"/topapi/role/simplelist":                {"POST", "qyapi_get_department_list", (*Server).roleSimpleList},
	"/topapi/role/getrole":                   {"POST", "qyapi_get_department_list", (*Server).roleGet},
	"/topapi/role/getrolegroup":              {"POST", "qyapi_get_department_list", (*Server).roleGroup},
	// the work notice's permission is not documented in serve.md or
	// dingtalk-api.md: no scope is checked
	"/topapi/message/corpconversation/asyncsend_v2": {"POST", "", (*Server).sendNotice},
	"/topapi/extcontact/list":                       {"POST", "qyapi_ext_read", (*Server).extList},
	"/topapi/extcontact/listlabelgroups":            {"POST", "qyapi_ext_read", (*Server).extLabelGroups},
	"/topapi/extcontact/get":                        {"POST", "qyapi_ext_read", (*Server).extGet},
	"/topapi/extcontact/create":                     {"POST", "", (*Server).extCreate},
	"/topapi/extcontact/update":                     {"POST", "", (*Server).extUpdate},
	"/topapi/extcontact/delete":                     {"POST", "", (*Server).extDelete},
	"/auth/scopes":                                  {"GET", "qyapi_base", (*Server).authScopes},
	failedResultPath:                                {"GET", "qyapi_base", (*Server).failedResult},
}

// APIName returns DingTalk's internal name for an oapi path:
// "/topapi/v2/user/list" → "dingtalk.oapi.v2.user.list".
func APIName(path string) string {
	p := strings.TrimPrefix(path, "/topapi")
	p = strings.Trim(p, "/")
	return "dingtalk.oapi." + strings.ReplaceAll(p, "/", ".")
}

// call is one old-style request being answered.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	path   string
	app    *appState
	params map[string]string
	rid    string
	done   bool
	code   int
}

// reply writes an oapi envelope (HTTP 200).
func (s *Server) reply(c *call, body map[string]any) {
	if c.done {
		return
	}
	c.done = true
	if _, ok := body["request_id"]; !ok {
		body["request_id"] = c.rid
	}
	if code, ok := body["errcode"].(int); ok {
		c.code = code
	}
	c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	c.w.Header().Set("Server", "DingTalk/1.0.0")
	c.w.WriteHeader(http.StatusOK)
	writeJSON(c.w, s.quote(body))
}

func (s *Server) ok(c *call, result any) {
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "result": result})
}

func (s *Server) fail(c *call, code int, msg string) {
	if s.cfg.WrapBusinessErrors {
		switch code {
		case 50002, 50004, 60003, 60121:
			s.gateway(c, strconv.Itoa(code), msg)
			return
		}
	}
	s.reply(c, map[string]any{"errcode": code, "errmsg": msg})
}

// gateway answers errcode 88 with sub_code and sub_msg.
func (s *Server) gateway(c *call, sub, submsg string) {
	s.reply(c, map[string]any{
		"errcode":  88,
		"sub_code": sub,
		"sub_msg":  submsg,
		"errmsg":   fmt.Sprintf("ding talk error[subcode=%s,submsg=%s]", sub, submsg),
	})
}

// quote turns every number and boolean into a string when StringNumbers
// is set.
func (s *Server) quote(v any) any {
	if !s.cfg.StringNumbers {
		return v
	}
	return quoteAll(v)
}

func quoteAll(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = quoteAll(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = quoteAll(e)
		}
		return x
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = quoteAll(e)
		}
		return out
	case []int64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = strconv.FormatInt(e, 10)
		}
		return out
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return v
	}
}

// parseParams reads a JSON or form body into string values. JSON numbers
// and booleans become their text; nulls are absent.
func parseParams(r *http.Request) (params map[string]string, formToken string, err error) {
	params = map[string]string{}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err != nil {
			return params, "", err
		}
		for k, v := range r.PostForm {
			if len(v) > 0 {
				params[k] = v[0]
			}
		}
		formToken = params["access_token"]
		delete(params, "access_token")
		return params, formToken, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return params, "", err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, "", nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return params, "", err
	}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
		case string:
			params[k] = x
		case json.Number:
			params[k] = x.String()
		case bool:
			params[k] = strconv.FormatBool(x)
		default:
			b, _ := json.Marshal(x)
			params[k] = string(b)
		}
	}
	return params, "", nil
}

// intParam returns a parameter as int64: present reports whether it was
// sent, ok whether it parsed.
func (c *call) intParam(name string) (v int64, present, ok bool) {
	s, present := c.params[name]
	if !present {
		return 0, false, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return v, true, err == nil
}

// boolParam returns a parameter as a bool (true/false, any case).
func (c *call) boolParam(name string) (v, present, ok bool) {
	s, present := c.params[name]
	if !present {
		return false, false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true, true
	case "false":
		return false, true, true
	}
	return false, true, false
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) serveOapi(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, path: r.URL.Path, rid: s.requestID()}
	defer func() {
		app := "-"
		if c.app != nil {
			app = c.app.Key
		}
		s.logf("sim: %s %s app=%s → errcode %d", r.Method, c.path, app, c.code)
	}()
	a, known := oapis[c.path]
	if !known {
		name := APIName(c.path)
		s.reply(c, map[string]any{
			"errcode": 22,
			"sub_msg": "不合法ApiName，ApiName = " + name,
			"errmsg":  "Invalid method[submsg=不合法ApiName，ApiName = " + name + "]",
		})
		return
	}
	params, formToken, perr := parseParams(r)
	c.params = params
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		tok = formToken
	}
	if tok == "" {
		s.gateway(c, "40000", "access_token is blank")
		return
	}
	app, expired := s.tokenState(tok)
	if app == nil {
		if expired {
			switch s.cfg.ExpiredTokenCode {
			case "42001":
				s.gateway(c, "42001", "access_token超时")
			case "42001-plain":
				s.fail(c, 42001, "access_token超时")
			default:
				s.gateway(c, "40014", "不合法的access_token")
			}
			return
		}
		s.gateway(c, "40014", "不合法的access_token")
		return
	}
	c.app = app
	if len(app.IPWhitelist) > 0 {
		ip := clientIP(r)
		allowed := false
		for _, x := range app.IPWhitelist {
			if x == ip {
				allowed = true
			}
		}
		if !allowed {
			s.gateway(c, "60020", fmt.Sprintf("访问ip不在白名单之中,request ip=%s appKey(%s)", ip, app.Key))
			return
		}
	}
	if sub, msg := s.throttle(app, c.path); sub != "" {
		s.gateway(c, sub, msg)
		return
	}
	if a.scope != "" && !app.scopes[a.scope] {
		s.gateway(c, "60011", fmt.Sprintf("应用尚未开通所需的权限：[%s]，点击链接申请并开通即可：https://open-dev.dingtalk.com/appscope/apply?content=%s%%23%s, {requiredScopes=[%s]}",
			a.scope, app.Key, a.scope, a.scope))
		return
	}
	if s.transient() {
		s.fail(c, -1, "系统繁忙")
		return
	}
	if r.Method != a.method {
		if a.method == "POST" {
			s.fail(c, 43002, "需要POST请求")
		} else {
			s.fail(c, 43001, "需要GET请求")
		}
		return
	}
	if perr != nil {
		s.fail(c, 400002, "无效的参数")
		return
	}
	a.handle(s, c)
}

// transient rolls the -1 fault.
func (s *Server) transient() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.TransientRate > 0 && s.rng.Float64() < s.faults.TransientRate
}

var cst = time.FixedZone("CST", 8*3600)

// throttle applies the throttle burst, the per-app and the global limits;
// it returns the sub_code and sub_msg of a refusal, or "".
func (s *Server) throttle(app *appState, path string) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	name := APIName(path)
	if path == "/auth/scopes" {
		name = "dingtalk.oapi.auth.scopes"
	}
	if b := s.faults.ThrottleBurst; b > 0 {
		every := s.faults.ThrottleEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		if now.Sub(s.start)%every < b {
			return "90018", s.msg90018(name, app, now)
		}
	}
	sec := now.Truncate(time.Second)
	get := func(key string) *window {
		w := s.windows[key]
		if w == nil {
			w = &window{}
			s.windows[key] = w
		}
		if !w.start.Equal(sec) {
			w.start, w.n = sec, 0
		}
		return w
	}
	aw := get(app.Key + "|" + path)
	if s.cfg.QPS > 0 && aw.n >= s.cfg.QPS {
		return "90018", s.msg90018(name, app, now)
	}
	gw := get("*|" + path)
	if s.cfg.GlobalQPS > 0 && gw.n >= s.cfg.GlobalQPS {
		t := sec.In(cst).Format("2006-01-02 15:04:05")
		end := sec.Add(time.Second).In(cst).Format("2006-01-02 15:04:05")
		return "90002", fmt.Sprintf("当前所有钉钉应用调用该接口次数过多，超出了该接口承受的最大qps，请求被暂时限制了，建议错开整点时刻调用该接口, apiPath(%s), 从 %s 到 %s 请求总次数超过 %d 次, 限制将在 %s 结束.",
			name, t, t, s.cfg.GlobalQPS, end)
	}
	aw.n++
	gw.n++
	return "", ""
}

func (s *Server) msg90018(name string, app *appState, now time.Time) string {
	end := now.Truncate(time.Second).Add(time.Second).In(cst).Format("2006-01-02 15:04:05")
	return fmt.Sprintf("您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了, apiPath(%s), 应用 %s 每秒请求次数超过了 %d 次, 处罚将在 %s 结束.",
		name, app.Key, s.cfg.QPS, end)
}
