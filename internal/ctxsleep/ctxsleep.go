// Package ctxsleep waits for a while unless a context ends first: the one
// cancellable sleep of the API clients' backoff and pacing.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
