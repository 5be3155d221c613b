package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/internal/radicale"
	"github.com/dingbook/dingbook/sink/carddav"
	"github.com/dingbook/dingbook/source/gen"
)

var ownedHref = regexp.MustCompile(`dingbook-[0-9a-f]{16}\.vcf`)

// TestPushCardDAV is issue 12's done-when for push --carddav against a
// real Radicale: the cards appear, a second run writes nothing, a change
// in DingTalk becomes one PUT, a card dingbook does not own is untouched;
// plus --dry-run, the --json contract, the audit record and credentials.
func TestPushCardDAV(t *testing.T) {
	env, out, errb := exportEnv(t)
	srv := radicale.Start(t)
	book := srv.AddressBook(t, "directory")
	bookPath := mustURL(t, book).Path
	base := env.Getenv
	env.Getenv = func(k string) string {
		switch k {
		case carddav.UserEnv:
			return srv.User
		case carddav.PasswordEnv:
			return srv.Password
		}
		return base(k)
	}
	foreign := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:hand-made-1\r\nFN:Kept By Hand\r\nN:Hand;Kept;;;\r\nEND:VCARD\r\n"
	if r, err := srv.Do("PUT", bookPath+"hand.vcf", foreign, nil); err != nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT foreign card: %v %+v", err, r)
	}
	before, _ := srv.Do("GET", bookPath+"hand.vcf", "", nil)

	org := gen.Generate(gen.Options{Users: 30, Seed: 4}).Org
	saveSnapshot(t, env, org)
	active := 0
	for _, p := range org.People {
		if p.Active {
			active++
		}
	}
	push := func(args ...string) CardDAVSummary {
		t.Helper()
		out.Reset()
		errb.Reset()
		if code := Main(context.Background(), append([]string{"push", "--json", "--carddav", book, "--purpose", "phones stay current"}, args...), env); code != 0 {
			t.Fatalf("push %v: exit %d: %s", args, code, errb)
		}
		if keys := jsonKeys(t, out.Bytes()); keys != "added,changed,reads,removed,rows,url,writes" {
			t.Fatalf("--json keys %v", keys)
		}
		var s CardDAVSummary
		json.Unmarshal(out.Bytes(), &s)
		return s
	}
	owned := func() []string {
		t.Helper()
		r, err := srv.Do("PROPFIND", bookPath, "", map[string]string{"Depth": "1"})
		if err != nil || r.StatusCode != http.StatusMultiStatus {
			t.Fatalf("PROPFIND: %v %+v", err, r)
		}
		return ownedHref.FindAllString(r.Body, -1)
	}

	dry := push("--dry-run")
	if dry.Added != active || dry.Writes != 0 || len(owned()) != 0 || !strings.Contains(errb.String(), "would add "+bookPath+"dingbook-") {
		t.Fatalf("dry run %+v, %d cards on the server: %s", dry, len(owned()), errb)
	}

	first := push()
	if first.Rows != active || first.Added != active || first.Writes != active || first.URL != book {
		t.Fatalf("first push %+v (active %d)", first, active)
	}
	hrefs := owned()
	if len(hrefs) != active {
		t.Fatalf("%d cards on the server, want %d", len(hrefs), active)
	}
	var all strings.Builder
	for _, h := range hrefs {
		r, _ := srv.Do("GET", bookPath+h, "", nil)
		all.WriteString(r.Body)
	}
	for _, p := range org.People {
		if !p.Active {
			continue
		}
		if !strings.Contains(all.String(), strings.TrimSpace(p.Name)) {
			t.Errorf("no card holds %q", p.Name)
		}
		if strings.Contains(all.String(), p.UserID) {
			t.Errorf("userid %q is in a card", p.UserID)
		}
		if p.Mobile != "" && strings.Contains(all.String(), p.Mobile) {
			t.Errorf("mobile %q reached the server outside the minimal profile", p.Mobile)
		}
	}
	rec := lastAudit(t, env)
	if rec.Outcome != audit.OutcomeOK || rec.Details["target"] != "carddav" || rec.Details["url"] != book || rec.Rows != active || rec.Details["added"] != itoa(int64(active)) {
		t.Fatalf("audit record %+v", rec)
	}

	if again := push(); again.Writes != 0 || again.Added+again.Changed+again.Removed != 0 {
		t.Fatalf("second push %+v", again)
	}

	// A change in DingTalk: one new title in a new snapshot is one PUT.
	for i := range org.People {
		if org.People[i].Active {
			org.People[i].Title = "Kepala Bagian Baru"
			break
		}
	}
	saveSnapshot(t, env, org)
	if ch := push(); ch.Changed != 1 || ch.Writes != 1 || ch.Added+ch.Removed != 0 {
		t.Fatalf("push after one change %+v", ch)
	}

	after, _ := srv.Do("GET", bookPath+"hand.vcf", "", nil)
	if after.StatusCode != http.StatusOK || after.Body != before.Body || after.ETag != before.ETag {
		t.Fatalf("the hand-made card changed:\n%+v\n%+v", before, after)
	}
	if strings.Contains(errb.String(), srv.Password) {
		t.Fatal("the password is in the output")
	}
}

// TestPushCardDAVCredentials: a password in the URL is refused, the
// credentials file must be 0600, and no password is echoed.
func TestPushCardDAVCredentials(t *testing.T) {
	env, _, errb := exportEnv(t)
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 5, Seed: 1}).Org)
	run := func(args ...string) int {
		errb.Reset()
		return Main(context.Background(), append([]string{"push", "--purpose", "p"}, args...), env)
	}
	if code := run("--carddav", "https://bob:hunter2@dav.example/bob/c/"); code != 2 || !strings.Contains(errb.String(), "credentials never go on the command line") || strings.Contains(errb.String(), "hunter2") {
		t.Fatalf("password in URL: %d %s", code, errb)
	}
	if code := run("--carddav", "http://127.0.0.1:1/bob/c/"); code == 0 || !strings.Contains(errb.String(), carddav.UserEnv) {
		t.Fatalf("no credentials: %d %s", code, errb)
	}
	f := filepath.Join(t.TempDir(), "dav")
	os.WriteFile(f, []byte("bob:hunter2\n"), 0o644)
	os.Chmod(f, 0o644)
	if code := run("--carddav", "http://127.0.0.1:1/bob/c/", "--carddav-credentials", f); code == 0 || !strings.Contains(errb.String(), "chmod 600") || strings.Contains(errb.String(), "hunter2") {
		t.Fatalf("0644 credentials: %d %s", code, errb)
	}
	if code := run("--carddav", "http://x/", "--sheets", "abc"); code != 2 {
		t.Fatalf("two targets: %d", code)
	}
}

// TestPushCardDAVCredentialsFile: the 0600 file's USER:PASSWORD reaches
// Radicale.
func TestPushCardDAVCredentialsFile(t *testing.T) {
	env, _, errb := exportEnv(t)
	srv := radicale.Start(t)
	book := srv.AddressBook(t, "directory")
	saveSnapshot(t, env, gen.Generate(gen.Options{Users: 5, Seed: 1}).Org)
	f := filepath.Join(t.TempDir(), "dav")
	os.WriteFile(f, []byte(srv.User+":"+srv.Password+"\n"), 0o600)
	if code := Main(context.Background(), []string{"push", "--purpose", "p", "--carddav", book, "--carddav-credentials", f}, env); code != 0 || !strings.Contains(errb.String(), "added") {
		t.Fatalf("push with a credentials file: %d %s", code, errb)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
