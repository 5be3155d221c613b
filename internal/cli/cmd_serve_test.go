package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dingbook serve over the simulator's exports: /healthz answers, /login
// sends the browser to the configured login page with the callback below
// --base-url, and a cancelled context (Ctrl-C) stops it with exit 0.
func TestServeStartsAndStops(t *testing.T) {
	exports, stopSim := runSimExports(t, "--users", "40", "--depts", "4", "--seed", "2", "--qps", "0")
	defer stopSim()
	exports["DINGBOOK_HOME"] = t.TempDir()
	// a daily pull scheduled (not due during the test): it starts and stops with serve
	if err := os.WriteFile(filepath.Join(exports["DINGBOOK_HOME"], "policy.yaml"), []byte("serve:\n  pull_daily_at: \"02:00\"\n  quota_per_hour: 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return exports[k] }, Now: time.Now}
	addr, stop := startServe(t, env, &stderr, "serve", "--addr", "127.0.0.1:0", "--base-url", "https://dingbook.example.com/", "--metrics-addr", "127.0.0.1:0")
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = hc.Get("http://" + addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, exports["DINGTALK_LOGIN_BASE"]+"/oauth2/auth?") ||
		!strings.Contains(loc, "redirect_uri=https%3A%2F%2Fdingbook.example.com%2Fauth%2Fdingtalk%2Fcallback") {
		t.Errorf("/login: %d %s", resp.StatusCode, loc)
	}
	if !strings.Contains(stderr.String(), "pulls daily at 02:00 (serve.pull_daily_at") {
		t.Errorf("no schedule in stderr: %q", stderr.String())
	}
	if !strings.Contains(stderr.String(), "listening on "+addr) {
		t.Errorf("stderr: %q", stderr.String())
	}
	// --metrics-addr: the metrics without a login (the /healthz and
	// /login requests above counted)
	m := regexp.MustCompile(`metrics on (http://\S+/metrics)\n`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in %q", stderr.String())
	}
	resp, err = http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `dingbook_http_requests_total{route="GET /healthz",code="2xx"} 1`) ||
		!strings.Contains(string(body), `dingbook_http_requests_total{route="GET /login",code="3xx"} 1`) {
		t.Errorf("--metrics-addr: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(stderr.String(), exports["DINGTALK_APP_SECRET"]) {
		t.Error("the app secret was printed")
	}
	stop()
}

// startServe runs 'dingbook ARGS' (a serve) in-process until it listens
// and returns its address, and stop, which cancels its context (Ctrl-C)
// and checks that it stopped cleanly with exit 0.
func startServe(t *testing.T, env *Env, stderr *bytes.Buffer, args ...string) (addr string, stop func()) {
	t.Helper()
	ready := make(chan string, 1)
	serveReady = func(addr string) { ready <- addr }
	t.Cleanup(func() { serveReady = nil })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan int, 1)
	go func() { done <- Main(ctx, args, env) }()
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("%v exited %d: %s", args, code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not start", args)
	}
	return addr, func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != 0 || !strings.Contains(stderr.String(), "dingbook serve: stopped") {
				t.Errorf("exit %d, stderr %q", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%v did not stop", args)
		}
	}
}

func TestServeFlagsChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--base-url", "ftp://x"}, "--base-url"},
		{[]string{"serve", "--base-url", "dingbook.example.com"}, "--base-url"},
		{[]string{"serve", "extra"}, "serve takes no arguments"},
		{[]string{"serve", "--demo-dir", "x", "--addr", "127.0.0.1:0"}, "--demo-dir needs --demo"},
		{[]string{"serve", "--demo", "--config-profile", "acme", "--addr", "127.0.0.1:0"}, "--config and --config-profile do not apply"},
		{[]string{"serve", "--tls-cert", "cert.pem", "--addr", "127.0.0.1:0"}, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem", "--addr", "127.0.0.1:0"}, "cannot load the TLS certificate /nonexistent/cert.pem"},
		{[]string{"serve", "--trusted-proxy", "10.0.0.0/8,proxy.example", "--addr", "127.0.0.1:0"}, "--trusted-proxy proxy.example is not a CIDR prefix"},
	} {
		args := tc.args
		var stdout, stderr bytes.Buffer
		env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now}
		code := Main(context.Background(), args, env)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// (PEM, 0600) and returns their paths and the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dingbook test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// dingbook serve --tls-cert --tls-key serves HTTPS with that certificate:
// the base URL defaults to https, the login callback is below it and the
// cookies are Secure; plain HTTP to the port gets no page.
func TestServeTLS(t *testing.T) {
	exports, stopSim := runSimExports(t, "--users", "20", "--depts", "3", "--seed", "2", "--qps", "0")
	defer stopSim()
	exports["DINGBOOK_HOME"] = t.TempDir()
	certFile, keyFile, cert := selfSigned(t)
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return exports[k] }, Now: time.Now}
	addr, stop := startServe(t, env, &stderr, "serve", "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
		"--trusted-proxy", "127.0.0.1")
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" || resp.TLS == nil {
		t.Errorf("https /healthz: %d %q", resp.StatusCode, body)
	}
	resp, err = hc.Get("https://" + addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.Contains(loc, "redirect_uri="+url.QueryEscape("https://"+addr+"/auth/dingtalk/callback")) {
		t.Errorf("/login over https: %d %s", resp.StatusCode, loc)
	}
	if cs := resp.Cookies(); len(cs) == 0 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Errorf("cookies over https: %+v", cs)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain http answered: %d %q", resp.StatusCode, body)
		}
	}
	stop()
}
