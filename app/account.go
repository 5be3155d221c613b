package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/dingbook/dingbook/account"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// The accountability use cases (issue 13): who holds a person's data, a
// person's own report, breaches, the consent register and the wipe. Each
// runs on the App's store and clock on behalf of actor.

// WhoHas lists the holdings (exports, pushes, grants, shares) a person is
// in since the given time (zero: all).
func (a *App) WhoHas(ctx context.Context, person string, since time.Time) (*account.WhoHasResult, error) {
	return account.WhoHas(ctx, a.DB, person, since)
}

// SubjectReport answers a person's access request in lang, recorded.
func (a *App) SubjectReport(ctx context.Context, pol *policy.Policy, person, lang, actor string) (string, error) {
	_, text, err := account.SubjectReport(ctx, a.DB, pol, person, lang, actor, a.now())
	return text, err
}

// StartBreach opens an incident for a lost bundle, grant, share or device,
// revokes what can be revoked and starts the notification clock.
func (a *App) StartBreach(ctx context.Context, pol *policy.Policy, b account.BreachStart) (*store.Incident, error) {
	b.Now = a.now()
	return account.StartBreach(ctx, a.DB, pol, b)
}

// BreachReport writes the notices of incident id into dir.
func (a *App) BreachReport(ctx context.Context, pol *policy.Policy, id, lang, dir, actor string) (*account.Report, error) {
	return account.BreachReport(ctx, a.DB, pol, id, lang, dir, actor, a.now())
}

// BreachItem is an incident with the hours left on its clock.
type BreachItem struct {
	*store.Incident
	HoursLeft float64 `json:"hours_left"`
}

// Breaches lists the incidents (open only, unless all).
func (a *App) Breaches(ctx context.Context, all bool) ([]BreachItem, error) {
	ins, err := a.DB.Incidents(ctx, !all)
	if err != nil {
		return nil, err
	}
	now := a.now()
	items := make([]BreachItem, len(ins))
	for i, in := range ins {
		items[i] = BreachItem{in, account.HoursLeft(in, now)}
	}
	return items, nil
}

// CloseBreach closes incident id for reason, recorded.
func (a *App) CloseBreach(ctx context.Context, pol *policy.Policy, id, reason, actor string) error {
	return account.CloseBreach(ctx, a.DB, pol, id, reason, actor, a.now())
}

// Wipe deletes every snapshot, checkpoint, bundle and temporary file of
// the tenant named by confirm; the audit log is kept.
func (a *App) Wipe(ctx context.Context, pol *policy.Policy, confirm, actor string) (*account.WipeResult, error) {
	return account.Wipe(ctx, a.DB, pol, confirm, actor, a.now())
}

// ImportConsents adds consent entries read from a file (source names it,
// content is hashed into the record) and records the import, in one
// transaction.
// It returns the count of entries per state.
func (a *App) ImportConsents(ctx context.Context, cs []store.Consent, source string, content []byte, actor string) (map[string]int, error) {
	sum := sha256.Sum256(content)
	n := map[string]int{}
	for _, c := range cs {
		n[c.State]++
	}
	if _, err := audit.AppendWith(ctx, a.DB, audit.Record{Time: a.now(), Actor: actor, Action: account.ActionConsent, Rows: len(cs),
		Outputs: []audit.Output{{Path: source, SHA256: hex.EncodeToString(sum[:])}},
		Details: map[string]string{"op": "import", "given": strconv.Itoa(n[store.ConsentGiven]), "withdrawn": strconv.Itoa(n[store.ConsentWithdrawn])}},
		func(tx *store.Tx, _ audit.Record) error { return tx.AddConsents(cs) }); err != nil {
		return nil, err
	}
	return n, nil
}

// WithdrawConsent records that person withdrew the consent given for
// purpose at when (ref: the ticket or letter), in one transaction with
// its audit record, which holds only a keyed hash of the person.
func (a *App) WithdrawConsent(ctx context.Context, person, purpose, ref string, when time.Time, actor string) error {
	key, err := store.HolderKey(a.DB.Dir)
	if err != nil {
		return err
	}
	_, err = audit.AppendWith(ctx, a.DB, audit.Record{Time: a.now(), Actor: actor, Action: account.ActionConsent, Rows: 1, Purpose: purpose,
		Details: map[string]string{"op": "withdraw", "person_hmac": fmt.Sprintf("%016x", store.NewHasherScheme(key, store.HashHMAC).Sum(person)), "reference": ref}},
		func(tx *store.Tx, _ audit.Record) error {
			return tx.AddConsents([]store.Consent{{Person: person, Purpose: purpose, State: store.ConsentWithdrawn, Time: when, Reference: ref}})
		})
	return err
}
