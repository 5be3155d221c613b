package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/url"
	"strconv"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/policy"
)

// The CardDAV address book: each person's book is the directory as they
// may see it (visibility.go) in one complete snapshot, one vCard 3.0
// card per person, the cards the vcf export writes, and a card per
// external contact they see (external.go). A sync token names the live
// directory's revision and the last consent withdrawal applied
// (Book.Version), so a client's last token gives what changed for this
// person (BookSince).

// BookCard is one card of a person's address book.
type BookCard struct {
	// Name is the card's file name in the collection (<userid>.vcf,
	// path-escaped).
	Name string
	// ETag is the quoted strong ETag: a hash of Body.
	ETag string
	Body string
}

// Book is a person's address book in one snapshot.
type Book struct {
	Snapshot int64
	// Rev is the live directory's revision (with Withdrawn, the sync
	// token: Version).
	Rev   int64
	Cards []BookCard
	// CTag changes whenever any card of the book does.
	CTag string
	// Withdrawn is the last external contact's consent withdrawal the
	// book applies (BookWithExternal, external.go).
	Withdrawn int64
}

// Card returns the card named name, or nil.
func (b *Book) Card(name string) *BookCard {
	for i := range b.Cards {
		if b.Cards[i].Name == name {
			return &b.Cards[i]
		}
	}
	return nil
}

// ErrSyncToken: a sync token that names no complete snapshot still held.
var ErrSyncToken = &dingbook.Error{Code: dingbook.ENOTFOUND, Field: "sync-token",
	Message: "the sync token names no address book this server still holds", Hint: "sync again from an empty token (the client does so on 403 valid-sync-token)"}

// AddressBook returns the session's person's book in the live
// directory (the latest complete snapshot and its revisions).
func (a *App) AddressBook(ctx context.Context, s *Session) (*Book, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	return idx.book(s), nil
}

// book is the session's person's book over this index.
func (idx *peopleIndex) book(s *Session) *Book {
	v := idx.viewer(s)
	b := &Book{Snapshot: idx.snapshot, Rev: idx.rev}
	all := sha256.New()
	for i := range idx.people {
		p := &idx.people[i]
		if !v.CanSee(p) {
			continue
		}
		c := idx.card(v, p)
		all.Write([]byte(c.Name + c.ETag))
		b.Cards = append(b.Cards, c)
	}
	b.CTag = peopleCTag(idx.rev, all)
	return b
}

// peopleCTag is the CTag of the people's cards of revision rev, people
// the hash of their names and ETags in order.
func peopleCTag(rev int64, people hash.Hash) string {
	return strconv.FormatInt(rev, 10) + "-" + hex.EncodeToString(people.Sum(nil)[:8])
}

// withExternal is the CTag of a book of the people's cards (CTag ctag)
// and the external contacts' cards external.
func withExternal(ctag string, external []BookCard) string {
	all := sha256.New()
	all.Write([]byte(ctag))
	for _, c := range external {
		all.Write([]byte(c.Name + c.ETag))
	}
	return ctag + "-" + hex.EncodeToString(all.Sum(nil)[:8])
}

// cardName is userid's card's file name in the collection.
func cardName(userid string) string { return url.PathEscape(userid) + ".vcf" }

// card is p's card as v may see it (v sees p).
func (idx *peopleIndex) card(v Viewer, p *dingbook.Person) BookCard {
	q := *p
	if !v.SeesMobile(p) {
		q.Mobile = ""
	}
	return bookCard(cardName(p.UserID), vcard.CardFor(&q, idx.tree, vcard.Options{}).String())
}

// bookCard is the card name with body, its ETag a hash of the body.
func bookCard(name, body string) BookCard {
	sum := sha256.Sum256([]byte(body))
	return BookCard{Name: name, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`, Body: body}
}

// BookChanges is what changed in a person's book since a sync token.
type BookChanges struct {
	// Rev is the revision the changes lead to (the next token).
	Rev int64
	// Changed are the cards added or changed, Removed the names of cards
	// gone from the book (the person left, or is out of sight now).
	Changed []BookCard
	Removed []string
	// Withdrawn is the last external contact's consent withdrawal the
	// changes apply (with Rev, the next token: Version).
	Withdrawn int64
}

// BookSince returns what changed in the session's person's book since
// the sync token (rev, withdrawn) (Book.Version): the people's cards from
// the change log, the external contacts' from a comparison when their
// base, the withdrawals or a follower changed (externalSince). People: for each person
// changed since, visible now gives their card, visible before (with the
// record they had at rev) their removal, neither nothing; the work is
// proportional to the changes, not to the book. If the viewer's own
// record changed since rev (their departments or roles), what they could
// see then is not known, and removing every card they cannot see now
// would name people they never could (access-restricted staff): the
// token is ErrSyncToken, and the client syncs afresh from an empty one.
// A token before the log's last reset, after its end or not positive,
// or naming a withdrawal not made, is ErrSyncToken too.
func (a *App) BookSince(ctx context.Context, s *Session, pol *policy.Policy, rev, withdrawn int64) (*BookChanges, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	reset, err := a.DB.LastReset(ctx)
	if err != nil {
		return nil, err
	}
	if rev <= 0 || rev < reset || rev > idx.rev {
		return nil, ErrSyncToken
	}
	changes, err := a.DB.ChangedSince(ctx, rev)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if c.UserID == s.UserID {
			return nil, ErrSyncToken
		}
	}
	v := idx.viewer(s)
	out := &BookChanges{Rev: idx.rev}
	for _, c := range changes {
		if p := idx.person(c.UserID); p != nil && v.CanSee(p) {
			out.Changed = append(out.Changed, idx.card(v, p))
		} else if c.Before != nil && v.CanSee(c.Before) {
			out.Removed = append(out.Removed, cardName(c.UserID))
		}
	}
	if err := a.externalSince(ctx, idx, s, pol, rev, withdrawn, changes, out); err != nil {
		return nil, err
	}
	return out, nil
}
