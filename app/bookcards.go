package app

import (
	"context"
	"crypto/sha256"
	"net/url"
	"strings"

	"github.com/dingbook/dingbook/policy"
)

// A person's book as the CardDAV answers that carry all of it (an
// initial sync, an addressbook-query) or one card (a GET, a multiget)
// read it: never the whole book held at once. BookWithExternal renders and
// keeps every card (a 100,000-card book is ~50 MB of vCards on top of
// the index); BookCards renders them one at a time as the answer is
// written, and BookCard renders only the card asked for.

// BookCards is the session's person's latest book, its cards rendered
// one at a time by All, from the live directory as it was when it was
// made (the index is copy-on-write: later revisions do not change it).
type BookCards struct {
	// Rev and Withdrawn name the book as Book's do (Version).
	Rev, Withdrawn int64
	idx            *peopleIndex
	v              Viewer
	external       []BookCard
}

// Version is the book's sync token's version (Book.Version).
func (b *BookCards) Version() string { return bookVersion(b.Rev, b.Withdrawn) }

// Len is the number of cards, counted without rendering them.
func (b *BookCards) Len() int {
	n := len(b.external)
	for i := range b.idx.people {
		if b.v.CanSee(&b.idx.people[i]) {
			n++
		}
	}
	return n
}

// CTag is the book's getctag, BookWithExternal's Book.CTag: every card is
// rendered for it, none kept.
func (b *BookCards) CTag() string {
	people := sha256.New()
	for i := range b.idx.people {
		if p := &b.idx.people[i]; b.v.CanSee(p) {
			c := b.idx.card(b.v, p)
			people.Write([]byte(c.Name + c.ETag))
		}
	}
	return withExternal(peopleCTag(b.idx.rev, people), b.external)
}

// All renders the cards in BookWithExternal's order (the people, then the
// external contacts), each one only when it is asked for.
func (b *BookCards) All(yield func(*BookCard) bool) {
	for i := range b.idx.people {
		if p := &b.idx.people[i]; b.v.CanSee(p) {
			c := b.idx.card(b.v, p)
			if !yield(&c) {
				return
			}
		}
	}
	for i := range b.external {
		if !yield(&b.external[i]) {
			return
		}
	}
}

// AddressBookCards is BookWithExternal's book as
// BookCards: the same cards and version, rendered as they are read.
func (a *App) AddressBookCards(ctx context.Context, s *Session, pol *policy.Policy) (*BookCards, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	ev, err := a.externalView(ctx, idx, s, pol)
	if err != nil {
		return nil, err
	}
	return &BookCards{Rev: idx.rev, Withdrawn: lastWithdrawal(ev.gone), idx: idx, v: ev.v, external: ev.cards()}, nil
}

// Card is the card named name (BookCard.Name) of the book, or nil: a
// person's rendered alone, an external contact's as All has it. A
// multiget looks up all its cards in one book.
func (b *BookCards) Card(name string) *BookCard {
	if c := b.idx.personCard(b.v, name); c != nil {
		return c
	}
	for i := range b.external {
		if b.external[i].Name == name {
			return &b.external[i]
		}
	}
	return nil
}

// BookCard returns the card named name (BookCard.Name) of the session's
// person's latest book, or nil when the book has no such card (nobody of
// that name, or nobody they may see): BookWithExternal's card, rendered
// alone.
func (a *App) BookCard(ctx context.Context, s *Session, pol *policy.Policy, name string) (*BookCard, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	if c := idx.personCard(idx.viewer(s), name); c != nil {
		return c, nil
	}
	if !strings.HasPrefix(name, "external-") {
		return nil, nil
	}
	ev, err := a.externalView(ctx, idx, s, pol)
	if err != nil {
		return nil, err
	}
	for _, c := range ev.cards() {
		if c.Name == name {
			return &c, nil
		}
	}
	return nil, nil
}

// personCard is the card named name of a person v sees in idx, rendered
// alone (nil: none).
func (idx *peopleIndex) personCard(v Viewer, name string) *BookCard {
	id, ok := strings.CutSuffix(name, ".vcf")
	if !ok {
		return nil
	}
	if userid, err := url.PathUnescape(id); err == nil && cardName(userid) == name {
		if p := idx.person(userid); p != nil && v.CanSee(p) {
			c := idx.card(v, p)
			return &c
		}
	}
	return nil
}
