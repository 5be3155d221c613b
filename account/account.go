// Package account answers for the data that left dingbook (issue 13):
// who holds person X (WhoHas, the access request's SubjectReport), breach
// incidents with their 72-hour clock and notices (StartBreach,
// BreachReport), and the verified wipe at the end of a hosting contract
// (Wipe).
//
// It reads the holdings the store records for every export (and later
// every grant, card share and CardDAV device): keyed hashes of the
// people's userids, never the userids themselves, matched with the key in
// $DINGBOOK_HOME/holders.key.
package account

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/store"
)

// Holding is one entry of WhoHas's answer; its JSON is the contract of
// 'dingbook audit who-has --json'.
type Holding struct {
	Kind      string   `json:"kind"`
	ID        string   `json:"id"`
	Time      string   `json:"time"`
	Purpose   string   `json:"purpose"`
	Recipient string   `json:"recipient"`
	Fields    []string `json:"fields"`
	ExpiresAt string   `json:"expires_at"`
	Purged    bool     `json:"purged"`
	// Grant is the grant a bundle of kind grant was made for (ID is the
	// bundle's export id).
	Grant string `json:"grant,omitempty"`
}

// WhoHasResult is 'audit who-has --json'.
type WhoHasResult struct {
	Person   string    `json:"person"`
	Holdings []Holding `json:"holdings"`
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func fromStore(h *store.Holding) Holding {
	f := h.Fields
	if f == nil {
		f = []string{}
	}
	return Holding{Kind: h.Kind, ID: h.Ref, Time: rfc(h.Time), Purpose: h.Purpose, Recipient: h.Recipient,
		Fields: f, ExpiresAt: rfc(h.Expires), Purged: h.Purged != nil, Grant: h.GrantID}
}

// Resolve finds the person a query names: a userid, a mobile or an e-mail,
// resolved through the stored snapshots. It returns the userid (the query
// itself when no snapshot knows it: a person who has left may still be in
// old bundles) and the keys the person's holdings may be recorded under.
func Resolve(ctx context.Context, db *store.DB, query string) (string, []string, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return "", nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "no person given", Hint: "give a userid, a mobile or an e-mail"}
	}
	ids, err := db.FindPeople(ctx, query)
	if err != nil {
		return "", nil, err
	}
	if len(ids) > 1 {
		return "", nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%q matches %d people in the snapshots (%s)", query, len(ids), strings.Join(ids, ", ")),
			Hint: "give the person's userid instead"}
	}
	person := query
	if len(ids) == 1 {
		person = ids[0]
	}
	keys := []string{person}
	// People from member files without a userid are recorded by mobile or
	// e-mail (store.PersonKey): look for those keys too.
	alias := func(p *dingbook.Person) {
		for _, q := range []dingbook.Person{{Mobile: p.Mobile}, {Email: p.Email}, {Email: p.OrgEmail}} {
			if k := store.PersonKey(&q); k != "" {
				keys = append(keys, k)
			}
		}
	}
	switch {
	case strings.Contains(query, "@"):
		alias(&dingbook.Person{Email: query})
	case strings.Trim(query, "0123456789+-() ") == "":
		alias(&dingbook.Person{Mobile: query})
		// Member files often hold the national number: try it without a
		// country code (or trunk 0) too.
		d := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, query)
		for _, cc := range countryCodes {
			if rest, ok := strings.CutPrefix(d, cc); ok && len(rest) >= 7 {
				alias(&dingbook.Person{Mobile: rest})
			}
		}
	}
	if p, _, err := db.LatestPerson(ctx, person); err != nil {
		return "", nil, err
	} else if p != nil {
		alias(p)
	}
	return person, keys, nil
}

// countryCodes are the calling codes (and the trunk prefix 0) a mobile
// query may carry ahead of the national number: China, Indonesia, Hong
// Kong, Macao, Taiwan, Singapore, Malaysia.
var countryCodes = []string{"86", "62", "852", "853", "886", "65", "60", "0"}

// WhoHas lists every holding (export, grant, share, device) that held the
// person query names, made at or after since (zero: all).
func WhoHas(ctx context.Context, db *store.DB, query string, since time.Time) (*WhoHasResult, error) {
	person, keys, err := Resolve(ctx, db, query)
	if err != nil {
		return nil, err
	}
	hs, err := holdingsOf(ctx, db, keys, since)
	if err != nil {
		return nil, err
	}
	res := &WhoHasResult{Person: person, Holdings: []Holding{}}
	for i := range hs {
		res.Holdings = append(res.Holdings, fromStore(&hs[i]))
	}
	return res, nil
}

func holdingsOf(ctx context.Context, db *store.DB, keys []string, since time.Time) ([]store.Holding, error) {
	key, err := store.HolderKey(db.Dir)
	if err != nil {
		return nil, err
	}
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	return db.WhoHas(ctx, key, keys, since)
}
