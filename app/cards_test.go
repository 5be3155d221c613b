package app_test

import (
	"testing"
	"time"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/store"
)

// TestCardShareState: the one rule of a share's state: a vCard or QR code
// is a download; a link is revoked once revoked (expired or not), expired
// from its expiry on, live before.
func TestCardShareState(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	before := now.Add(-time.Minute)
	for _, c := range []struct {
		share store.CardShare
		want  string
	}{
		{store.CardShare{Kind: app.ShareVCard, Expires: before}, app.ShareDownload},
		{store.CardShare{Kind: app.ShareQR, Expires: now.Add(time.Hour)}, app.ShareDownload},
		{store.CardShare{Kind: app.ShareLink, Expires: now.Add(time.Hour)}, app.ShareLive},
		{store.CardShare{Kind: app.ShareLink, Expires: now}, app.ShareExpired},
		{store.CardShare{Kind: app.ShareLink, Expires: before}, app.ShareExpired},
		{store.CardShare{Kind: app.ShareLink, Expires: now.Add(time.Hour), Revoked: &before}, app.ShareRevoked},
		{store.CardShare{Kind: app.ShareLink, Expires: before, Revoked: &before}, app.ShareRevoked},
	} {
		sh := app.CardShareRow{CardShare: c.share}
		if got := sh.StateAt(now); got != c.want {
			t.Errorf("%+v: %s, want %s", c.share, got, c.want)
		}
	}
}
