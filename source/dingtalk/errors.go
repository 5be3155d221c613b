package dingtalk

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
)

// APIError is an error DingTalk answered with. Code is the effective code:
// for the gateway's errcode 88 it is the sub_code (Gateway is then true).
type APIError struct {
	API       string // e.g. "topapi/v2/user/list"
	Code      int
	Gateway   bool // came as errcode 88 + sub_code
	Msg       string
	RequestID string
	Detail    string // what the request was about, e.g. "dept_id 42"
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("DingTalk %s answered %d", e.API, e.Code)
	if e.Detail != "" {
		s = fmt.Sprintf("DingTalk %s (%s) answered %d", e.API, e.Detail, e.Code)
	}
	if e.Msg != "" {
		s += " " + e.Msg
	}
	if e.RequestID != "" {
		s += " (request_id " + e.RequestID + ")"
	}
	return s
}

// Code returns the DingTalk code of err (0 if err carries none).
func Code(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Codes the client treats specially.
const (
	CodeBusy            = -1
	CodeGateway         = 88
	CodeTokenBlank      = 40000
	CodeBadSecret       = 40001
	CodeBadToken        = 40014
	CodeBadKeySecret    = 40096
	CodeBadCorpSecret   = 40089
	CodeTokenExpired    = 42001
	CodeBadCorp         = 33001
	CodeBadUserID       = 33012
	CodeUserOutOfRange  = 50002
	CodeDeptOutOfRange  = 50004
	CodeDeptNotFound    = 60003
	CodeNoPermission    = 60011
	CodeIPNotWhitelist  = 60020
	CodeUserNotFound    = 60121
	CodeGlobalThrottled = 90002
	CodeAppThrottled    = 90018
)

func isTokenCode(code int) bool {
	switch code {
	case CodeTokenBlank, CodeBadSecret, CodeBadToken, CodeTokenExpired, CodeBadCorp, 41001:
		return true
	}
	return false
}

func isThrottle(code int) bool {
	return code == CodeAppThrottled || code == CodeGlobalThrottled || (code >= 90001 && code <= 90017)
}

var (
	scopeRe    = regexp.MustCompile(`requiredScopes=\[([^\]]*)\]`)
	scopeRe2   = regexp.MustCompile(`权限[:：]\s*\[([^\]]+)\]`)
	ipRe       = regexp.MustCompile(`(?i)request ip\s*[=:]\s*([0-9a-fA-F.:]+)`)
	apiScopeOf = map[string]string{
		"auth/scopes":                       "qyapi_base",
		"topapi/v2/department/listsub":      "qyapi_get_department_list",
		"topapi/v2/department/listsubid":    "qyapi_get_department_list",
		"topapi/v2/department/get":          "qyapi_get_department_list",
		"topapi/v2/user/list":               "qyapi_get_department_member",
		"topapi/user/listsimple":            "qyapi_get_department_member",
		"topapi/v2/user/get":                "qyapi_get_member",
		"topapi/user/listid":                "qyapi_get_member",
		"topapi/user/count":                 "qyapi_get_member",
		"topapi/user/listadmin":             "qyapi_get_member",
		"topapi/extcontact/list":            "qyapi_ext_read",
		"topapi/extcontact/listlabelgroups": "qyapi_ext_read",
	}
)

// MissingScope extracts the scope named by a 60011 message, falling back
// to the scope the API is documented to need.
func MissingScope(e *APIError) string {
	if m := scopeRe.FindStringSubmatch(e.Msg); m != nil {
		return strings.TrimSpace(strings.Split(m[1], ",")[0])
	}
	if m := scopeRe2.FindStringSubmatch(e.Msg); m != nil {
		return strings.TrimSpace(strings.Split(m[1], ",")[0])
	}
	return apiScopeOf[e.API]
}

// CallerIP extracts the caller IP of a 60020 message ("" if absent).
func CallerIP(e *APIError) string {
	if m := ipRe.FindStringSubmatch(e.Msg); m != nil {
		return strings.TrimRight(m[1], ".")
	}
	return ""
}

// userError turns an APIError into the *dingbook.Error the user sees, with
// the remedy in plain words.
func userError(e *APIError) error {
	what := e.API
	if e.Detail != "" {
		what += " (" + e.Detail + ")"
	}
	switch e.Code {
	case CodeBadKeySecret, CodeBadCorpSecret, CodeBadSecret:
		return &dingbook.Error{Code: dingbook.EAUTH, Err: e,
			Message: "DingTalk rejected the app key or app secret (" + what + ")",
			Hint: "check DINGTALK_APP_KEY and DINGTALK_APP_SECRET (or the profile's app_key and app_secret_env/app_secret_file):\n" +
				"they are the app's Client ID and Client Secret shown at open-dev.dingtalk.com → the app → 凭证与基础信息 / Credentials"}
	case CodeNoPermission:
		scope := MissingScope(e)
		return &dingbook.Error{Code: dingbook.EPERM, Err: e,
			Message: fmt.Sprintf("the app lacks the permission scope %s needed by %s", scope, what),
			Hint:    fmt.Sprintf("grant it at open-dev.dingtalk.com → the app → 权限管理 / Permissions: search for %q and click 申请权限 / Apply, then rerun", scope)}
	case CodeIPNotWhitelist:
		ip := CallerIP(e)
		if ip == "" {
			ip = "(the IP in the message)"
		}
		return &dingbook.Error{Code: dingbook.EPERM, Err: e,
			Message: fmt.Sprintf("this machine's IP %s is not in the app's IP whitelist (%s)", ip, what),
			Hint:    fmt.Sprintf("add %s at open-dev.dingtalk.com → the app → 开发管理 / Development → 服务器出口IP / Server egress IPs, then rerun", ip)}
	case CodeDeptOutOfRange, CodeUserOutOfRange:
		return &dingbook.Error{Code: dingbook.EPERM, Err: e,
			Message: fmt.Sprintf("%s is outside the app's contact range", what),
			Hint:    "widen it at open-dev.dingtalk.com (开发者后台) → the app → 通讯录权限范围 / contact range → 全部员工 / All employees"}
	case CodeDeptNotFound, CodeUserNotFound, CodeBadUserID:
		return &dingbook.Error{Code: dingbook.ENOTFOUND, Err: e, Message: what + " was not found in DingTalk",
			Hint: "it may have been deleted meanwhile; rerun the pull"}
	case CodeTokenBlank, CodeBadToken, CodeTokenExpired, CodeBadCorp:
		return &dingbook.Error{Code: dingbook.EAUTH, Err: e, Message: "DingTalk kept refusing the access token (" + what + ")",
			Hint: "check the app key and secret, and that DINGTALK_API_BASE points at the right DingTalk host"}
	}
	if isThrottle(e.Code) {
		return &dingbook.Error{Code: dingbook.EINTERNAL, Err: e, Message: "DingTalk kept throttling " + what,
			Hint: "lower --qps, or run the pull off the hour (e.g. at hh:10) when DingTalk is less busy"}
	}
	return &dingbook.Error{Code: dingbook.EINTERNAL, Err: e, Message: "DingTalk call " + what + " failed",
		Hint: "rerun the pull (it resumes); if it persists, report the request_id to DingTalk support"}
}

func codeFromString(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}
