package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/vcard"
)

// The CardDAV address book: each person's book is the directory as they
// may see it (visibility.go) in one complete snapshot, one vCard 3.0
// card per person, the cards the vcf export writes. A book is identified
// by its snapshot (the sync token names it), so a client's last token
// and the latest snapshot give what changed for this person.

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
	Cards    []BookCard
	// CTag changes whenever any card of the book does.
	CTag string
	// Withdrawn is the last external contact's consent withdrawal the
	// book applies (AddressBookAt, external.go).
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

// AddressBook returns the session's person's book in snapshot (0: the
// latest complete one). A snapshot that is not a complete one is
// ErrSyncToken.
func (a *App) AddressBook(ctx context.Context, s *Session, snapshot int64) (*Book, error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, err
	}
	if snapshot != 0 && snapshot != idx.snapshot {
		sis, err := a.DB.Snapshots(ctx)
		if err != nil {
			return nil, err
		}
		ok := false
		for _, si := range sis {
			ok = ok || (si.ID == snapshot && si.Complete && si.ID < idx.snapshot)
		}
		if !ok {
			return nil, ErrSyncToken
		}
		if idx, err = a.buildIndex(ctx, snapshot); err != nil {
			return nil, err
		}
	}
	return idx.book(s), nil
}

// book is the session's person's book over this index.
func (idx *peopleIndex) book(s *Session) *Book {
	v := idx.viewer(s)
	b := &Book{Snapshot: idx.snapshot}
	all := sha256.New()
	for i := range idx.people {
		p := &idx.people[i]
		if !v.CanSee(p) {
			continue
		}
		q := *p
		if !v.SeesMobile(p) {
			q.Mobile = ""
		}
		body := vcard.CardFor(&q, idx.tree, vcard.Options{}).String()
		sum := sha256.Sum256([]byte(body))
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		name := url.PathEscape(p.UserID) + ".vcf"
		all.Write([]byte(name + etag))
		b.Cards = append(b.Cards, BookCard{Name: name, ETag: etag, Body: body})
	}
	b.CTag = strconv.FormatInt(idx.snapshot, 10) + "-" + hex.EncodeToString(all.Sum(nil)[:8])
	return b
}
