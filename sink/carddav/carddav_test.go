package carddav_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/internal/radicale"
	"github.com/dingbook/dingbook/sink/carddav"
)

func card(uid, name, mobile string) carddav.Card {
	return carddav.Card{UID: uid, Data: vcard.Card{UID: uid, FN: name, Given: name, Tels: []vcard.Tel{{Number: mobile, Types: []string{"CELL"}}}}.String()}
}

func counts(t *testing.T, r *carddav.Result, added, changed, removed, writes int) {
	t.Helper()
	if r.Added != added || r.Changed != changed || r.Removed != removed || r.Writes != writes {
		t.Fatalf("added/changed/removed/writes = %d/%d/%d/%d, want %d/%d/%d/%d (%+v)", r.Added, r.Changed, r.Removed, r.Writes, added, changed, removed, writes, r.Changes)
	}
}

// TestPushRadicale covers issue 12's done-when points against a real
// Radicale: the cards appear, a second run writes nothing, one change is
// one PUT, a card dingbook does not own is untouched, a dry run writes
// nothing, and a card dropped from the view is deleted.
func TestPushRadicale(t *testing.T) {
	srv := radicale.Start(t)
	book := srv.AddressBook(t, "directory")
	u, _ := url.Parse(book)
	foreign := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:someone-else-1\r\nFN:Not Ours\r\nN:Ours;Not;;;\r\nEND:VCARD\r\n"
	if r, err := srv.Do("PUT", u.Path+"other.vcf", foreign, map[string]string{"Content-Type": "text/vcard"}); err != nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT foreign card: %v %+v", err, r)
	}
	before, _ := srv.Do("GET", u.Path+"other.vcf", "", nil)

	c := &carddav.Client{URL: book, User: srv.User, Password: srv.Password}
	ctx := context.Background()
	cards := []carddav.Card{card("dingbook-aa01", "张伟", "+8613800000001"), card("dingbook-aa02", "Budi Santoso", "+6281234567890"), card("dingbook-aa03", "李娜", "+8613800000003")}

	dry, err := c.Push(ctx, cards, carddav.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, dry, 3, 0, 0, 0)
	if r, _ := srv.Do("GET", u.Path+"dingbook-aa01.vcf", "", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("dry run wrote a card: %d", r.StatusCode)
	}

	r1, err := c.Push(ctx, cards, carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, r1, 3, 0, 0, 3)
	for _, cd := range cards {
		got, err := srv.Do("GET", u.Path+cd.UID+".vcf", "", nil)
		if err != nil || got.StatusCode != http.StatusOK || !strings.Contains(got.Body, "UID:"+cd.UID) || !strings.Contains(got.Body, carddav.HashProp) {
			t.Fatalf("card %s on the server: %v %+v", cd.UID, err, got)
		}
	}
	if !strings.Contains(mustGet(t, srv, u.Path+"dingbook-aa01.vcf"), "张伟") {
		t.Fatal("the Chinese name did not reach the server")
	}

	r2, err := c.Push(ctx, cards, carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, r2, 0, 0, 0, 0)
	if r2.Reads != 2 {
		t.Fatalf("an unchanged push read %d times, want 2 (PROPFIND and multiget)", r2.Reads)
	}

	// Owned cards are read in multigets of Batch cards: 3 cards in
	// batches of 2 are one PROPFIND and two REPORTs.
	batched, err := (&carddav.Client{URL: book, User: srv.User, Password: srv.Password, Batch: 2}).Push(ctx, cards, carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, batched, 0, 0, 0, 0)
	if batched.Reads != 3 {
		t.Fatalf("batched reads %d, want 3", batched.Reads)
	}

	cards[1] = card("dingbook-aa02", "Budi Santoso", "+6281299999999")
	r3, err := c.Push(ctx, cards, carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, r3, 0, 1, 0, 1)
	if !strings.Contains(mustGet(t, srv, u.Path+"dingbook-aa02.vcf"), "+6281299999999") {
		t.Fatal("the changed mobile is not on the server")
	}

	r4, err := c.Push(ctx, cards[:2], carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, r4, 0, 0, 1, 1)
	if r, _ := srv.Do("GET", u.Path+"dingbook-aa03.vcf", "", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("the removed card is still there: %d", r.StatusCode)
	}

	// Resumable: a card lost (a push that stopped before writing it) is
	// written by the next run, and only it.
	if r, err := srv.Do("DELETE", u.Path+"dingbook-aa01.vcf", "", nil); err != nil || r.StatusCode/100 != 2 {
		t.Fatalf("DELETE: %v %+v", err, r)
	}
	r5, err := c.Push(ctx, cards[:2], carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, r5, 1, 0, 0, 1)

	after, _ := srv.Do("GET", u.Path+"other.vcf", "", nil)
	if after.StatusCode != http.StatusOK || after.Body != before.Body || after.ETag != before.ETag {
		t.Fatalf("the card dingbook does not own changed:\n%+v\n%+v", before, after)
	}
}

func mustGet(t *testing.T, srv *radicale.Server, p string) string {
	t.Helper()
	r, err := srv.Do("GET", p, "", nil)
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %+v", p, err, r)
	}
	return r.Body
}

// TestPushConflict: someone edits an owned card between dingbook's read
// and its write; Radicale refuses the If-Match PUT with 412, and the push
// reads the card's ETag again and writes once more.
func TestPushConflict(t *testing.T) {
	srv := radicale.Start(t)
	book := srv.AddressBook(t, "directory")
	u, _ := url.Parse(book)
	ctx := context.Background()
	cards := []carddav.Card{card("dingbook-bb01", "王芳", "+8613800000011")}
	if _, err := (&carddav.Client{URL: book, User: srv.User, Password: srv.Password}).Push(ctx, cards, carddav.Options{}); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(srv.Base)
	rp := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" && r.Header.Get("If-Match") != "" && refused.Load() == 0 {
			// an edit by someone else lands first
			edited := strings.Replace(cards[0].Data, "王芳", "王芳 (edited)", 1)
			if resp, err := srv.Do("PUT", r.URL.Path, edited, map[string]string{"Content-Type": "text/vcard"}); err != nil || resp.StatusCode/100 != 2 {
				t.Errorf("edit: %v %+v", err, resp)
			}
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			if rec.Code == http.StatusPreconditionFailed {
				refused.Add(1)
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			io.Copy(w, rec.Body)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	cards[0] = card("dingbook-bb01", "王芳", "+8613800000012")
	res, err := (&carddav.Client{URL: proxy.URL + u.Path, User: srv.User, Password: srv.Password}).Push(ctx, cards, carddav.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if refused.Load() != 1 || res.Conflicts != 1 {
		t.Fatalf("Radicale refused %d writes, the push saw %d conflicts; want 1 and 1", refused.Load(), res.Conflicts)
	}
	counts(t, res, 0, 1, 0, 2)
	got := mustGet(t, srv, u.Path+"dingbook-bb01.vcf")
	if !strings.Contains(got, "+8613800000012") || strings.Contains(got, "edited") {
		t.Fatalf("after the conflict the server holds:\n%s", got)
	}
}

// TestPushErrors: wrong credentials and a wrong URL are clear errors that
// never hold the password.
func TestPushErrors(t *testing.T) {
	srv := radicale.Start(t)
	book := srv.AddressBook(t, "directory")
	_, err := (&carddav.Client{URL: book, User: srv.User, Password: "wrong-password-xyz"}).Push(context.Background(), nil, carddav.Options{})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Fatalf("wrong password: %v", err)
	}
	_, err = (&carddav.Client{URL: "ftp://x/", User: srv.User, Password: srv.Password}).Push(context.Background(), nil, carddav.Options{})
	if err == nil || !strings.Contains(err.Error(), "--carddav") {
		t.Fatalf("bad URL: %v", err)
	}
}
