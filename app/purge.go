package app

import (
	"context"

	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
)

// Purge deletes expired bundles, clears expired pushed sheets (through
// o.ClearSheet), deletes snapshots past the policy's keep and sweeps
// orphaned private directories, each deletion recorded (govern.Purge).
// o.Now defaults to the App's clock.
func (a *App) Purge(ctx context.Context, pol *policy.Policy, o govern.PurgeOptions) ([]govern.PurgeItem, error) {
	if o.Now.IsZero() {
		o.Now = a.now()
	}
	return govern.Purge(ctx, a.DB, pol, o)
}
