package serve

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
)

// The pages of export requests and grants (issue 11): plain HTML forms
// over the same use cases as the JSON API (app.Requests, app.Grants).
// A refusal is shown on the form, in the person's language; a decision
// or a step goes back to the request's or grant's page (POST, then 303).

func (s *Server) requestPageRoutes() []Route {
	return []Route{
		{Pattern: "GET /requests/new", Rule: Person, handle: s.newRequestPage},
		{Pattern: "POST /requests", Rule: Person, handle: s.createRequestForm},
		{Pattern: "GET /requests", Rule: Person, handle: s.myRequestsPage},
		{Pattern: "GET /requests/inbox", Rule: Person, handle: s.inboxPage},
		{Pattern: "GET /requests/{id}", Rule: Person, handle: s.requestPage},
		{Pattern: "POST /requests/{id}/approve", Rule: Person, handle: s.approveForm},
		{Pattern: "POST /requests/{id}/deny", Rule: Person, handle: s.denyForm},
		{Pattern: "GET /grants", Rule: Person, handle: s.grantsPage},
		{Pattern: "GET /grants/{id}", Rule: Person, handle: s.grantPage},
		{Pattern: "POST /grants/{id}/accept-terms", Rule: Person, handle: s.acceptTermsForm},
		{Pattern: "POST /grants/{id}/bundle", Rule: Person, handle: s.bundleForm},
		{Pattern: "POST /grants/{id}/revoke", Rule: Person, handle: s.revokeGrantForm},
	}
}

// reqPage is the data of the request and grant pages (pageData.Req).
type reqPage struct {
	// Error is the refusal shown above a form (translated).
	Error string
	// the new request's form: its choices and the values sent back
	Form     url.Values
	Depts    []app.DeptInfo
	Profiles []string
	Fields   []fieldChoice
	Formats  []string
	Bases    []string
	MaxDays  int
	// External are the external contacts the requester may see (the
	// form's choice of them).
	External []app.DirExternal
	// the lists
	Requests []app.ExportRequest
	Grants   []app.Grant
	Others   []app.Grant
	// one request, and what the viewer may do with it
	Request   *app.ExportRequest
	MayDecide bool
	GrantID   string
	// one grant
	Grant     *app.Grant
	Terms     app.TermsText
	Grantee   bool
	MayRevoke bool
	// StepUp: the login is older than app.StepUpAge (Login goes through
	// DingTalk again and back to the grant).
	StepUp        bool
	StepUpMinutes int
	Login         string
	Bundle        *BundleReady
	// DeptName names the departments of the snapshot.
	DeptName map[int64]string
}

// fieldChoice is a field of the form, with its header in the page's
// language.
type fieldChoice struct {
	Key, Header string
	Class       dingbook.FieldClass
}

// Checked reports whether the form sent value v for name.
func (p *reqPage) Checked(name, v string) bool { return slices.Contains(p.Form[name], v) }

// Value is the form's value of name.
func (p *reqPage) Value(name string) string { return p.Form.Get(name) }

// DeptLabel names department id (its path), or its id when unknown.
func (p *reqPage) DeptLabel(id int64) string {
	if n, ok := p.DeptName[id]; ok {
		return n
	}
	return strconv.FormatInt(id, 10)
}

// GrantedDept reports whether department id is in the scope the request
// would be approved with now (its last approval's, else its own).
func (p *reqPage) GrantedDept(id int64) bool {
	if g := p.Request.Granted; g != nil {
		return slices.Contains(g.Departments, id)
	}
	return true
}

// GrantedField is GrantedDept for a field.
func (p *reqPage) GrantedField(f string) bool {
	if g := p.Request.Granted; g != nil {
		return slices.Contains(g.Fields, f)
	}
	return true
}

// DecideFields are the fields an approver may keep: the request's, or
// its last approval's.
func (p *reqPage) DecideFields() []string {
	if g := p.Request.Granted; g != nil {
		return g.Fields
	}
	return p.Request.Resolved
}

// DecideDays is the most days an approver may grant.
func (p *reqPage) DecideDays() int {
	if g := p.Request.Granted; g != nil {
		return g.Days
	}
	return p.Request.Days
}

// grantRows is a table of grants on a page.
type grantRows struct {
	D    pageData
	List []app.Grant
}

// Rows is the table of list on page d.
func (p *reqPage) Rows(d pageData, list []app.Grant) grantRows { return grantRows{D: d, List: list} }

// withDepts fills DeptName (and Depts) from the latest complete snapshot.
func (s *Server) withDepts(r *http.Request, p *reqPage) error {
	d, err := s.App.DirectoryTree(r.Context())
	if err != nil {
		return err
	}
	p.Depts, p.DeptName = d.Departments, map[int64]string{}
	for _, x := range d.Departments {
		p.DeptName[x.ID] = x.Path
	}
	return nil
}

// fieldError is the catalogue key of the refusal of a form's field.
const fieldError = "request.error.%s"

// formError translates a refusal for a form: the field's text when the
// catalogue has one ("request.error.<field>"), else the refusal's own
// message and hint.
func formError(lang string, err error, maxDays int) string {
	var de *dingbook.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	field := de.Field
	switch {
	case de.Code == app.CodeTerms:
		return tr(lang, "grant.error.terms")
	case de.Code == dingbook.EPERM && field == "":
		return tr(lang, "request.error.no_approver") + " " + de.Message
	case field == "days":
		return tr(lang, "request.error.days", maxDays)
	case field != "" && field != "userids" && hasKey(fmt.Sprintf(fieldError, field)):
		// (the form names the person refused itself: createRequestForm)
		return tr(lang, fmt.Sprintf(fieldError, field))
	}
	msg := de.Message
	if de.Hint != "" {
		msg += " (" + de.Hint + ")"
	}
	return tr(lang, "request.error.other", msg)
}

// ---- a new request ----

// requestForm is the new request's form with the values sent (form),
// for sess's person: the external contacts they may see.
func (s *Server) requestForm(r *http.Request, sess *app.Session, form url.Values) (*reqPage, error) {
	pol := s.policy()
	p := &reqPage{Form: form, Profiles: pol.AllowedProfiles, Formats: []string{"xlsx", "csv", "vcf", "jsonl"},
		Bases: pol.AllowedBases, MaxDays: pol.Requests.MaxDays}
	if len(p.Bases) == 0 {
		p.Bases = policy.Bases
	}
	lang := pickLang(r, nil)
	for _, f := range dingbook.Fields {
		if c, ok := pol.Class(f.Key); ok {
			p.Fields = append(p.Fields, fieldChoice{Key: f.Key, Header: f.Header(lang), Class: c})
		}
	}
	if err := s.withDepts(r, p); err != nil {
		return nil, err
	}
	var err error
	p.External, err = s.App.ExternalContacts(r.Context(), sess, pol)
	return p, err
}

func (s *Server) newRequestPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	form := url.Values{"profile": {s.policy().DefaultProfile}, "formats": {"xlsx"}, "basis": {s.policy().DefaultBasis},
		"days": {strconv.Itoa(s.policy().Requests.MaxDays)}}
	p, err := s.requestForm(r, sess, form)
	if err != nil {
		s.dirFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "request_new", pageData{Title: "request.new.title", Session: sess, Req: p})
}

// specOf reads the new request's form.
func specOf(f url.Values) (app.RequestSpec, error) {
	spec := app.RequestSpec{Formats: f["formats"], Purpose: strings.TrimSpace(f.Get("purpose")), Basis: f.Get("basis"),
		Justification: strings.TrimSpace(f.Get("justification")), PIA: strings.TrimSpace(f.Get("pia"))}
	for _, d := range f["departments"] {
		id, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return spec, (&dingbook.Error{Code: dingbook.EINVALID, Message: "department " + strconv.Quote(d) + " is not a department id"}).WithField("departments")
		}
		spec.Departments = append(spec.Departments, id)
	}
	if p := f.Get("profile"); p == "fields" {
		spec.Fields = f["fields"]
	} else {
		spec.Profile = p
	}
	days, err := strconv.Atoi(strings.TrimSpace(f.Get("days")))
	if err != nil {
		return spec, (&dingbook.Error{Code: dingbook.EINVALID, Message: "days must be a whole number"}).WithField("days")
	}
	spec.Days = days
	spec.UserIDs = strings.FieldsFunc(f.Get("userids"), func(c rune) bool { return c == ',' || c == '，' || unicode.IsSpace(c) })
	spec.External, spec.ConsentRef = f["external"], strings.TrimSpace(f.Get("consent_ref"))
	org, country, contract := strings.TrimSpace(f.Get("recipient_organisation")), strings.TrimSpace(f.Get("recipient_country")), strings.TrimSpace(f.Get("recipient_contract"))
	if org != "" || country != "" || contract != "" {
		spec.Recipient = &app.Recipient{Organisation: org, Country: country, Contract: contract}
	}
	return spec, nil
}

// refusalStatus is the HTTP status of a use case's refusal, as the API
// answers it.
func refusalStatus(err error) int {
	var de *dingbook.Error
	if errors.As(err, &de) {
		switch de.Code {
		case dingbook.EPOLICY:
			return http.StatusUnprocessableEntity
		case dingbook.EPERM:
			return http.StatusForbidden
		case dingbook.ENOTFOUND:
			if de.Field == "" {
				return http.StatusNotFound
			}
			return http.StatusBadRequest
		case dingbook.EINVALID:
			return http.StatusBadRequest
		}
	}
	return 0
}

// peopleSeen checks that the form names only people its person may see
// (app.Person: one they may not see is not found, like one who does not
// exist); the refusal names the first other (unseen).
func (s *Server) peopleSeen(r *http.Request, sess *app.Session, userids []string) (unseen string, err error) {
	for _, u := range userids {
		if _, err := s.App.Person(r.Context(), sess, u); err != nil {
			var de *dingbook.Error
			if errors.As(err, &de) && de.Code == dingbook.ENOTFOUND {
				return u, (&dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("person %q is not in the directory", u)}).
					WithField("userids").WithHint("name people from the directory's search, by their userid")
			}
			return "", err
		}
	}
	return "", nil
}

func (s *Server) createRequestForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	spec, err := specOf(r.PostForm)
	var unseen string
	if err == nil {
		unseen, err = s.peopleSeen(r, sess, spec.UserIDs)
	}
	var er *app.ExportRequest
	if err == nil {
		er, err = s.requests().Create(r.Context(), sess, spec)
	}
	if err == nil {
		http.Redirect(w, r, "/requests/"+url.PathEscape(er.ID), http.StatusSeeOther)
		return
	}
	status := refusalStatus(err)
	if status == 0 {
		s.fail(w, r, err)
		return
	}
	p, ferr := s.requestForm(r, sess, r.PostForm)
	if ferr != nil {
		s.dirFail(w, r, ferr)
		return
	}
	p.Error = formError(pickLang(r, sess), err, p.MaxDays)
	if unseen != "" {
		p.Error = tr(pickLang(r, sess), "request.error.userids", unseen)
	}
	s.render(w, r, status, "request_new", pageData{Title: "request.new.title", Session: sess, Req: p})
}

// ---- lists ----

func (s *Server) myRequestsPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.requestList(w, r, sess, "mine", "request.mine.title")
}

// inboxPage lists the requests the person may decide now.
func (s *Server) inboxPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.requestList(w, r, sess, "approver", "request.inbox.title")
}

func (s *Server) requestList(w http.ResponseWriter, r *http.Request, sess *app.Session, role, title string) {
	rq := s.requests()
	list, err := rq.List(r.Context(), sess, role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if role == "approver" {
		list = slices.DeleteFunc(list, func(er app.ExportRequest) bool { return !rq.MayDecide(sess, &er) })
	}
	slices.SortStableFunc(list, func(a, b app.ExportRequest) int { return b.Created.Compare(a.Created) })
	p := &reqPage{Requests: list}
	if err := s.withDepts(r, p); err != nil {
		s.dirFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "request_list", pageData{Title: title, Session: sess, Req: p})
}

// ---- one request ----

// requestView renders request {id} for the viewer with status, and the
// refusal err (nil: none) above its forms.
func (s *Server) requestView(w http.ResponseWriter, r *http.Request, sess *app.Session, status int, refusal error) {
	rq := s.requests()
	er, err := rq.Show(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	p := &reqPage{Request: er, MayDecide: rq.MayDecide(sess, er)}
	if err := s.withDepts(r, p); err != nil {
		s.dirFail(w, r, err)
		return
	}
	if er.State == app.RequestApproved {
		if g, err := s.grants().Show(r.Context(), sess, app.GrantIDOf(er.ID)); err == nil {
			p.GrantID = g.ID
		}
	}
	if refusal != nil {
		p.Error = formError(pickLang(r, sess), refusal, er.Days)
	}
	s.render(w, r, status, "request", pageData{Title: "request.title", Session: sess, Req: p})
}

func (s *Server) requestPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.requestView(w, r, sess, http.StatusOK, nil)
}

// decided answers a decision: back to the request's page, or the page
// with the refusal.
func (s *Server) decided(w http.ResponseWriter, r *http.Request, sess *app.Session, err error) {
	if err == nil {
		http.Redirect(w, r, "/requests/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
		return
	}
	status := refusalStatus(err)
	if status == 0 {
		s.fail(w, r, err)
		return
	}
	if status == http.StatusNotFound {
		s.refuseRequest(w, r, err)
		return
	}
	s.requestView(w, r, sess, status, err)
}

// form parses a page's POST form (at most MaxBodyBytes); false: it
// answered the request.
func (s *Server) form(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "problem.body_malformed",
			&dingbook.Error{Code: dingbook.EINVALID, Message: "the form could not be read: " + err.Error(), Hint: "send the form from its page"}, err.Error())
		return false
	}
	return true
}

func (s *Server) approveForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	rq := s.requests()
	er, err := rq.Show(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	// the form lists what may be kept: nothing kept is no approval (an
	// empty narrowing would mean "all")
	var n app.Approval
	for _, d := range r.PostForm["departments"] {
		id, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			s.decided(w, r, sess, (&dingbook.Error{Code: dingbook.EINVALID, Message: "department " + strconv.Quote(d) + " is not a department id"}).WithField("departments"))
			return
		}
		n.Departments = append(n.Departments, id)
	}
	n.Fields = r.PostForm["fields"]
	switch {
	case len(er.Departments) > 0 && len(n.Departments) == 0:
		err = (&dingbook.Error{Code: dingbook.EINVALID, Message: "no department kept"}).WithField("keep_departments")
	case len(n.Fields) == 0:
		err = (&dingbook.Error{Code: dingbook.EINVALID, Message: "no field kept"}).WithField("keep_fields")
	}
	if err == nil {
		if n.Days, err = strconv.Atoi(strings.TrimSpace(r.PostForm.Get("days"))); err != nil || n.Days <= 0 {
			err = (&dingbook.Error{Code: dingbook.EINVALID, Message: "days must be a whole number, 1 or more"}).WithField("keep_days")
		}
	}
	if err == nil {
		_, err = rq.Approve(r.Context(), sess, er.ID, n)
	}
	s.decided(w, r, sess, err)
}

func (s *Server) denyForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	rq := s.requests()
	if _, err := rq.Show(r.Context(), sess, r.PathValue("id")); err != nil {
		s.refuseRequest(w, r, err)
		return
	}
	_, err := rq.Deny(r.Context(), sess, r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("reason")))
	s.decided(w, r, sess, err)
}

// ---- grants ----

func (s *Server) grantsPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	gs := s.grants()
	mine, err := gs.List(r.Context(), sess, "mine")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	others, err := gs.List(r.Context(), sess, "approver")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	others = slices.DeleteFunc(others, func(g app.Grant) bool { return g.Grantee == sess.UserID })
	s.render(w, r, http.StatusOK, "grant_list", pageData{Title: "grant.list.title", Session: sess, Req: &reqPage{Grants: mine, Others: others}})
}

// grantView renders grant {id} for the viewer with status: the terms in
// their language, the step-up, the bundle just made (b, shown this once)
// and the refusal err above the forms.
func (s *Server) grantView(w http.ResponseWriter, r *http.Request, sess *app.Session, status int, b *BundleReady, refusal error) {
	gs := s.grants()
	g, err := gs.Show(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.refuseGrant(w, r, err)
		return
	}
	lang := pickLang(r, sess)
	p := &reqPage{Grant: g, Terms: gs.Terms(lang), Grantee: g.Grantee == sess.UserID, MayRevoke: gs.MayRevoke(sess, g), Bundle: b,
		StepUp: s.now().Sub(sess.Created) > app.StepUpAge, StepUpMinutes: app.StepUpMinutes(), Login: stepUpLogin(g.ID)}
	if err := s.withDepts(r, p); err != nil {
		s.dirFail(w, r, err)
		return
	}
	if refusal != nil {
		p.Error = formError(lang, refusal, 0)
	}
	s.render(w, r, status, "grant", pageData{Title: "grant.title", Session: sess, Req: p})
}

// stepUpLogin is the login that steps up for grant id and returns to its
// page.
func stepUpLogin(id string) string {
	return "/login?next=" + url.QueryEscape("/grants/"+url.PathEscape(id))
}

func (s *Server) grantPage(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	s.grantView(w, r, sess, http.StatusOK, nil, nil)
}

// grantStep answers a step on a grant's page: back to the page, or the
// page with the refusal.
func (s *Server) grantStep(w http.ResponseWriter, r *http.Request, sess *app.Session, err error) {
	if err == nil {
		http.Redirect(w, r, "/grants/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
		return
	}
	var de *dingbook.Error
	status := refusalStatus(err)
	switch {
	case errors.As(err, &de) && (de.Code == app.CodeTerms || de.Code == app.CodeStepUp):
		status = http.StatusForbidden
	case status == 0:
		s.fail(w, r, err)
		return
	case status == http.StatusNotFound:
		s.refuseGrant(w, r, err)
		return
	}
	s.grantView(w, r, sess, status, nil, err)
}

func (s *Server) acceptTermsForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	_, err := s.grants().AcceptTerms(r.Context(), sess, r.PathValue("id"), pickLang(r, sess), r.PostForm.Get("accept") == "1")
	s.grantStep(w, r, sess, err)
}

// bundleForm prepares the download: the page shows the passphrase and
// the one-time link this once. A login older than the step-up allows
// goes through DingTalk's login again, back to the grant's page.
func (s *Server) bundleForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	b, err := s.grants().Bundle(r.Context(), sess, r.PathValue("id"), app.BundleOptions{AgeRecipient: strings.TrimSpace(r.PostForm.Get("age_recipient"))})
	var de *dingbook.Error
	switch {
	case errors.As(err, &de) && de.Code == app.CodeStepUp:
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, stepUpLogin(r.PathValue("id")), http.StatusSeeOther)
	case err != nil:
		s.grantStep(w, r, sess, err)
	default:
		s.grantView(w, r, sess, http.StatusOK, s.bundleReady(b), nil)
	}
}

func (s *Server) revokeGrantForm(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if !s.form(w, r) {
		return
	}
	_, err := s.grants().Revoke(r.Context(), sess, r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("reason")))
	s.grantStep(w, r, sess, err)
}
