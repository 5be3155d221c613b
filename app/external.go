package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/account"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// External contacts in the portal (issue 10 §4, issue 11 §4): the
// latest complete snapshot's external contacts, each visible only to whom
// DingTalk shares it with (Viewer.SeesExternal), and gone from every
// search, page, card and address book once its consent is withdrawn
// (store.ExternalWithdrawals, 014_external_consent.sql). The index is
// kept apart from the people's (people.go) and consulted beside it.

// DirExternal is an external contact as a viewer may see it. External is
// always true (a JSON reader tells it from a person by it).
type DirExternal struct {
	UserID      string  `json:"userid"`
	External    bool    `json:"external"`
	Name        string  `json:"name"`
	CompanyName string  `json:"company_name,omitempty"`
	Title       string  `json:"title,omitempty"`
	LabelIDs    []int64 `json:"label_ids"`
	// Labels name LabelIDs, in their order (a label without a name: a
	// snapshot pulled before names were, or one DingTalk no longer lists).
	Labels    []dingbook.ExternalLabel `json:"labels"`
	StateCode string                   `json:"state_code,omitempty"`
	Mobile    string                   `json:"mobile,omitempty"`
	Email     string                   `json:"email,omitempty"`
	Address   string                   `json:"address,omitempty"`
	// Follower is the person who follows the contact (负责人).
	Follower DirRef `json:"follower"`
	// CanWithdraw: the viewer may mark the contact's consent withdrawn
	// (its follower, or an admin who sees it).
	CanWithdraw bool `json:"can_withdraw"`
}

// DirRef names a person.
type DirRef struct {
	UserID string `json:"userid"`
	Name   string `json:"name,omitempty"`
}

// ActionExternalConsent is the audit action of an external contact's
// consent withdrawn.
const ActionExternalConsent = account.ActionConsent

// externalIndex is the external contacts of one complete snapshot.
type externalIndex struct {
	snapshot int64
	contacts []dingbook.ExternalContact
	byID     map[string]int
	// text is each contact's search text (name, pinyin in full and as
	// initials, company, title; lower-case, without spaces), one line each.
	text []string
	// followers are the contacts' followers' userids (externalSince asks
	// whether a change names one, per sync: never rebuilt per request).
	followers map[string]bool
}

type externalCache struct {
	mu  sync.Mutex
	idx *externalIndex
}

// externals returns the external contacts of snapshot id, cached for the
// latest.
func (a *App) externals(ctx context.Context, id int64) (*externalIndex, error) {
	a.external.mu.Lock()
	defer a.external.mu.Unlock()
	if a.external.idx != nil && a.external.idx.snapshot == id {
		return a.external.idx, nil
	}
	list, err := a.DB.ExternalContacts(ctx, id)
	if err != nil {
		return nil, err
	}
	x := &externalIndex{snapshot: id, contacts: list, byID: make(map[string]int, len(list)), text: make([]string, len(list)),
		followers: map[string]bool{}}
	for i := range list {
		e := &list[i]
		x.byID[e.UserID] = i
		x.followers[e.FollowerUserID] = true
		var b strings.Builder
		for _, s := range []string{e.Name, vcard.Phonetic(e.Name), initials(e.Name), e.CompanyName, e.Title} {
			if s != "" {
				b.WriteString(normQuery(s))
				b.WriteByte('\n')
			}
		}
		x.text[i] = b.String()
	}
	a.external.idx = x
	return x, nil
}

// externalView is what one viewer sees of the external contacts of the
// people index's snapshot: the contacts visible to them and not withdrawn.
type externalView struct {
	idx   *peopleIndex
	x     *externalIndex
	v     Viewer
	gone  map[string]store.ExternalWithdrawal
	subs  bool
	admin bool
	// then, if set, holds followers' records at an earlier revision (nil:
	// not in the directory then), used instead of idx's (externalSince)
	then map[string]*dingbook.Person
}

// externalView is the session's view of the external contacts of idx's
// snapshot (nil: the latest complete one).
func (a *App) externalView(ctx context.Context, idx *peopleIndex, s *Session, pol *policy.Policy) (*externalView, error) {
	if idx == nil {
		var err error
		if idx, err = a.directory(ctx); err != nil {
			return nil, err
		}
	}
	x, err := a.externals(ctx, idx.snapshot)
	if err != nil {
		return nil, err
	}
	gone, err := a.DB.ExternalWithdrawals(ctx)
	if err != nil {
		return nil, err
	}
	v := idx.viewer(s)
	return &externalView{idx: idx, x: x, v: v, gone: gone, subs: pol.Serve.ShareSubdepartments(),
		admin: v.Primary || len(v.Scope) > 0}, nil
}

// follower is e's follower in the snapshot, or nil.
func (ev *externalView) follower(e *dingbook.ExternalContact) *dingbook.Person {
	if p, ok := ev.then[e.FollowerUserID]; ok {
		return p
	}
	if i, ok := ev.idx.byID[e.FollowerUserID]; ok {
		return &ev.idx.people[i]
	}
	return nil
}

// sees reports whether the viewer sees e (its consent not withdrawn).
func (ev *externalView) sees(e *dingbook.ExternalContact) bool {
	if _, gone := ev.gone[e.UserID]; gone {
		return false
	}
	return ev.v.SeesExternal(e, ev.follower(e), ev.idx.tree, ev.subs)
}

func (ev *externalView) view(e *dingbook.ExternalContact) DirExternal {
	out := DirExternal{UserID: e.UserID, External: true, Name: e.Name, CompanyName: e.CompanyName, Title: e.Title,
		LabelIDs: slices.Clone(e.LabelIDs), StateCode: e.StateCode, Mobile: e.Mobile, Email: e.Email, Address: e.Address,
		Follower: DirRef{UserID: e.FollowerUserID}}
	if out.LabelIDs == nil {
		out.LabelIDs = []int64{}
	}
	out.Labels = slices.Clone(e.Labels)
	if len(out.Labels) != len(out.LabelIDs) {
		c := *e
		c.NameLabels(nil)
		out.Labels = c.Labels
	}
	if out.Labels == nil {
		out.Labels = []dingbook.ExternalLabel{}
	}
	if f := ev.follower(e); f != nil {
		out.Follower.Name = f.Name
	}
	out.CanWithdraw = e.FollowerUserID == ev.v.UserID || ev.admin
	return out
}

// SearchExternal finds, in the latest complete snapshot, up to
// SearchLimit external contacts the session's person may see whose name
// (Chinese, pinyin in full or as initials), company or title contains q
// (any case, spaces ignored). An empty q finds none.
func (a *App) SearchExternal(ctx context.Context, s *Session, pol *policy.Policy, q string) ([]DirExternal, error) {
	out := []DirExternal{}
	if q = normQuery(q); q == "" {
		return out, nil
	}
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	x, err := a.externals(ctx, idx.snapshot)
	if err != nil {
		return nil, err
	}
	var hits []int
	for i := range x.text {
		if strings.Contains(x.text[i], q) {
			hits = append(hits, i)
		}
	}
	if len(hits) == 0 {
		// most searches are for colleagues: no withdrawals to read
		return out, nil
	}
	ev, err := a.externalView(ctx, idx, s, pol)
	if err != nil {
		return nil, err
	}
	for _, i := range hits {
		if e := &x.contacts[i]; ev.sees(e) {
			out = append(out, ev.view(e))
			if len(out) == SearchLimit {
				break
			}
		}
	}
	return out, nil
}

// ExternalContacts lists every external contact of the latest complete
// snapshot the session's person may see (its consent not withdrawn), in
// the snapshot's order: the request form's choice (SearchExternal finds
// by name).
func (a *App) ExternalContacts(ctx context.Context, s *Session, pol *policy.Policy) ([]DirExternal, error) {
	ev, err := a.externalView(ctx, nil, s, pol)
	if err != nil {
		return nil, err
	}
	out := []DirExternal{}
	for i := range ev.x.contacts {
		if e := &ev.x.contacts[i]; ev.sees(e) {
			out = append(out, ev.view(e))
		}
	}
	return out, nil
}

// ExternalContact returns external contact id as the session's person may
// see it; one they may not see, or whose consent was withdrawn, is not
// found, exactly like one that does not exist.
func (a *App) ExternalContact(ctx context.Context, s *Session, pol *policy.Policy, id string) (*DirExternal, error) {
	ev, err := a.externalView(ctx, nil, s, pol)
	if err != nil {
		return nil, err
	}
	if i, ok := ev.x.byID[id]; ok && ev.sees(&ev.x.contacts[i]) {
		d := ev.view(&ev.x.contacts[i])
		return &d, nil
	}
	return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no external contact %q in the directory", id),
		Hint: "search the directory for the contact's name or company", Field: "id"}
}

// WithdrawExternalConsent marks external contact id's consent withdrawn,
// by the session's person: its follower, or an admin who sees it. From
// then on it leaves every new export, card, search and address book. The
// mark and its audit record (who, when, a keyed hash of the contact) are
// one transaction. A contact already withdrawn is not found.
func (a *App) WithdrawExternalConsent(ctx context.Context, s *Session, pol *policy.Policy, id string) error {
	d, err := a.ExternalContact(ctx, s, pol, id)
	if err != nil {
		return err
	}
	if !d.CanWithdraw {
		return &dingbook.Error{Code: dingbook.EPERM, Field: "id",
			Message: fmt.Sprintf("only the follower of external contact %q or an admin may mark its consent withdrawn", id),
			Hint:    "ask the contact's follower (" + d.Follower.UserID + ") or an admin"}
	}
	key, err := store.HolderKey(a.DB.Dir)
	if err != nil {
		return err
	}
	now := a.now()
	_, err = audit.AppendWith(ctx, a.DB, audit.Record{Time: now, Actor: s.UserID, Action: ActionExternalConsent, Rows: 1,
		Details: map[string]string{"op": "withdraw-external", "person_hmac": fmt.Sprintf("%016x", store.NewHasherScheme(key, store.HashHMAC).Sum(id)),
			"follower": d.Follower.UserID}},
		func(tx *store.Tx, _ audit.Record) error {
			_, err := tx.WithdrawExternal(id, now, s.UserID)
			return err
		})
	return err
}

// ExternalWithdrawals lists the external contacts whose consent is
// withdrawn, when and by whom.
func (a *App) ExternalWithdrawals(ctx context.Context) (map[string]store.ExternalWithdrawal, error) {
	return a.DB.ExternalWithdrawals(ctx)
}

// externalPerson is external contact e as the person its vCard is made
// from (UID "external-<id>", apart from the people's).
func externalPerson(e *dingbook.ExternalContact) dingbook.Person {
	return dingbook.Person{UserID: "external-" + e.UserID, Name: e.Name, Title: e.Title, StateCode: e.StateCode, Mobile: e.Mobile, Email: e.Email}
}

// ExternalCardName is the file name of external contact id's card in an
// address book (apart from the people's <userid>.vcf).
func ExternalCardName(id string) string { return "external-" + url.PathEscape(id) + ".vcf" }

// BookWithExternal is AddressBook (the people's cards in the live
// directory) with the cards of the external contacts the session's
// person sees there, leaving out those whose consent is withdrawn;
// Book.Withdrawn is the last withdrawal so far. A sync token names both
// (Book.Version), so a sync after a withdrawal reports the contact's card
// removed though no person changed (BookSince).
func (a *App) BookWithExternal(ctx context.Context, s *Session, pol *policy.Policy) (*Book, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	b := idx.book(s)
	ev, err := a.externalView(ctx, idx, s, pol)
	if err != nil {
		return nil, err
	}
	b.Withdrawn = lastWithdrawal(ev.gone)
	external := ev.cards()
	b.Cards = append(b.Cards, external...)
	b.CTag = withExternal(b.CTag, external)
	return b, nil
}

// lastWithdrawal is the newest of the withdrawals (0: none).
func lastWithdrawal(gone map[string]store.ExternalWithdrawal) int64 {
	var last int64
	for _, w := range gone {
		last = max(last, w.Seq)
	}
	return last
}

// cards are the cards of the external contacts the view's viewer sees.
func (ev *externalView) cards() []BookCard {
	var out []BookCard
	for i := range ev.x.contacts {
		if e := &ev.x.contacts[i]; ev.sees(e) {
			out = append(out, externalCard(e))
		}
	}
	return out
}

// externalCard is e's card in an address book.
func externalCard(e *dingbook.ExternalContact) BookCard {
	p := externalPerson(e)
	return bookCard(ExternalCardName(e.UserID), vcard.CardFor(&p, nil, vcard.Options{Company: e.CompanyName}).String())
}

// externalSince adds to out what changed among the external contacts'
// cards of the session's person's book since the sync token (rev,
// withdrawn), and sets out.Withdrawn. External contacts change only with
// a new base (a pull) or a consent withdrawal, and who sees one only
// with the viewer's or its follower's record (departments, and so the
// department tree above them): when none of these differs, nothing
// changed and nothing is read beyond the withdrawals. Otherwise the
// cards of the token's base with the withdrawals the token names are
// compared with now's (the viewer's own record is unchanged: BookSince).
// When a follower's record changed, which matters to a sub-admin only
// (SeesExternal), every card seen now is given again, and the cards the
// viewer saw then (with the followers' records at rev, the changes'
// Before) and not now are removed: never a contact they could not see.
func (a *App) externalSince(ctx context.Context, idx *peopleIndex, s *Session, pol *policy.Policy, rev, withdrawn int64, changes []store.PersonChange, out *BookChanges) error {
	ev, err := a.externalView(ctx, idx, s, pol)
	if err != nil {
		return err
	}
	out.Withdrawn = lastWithdrawal(ev.gone)
	if withdrawn > out.Withdrawn {
		return ErrSyncToken
	}
	base, err := a.DB.RevisionBase(ctx, rev)
	if err != nil {
		return err
	}
	if base == 0 {
		return ErrSyncToken
	}
	moved := false
	if !ev.v.Primary && len(ev.v.Scope) > 0 && len(ev.x.contacts) > 0 {
		moved = slices.ContainsFunc(changes, func(c store.PersonChange) bool { return ev.x.followers[c.UserID] })
	}
	if base == idx.snapshot && withdrawn == out.Withdrawn && !moved {
		return nil
	}
	// then: the token's base, without the withdrawals made after it
	old := *ev
	if base != idx.snapshot {
		list, err := a.DB.ExternalContacts(ctx, base)
		if err != nil {
			return err
		}
		old.x = &externalIndex{snapshot: base, contacts: list}
	}
	if moved {
		// who followed then: the records at rev of those changed since
		old.then = make(map[string]*dingbook.Person, len(changes))
		for _, c := range changes {
			old.then[c.UserID] = c.Before
		}
	}
	old.gone = map[string]store.ExternalWithdrawal{}
	for id, w := range ev.gone {
		if w.Seq <= withdrawn {
			old.gone[id] = w
		}
	}
	now := ev.cards()
	seen := make(map[string]string, len(now))
	for _, c := range now {
		seen[c.Name] = c.ETag
	}
	was := map[string]string{}
	for _, c := range old.cards() {
		was[c.Name] = c.ETag
	}
	for _, c := range now {
		if e, ok := was[c.Name]; !ok || e != c.ETag || moved {
			out.Changed = append(out.Changed, c)
		}
	}
	for i := range old.x.contacts {
		name := ExternalCardName(old.x.contacts[i].UserID)
		if _, ok := was[name]; ok && seen[name] == "" {
			out.Removed = append(out.Removed, name)
		}
	}
	return nil
}

// Version names the book in a sync token: the live directory's revision
// and the last consent withdrawal applied ("<rev>.<withdrawn>").
func (b *Book) Version() string { return bookVersion(b.Rev, b.Withdrawn) }

// Version names the book the changes lead to (Book.Version).
func (c *BookChanges) Version() string { return bookVersion(c.Rev, c.Withdrawn) }

func bookVersion(rev, withdrawn int64) string {
	return strconv.FormatInt(rev, 10) + "." + strconv.FormatInt(withdrawn, 10)
}

// ParseBookVersion reads a Book.Version. A bare number (a token of the
// snapshot or revision forms before) is not one: ok is false.
func ParseBookVersion(v string) (rev, withdrawn int64, ok bool) {
	r, wd, two := strings.Cut(v, ".")
	rev, err := strconv.ParseInt(r, 10, 64)
	if err != nil || rev <= 0 || !two {
		return 0, 0, false
	}
	withdrawn, err = strconv.ParseInt(wd, 10, 64)
	if err != nil || withdrawn < 0 {
		return 0, 0, false
	}
	return rev, withdrawn, true
}

// checkExternal checks the external contacts a request names (spec.External):
// the basis must be consent; each contact must be one the requester sees
// now (shared with them, consent not withdrawn) and have a consent
// reference, its own (consent_refs) or the batch's (consent_ref). It
// returns the contacts by follower.
func (rq *Requests) checkExternal(ctx context.Context, s *Session, pol *policy.Policy, spec RequestSpec) (map[string][]string, error) {
	for id := range spec.ConsentRefs {
		if !slices.Contains(spec.External, id) {
			return nil, badRequest("consent_refs", "consent_refs names %q, which is not among the external contacts asked for", id).WithHint("give consent references only for the contacts in external")
		}
	}
	if len(spec.External) == 0 {
		return nil, nil
	}
	if spec.Basis != "consent" {
		return nil, (&dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("exporting external contacts needs the legal basis consent, not %q", spec.Basis)}).
			WithField("basis").WithHint("set basis to consent and give the consent reference for the batch (consent_ref) or each contact (consent_refs)")
	}
	followers := map[string][]string{}
	seen := map[string]bool{}
	for _, id := range spec.External {
		if seen[id] {
			return nil, badRequest("external", "external contact %q is asked for twice", id).WithHint("name each contact once")
		}
		seen[id] = true
		d, err := rq.App.ExternalContact(ctx, s, pol, id)
		if err != nil {
			var de *dingbook.Error
			if errors.As(err, &de) && de.Code == dingbook.ENOTFOUND && de.Field == "id" {
				return nil, (&dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("external contact %q is not in the directory, is not shared with you, or its consent was withdrawn", id)}).
					WithField("external").WithHint("choose contacts from GET /api/v1/external?q=")
			}
			return nil, err
		}
		if strings.TrimSpace(spec.ConsentRefs[id]) == "" && strings.TrimSpace(spec.ConsentRef) == "" {
			return nil, (&dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("external contact %q has no consent reference", id)}).
				WithField("consent_ref").WithHint("give the reference of the contacts' consent for the batch (consent_ref) or for each contact (consent_refs)")
		}
		followers[d.Follower.UserID] = append(followers[d.Follower.UserID], id)
	}
	return followers, nil
}

// notifyFollowers tells the followers of the external contacts of an
// approved request, by work notice in their language, that their
// contacts are to be exported; the notice is recorded (a failure too; the
// approval stands).
func (rq *Requests) notifyFollowers(ctx context.Context, er *ExportRequest) {
	if rq.Client == nil || len(er.Followers) == 0 {
		return
	}
	for _, f := range slices.Sorted(maps.Keys(er.Followers)) {
		ids := er.Followers[f]
		n := notice{client: rq.Client, say: rq.Say, key: "request.notice.followers", args: []any{len(ids), short(strings.Join(ids, ", ")), er.Requester, short(er.Purpose)}}
		how, err := n.send(ctx, rq.App, []string{f})
		details := map[string]string{"step": "followers-notified", "request": er.ID, "follower": f, "contacts": strconv.Itoa(len(ids)), "to": how}
		outcome := audit.OutcomeOK
		if err != nil {
			outcome, details["notice_error"] = audit.OutcomeFailed, err.Error()
		}
		audit.Append(ctx, rq.App.DB, audit.Record{Time: rq.App.now(), Actor: er.Requester, Action: ActionRequest, Outcome: outcome, Details: details})
	}
}

// ExternalCardsFile is the private file of an export's external
// contacts (ExportOptions.External); the bundle names it like its other
// files (export-<id>[-N].vcf).
const ExternalCardsFile = "external-contacts.vcf"

// externalExportable checks that an export may hold external contacts:
// the basis is consent and the request names the consent's reference;
// a member file holds none.
func externalExportable(req *govern.Request, dec *govern.Decision, file bool) error {
	switch {
	case file:
		return badRequest("external", "an admin-console member file holds no external contacts").WithHint("export external contacts from a snapshot pulled with external contacts (dingbook pull --external)")
	case dec.Basis != "consent":
		return (&dingbook.Error{Code: dingbook.EPOLICY, Message: fmt.Sprintf("exporting external contacts needs the legal basis consent, not %q", dec.Basis)}).
			WithField("basis").WithHint("set the basis to consent and give the reference of the contacts' consent (consent_ref)")
	case strings.TrimSpace(req.Transfer.ConsentRef) == "":
		return (&dingbook.Error{Code: dingbook.EPOLICY, Message: "exporting external contacts needs the reference of their consent"}).
			WithField("consent_ref").WithHint("give the reference of the contacts' consent (the consent form, letter or ticket)")
	}
	return nil
}

// exportableExternal returns the external contacts of an export's source
// (its pull's, else its snapshot's) whose consent is not withdrawn (never
// nil).
func (a *App) exportableExternal(ctx context.Context, out *ExportResult) ([]dingbook.ExternalContact, error) {
	var list []dingbook.ExternalContact
	if out.Pull != nil {
		list = out.Pull.Snapshot.Org.External
	} else {
		var err error
		if list, err = a.DB.ExternalContacts(ctx, out.SnapshotID); err != nil {
			return nil, err
		}
	}
	gone, err := a.DB.ExternalWithdrawals(ctx)
	if err != nil {
		return nil, err
	}
	keep := []dingbook.ExternalContact{}
	for _, e := range list {
		if _, ok := gone[e.UserID]; !ok {
			keep = append(keep, e)
		}
	}
	return keep, nil
}

// writeExternalCards writes list into dir/ExternalCardsFile as vCard 3.0
// cards holding only the fields the decision allows (name, title, mobile
// with its state code, email; the company as ORG with dept).
func writeExternalCards(dir string, list []dingbook.ExternalContact, fields []string) (govern.ProducedFile, error) {
	var b strings.Builder
	for i := range list {
		e := &list[i]
		p := externalPerson(e)
		sc := p.StateCode
		for _, f := range dingbook.Fields {
			if f.Kind == dingbook.KindText && f.Text != nil && f.Key != "userid" && !slices.Contains(fields, f.Key) {
				*f.Text(&p) = ""
			}
		}
		if p.Mobile != "" {
			p.StateCode = sc // the mobile's own country code, as the people's cards have it
		}
		o := vcard.Options{}
		if slices.Contains(fields, "dept") {
			o.Company = e.CompanyName
		}
		b.WriteString(vcard.CardFor(&p, nil, o).String())
	}
	path := filepath.Join(dir, ExternalCardsFile)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return govern.ProducedFile{}, err
	}
	return govern.ProducedFile{Path: path, Format: "vcf", Rows: len(list)}, nil
}
