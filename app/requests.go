package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
)

// ActionRequest is the audit action of an export request's life:
// requested, notified, approved, denied, expired (Details "step").
const ActionRequest = "export-request"

// RequestExpiry is how long a request waits for its decision.
const RequestExpiry = 7 * 24 * time.Hour

// States of an export request.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
	RequestExpired  = "expired"
)

// Recipient names the third party the data goes to.
type Recipient struct {
	Organisation string `json:"organisation"`
	Country      string `json:"country"`
	Contract     string `json:"contract"`
}

// RequestSpec is what a person asks for (the body of POST
// /api/v1/requests).
type RequestSpec struct {
	Departments   []int64    `json:"departments"`
	UserIDs       []string   `json:"userids"`
	Profile       string     `json:"profile,omitempty"`
	Fields        []string   `json:"fields,omitempty"`
	Formats       []string   `json:"formats"`
	Purpose       string     `json:"purpose"`
	Basis         string     `json:"basis"`
	Justification string     `json:"justification,omitempty"`
	Days          int        `json:"days"`
	Recipient     *Recipient `json:"recipient,omitempty"`
	// PIA references the impact assessment the policy demands for
	// sensitive fields, large scale or a transfer abroad (the CLI's --pia).
	PIA string `json:"pia,omitempty"`
	// External names external contacts (their ids) to export: the basis
	// must be consent, with a consent reference for the batch
	// (ConsentRef) or for each contact (ConsentRefs); see external.go.
	External    []string          `json:"external,omitempty"`
	ConsentRef  string            `json:"consent_ref,omitempty"`
	ConsentRefs map[string]string `json:"consent_refs,omitempty"`
}

// Approval is one approver's yes, with the narrowing they chose (the
// request's whole scope when empty).
type Approval struct {
	By          string    `json:"by"`
	At          time.Time `json:"at"`
	Departments []int64   `json:"departments,omitempty"`
	Fields      []string  `json:"fields,omitempty"`
	Days        int       `json:"days,omitempty"`
}

// ExportRequest is a request with its state.
type ExportRequest struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Requester string `json:"requester"`
	// RequesterName is the requester's name at the request.
	RequesterName string `json:"requester_name,omitempty"`
	RequestSpec
	// Fields resolved by the policy (the profile's, or those asked).
	Resolved []string `json:"resolved_fields"`
	// People is how many people the scope held at the request.
	People int `json:"people"`
	// Needs is how many different approvers must approve (1 or 2).
	Needs     int        `json:"approvals_needed"`
	Approvers []string   `json:"approvers"`
	Approvals []Approval `json:"approvals"`
	// Granted is the scope approved (the last approval's narrowing).
	Granted   *Approval `json:"granted,omitempty"`
	DeniedBy  string    `json:"denied_by,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Created   time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Notified  int       `json:"notified"`
	// Followers maps the follower of each external contact asked for to
	// the contacts' ids: they are told when it is approved (external.go).
	Followers map[string][]string `json:"external_followers,omitempty"`
}

// Formats a request may name.
var requestFormats = []string{"xlsx", "csv", "vcf", "jsonl"}

func badRequest(field, format string, args ...any) *dingbook.Error {
	return (&dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf(format, args...)}).WithField(field)
}

// Requests are the export requests' use cases over an App, with the
// DingTalk client that names the approvers and sends their work notices.
type Requests struct {
	App    *App
	Client *dingtalk.Client
	Policy *policy.Policy
	// Link returns the page of request id, which its notices link to
	// (nil: none).
	Link func(id string) string
	// Say renders the notices' texts in a language (nil: their keys).
	Say Say
	// Operator is the CLI: the person at the terminal holds the state
	// directory and decides any request as an approver would (never
	// their own, never twice).
	Operator bool
}

func (rq *Requests) policy() *policy.Policy {
	if rq.Policy != nil {
		return rq.Policy
	}
	return policy.Default()
}

// governRequest is the governance request of a spec, so that a portal
// request is checked exactly like the CLI's export.
func (rq *Requests) governRequest(s *Session, spec RequestSpec, fields []string) *govern.Request {
	var scope []string
	for _, d := range spec.Departments {
		scope = append(scope, strconv.FormatInt(d, 10))
	}
	g := &govern.Request{Action: audit.ActionExport, Actor: s.UserID, Purpose: spec.Purpose, Basis: spec.Basis,
		Justification: spec.Justification, Profile: spec.Profile, Fields: fields, DeptScope: scope,
		Keep: time.Duration(spec.Days) * 24 * time.Hour, Now: rq.App.now}
	if spec.Profile != "" && len(fields) > 0 {
		g.Profile = spec.Profile
	}
	g.Transfer.PIA = spec.PIA
	if r := spec.Recipient; r != nil {
		g.Transfer.Recipient, g.Transfer.RecipientCountry, g.Transfer.Contract = r.Organisation, r.Country, r.Contract
	}
	return g
}

// Create checks a request like the CLI's governed export, names its
// approvers, stores it pending, audits it and sends the approvers a work
// notice. A refusal stores nothing but its audit record.
func (rq *Requests) Create(ctx context.Context, s *Session, spec RequestSpec) (*ExportRequest, error) {
	pol := rq.policy()
	g := rq.governRequest(s, spec, spec.Fields)
	refuse := func(err error) (*ExportRequest, error) {
		return nil, rq.App.Refuse(ctx, pol, g, err)
	}
	maxDays := pol.Requests.MaxDays
	switch {
	case spec.Days <= 0:
		return refuse(badRequest("days", "days must be a whole number of days, 1 or more (got %d)", spec.Days).WithHint("ask for the days you need, at most %d", maxDays))
	case spec.Days > maxDays:
		return refuse((&dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("%d days is longer than the policy's maximum of %d days", spec.Days, maxDays)}).WithField("days").WithHint("ask for %d days or fewer", maxDays))
	}
	if len(spec.Formats) == 0 {
		return refuse(badRequest("formats", "no format asked for").WithHint("choose formats from %s", strings.Join(requestFormats, ", ")))
	}
	for _, f := range spec.Formats {
		if !slices.Contains(requestFormats, f) {
			return refuse(badRequest("formats", "unknown format %q", f).WithHint("choose formats from %s", strings.Join(requestFormats, ", ")))
		}
	}
	if len(spec.Departments) == 0 && len(spec.UserIDs) == 0 && len(spec.External) == 0 {
		return refuse(badRequest("departments", "no departments and no people asked for").WithHint("name the departments (dept_id) or people (userid) whose data you need"))
	}
	if spec.Recipient != nil && (strings.TrimSpace(spec.Recipient.Organisation) == "" || strings.TrimSpace(spec.Recipient.Country) == "" || strings.TrimSpace(spec.Recipient.Contract) == "") {
		return refuse(badRequest("recipient", "a third-party recipient needs its organisation, country and contract reference").WithHint("fill in recipient.organisation, recipient.country and recipient.contract"))
	}
	d, err := govern.Resolve(pol, g)
	if err != nil {
		return refuse(err)
	}
	idx, err := rq.App.directory(ctx)
	if err != nil {
		return nil, err
	}
	// the scope: every department must exist; the people it holds
	depts := map[int64]bool{}
	for _, id := range spec.Departments {
		if idx.tree.Dept(id) == nil {
			return refuse((&dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("department %d is not in the directory", id)}).WithField("departments").WithHint("choose departments from GET /api/v1/departments"))
		}
		for _, sub := range idx.tree.Descendants(id) {
			depts[sub] = true
		}
	}
	people := map[string]bool{}
	covering := slices.Clone(spec.Departments)
	followers, err := rq.checkExternal(ctx, s, pol, spec)
	if err != nil {
		return refuse(err)
	}
	for f := range followers {
		if i, ok := idx.byID[f]; ok {
			covering = append(covering, idx.people[i].DeptIDs()...)
		}
	}
	// a person the requester may not see is refused exactly as one who
	// does not exist: a request never tells who exists (App.Person's rule)
	v := idx.viewer(s)
	for _, u := range spec.UserIDs {
		i, ok := idx.byID[u]
		if !ok || !v.CanSee(&idx.people[i]) {
			return refuse((&dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("person %q is not in the directory", u)}).WithField("userids").WithHint("choose people from GET /api/v1/people"))
		}
		people[u] = true
		covering = append(covering, idx.people[i].DeptIDs()...)
	}
	for i := range idx.people {
		if slices.ContainsFunc(idx.people[i].Depts, func(m dingbook.Membership) bool { return depts[m.DeptID] }) {
			people[idx.people[i].UserID] = true
		}
	}
	approvers, err := rq.approvers(ctx, idx.tree, covering, s.UserID)
	if err != nil {
		return nil, err
	}
	// the policy's approvers (serve.approvers) decide every request; the
	// role never widens what they see in the directory
	for _, u := range pol.Serve.Approvers {
		if _, member := idx.byID[u]; member && u != s.UserID {
			approvers = append(approvers, u)
		}
	}
	slices.Sort(approvers)
	approvers = slices.Compact(approvers)
	if len(approvers) == 0 {
		return refuse(&dingbook.Error{Code: dingbook.EPERM, Message: "no approver administers every department of this request (the requester cannot approve it)",
			Hint: "ask for fewer departments, split the request by department, or ask the primary admin"})
	}
	now := rq.App.now()
	er := &ExportRequest{ID: newRequestID(), State: RequestPending, Requester: s.UserID, RequesterName: s.Name, RequestSpec: spec, Resolved: d.Fields,
		People: len(people), Needs: 1, Approvers: approvers, Approvals: []Approval{}, Created: now, ExpiresAt: now.Add(RequestExpiry), Followers: followers}
	if d.Profile != "" {
		er.Profile = d.Profile
	}
	if er.Basis == "" {
		er.Basis = d.Basis
	}
	if rq.sensitive(pol, d.Fields) || len(people) > pol.Requests.TwoApproversOver {
		er.Needs = 2
	}
	if err := rq.save(ctx, er, "requested", s.UserID, ""); err != nil {
		return nil, err
	}
	rq.notify(ctx, er)
	return er, nil
}

func (rq *Requests) sensitive(pol *policy.Policy, fields []string) bool {
	return slices.ContainsFunc(fields, func(f string) bool {
		c, ok := pol.Class(f)
		return !ok || c == dingbook.ClassSensitive
	})
}

// approvers returns the admins who may approve a request whose
// departments are depts, as DingTalk says now (user/listadmin, get_admin_scope): the
// primary admins, and the sub-admins whose scope holds every one of the
// departments or an ancestor of it. The requester is never one.
func (rq *Requests) approvers(ctx context.Context, tree *dingbook.Tree, depts []int64, requester string) ([]string, error) {
	if rq.Client == nil {
		return nil, nil
	}
	return adminsCovering(ctx, rq.Client, requester, func(scope []int64) bool {
		under := map[int64]bool{}
		for _, id := range scope {
			for _, d := range tree.Descendants(id) {
				under[d] = true
			}
		}
		return len(depts) > 0 && !slices.ContainsFunc(depts, func(d int64) bool { return !under[d] })
	})
}

// notify sends the approvers a work notice with the link to the
// request's page, each in their language; a failure is recorded, the
// request stands.
func (rq *Requests) notify(ctx context.Context, er *ExportRequest) {
	if rq.Client == nil {
		return
	}
	who := er.Requester
	if er.RequesterName != "" {
		who = er.RequesterName + " (" + er.Requester + ")"
	}
	n := rq.notice("request.notice.asked", er.ID, who, er.People, len(er.Resolved), er.Days, short(er.Purpose))
	rq.sendNotice(ctx, er, n, "notified", er.Approvers)
}

// notice is the work notice key (args) about request id, linking to its
// page.
func (rq *Requests) notice(key, id string, args ...any) notice {
	n := notice{client: rq.Client, say: rq.Say, key: key, args: args}
	if rq.Link != nil {
		n.link = rq.Link(id)
	}
	return n
}

// sendNotice sends n to users and records it as step of er's life (a
// failure too: the decision stands).
func (rq *Requests) sendNotice(ctx context.Context, er *ExportRequest, n notice, step string, users []string) {
	how, err := n.send(ctx, rq.App, users)
	details := map[string]string{"step": step, "request": er.ID, "to": how}
	if step == "notified" {
		details["approvers"] = strings.Join(users, ",")
	}
	outcome := audit.OutcomeOK
	if err != nil {
		outcome, details["notice_error"] = audit.OutcomeFailed, err.Error()
	}
	audit.Append(ctx, rq.App.DB, audit.Record{Time: rq.App.now(), Actor: er.Requester, Action: ActionRequest, Outcome: outcome, Details: details})
}

// tellRequester sends the requester the decision of er, in their
// language, with the link to its page.
func (rq *Requests) tellRequester(ctx context.Context, er *ExportRequest) {
	if rq.Client == nil {
		return
	}
	var n notice
	switch er.State {
	case RequestApproved:
		g := er.Granted
		narrowed := len(g.Fields) < len(er.Resolved) || len(g.Departments) < len(er.Departments) || g.Days < er.Days
		key := "request.notice.approved"
		if narrowed {
			key = "request.notice.approved_narrowed"
		}
		n = rq.notice(key, er.ID, short(er.Purpose), len(g.Fields), g.Days)
	case RequestDenied:
		n = rq.notice("request.notice.denied", er.ID, short(er.Purpose), short(er.Reason))
	default:
		return
	}
	rq.sendNotice(ctx, er, n, "requester-notified", []string{er.Requester})
}

// save stores er and its audit record in one transaction.
func (rq *Requests) save(ctx context.Context, er *ExportRequest, step, actor, reason string) error {
	doc, err := json.Marshal(er)
	if err != nil {
		return err
	}
	now := rq.App.now()
	rec := audit.Record{Time: now, Actor: actor, Action: ActionRequest, Outcome: audit.OutcomeOK, Reason: reason,
		Details: map[string]string{"step": step, "request": er.ID, "requester": er.Requester, "state": er.State,
			"fields": strings.Join(er.Resolved, ","), "people": strconv.Itoa(er.People), "purpose": er.Purpose, "basis": er.Basis}}
	_, err = audit.AppendWith(ctx, rq.App.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		return tx.PutExportRequest(store.ExportRequest{ID: er.ID, Requester: er.Requester, State: er.State, Doc: doc, Created: er.Created, Updated: now})
	})
	return err
}

// Get returns request id (expired when its time passed undecided), or a
// not-found error.
func (rq *Requests) Get(ctx context.Context, id string) (*ExportRequest, error) {
	row, err := rq.App.DB.ExportRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("there is no export request %q", id), Hint: "list your requests with GET /api/v1/requests"}
	}
	return rq.load(ctx, *row)
}

func (rq *Requests) load(ctx context.Context, row store.ExportRequest) (*ExportRequest, error) {
	var er ExportRequest
	if err := json.Unmarshal(row.Doc, &er); err != nil {
		return nil, err
	}
	if er.State == RequestPending && !rq.App.now().Before(er.ExpiresAt) {
		er.State = RequestExpired
		if err := rq.save(ctx, &er, "expired", "dingbook", "undecided for 7 days"); err != nil {
			return nil, err
		}
	}
	return &er, nil
}

// List returns the requests s made (role "mine") or may decide (role
// "approver": those naming s as an approver; every request for the
// Operator).
func (rq *Requests) List(ctx context.Context, s *Session, role string) ([]ExportRequest, error) {
	if role != "mine" && role != "approver" {
		return nil, badRequest("role", "unknown role %q", role).WithHint("use role=mine or role=approver")
	}
	rows, err := rq.App.DB.ExportRequests(ctx)
	if err != nil {
		return nil, err
	}
	out := []ExportRequest{}
	for _, row := range rows {
		er, err := rq.load(ctx, row)
		if err != nil {
			return nil, err
		}
		if role == "mine" && er.Requester == s.UserID || role == "approver" && (rq.Operator || slices.Contains(er.Approvers, s.UserID)) {
			out = append(out, *er)
		}
	}
	return out, nil
}

// decidable returns request id when s may decide it now.
func (rq *Requests) decidable(ctx context.Context, s *Session, id string) (*ExportRequest, error) {
	// someone who may not see the request learns nothing of it (Show)
	er, err := rq.Show(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if err := rq.mayDecide(s, er); err != nil {
		return nil, err
	}
	return er, nil
}

// mayDecide refuses s's decision of er when s may not decide it now.
func (rq *Requests) mayDecide(s *Session, er *ExportRequest) error {
	id := er.ID
	switch {
	case er.Requester == s.UserID:
		return &dingbook.Error{Code: dingbook.EPERM, Message: "you cannot decide your own export request", Hint: "one of its approvers decides it: " + strings.Join(er.Approvers, ", ")}
	case !slices.Contains(er.Approvers, s.UserID) && !rq.Operator:
		return &dingbook.Error{Code: dingbook.EPERM, Message: fmt.Sprintf("you are not an approver of export request %s (its departments are outside your admin scope)", id), Hint: "its approvers are " + strings.Join(er.Approvers, ", ")}
	case er.State != RequestPending:
		return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("export request %s is %s, no longer pending", id, er.State), Hint: "the requester may ask again"}
	case slices.ContainsFunc(er.Approvals, func(a Approval) bool { return a.By == s.UserID }):
		return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("you already approved export request %s; it needs a second, different approver", id), Hint: "ask another of its approvers: " + strings.Join(er.Approvers, ", ")}
	}
	return nil
}

// MayDecide reports whether s may approve or deny er now.
func (rq *Requests) MayDecide(s *Session, er *ExportRequest) bool { return rq.mayDecide(s, er) == nil }

// Show returns request id to s, its requester, one of its approvers or
// the primary admin; to anyone else it is not found, like one that does
// not exist.
func (rq *Requests) Show(ctx context.Context, s *Session, id string) (*ExportRequest, error) {
	er, err := rq.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if er.Requester != s.UserID && !slices.Contains(er.Approvers, s.UserID) && !slices.Contains(s.Roles, RoleAdmin) && !rq.Operator {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("there is no export request %q you may see", id), Hint: "list your requests at /requests"}
	}
	return er, nil
}

// Approve records s's approval of request id, narrowed by n (zero
// fields: the request's, or the previous approval's): fewer departments,
// fields or days only. With the approvals it needs it is approved.
func (rq *Requests) Approve(ctx context.Context, s *Session, id string, n Approval) (*ExportRequest, error) {
	er, err := rq.decidable(ctx, s, id)
	if err != nil {
		return nil, err
	}
	base := Approval{Departments: er.Departments, Fields: er.Resolved, Days: er.Days}
	if er.Granted != nil {
		base = *er.Granted
	}
	if len(n.Departments) == 0 {
		n.Departments = base.Departments
	}
	if len(n.Fields) == 0 {
		n.Fields = base.Fields
	}
	if n.Days == 0 {
		n.Days = base.Days
	}
	for _, d := range n.Departments {
		if !slices.Contains(base.Departments, d) {
			return nil, badRequest("departments", "department %d is not in the request; an approval may only narrow it", d).WithHint("approve some of %v", base.Departments)
		}
	}
	for _, f := range n.Fields {
		if !slices.Contains(base.Fields, f) {
			return nil, badRequest("fields", "field %q is not in the request; an approval may only narrow it", f).WithHint("approve some of %s", strings.Join(base.Fields, ", "))
		}
	}
	if n.Days < 0 || n.Days > base.Days {
		return nil, badRequest("days", "%d days is not within the %d days asked for", n.Days, base.Days).WithHint("approve 1 to %d days", base.Days)
	}
	n.By, n.At = s.UserID, rq.App.now()
	er.Approvals = append(er.Approvals, n)
	er.Granted = &Approval{Departments: n.Departments, Fields: n.Fields, Days: n.Days}
	step := "approved"
	if len(er.Approvals) >= er.Needs {
		er.State = RequestApproved
	} else {
		step = "approved-first"
	}
	if err := rq.save(ctx, er, step, s.UserID, ""); err != nil {
		return nil, err
	}
	// an approved request becomes a grant (grants.go)
	if err := (&Grants{App: rq.App, Policy: rq.Policy}).grantOf(ctx, er); err != nil {
		return nil, err
	}
	if er.State == RequestApproved {
		rq.notifyFollowers(ctx, er)
		rq.tellRequester(ctx, er)
	}
	return er, nil
}

// Deny refuses request id with a reason.
func (rq *Requests) Deny(ctx context.Context, s *Session, id, reason string) (*ExportRequest, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, badRequest("reason", "a denial needs a reason").WithHint("say why, so the requester knows what to change")
	}
	er, err := rq.decidable(ctx, s, id)
	if err != nil {
		return nil, err
	}
	er.State, er.DeniedBy, er.Reason = RequestDenied, s.UserID, reason
	if err := rq.save(ctx, er, "denied", s.UserID, reason); err != nil {
		return nil, err
	}
	rq.tellRequester(ctx, er)
	return er, nil
}

func newRequestID() string { return "r-" + newID() }
