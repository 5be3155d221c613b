package app

import (
	"context"
	"strconv"
	"sync"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/store"
)

// accountability is what an export records about its people (issue 13):
// the keyed hashes of who was written (the holding 'audit who-has' and
// 'breach' read) and, for a consent-based job, who was left out.
type accountability struct {
	holders *store.Recorder
	// reconsent: people whose consent does not cover the fields asked for
	// (a set: export.Options.Consent may ask twice, from several
	// goroutines).
	mu        sync.Mutex
	reconsent map[string]bool
}

// accountable sets o.Written to record the holders (the caller must Close
// acc.holders when the export fails) and, when the basis is consent,
// o.Consent to the consent register's answer for the request's purpose.
func (g *governed) accountable(ctx context.Context, dec *govern.Decision, dir dingbook.Directory, o *export.Options) (*accountability, error) {
	key, err := store.HolderKey(g.app.DB.Dir)
	if err != nil {
		return nil, err
	}
	acc := &accountability{holders: store.NewRecorder(key, sizeOf(dir))}
	o.Written = acc.holders.Add
	if dec == nil || dec.Basis != "consent" {
		return acc, nil
	}
	cs, err := g.app.DB.CurrentConsents(ctx, g.req.Purpose, "")
	if err != nil {
		return nil, err
	}
	byPerson := make(map[string]*store.Consent, len(cs))
	for i := range cs {
		byPerson[cs[i].Person] = &cs[i]
	}
	fields := dec.Fields
	acc.reconsent = map[string]bool{}
	o.Consent = func(p *dingbook.Person) bool {
		c := byPerson[p.UserID]
		if c == nil || c.State != store.ConsentGiven {
			return false
		}
		if !c.Covers(fields) {
			acc.mu.Lock()
			acc.reconsent[p.UserID] = true
			acc.mu.Unlock()
			return false
		}
		return true
	}
	return acc, nil
}

// details are the audit record's facts about who was left out.
func (acc *accountability) details(exp *export.Result) map[string]string {
	d := map[string]string{}
	if exp.LeftOut.NoConsent > 0 {
		d["left_out_no_consent"] = strconv.Itoa(exp.LeftOut.NoConsent)
	}
	if n := len(acc.reconsent); n > 0 {
		d["needs_reconsent"] = strconv.Itoa(n)
	}
	return d
}

// addExternal records the external contacts an export writes in its
// holding, by their userid as people are ('audit who-has' finds a
// contact's userid by its mobile or e-mail too: store.FindPeople).
func (acc *accountability) addExternal(list []dingbook.ExternalContact) {
	for i := range list {
		acc.holders.Add(&dingbook.Person{UserID: list[i].UserID})
	}
}
