package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// Business cards (issue 11 §3): anyone logged in shares a person's card
// as they see it, as a vCard download, a QR code holding that vCard, or a
// link that shows the card without a login until it expires. A
// colleague's card carries work fields only; the mobile goes in only on
// the person's own card, by their choice, and never when DingTalk hides
// it (hide_mobile, executive mode). Every share is a card_share row and a
// "card-share" audit record in one transaction; a link also has a
// holding of kind share, so that 'audit who-has' finds it.

// ActionCardShare is the audit action of card shares (Details "op":
// "share" or "revoke").
const ActionCardShare = "card-share"

// Kinds of card share.
const (
	ShareVCard = "vcard"
	ShareQR    = "qr"
	ShareLink  = "link"
)

// States of a card share (CardShareRow.StateAt).
const (
	ShareLive     = "live"
	ShareExpired  = "expired"
	ShareRevoked  = "revoked"
	ShareDownload = "download"
)

// DefaultShareHours is how long a share link works when the policy says
// nothing (serve.share_hours).
const DefaultShareHours = policy.DefaultShareHours

// CardWorkFields are the fields of a colleague's card (the company, ORG's
// first component, is the organisation's name).
var CardWorkFields = []string{"name", "title", "dept", "org_email", "telephone"}

// CardView is a card as shared: what the card page shows and the vCard
// 3.0 text the download and the QR code hold.
type CardView struct {
	UserID      string    `json:"userid"`
	Name        string    `json:"name"`
	Title       string    `json:"title,omitempty"`
	Company     string    `json:"company,omitempty"`
	Departments []DirDept `json:"departments"`
	OrgEmail    string    `json:"org_email,omitempty"`
	Telephone   string    `json:"telephone,omitempty"`
	// Mobile is in E.164 when valid; only on an own card by choice.
	Mobile string   `json:"mobile,omitempty"`
	Fields []string `json:"fields"`
	VCard  string   `json:"-"`
}

// CardOffer says what a viewer may choose when sharing a card: Own when it
// is their own card, Mobile when they may include its mobile (their own,
// not hidden in DingTalk).
type CardOffer struct {
	Own, Mobile bool
}

// cardOf is p's card with the work fields and, with mobile, the mobile.
func (idx *peopleIndex) cardOf(p *dingbook.Person, mobile bool) *CardView {
	q := dingbook.Person{UserID: p.UserID, Name: p.Name, Title: p.Title, Depts: p.Depts, OrgEmail: p.OrgEmail, Telephone: p.Telephone}
	if mobile {
		q.StateCode, q.Mobile = p.StateCode, p.Mobile
	}
	vc := vcard.CardFor(&q, idx.tree, vcard.Options{})
	c := &CardView{UserID: p.UserID, Name: vc.FN, Title: p.Title, OrgEmail: p.OrgEmail, Telephone: p.Telephone, Departments: []DirDept{},
		Fields: CardWorkFields, VCard: vc.String()}
	if len(vc.Org) > 0 {
		c.Company = vc.Org[0]
	}
	for _, m := range p.Depts {
		if d := idx.tree.Dept(m.DeptID); d != nil {
			c.Departments = append(c.Departments, DirDept{ID: d.ID, Name: d.Name})
		}
	}
	if mobile {
		c.Mobile = vcard.E164(p.StateCode, p.Mobile)
		c.Fields = append(append([]string(nil), CardWorkFields...), "mobile")
	}
	return c
}

// mobileOffered reports whether viewer v may put p's mobile on a card:
// only on their own card, and never a mobile DingTalk hides.
func mobileOffered(v Viewer, p *dingbook.Person) bool {
	return p.UserID == v.UserID && mobileShareable(p)
}

// mobileShareable reports whether p has a mobile that may go on a card
// (one DingTalk does not hide).
func mobileShareable(p *dingbook.Person) bool {
	return p.Mobile != "" && !mobileHidden(p)
}

// cardSubject finds userid for the session's person: someone they may not
// see is not found.
func (a *App) cardSubject(ctx context.Context, s *Session, userid string) (*peopleIndex, Viewer, *dingbook.Person, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, Viewer{}, nil, err
	}
	v := idx.viewer(s)
	if i, ok := idx.byID[userid]; ok && v.CanSee(&idx.people[i]) {
		return idx, v, &idx.people[i], nil
	}
	return nil, v, nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no person %q in the directory", userid),
		Hint: "search the directory for the person's name", Field: "userid"}
}

// CardOffer returns what the session's person may choose when sharing
// userid's card.
func (a *App) CardOffer(ctx context.Context, s *Session, userid string) (CardOffer, error) {
	_, v, p, err := a.cardSubject(ctx, s, userid)
	if err != nil {
		return CardOffer{}, err
	}
	return CardOffer{Own: p.UserID == v.UserID, Mobile: mobileOffered(v, p)}, nil
}

// CardShareRequest is one share of a card.
type CardShareRequest struct {
	UserID string
	// Kind is ShareVCard, ShareQR or ShareLink.
	Kind string
	// IncludeMobile asks for the mobile on the card: the person's own
	// card only, when DingTalk does not hide it.
	IncludeMobile bool
	// Hours is how long a link works (0: DefaultShareHours).
	Hours int
}

// CardShareRow is one recorded share (store's row).
type CardShareRow struct {
	store.CardShare
}

// StateAt is the share's state at now, the one rule every front end
// shows: ShareDownload for a vCard or QR code (nothing to revoke); a link
// is ShareRevoked once revoked, else ShareExpired from its expiry on, else
// ShareLive (SharedCardByToken serves only a live one).
func (sh *CardShareRow) StateAt(now time.Time) string {
	switch {
	case sh.Kind != ShareLink:
		return ShareDownload
	case sh.Revoked != nil:
		return ShareRevoked
	case !now.Before(sh.Expires):
		return ShareExpired
	}
	return ShareLive
}

// SharedCard is a recorded share: the card and, for a link, its token
// (shown once; only its hash is stored).
type SharedCard struct {
	Share store.CardShare
	Card  *CardView
	Token string
}

// ShareCard shares userid's card as the session's person sees it, and
// records the share (row, audit record and, for a link, its holding) in
// one transaction.
func (a *App) ShareCard(ctx context.Context, s *Session, req CardShareRequest) (*SharedCard, error) {
	if req.Kind != ShareVCard && req.Kind != ShareQR && req.Kind != ShareLink {
		return nil, badRequest("kind", "a card is shared as %q, %q or %q, not %q", ShareVCard, ShareQR, ShareLink, req.Kind)
	}
	idx, v, p, err := a.cardSubject(ctx, s, req.UserID)
	if err != nil {
		return nil, err
	}
	if req.IncludeMobile && !mobileOffered(v, p) {
		e := badRequest("mobile", "the mobile can go only on your own card, and only when DingTalk does not hide it")
		e.Hint = "share the card without the mobile"
		return nil, e
	}
	card := idx.cardOf(p, req.IncludeMobile)
	now := a.now()
	sh := store.CardShare{ID: newID(), Kind: req.Kind, Sharer: s.UserID, SharerName: s.Name, Subject: p.UserID, SubjectName: p.Name,
		Fields: card.Fields, IncludeMobile: req.IncludeMobile, Snapshot: idx.snapshot, Created: now, Expires: now}
	out := &SharedCard{Card: card}
	var hold *store.Holding
	var hashes []uint64
	if req.Kind == ShareLink {
		hours := req.Hours
		if hours <= 0 {
			hours = DefaultShareHours
		}
		out.Token = NewToken()
		sh.TokenHash, sh.Expires = sessionID(out.Token), now.Add(time.Duration(hours)*time.Hour)
		key, err := store.HolderKey(a.DB.Dir)
		if err != nil {
			return nil, err
		}
		hashes = []uint64{store.NewHasher(key).Sum(store.PersonKey(p))}
		hold = &store.Holding{Kind: store.KindShare, Ref: sh.ID, Time: now, Actor: s.UserID, Purpose: "business card share link",
			Recipient: "anyone with the link", Fields: card.Fields, Snapshot: idx.snapshot, Expires: sh.Expires}
	}
	rec := audit.Record{Time: now, Actor: s.UserID, Action: ActionCardShare, Outcome: audit.OutcomeOK, Snapshot: idx.snapshot,
		Fields: card.Fields, Rows: 1, Details: map[string]string{"op": "share", "kind": req.Kind, "share": sh.ID, "subject": p.UserID,
			"include_mobile": strconv.FormatBool(req.IncludeMobile)}}
	if req.Kind == ShareLink {
		rec.Expires = &sh.Expires
	}
	_, err = audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, r audit.Record) error {
		sh.AuditSeq = r.Seq
		if hold != nil {
			hold.AuditSeq = r.Seq
		}
		return tx.AddCardShare(sh, hold, hashes)
	})
	if err != nil {
		return nil, err
	}
	out.Share = sh
	return out, nil
}

// ErrShareGone is a share link that expired or was revoked (410).
var ErrShareGone = &dingbook.Error{Code: dingbook.ENOTFOUND, Field: "share",
	Message: "this card link expired or was revoked", Hint: "ask the person who sent it for a new one"}

// SharedCardByToken returns the card a share link shows, built afresh
// from the latest complete snapshot with the share's fields: an unknown
// token is ENOTFOUND, an expired or revoked link, a person no longer in
// the directory, or one restricted since (on a colleague's share)
// ErrShareGone. The mobile is left out if DingTalk hides it now.
func (a *App) SharedCardByToken(ctx context.Context, token string) (*CardView, *store.CardShare, error) {
	sh, err := a.DB.CardShareByToken(ctx, sessionID(token))
	if err != nil {
		return nil, nil, err
	}
	if sh == nil || token == "" {
		return nil, nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Field: "share", Message: "there is no such card link",
			Hint: "check that the whole link was copied"}
	}
	if (&CardShareRow{*sh}).StateAt(a.now()) != ShareLive {
		return nil, sh, ErrShareGone
	}
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, sh, err
	}
	i, ok := idx.byID[sh.Subject]
	if !ok || idx.people[i].Restricted && sh.Sharer != sh.Subject {
		return nil, sh, ErrShareGone
	}
	p := &idx.people[i]
	return idx.cardOf(p, sh.IncludeMobile && mobileShareable(p)), sh, nil
}

// CardShares lists the shares of the session's person's card and the
// shares they made, newest first.
func (a *App) CardShares(ctx context.Context, s *Session) ([]CardShareRow, error) {
	shs, err := a.DB.CardSharesOf(ctx, s.UserID)
	out := make([]CardShareRow, len(shs))
	for i, sh := range shs {
		out[i] = CardShareRow{sh}
	}
	return out, err
}

// RevokeCardShare revokes share link id of the session's person's card or
// made by them, and records it; anything else is not found.
func (a *App) RevokeCardShare(ctx context.Context, s *Session, id string) error {
	now := a.now()
	rec := audit.Record{Time: now, Actor: s.UserID, Action: ActionCardShare, Outcome: audit.OutcomeOK,
		Details: map[string]string{"op": "revoke", "share": id}}
	_, err := audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		ok, err := tx.RevokeCardShare(s.UserID, id, now)
		if err == nil && !ok {
			err = &dingbook.Error{Code: dingbook.ENOTFOUND, Field: "id", Message: "you have no live card link " + id,
				Hint: "list the shares of your card with GET /api/v1/me/shares"}
		}
		return err
	})
	return err
}
