package app

import "context"

// SaveGrant writes g as Bundle and Download do when they end: tests hand
// it a copy read before a revocation, as a bundle's export racing one.
func (gs *Grants) SaveGrant(ctx context.Context, g *Grant, step string) error {
	return gs.save(ctx, g, step, g.Grantee, "", nil, nil)
}

// OnStage calls f as Bundle reaches each stage ("export", "exported"):
// tests revoke a grant there, as another request or process would.
func (gs *Grants) OnStage(f func(stage string)) { gs.stage = f }
