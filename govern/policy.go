package govern

import (
	"context"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// LoadPolicy loads the policy (explicit path, else $DINGBOOK_HOME/policy.yaml,
// else the defaults) and records a policy change in the audit log when its
// hash differs from the last one recorded.
func LoadPolicy(ctx context.Context, db *store.DB, explicit, actor string) (*policy.Policy, error) {
	path, missingOK := policy.Path(explicit, db.Dir)
	pol, err := policy.Load(path, missingOK)
	if err != nil {
		return nil, err
	}
	if _, err := NotePolicy(ctx, db, pol, actor); err != nil {
		return nil, err
	}
	return pol, nil
}

// NotePolicy appends a policy-change record when pol's hash differs from
// the last recorded one (also the first time a policy is seen). It reports
// whether it recorded a change.
func NotePolicy(ctx context.Context, db *store.DB, pol *policy.Policy, actor string) (bool, error) {
	last, err := audit.LastPolicyHash(ctx, db)
	if err != nil {
		return false, err
	}
	if last == pol.Hash {
		return false, nil
	}
	reason := "policy changed"
	if last == "" {
		reason = "first policy recorded"
	}
	_, err = audit.Append(ctx, db, audit.Record{
		Actor: nonEmpty(actor, "unknown"), Action: audit.ActionPolicyChange, Outcome: audit.OutcomeOK,
		PolicyHash: pol.Hash, Reason: reason,
		Details: map[string]string{"source": pol.Source, "previous_hash": last},
	})
	return err == nil, err
}
