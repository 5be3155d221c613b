package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/dingtalk/stream"
)

func init() {
	Register(&Command{Name: "serve", Short: "the web portal: DingTalk login, sessions (in progress)", Run: runServe})
}

// serveReady, if set, receives the listening address (tests use it).
var serveReady func(addr string)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "serve", `serve [--addr 127.0.0.1:8080] [--base-url URL] [--tls-cert FILE --tls-key FILE]
      [--trusted-proxy CIDR]... [--stream=true|false] [--demo [--demo-dir DIR]]

Serves dingbook's web portal: log in with DingTalk (the app's redirect URL
must be BASE-URL/auth/dingtalk/callback), GET /api/v1/me, /healthz,
POST /api/v1/admin/pulls (admins), /metrics (admins; Prometheus scrapes
--metrics-addr, which needs no login: keep it on loopback or a private
network). The policy's serve.quota_per_hour limits each person's views
and searches; serve.pull_daily_at ("02:00") pulls every day. It
uses the app credentials of 'pull' and DINGTALK_API_V1_BASE,
DINGTALK_LOGIN_BASE, DINGTALK_CORP_ID, DINGTALK_AGENT_ID. With --stream
(the default) it keeps a Stream connection to DingTalk and applies each
contact event to the directory at once (a leaver's sessions and app
passwords end); a pull reconciles what the events missed. Stops gracefully
on Ctrl-C or SIGTERM.

Roles come from DingTalk (primary admin, sub-admins and their scopes),
read at each login and again after each complete pull; the policy adds
serve.approvers and serve.auditors (userids), may narrow admins
(serve.sub_admins_may_pull: false) and sets serve.session_idle (30m) and
serve.session_absolute (12h).

HTTPS: --tls-cert and --tls-key (PEM files) make it serve TLS itself.
Behind a reverse proxy, --trusted-proxy names the proxy's addresses
(CIDR or IP; repeatable or comma-separated): only requests from them have
X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host believed; give
--base-url as browsers see it.

--demo needs none of that: it starts the DingTalk simulator in-process
with a generated organisation, pulls it into DIR/state, serves the portal
and prints login links for the primary admin, a sub-admin and an
employee.`)
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	baseURL := fs.String("base-url", "", "where browsers reach the server (default http://ADDR); an https URL makes cookies Secure")
	metricsAddr := fs.String("metrics-addr", "", "also serve Prometheus metrics without login at http://ADDR/metrics (e.g. 127.0.0.1:9464)")
	polPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml, else safe defaults)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key); cookies are then Secure")
	tlsKey := fs.String("tls-key", "", "the private key (PEM) of --tls-cert")
	var proxies listFlag
	fs.Var(&proxies, "trusted-proxy", "a reverse proxy's address or network (CIDR), whose X-Forwarded-For/-Proto/-Host are believed; repeatable or comma-separated")
	demo := fs.Bool("demo", false, "serve a generated organisation from the in-process DingTalk simulator, and print login links (no configuration needed)")
	streamOn := fs.Bool("stream", true, "follow DingTalk's contact events over a Stream connection (the app's event subscription must use Stream mode); false: only pulls update the directory")
	demoDir := fs.String("demo-dir", "dingbook-serve-demo", "with --demo: the directory of its state (DIR/state)")
	var cf credFlags
	cf.register(env, fs)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "serve takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "run 'dingbook serve -h'"}
	}
	if *baseURL != "" {
		u, err := url.Parse(*baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--base-url %q is not an http(s) URL", *baseURL),
				Hint: "give the URL browsers use, such as https://dingbook.example.com"}
		}
	}
	trusted, err := serve.ParseTrustedProxies(proxies)
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	if *tlsCert != "" || *tlsKey != "" {
		if *tlsCert == "" || *tlsKey == "" {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "--tls-cert and --tls-key go together", Hint: "give both the certificate and its private key (PEM files), or neither"}
		}
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot load the TLS certificate %s with the key %s", *tlsCert, *tlsKey),
				Hint: "give a PEM certificate (chain) and its matching PEM private key", Err: err}
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// listen first: a busy address is reported before any other work
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return listenError("--addr", *addr, "127.0.0.1:8081", err)
	}
	defer ln.Close()
	base := *baseURL
	if base == "" {
		base = "http://" + ln.Addr().String()
		if tlsConf != nil {
			base = "https://" + ln.Addr().String()
		}
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	base = strings.TrimRight(base, "/")
	var ds *demoSim
	if *demo {
		if ds, env, err = startServeDemo(ctx, env, &cf, *demoDir, base); err != nil {
			return err
		}
		defer ds.Close()
	} else if *demoDir != fs.Lookup("demo-dir").DefValue {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "--demo-dir needs --demo", Hint: "add --demo, or leave --demo-dir out"}
	}
	client, cred, err := newClient(env, &cf)
	if err != nil {
		return err
	}
	a, pol, err := openWithPolicy(ctx, env, *polPath)
	if err != nil {
		return err
	}
	defer a.Close()
	srv := &serve.Server{App: a, Client: client, BaseURL: base, Policy: pol, Context: ctx, TrustedProxies: trusted,
		Logf: func(format string, args ...any) { fmt.Fprintf(env.Stderr, "dingbook: "+format+"\n", args...) }}
	h := srv.Handler()
	if ds != nil {
		h = simUserLogin(h, ds.Base)
	}
	// a pull started from the portal stops with the server (its context is
	// ctx) and is waited for before the state closes
	defer srv.WaitPulls()
	fmt.Fprintf(env.Stderr, "dingbook serve: listening on %s (login callback %s%s)\n", ln.Addr(), srv.BaseURL, serve.CallbackPath)
	metricsDone := make(chan error, 1)
	bg, stopBackground := context.WithCancel(ctx) // the metrics listener and the schedule
	defer stopBackground()
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return listenError("--metrics-addr", *metricsAddr, "127.0.0.1:9465", err)
		}
		fmt.Fprintf(env.Stderr, "dingbook serve: metrics on http://%s/metrics\n", mln.Addr())
		go func() { metricsDone <- serve.Serve(bg, mln, srv.MetricsHandler(), time.Second) }()
	} else {
		metricsDone <- nil
	}
	schedDone := make(chan struct{})
	if at := pol.Serve.PullDailyAt; at != "" {
		fmt.Fprintf(env.Stderr, "dingbook serve: pulls daily at %s (serve.pull_daily_at, %s)\n", at, pol.Source)
		go func() { srv.RunSchedule(bg); close(schedDone) }()
	} else {
		close(schedDone)
	}
	streamDone := make(chan struct{})
	if *streamOn {
		v1 := cmp.Or(env.Getenv("DINGTALK_API_V1_BASE"), stream.DefaultAPIBase)
		sc := srv.StreamClient(stream.Config{APIBase: v1, ClientID: cred.AppKey, ClientSecret: cred.AppSecret})
		fmt.Fprintln(env.Stderr, "dingbook serve: following DingTalk's contact events (Stream mode; --stream=false turns it off)")
		go func() {
			defer close(streamDone)
			if err := srv.RunStream(bg, sc); err != nil && bg.Err() == nil {
				fmt.Fprintf(env.Stderr, "dingbook: the Stream connection stopped: %v (pulls still update the directory)\n", err)
			}
		}()
	} else {
		close(streamDone)
	}
	if ds != nil {
		printServeDemo(env, ds, base)
	}
	if serveReady != nil {
		serveReady(ln.Addr().String())
	}
	err = serve.Serve(ctx, ln, h, 10*time.Second)
	stopBackground()
	<-schedDone
	<-streamDone
	if merr := <-metricsDone; err == nil {
		err = merr
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "dingbook serve: stopped")
	return nil
}

// listenError explains why serve cannot listen on flag's addr: another
// program holds it, or it is no address of this machine.
func listenError(flag, addr, free string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s %s is busy: another program (perhaps another dingbook serve) is listening there", flag, addr),
			Hint: fmt.Sprintf("stop that program, or choose a free address such as %s %s", flag, free), Err: err}
	}
	return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot listen on " + flag + " " + addr, Hint: "choose a free address, such as " + free, Err: err}
}
