package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
)

func init() {
	Register(&Command{Name: "check", Short: "say what the DingTalk credentials can do, and how to fix what is missing", Run: runCheck})
}

// CheckItem is one line of the check report.
type CheckItem struct {
	What   string `json:"what"`
	Scope  string `json:"scope,omitempty"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Remedy string `json:"remedy,omitempty"`
	// Required items make check fail when not OK.
	Required bool `json:"required"`
}

// CheckReport is what check --json prints.
type CheckReport struct {
	App           string            `json:"app"`
	BaseURL       string            `json:"api_base"`
	Token         bool              `json:"token"`
	Items         []CheckItem       `json:"checks"`
	WholeOrg      bool              `json:"whole_org"`
	AuthedDept    []int64           `json:"authed_dept"`
	AuthedUser    []string          `json:"authed_user"`
	Fields        map[string]string `json:"fields"` // mobile/email: "readable", "hidden", "unknown"
	Admins        []dingtalk.Admin  `json:"admins"`
	OK            bool              `json:"ok"`
	APICalls      int               `json:"api_calls"`
	AuthUserField []string          `json:"auth_user_field,omitempty"`
}

func runCheck(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "check", "check [--json] [--config-profile NAME] [--config FILE]")
	var cf credFlags
	cf.register(env, fs)
	jsonOut := fs.Bool("json", false, "print the report as JSON on stdout")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	client, cred, err := newClient(env, &cf)
	if err != nil {
		return err
	}
	rep := &CheckReport{App: cred.AppKey, BaseURL: cred.BaseURL, Fields: map[string]string{"mobile": "unknown", "email": "unknown"}, AuthedDept: []int64{}, AuthedUser: []string{}, Admins: []dingtalk.Admin{}}
	if _, err := client.Token(ctx); err != nil {
		if *jsonOut {
			rep.Items = append(rep.Items, CheckItem{What: "access token", Required: true, Detail: err.Error(), Remedy: dingbook.ErrorHint(err)})
			printJSON(env, rep)
		}
		return err
	}
	rep.Token = true
	add := func(what, scope string, required bool, err error, okDetail string) bool {
		it := CheckItem{What: what, Scope: scope, Required: required, OK: err == nil, Detail: okDetail}
		if err != nil {
			it.Detail = err.Error()
			it.Remedy = dingbook.ErrorHint(err)
		}
		rep.Items = append(rep.Items, it)
		return err == nil
	}
	add("access token (gettoken)", "", true, nil, "the app key and secret work")

	// Contact range.
	scopes, err := client.AuthScopes(ctx)
	root := dingbook.RootDeptID
	if add("contact range (auth/scopes)", "qyapi_base", true, err, "") {
		rep.WholeOrg = scopes.WholeOrg()
		rep.AuthedDept = append(rep.AuthedDept, scopes.AuthedDept...)
		rep.AuthedUser = append(rep.AuthedUser, scopes.AuthedUser...)
		rep.AuthUserField = scopes.AuthUserField
		it := &rep.Items[len(rep.Items)-1]
		if rep.WholeOrg {
			it.Detail = "the whole organisation (全部员工)"
		} else {
			it.OK = false
			it.Detail = fmt.Sprintf("only departments %v and users %v", scopes.AuthedDept, scopes.AuthedUser)
			it.Remedy = "widen it at open-dev.dingtalk.com (开发者后台) → the app → 通讯录权限范围 / contact range → 全部员工 / All employees"
			if len(scopes.AuthedDept) > 0 {
				root = scopes.AuthedDept[0]
			}
		}
	}
	_, err = client.ListSubID(ctx, dingbook.RootDeptID)
	add("read departments (v2/department/listsubid)", "qyapi_get_department_list", true, err, "granted")
	_, err = client.ListSimple(ctx, root, nil, 1, true)
	if dingtalk.Code(err) == dingtalk.CodeDeptOutOfRange {
		err = nil // the scope is there; the range was reported above
	}
	add("list department members (user/listsimple)", "qyapi_get_department_member", true, err, "granted")
	n, err := client.UserCount(ctx, false)
	add("read members (user/count)", "qyapi_get_member", true, err, fmt.Sprintf("granted; DingTalk counts %d people", n))
	admins, err := client.ListAdmin(ctx)
	if add("administrators (user/listadmin)", "qyapi_get_member", false, err, "") {
		rep.Admins = admins
		var parts []string
		for _, a := range admins {
			lvl := "sub-admin"
			if a.SysLevel == 1 {
				lvl = "primary admin"
			}
			parts = append(parts, a.UserID+" ("+lvl+")")
		}
		rep.Items[len(rep.Items)-1].Detail = fmt.Sprintf("%d: %s", len(admins), summarize(parts, 5))
	}
	_, err = client.ListExternal(ctx, 0, 1)
	add("external contacts (extcontact/list; only for --external)", "qyapi_ext_read", false, err, "granted")

	// Field permissions: look at one page of members.
	page, err := client.ListUsers(ctx, root, nil)
	if err == nil && len(page.List) > 0 {
		mob, mail := false, false
		for _, u := range page.List {
			mob = mob || u.Mobile != "" || u.StateCode != ""
			mail = mail || u.Email != "" || u.OrgEmail != "" || u.WorkPlace != "" || u.Remark != "" || len(u.Extension) > 0
		}
		rep.Fields["mobile"], rep.Fields["email"] = readable(mob), readable(mail)
		rep.Items = append(rep.Items,
			CheckItem{What: "field: mobile, state_code (企业员工手机号信息)", OK: mob, Detail: rep.Fields["mobile"] + fmt.Sprintf(" (judged from %d people)", len(page.List)),
				Remedy: remedyIf(!mob, "grant 企业员工手机号信息 (employee mobile) at open-dev.dingtalk.com → the app → 权限管理 / Permissions")},
			CheckItem{What: "field: email, org_email, work_place, remark, extension (邮箱等个人信息)", OK: mail, Detail: rep.Fields["email"] + fmt.Sprintf(" (judged from %d people)", len(page.List)),
				Remedy: remedyIf(!mail, "grant 邮箱等个人信息 (email and personal info) at open-dev.dingtalk.com → the app → 权限管理 / Permissions")})
	} else if err != nil && dingtalk.Code(err) != dingtalk.CodeDeptOutOfRange {
		var de *dingbook.Error
		if errors.As(err, &de) {
			add("field permissions (v2/user/list)", "qyapi_get_department_member", false, err, "")
		}
	}
	rep.APICalls = client.Stats().Total
	rep.OK = true
	for _, it := range rep.Items {
		if it.Required && !it.OK {
			rep.OK = false
		}
	}
	if *jsonOut {
		printJSON(env, rep)
	} else {
		w := env.Stderr
		fmt.Fprintf(w, "Checking %s\n", cred)
		for _, it := range rep.Items {
			mark := "ok  "
			if !it.OK {
				mark = "MISSING"
				if !it.Required {
					mark = "warn"
				}
			}
			scope := ""
			if it.Scope != "" {
				scope = " [" + it.Scope + "]"
			}
			fmt.Fprintf(w, "  %-7s %s%s: %s\n", mark, it.What, scope, it.Detail)
			if it.Remedy != "" {
				fmt.Fprintf(w, "          remedy: %s\n", strings.ReplaceAll(it.Remedy, "\n", "\n          "))
			}
		}
		if rep.OK {
			fmt.Fprintln(w, "These credentials can pull the whole address book.")
		}
	}
	if !rep.OK {
		var missing []string
		for _, it := range rep.Items {
			if it.Required && !it.OK {
				missing = append(missing, it.What)
			}
		}
		return &dingbook.Error{Code: dingbook.EPERM, Message: "these credentials cannot pull the whole address book: missing " + strings.Join(missing, "; "),
			Hint: "apply each remedy listed above, then run 'dingbook check' again"}
	}
	return nil
}

func readable(ok bool) string {
	if ok {
		return "readable"
	}
	return "hidden"
}

func remedyIf(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}
