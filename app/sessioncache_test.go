package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
)

// TestSessionCacheNeverOutlivesTheStore: a session served from the cache
// ends the moment its row goes, whoever removes it: this App (logout), a
// second App on the same state (a CLI pull ending a leaver's sessions)
// and another process (sqlite3); a timeout still ends it too.
func TestSessionCacheNeverOutlivesTheStore(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	a, err := app.Open(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cli, err := app.Open(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { return now }
	login := func(userid string) string {
		t.Helper()
		token, _, err := a.Login(ctx, &dingtalk.Identity{UserID: userid}, app.LoginOptions{Via: "browser"})
		if err != nil {
			t.Fatal(err)
		}
		// served twice: the second from the cache
		for range 2 {
			if s, err := a.Session(ctx, token, app.SessionLimits{}); err != nil || s == nil || s.UserID != userid {
				t.Fatalf("%s's new session: %+v %v", userid, s, err)
			}
		}
		return token
	}
	gone := func(what, token string) {
		t.Helper()
		if s, err := a.Session(ctx, token, app.SessionLimits{}); err != nil || s != nil {
			t.Errorf("after %s the session is still served: %+v %v", what, s, err)
		}
	}

	token := login("alice")
	if err := a.Logout(ctx, token); err != nil {
		t.Fatal(err)
	}
	gone("a logout", token)

	token = login("bob")
	if n, err := cli.EndSessions(ctx, "bob", "pull", "left"); err != nil || n != 1 {
		t.Fatalf("EndSessions in the other App: %d %v", n, err)
	}
	gone("another App ended it", token)

	token = login("carol")
	sum := sha256.Sum256([]byte(token))
	if out, err := exec.Command("sqlite3", filepath.Join(home, store.DBName),
		"DELETE FROM session WHERE id = '"+hex.EncodeToString(sum[:])+"';").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 (Debian package sqlite3): %v %s", err, out)
	}
	gone("another process deleted it", token)

	// a session seen less than a minute ago is not written to: the cache
	// serves it, and the idle limit still ends it
	token = login("dave")
	now = now.Add(30 * time.Second)
	if s, _ := a.Session(ctx, token, app.SessionLimits{}); s == nil {
		t.Fatal("dave's session ended after 30 s")
	}
	now = now.Add(app.DefaultSessionIdle)
	gone("the idle limit", token)
}

// TestNewToken: a token is 32 random bytes in base64url without padding,
// a fresh one each time.
func TestNewToken(t *testing.T) {
	a, b := app.NewToken(), app.NewToken()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || a == b {
		t.Fatalf("tokens %q %q: %v, %d bytes", a, b, err, len(raw))
	}
}
