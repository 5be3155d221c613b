// Package radicale starts Debian's Radicale CardDAV server for tests: on
// a free loopback port, with a temporary storage folder and htpasswd
// (plain) authentication, and an empty address book made with MKCOL.
// A test that needs it fails, never skips, when radicale is missing
// (scripts/test.sh installs the Debian package).
package radicale

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running Radicale.
type Server struct {
	Base           string // http://127.0.0.1:PORT
	User, Password string
}

// Start runs radicale until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("radicale")
	if err != nil {
		t.Fatalf("radicale is not installed (apt-get install radicale; scripts/test.sh installs it): %v", err)
	}
	dir := t.TempDir()
	s := &Server{User: "alice", Password: "s3cret-pw"}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(s.User+":"+s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`[server]
hosts = %s
[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
delay = 0
[storage]
filesystem_folder = %s
[rights]
type = owner_only
[web]
type = none
[logging]
level = warning
`, addr, filepath.Join(dir, "users"), filepath.Join(dir, "collections"))
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start radicale: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	s.Base = "http://" + addr
	for i := 0; ; i++ {
		resp, err := s.Do("PROPFIND", "/"+s.User+"/", "", map[string]string{"Depth": "0"})
		if err == nil && resp.StatusCode == http.StatusMultiStatus {
			break
		}
		select {
		case <-done:
			t.Fatalf("radicale exited: %s", logs.String())
		default:
		}
		if i > 200 {
			t.Fatalf("radicale did not answer on %s (%v): %s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// AddressBook makes an empty address book /USER/NAME/ with MKCOL and
// returns its URL.
func (s *Server) AddressBook(t testing.TB, name string) string {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>` + name + `</D:displayname></D:prop></D:set></D:mkcol>`
	p := "/" + s.User + "/" + name + "/"
	resp, err := s.Do("MKCOL", p, body, map[string]string{"Content-Type": "application/xml"})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCOL %s: %v %v", p, err, resp)
	}
	return s.Base + p
}

// Response is a plain answer.
type Response struct {
	StatusCode int
	ETag       string
	Body       string
}

// Do sends one authenticated request to path.
func (s *Server) Do(method, path, body string, hdr map[string]string) (*Response, error) {
	req, err := http.NewRequest(method, s.Base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.SetBasicAuth(s.User, s.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		return nil, err
	}
	return &Response{StatusCode: resp.StatusCode, ETag: resp.Header.Get("ETag"), Body: b.String()}, nil
}
