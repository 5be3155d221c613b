package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/seal"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
)

// ActionGrant is the audit action of a grant's life (Details "step"):
// granted, terms-accepted, stepped-up, bundle, downloaded, revoked,
// expired.
const ActionGrant = "grant"

// StepUpAge is how old a DingTalk login may be when the grantee asks for
// the bundle.
const StepUpAge = 5 * time.Minute

// StepUpMinutes is StepUpAge in whole minutes, for the texts that name it.
func StepUpMinutes() int { return int(StepUpAge / time.Minute) }

// States of a grant: active (downloads left), used (none left), revoked,
// expired.
const (
	GrantActive  = "active"
	GrantUsed    = "used"
	GrantRevoked = "revoked"
	GrantExpired = "expired"
)

// Error codes of a grant's refusals a front end answers in its own way:
// the terms are not accepted yet; the login is too old (log in again);
// the download link was used, revoked or expired (HTTP 410).
const (
	CodeTerms  = "terms"
	CodeStepUp = "step-up"
	CodeGone   = "gone"
)

// TermsAcceptance is the grantee's acceptance of the confidentiality
// terms: the version and the SHA-256 of the text shown, in its language.
type TermsAcceptance struct {
	Version string    `json:"version"`
	Lang    string    `json:"lang"`
	SHA256  string    `json:"sha256"`
	At      time.Time `json:"at"`
}

// Grant is an approved export request turned into a download permission.
type Grant struct {
	ID            string     `json:"id"`
	RequestID     string     `json:"request_id"`
	Grantee       string     `json:"grantee"`
	State         string     `json:"state"`
	Departments   []int64    `json:"departments"`
	UserIDs       []string   `json:"userids"`
	Fields        []string   `json:"fields"`
	Formats       []string   `json:"formats"`
	Purpose       string     `json:"purpose"`
	Basis         string     `json:"basis"`
	Justification string     `json:"justification,omitempty"`
	Recipient     *Recipient `json:"recipient,omitempty"`
	PIA           string     `json:"pia,omitempty"`
	// ApprovedBy are the approvers who said yes; Approvers everyone who
	// could decide the request (they, and admins, may revoke).
	ApprovedBy    []string         `json:"approved_by"`
	Approvers     []string         `json:"approvers"`
	Created       time.Time        `json:"created_at"`
	ExpiresAt     time.Time        `json:"expires_at"`
	Downloads     int              `json:"downloads"`
	DownloadsLeft int              `json:"downloads_left"`
	Terms         *TermsAcceptance `json:"terms,omitempty"`
	RevokedBy     string           `json:"revoked_by,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	// External are the external contacts the request named, with their
	// consent references and followers (RequestSpec.External); Bundled
	// the contacts each bundle held, by its export id (withdrawn ones
	// and ones the grantee no longer sees are left out).
	External    []string            `json:"external,omitempty"`
	ConsentRef  string              `json:"consent_ref,omitempty"`
	ConsentRefs map[string]string   `json:"consent_refs,omitempty"`
	Followers   map[string][]string `json:"external_followers,omitempty"`
	Bundled     map[string][]string `json:"external_bundled,omitempty"`
}

// Grants are the grants' use cases over an App.
type Grants struct {
	App    *App
	Policy *policy.Policy
	// Operator is the CLI: the person at the terminal holds the state
	// directory (every snapshot) and may revoke any grant.
	Operator bool
	// Client sends the followers of external contacts a work notice when
	// a bundle holding their contacts is downloaded (nil: none), in the
	// texts of Say.
	Client *dingtalk.Client
	Say    Say
	// stage, when set (tests), is called as Bundle reaches a stage:
	// "export" before the bundle's export, "exported" between its
	// recording and the grant's.
	stage func(string)
}

func (gs *Grants) policy() *policy.Policy {
	if gs.Policy != nil {
		return gs.Policy
	}
	return policy.Default()
}

// bundleMu serialises the bundles of grants, so that two requests cannot
// both take a grant's last download.
var bundleMu sync.Mutex

var errGrantExists = errors.New("the request has its grant already")

// grantOf turns approved request er into its grant (once: a second call
// finds it made), valid from the last approval for the days granted (at
// most the policy's maximum) for the policy's number of downloads.
func (gs *Grants) grantOf(ctx context.Context, er *ExportRequest) error {
	if er.State != RequestApproved || er.Granted == nil || len(er.Approvals) == 0 {
		return nil
	}
	pol := gs.policy()
	days := min(er.Granted.Days, pol.Requests.MaxDays)
	approved := er.Approvals[len(er.Approvals)-1].At
	g := &Grant{ID: GrantIDOf(er.ID), RequestID: er.ID, Grantee: er.Requester, State: GrantActive,
		Departments: er.Granted.Departments, UserIDs: er.UserIDs, Fields: er.Granted.Fields, Formats: er.Formats,
		Purpose: er.Purpose, Basis: er.Basis, Justification: er.Justification, Recipient: er.Recipient, PIA: er.PIA,
		Approvers: er.Approvers, Created: approved, ExpiresAt: approved.Truncate(time.Second).Add(time.Duration(days) * 24 * time.Hour),
		Downloads: pol.Requests.Downloads, DownloadsLeft: pol.Requests.Downloads,
		External: er.External, ConsentRef: er.ConsentRef, ConsentRefs: er.ConsentRefs, Followers: er.Followers}
	for _, a := range er.Approvals {
		g.ApprovedBy = append(g.ApprovedBy, a.By)
	}
	doc, err := json.Marshal(g)
	if err != nil {
		return err
	}
	rec := gs.record(g, "granted", "dingbook", "")
	rec.Details["approved_by"] = strings.Join(g.ApprovedBy, ",")
	rec.Details["downloads"] = strconv.Itoa(g.Downloads)
	_, err = audit.AppendWith(ctx, gs.App.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		ok, err := tx.InsertGrant(store.Grant{ID: g.ID, RequestID: g.RequestID, Grantee: g.Grantee, State: g.State, Doc: doc, Created: g.Created, Updated: gs.App.now()})
		if err == nil && !ok {
			err = errGrantExists
		}
		return err
	})
	if errors.Is(err, errGrantExists) {
		return nil
	}
	return err
}

// GrantIDOf is the id of the grant of request id.
func GrantIDOf(requestID string) string { return "g-" + strings.TrimPrefix(requestID, "r-") }

// record is the audit record of a step of g's life.
func (gs *Grants) record(g *Grant, step, actor, reason string) audit.Record {
	return audit.Record{Time: gs.App.now(), Actor: actor, Action: ActionGrant, Outcome: audit.OutcomeOK, Reason: reason, Purpose: g.Purpose, Basis: g.Basis,
		Fields: g.Fields, Details: map[string]string{"step": step, "grant": g.ID, "request": g.RequestID, "grantee": g.Grantee, "state": g.State,
			"expires_at": g.ExpiresAt.UTC().Format(time.RFC3339), "downloads_left": strconv.Itoa(g.DownloadsLeft)}}
}

// save stores g with the audit record of step (details added to it) in
// one transaction, with more writes when given. Every step starts from a
// live grant (active or used): one revoked or expired since g was read
// (a revocation by an approver or the CLI during a bundle's export) stays
// so, and save answers CodeGone.
func (gs *Grants) save(ctx context.Context, g *Grant, step, actor, reason string, details map[string]string, more func(*store.Tx) error) error {
	doc, err := json.Marshal(g)
	if err != nil {
		return err
	}
	rec := gs.record(g, step, actor, reason)
	for k, v := range details {
		rec.Details[k] = v
	}
	_, err = audit.AppendWith(ctx, gs.App.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		ok, err := tx.UpdateGrant(store.Grant{ID: g.ID, State: g.State, Doc: doc, Updated: gs.App.now()}, GrantActive, GrantUsed)
		if err == nil && !ok {
			err = gone("grant %s was revoked or expired meanwhile", g.ID)
		}
		if err != nil {
			return err
		}
		if more != nil {
			return more(tx)
		}
		return nil
	})
	return err
}

// load decodes a stored grant; an active or used grant past its time
// becomes expired, one whose holding a breach revoked revoked (recorded).
func (gs *Grants) load(ctx context.Context, row store.Grant) (*Grant, error) {
	var g Grant
	if err := json.Unmarshal(row.Doc, &g); err != nil {
		return nil, err
	}
	if g.State != GrantActive && g.State != GrantUsed {
		return &g, nil
	}
	if !gs.App.now().Before(g.ExpiresAt) {
		g.State = GrantExpired
		return gs.ended(ctx, &g, gs.save(ctx, &g, "expired", "dingbook", "its time ended", nil, nil))
	}
	// a breach incident on the grant or one of its bundles ('dingbook
	// breach start --grant') revoked a holding: the grant ends with it (a
	// bundle discarded before anyone could fetch it is revoked and purged,
	// no breach)
	hs, err := gs.App.DB.FindHoldings(ctx, store.KindGrant, g.ID)
	if err != nil && dingbook.ErrorCode(err) != dingbook.ENOTFOUND {
		return nil, fmt.Errorf("grant %s: read its holdings: %w", g.ID, err)
	}
	if slices.ContainsFunc(hs, func(h store.Holding) bool { return h.Revoked != nil && h.Purged == nil }) {
		g.State, g.RevokedBy, g.Reason = GrantRevoked, "breach", "a breach incident revoked it"
		return gs.ended(ctx, &g, gs.save(ctx, &g, "revoked", "dingbook", g.Reason, nil, nil))
	}
	return &g, nil
}

// ended is g after load recorded its end (err, save's answer): when
// another request recorded an end first, the stored grant.
func (gs *Grants) ended(ctx context.Context, g *Grant, err error) (*Grant, error) {
	var de *dingbook.Error
	if errors.As(err, &de) && de.Code == CodeGone {
		return gs.Get(ctx, g.ID)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Get returns grant id, or a not-found error.
func (gs *Grants) Get(ctx context.Context, id string) (*Grant, error) {
	row, err := gs.App.DB.Grant(ctx, id)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("there is no grant %q", id), Hint: "list your grants with GET /api/v1/grants (dingbook grants list)"}
	}
	return gs.load(ctx, *row)
}

// sync makes the grants of approved requests that have none yet (an
// approval whose grant was not written, e.g. a crash between the two),
// and returns every grant's row (read again only when it made one).
func (gs *Grants) sync(ctx context.Context) ([]store.Grant, error) {
	rows, err := gs.App.DB.ExportRequests(ctx)
	if err != nil {
		return nil, err
	}
	have, err := gs.App.DB.Grants(ctx)
	if err != nil {
		return nil, err
	}
	made := map[string]bool{}
	for _, g := range have {
		made[g.RequestID] = true
	}
	added := false
	for _, row := range rows {
		if row.State != RequestApproved || made[row.ID] {
			continue
		}
		var er ExportRequest
		if err := json.Unmarshal(row.Doc, &er); err != nil {
			return nil, err
		}
		if err := gs.grantOf(ctx, &er); err != nil {
			return nil, err
		}
		added = true
	}
	if added {
		return gs.App.DB.Grants(ctx)
	}
	return have, nil
}

// List returns the grants s holds (role "mine", the default) or may
// revoke (role "approver": those of requests s could decide; every grant
// for the primary admin and the CLI's operator).
func (gs *Grants) List(ctx context.Context, s *Session, role string) ([]Grant, error) {
	if role == "" {
		role = "mine"
	}
	if role != "mine" && role != "approver" {
		return nil, badRequest("role", "unknown role %q", role).WithHint("use role=mine or role=approver")
	}
	rows, err := gs.sync(ctx)
	if err != nil {
		return nil, err
	}
	out := []Grant{}
	for _, row := range rows {
		g, err := gs.load(ctx, row)
		if err != nil {
			return nil, err
		}
		if role == "mine" && g.Grantee == s.UserID || role == "approver" && gs.mayRevoke(s, g) {
			out = append(out, *g)
		}
	}
	return out, nil
}

// MayRevoke reports whether s may revoke g: its request's approvers, the
// primary admin and the CLI's operator.
func (gs *Grants) MayRevoke(s *Session, g *Grant) bool { return gs.mayRevoke(s, g) }

func (gs *Grants) mayRevoke(s *Session, g *Grant) bool {
	return gs.Operator || slices.Contains(g.Approvers, s.UserID) || slices.Contains(s.Roles, RoleAdmin)
}

// Show returns grant id to its grantee and to those who may revoke it;
// to anyone else it is not found, in the same words as one that does not
// exist, and nothing is written (load records an expiry only for them).
func (gs *Grants) Show(ctx context.Context, s *Session, id string) (*Grant, error) {
	row, err := gs.App.DB.Grant(ctx, id)
	if err != nil {
		return nil, err
	}
	if row != nil {
		var g Grant
		if err := json.Unmarshal(row.Doc, &g); err != nil {
			return nil, err
		}
		if g.Grantee == s.UserID || gs.mayRevoke(s, &g) {
			return gs.load(ctx, *row)
		}
	}
	return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("there is no grant %q you may see", id), Hint: "list your grants at /grants (GET /api/v1/grants)"}
}

// held returns grant id when s is its grantee.
func (gs *Grants) held(ctx context.Context, s *Session, id string) (*Grant, error) {
	g, err := gs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if g.Grantee != s.UserID {
		return nil, &dingbook.Error{Code: dingbook.EPERM, Message: fmt.Sprintf("grant %s is not yours", id), Hint: "only its grantee may use it; list yours with GET /api/v1/grants"}
	}
	return g, nil
}

// usable refuses a grant that can give no bundle now.
func usable(g *Grant) error {
	switch g.State {
	case GrantActive:
		return nil
	case GrantUsed:
		return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("grant %s has no downloads left", g.ID), Hint: "ask for the data again with a new request"}
	}
	return &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("grant %s is %s", g.ID, g.State), Hint: "ask for the data again with a new request"}
}

// TermsText is the confidentiality text a grantee is shown.
type TermsText struct {
	Version string `json:"terms_version"`
	Lang    string `json:"lang"`
	Text    string `json:"text"`
	SHA256  string `json:"sha256"`
}

// Terms returns the policy's confidentiality terms in lang ("en", "id",
// "zh"; else English).
func (gs *Grants) Terms(lang string) TermsText {
	t := gs.policy().Requests.Terms
	text, lang := t.Text(lang)
	sum := sha256.Sum256([]byte(text))
	return TermsText{Version: t.Version, Lang: lang, Text: text, SHA256: hex.EncodeToString(sum[:])}
}

// AcceptTerms records that s, the grantee, accepted the terms shown in
// lang for grant id: their version and the SHA-256 of the text.
func (gs *Grants) AcceptTerms(ctx context.Context, s *Session, id, lang string, accept bool) (*Grant, error) {
	if !accept {
		return nil, badRequest("accept", "the confidentiality terms were not accepted").WithHint(`send {"accept": true} to accept them; without it there is no download`)
	}
	g, err := gs.held(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if err := usable(g); err != nil {
		return nil, err
	}
	t := gs.Terms(lang)
	g.Terms = &TermsAcceptance{Version: t.Version, Lang: t.Lang, SHA256: t.SHA256, At: gs.App.now()}
	if err := gs.save(ctx, g, "terms-accepted", s.UserID, "", map[string]string{"terms_version": t.Version, "terms_sha256": t.SHA256, "lang": t.Lang}, nil); err != nil {
		return nil, err
	}
	return g, nil
}

// BundleOptions are the grantee's choices for the bundle.
type BundleOptions struct {
	// AgeRecipient seals the bundle to this age public key instead of an
	// AES-256 zip with a random passphrase.
	AgeRecipient string
}

// GrantBundle is a bundle built for a grant: Token opens its one-time
// download link; Passphrase (the zip's, none for age) is shown once.
type GrantBundle struct {
	Token      string
	Passphrase string
	ExpiresAt  time.Time
	ExportID   string
	SHA256     string
}

// GrantsDir is the folder under the state directory that holds the
// grants' bundles until their download (or their expiry's purge).
const GrantsDir = "grants"

// Bundle builds grant id's bundle for s, its grantee, who accepted the
// current terms and logged in to DingTalk less than StepUpAge ago: from
// the latest complete snapshot, the granted scope and fields limited to
// what s may see (hidden mobiles out unless s may see them), through the
// governed export (manifest and NOTICE naming the grant, holding of kind
// grant), sealed in the state directory. It takes one of the grant's
// downloads.
func (gs *Grants) Bundle(ctx context.Context, s *Session, id string, o BundleOptions) (*GrantBundle, error) {
	bundleMu.Lock()
	defer bundleMu.Unlock()
	g, err := gs.held(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if err := usable(g); err != nil {
		return nil, err
	}
	pol := gs.policy()
	if g.Terms == nil || g.Terms.Version != pol.Requests.Terms.Version {
		return nil, &dingbook.Error{Code: CodeTerms, Message: fmt.Sprintf("grant %s: the confidentiality terms (version %s) are not accepted yet", id, pol.Requests.Terms.Version),
			Hint: "read the terms and accept them (POST /api/v1/grants/" + id + "/accept-terms {\"accept\": true}) first"}
	}
	now := gs.App.now()
	if age := now.Sub(s.Created); age > StepUpAge {
		return nil, &dingbook.Error{Code: CodeStepUp, Message: fmt.Sprintf("the bundle needs a DingTalk login no older than %d minutes (yours is %d minutes old)", StepUpMinutes(), int(age.Minutes())),
			Hint: fmt.Sprintf("log in with DingTalk again, then ask for the bundle within %d minutes", StepUpMinutes())}
	}
	if err := gs.save(ctx, g, "stepped-up", s.UserID, "", map[string]string{"login_at": s.Created.UTC().Format(time.RFC3339), "via": s.Via}, nil); err != nil {
		return nil, err
	}
	org, snapshot, err := gs.App.grantOrg(ctx, s, g)
	if err != nil {
		return nil, err
	}
	var scope []string
	for _, d := range g.Departments {
		scope = append(scope, strconv.FormatInt(d, 10))
	}
	req := &govern.Request{Action: audit.ActionExport, Actor: s.UserID, Purpose: g.Purpose, Basis: g.Basis, Justification: g.Justification,
		Fields: g.Fields, DeptScope: scope, Keep: g.ExpiresAt.Sub(now), Encrypt: seal.KindZip, OutDir: filepath.Join(gs.App.DB.Dir, GrantsDir),
		Snapshot: snapshot, Source: "snapshot:" + strconv.FormatInt(snapshot, 10), Tenant: org.CorpID, Now: gs.App.Now,
		Grant: &govern.GrantRef{ID: g.ID, Request: g.RequestID, Grantee: g.Grantee, Approvers: g.ApprovedBy, Expires: g.ExpiresAt, TermsVersion: g.Terms.Version}}
	if req.Tenant == "" {
		req.Tenant = org.Name
	}
	if o.AgeRecipient != "" {
		req.Encrypt, req.AgeRecipients = seal.KindAge, []string{o.AgeRecipient}
	}
	// the bundle's holding is registered only while the grant is live: a
	// revocation that commits first refuses it (and the bundle is
	// deleted); one that commits after revokes it with the grant's others
	req.Recording = func(tx *store.Tx) error {
		state, err := tx.GrantState(g.ID)
		if err == nil && state != GrantActive {
			err = gone("grant %s was revoked or expired meanwhile", g.ID)
		}
		return err
	}
	req.Transfer.PIA = g.PIA
	if r := g.Recipient; r != nil {
		req.Transfer.Recipient, req.Transfer.RecipientCountry, req.Transfer.Contract = r.Organisation, r.Country, r.Contract
	}
	gx := &governed{app: gs.App, pol: pol, req: req}
	if len(g.External) > 0 {
		req.Transfer.ConsentRef = g.consentRefs()
		if gx.external, err = gs.App.grantExternal(ctx, s, pol, g); err != nil {
			return nil, err
		}
	}
	opts := export.Options{Formats: g.Formats}
	if _, err := gx.decide(ctx, &opts); err != nil {
		return nil, err
	}
	gs.reach("export")
	res, _, err := gx.run(ctx, dingbook.OrgDirectory{Org: org}, opts, func(bool) {})
	if err != nil {
		return nil, err
	}
	gs.reach("exported")
	discard := gs.record(g, "bundle-discarded", s.UserID, "")
	token := NewToken()
	g.DownloadsLeft--
	if g.DownloadsLeft <= 0 {
		g.State = GrantUsed
	}
	if gx.external != nil {
		if g.Bundled == nil {
			g.Bundled = map[string][]string{}
		}
		g.Bundled[res.ExportID] = []string{}
		for _, e := range gx.external {
			g.Bundled[res.ExportID] = append(g.Bundled[res.ExportID], e.UserID)
		}
	}
	dl := store.GrantDownload{TokenHash: sessionID(token), GrantID: g.ID, ExportID: res.ExportID, Path: res.BundlePath, SHA256: res.BundleSHA256, Created: now, Expires: g.ExpiresAt}
	err = gs.save(ctx, g, "bundle", s.UserID, "", map[string]string{"export_id": res.ExportID, "sha256": res.BundleSHA256, "seal": res.Decision.Encrypt},
		func(tx *store.Tx) error { return tx.AddGrantDownload(dl) })
	if err != nil {
		os.Remove(res.BundlePath) // registered: its record says what it held; nobody can fetch it
		gs.discard(ctx, discard, res, err)
		return nil, err
	}
	return &GrantBundle{Token: token, Passphrase: res.Passphrase, ExpiresAt: g.ExpiresAt, ExportID: res.ExportID, SHA256: res.BundleSHA256}, nil
}

func (gs *Grants) reach(stage string) {
	if gs.stage != nil {
		gs.stage(stage)
	}
}

// discard records that the bundle of res, whose grant's record failed
// (why), was deleted unfetched: its export purged and its holding revoked
// and purged, in the transaction of rec (the grant's "bundle-discarded"
// record), so that no holding stays live for a bundle nobody has. A
// failure here is recorded no further: the bundle is gone either way.
func (gs *Grants) discard(ctx context.Context, rec audit.Record, res *govern.Result, why error) {
	now := gs.App.now()
	rec.Outcome, rec.Reason = audit.OutcomeFailed, "the grant's record failed ("+dingbook.ErrorCode(why)+"): the bundle was deleted unfetched"
	rec.Details["export_id"], rec.Details["sha256"] = res.ExportID, res.BundleSHA256
	audit.AppendWith(context.WithoutCancel(ctx), gs.App.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		if err := tx.MarkExportPurged(res.ExportID, now); err != nil {
			return err
		}
		return tx.DiscardHolding(store.KindGrant, res.ExportID, now)
	})
}

// grantOrg is the organisation g's bundle holds, from the latest complete
// snapshot: the people of the granted departments (sub-departments
// included) and the granted people whom s may see, each person's mobile
// left out when s may not see it; and the snapshot's id.
func (a *App) grantOrg(ctx context.Context, s *Session, g *Grant) (*dingbook.Org, int64, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, 0, err
	}
	sd, err := a.DB.Directory(ctx, idx.snapshot)
	if err != nil {
		return nil, 0, err
	}
	v := idx.viewer(s)
	depts := map[int64]bool{}
	for _, id := range g.Departments {
		for _, d := range idx.tree.Descendants(id) {
			depts[d] = true
		}
	}
	name, corp := sd.Info()
	org := &dingbook.Org{Name: name, CorpID: corp, Depts: sd.Departments()}
	err = sd.EachPerson(ctx, func(p *dingbook.Person) error {
		in := slices.Contains(g.UserIDs, p.UserID) || slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return depts[m.DeptID] })
		if !in || !v.CanSee(p) {
			return nil
		}
		q := *p
		if !v.SeesMobile(p) {
			q.Mobile, q.StateCode = "", ""
		}
		org.People = append(org.People, q)
		return nil
	})
	return org, idx.snapshot, err
}

// consentRefs are the consent references of g's external contacts, for
// the bundle's manifest and NOTICE: the batch's, then each contact's.
func (g *Grant) consentRefs() string {
	var refs []string
	if g.ConsentRef != "" {
		refs = append(refs, g.ConsentRef)
	}
	for _, id := range slices.Sorted(maps.Keys(g.ConsentRefs)) {
		refs = append(refs, id+": "+g.ConsentRefs[id])
	}
	return strings.Join(refs, "; ")
}

// grantExternal are the external contacts of g for its bundle, from the
// latest complete snapshot: those it names whose consent is not
// withdrawn and whom s, the grantee, still sees (never nil).
func (a *App) grantExternal(ctx context.Context, s *Session, pol *policy.Policy, g *Grant) ([]dingbook.ExternalContact, error) {
	ev, err := a.externalView(ctx, nil, s, pol)
	if err != nil {
		return nil, err
	}
	out := []dingbook.ExternalContact{}
	for _, id := range g.External {
		if i, ok := ev.x.byID[id]; ok && ev.sees(&ev.x.contacts[i]) {
			out = append(out, ev.x.contacts[i])
		}
	}
	return out, nil
}

// tellFollowers sends the followers of the external contacts in bundle
// exportID of g a work notice in their language: their contacts were
// downloaded. Each notice is a grant record (a failure too).
func (gs *Grants) tellFollowers(ctx context.Context, g *Grant, exportID string) {
	sent := g.Bundled[exportID]
	if gs.Client == nil || len(sent) == 0 {
		return
	}
	for _, f := range slices.Sorted(maps.Keys(g.Followers)) {
		var ids []string
		for _, id := range g.Followers[f] {
			if slices.Contains(sent, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		n := notice{client: gs.Client, say: gs.Say, key: "grant.notice.followers", args: []any{len(ids), short(strings.Join(ids, ", ")), g.Grantee, short(g.Purpose)}}
		how, err := n.send(ctx, gs.App, []string{f})
		rec := gs.record(g, "followers-notified", g.Grantee, "")
		rec.Details["follower"], rec.Details["contacts"], rec.Details["to"], rec.Details["export_id"] = f, strconv.Itoa(len(ids)), how, exportID
		if err != nil {
			rec.Outcome, rec.Details["notice_error"] = audit.OutcomeFailed, err.Error()
		}
		audit.Append(ctx, gs.App.DB, rec)
	}
}

// GrantFile is a bundle being downloaded: read it from File (already
// removed from disk), then close it.
type GrantFile struct {
	File *os.File
	Name string
	Size int64
}

// gone is the refusal of a link that works no more.
func gone(format string, args ...any) error {
	return &dingbook.Error{Code: CodeGone, Message: fmt.Sprintf(format, args...), Hint: "a download link works once; ask for a new bundle if the grant has downloads left, else make a new request"}
}

// Download serves the bundle behind token to s, its grantee, once: the
// link is marked used with the audit record of the download (the
// bundle's SHA-256) in one transaction, and the file is deleted from disk
// (the open File still reads it).
func (gs *Grants) Download(ctx context.Context, s *Session, token string) (*GrantFile, error) {
	dl, err := gs.App.DB.GrantDownloadByHash(ctx, sessionID(token))
	if err != nil {
		return nil, err
	}
	if dl == nil {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: "there is no such download link", Hint: "use the download_url the bundle's answer gave"}
	}
	g, err := gs.Get(ctx, dl.GrantID)
	if err != nil {
		return nil, err
	}
	if g.Grantee != s.UserID {
		return nil, &dingbook.Error{Code: dingbook.EPERM, Message: "this download link belongs to another person's grant", Hint: "only the grantee may download it"}
	}
	now := gs.App.now()
	switch {
	case !dl.Used.IsZero():
		return nil, gone("this download link was used at %s", dl.Used.UTC().Format(time.RFC3339))
	case g.State == GrantRevoked || g.State == GrantExpired:
		return nil, gone("grant %s is %s", g.ID, g.State)
	case !now.Before(dl.Expires):
		return nil, gone("this download link expired at %s", dl.Expires.UTC().Format(time.RFC3339))
	}
	f, err := os.Open(dl.Path)
	if err != nil {
		return nil, gone("the bundle of this link is no longer on the server")
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	err = gs.save(ctx, g, "downloaded", s.UserID, "", map[string]string{"export_id": dl.ExportID, "sha256": dl.SHA256}, func(tx *store.Tx) error {
		ok, err := tx.UseGrantDownload(dl.TokenHash, now)
		if err == nil && !ok {
			err = gone("this download link was used already")
		}
		if err != nil {
			return err
		}
		return tx.MarkExportPurged(dl.ExportID, now)
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	os.Remove(dl.Path)
	gs.tellFollowers(ctx, g, dl.ExportID)
	return &GrantFile{File: f, Name: filepath.Base(dl.Path), Size: st.Size()}, nil
}

// Revoke ends grant id at once: its links stop working and the bundles
// not downloaded yet are deleted. The request's approvers, the primary
// admin and the CLI's operator may revoke.
func (gs *Grants) Revoke(ctx context.Context, s *Session, id, reason string) (*Grant, error) {
	g, err := gs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !gs.mayRevoke(s, g) {
		return nil, &dingbook.Error{Code: dingbook.EPERM, Message: fmt.Sprintf("you may not revoke grant %s", id), Hint: "its request's approvers and the admins may: " + strings.Join(g.Approvers, ", ")}
	}
	if g.State != GrantActive && g.State != GrantUsed {
		return nil, &dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("grant %s is %s already", id, g.State), Hint: "list grants with GET /api/v1/grants?role=approver"}
	}
	now := gs.App.now()
	g.State, g.RevokedBy, g.Reason = GrantRevoked, s.UserID, reason
	// the links and holdings (every bundle's, by the grant's id) are read
	// and ended under the write lock: a bundle registered before it
	// commits is ended too, one after it is refused in its recording
	// transaction (govern.Request.Recording) and deletes its own file
	var pending []store.GrantDownload
	err = gs.save(ctx, g, "revoked", s.UserID, reason, nil, func(tx *store.Tx) error {
		dls, err := tx.GrantDownloads(id)
		if err != nil {
			return err
		}
		pending = nil
		for _, dl := range dls {
			if dl.Used.IsZero() {
				pending = append(pending, dl)
				if err := tx.MarkExportPurged(dl.ExportID, now); err != nil {
					return err
				}
			}
		}
		_, err = tx.RevokeHoldingsOf(store.KindGrant, id, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, dl := range pending {
		os.Remove(dl.Path)
	}
	return g, nil
}
