package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/serve"
)

// The organisation serve --demo generates, and 'dingbook demo' by default.
const (
	serveDemoUsers = 200
	serveDemoDepts = 20
	serveDemoSeed  = 1
)

// startServeDemo starts the simulator in-process with a generated
// organisation, its app registered with the portal's callback below
// base, pulls it into DIR/state, and returns the simulator and the
// environment serve runs with (the simulator's URLs, app and corpId, and
// DIR/state as DINGBOOK_HOME).
func startServeDemo(ctx context.Context, env *Env, cf *credFlags, dir, base string) (*demoSim, *Env, error) {
	if cf.config != "" || cf.profile != "" {
		return nil, nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "--demo serves the simulator's organisation, so --config and --config-profile do not apply",
			Hint: "leave out --demo to serve a real organisation, or leave out --config/--config-profile"}
	}
	dir, err := filepath.Abs(env.Path(dir))
	if err != nil {
		return nil, nil, err
	}
	stateDir := filepath.Join(dir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot create " + stateDir, Hint: "choose another directory with --demo-dir", Err: err}
	}
	fmt.Fprintf(env.Stderr, "dingbook serve --demo: generating an organisation of %d people in %d departments (seed %d)\n", serveDemoUsers, serveDemoDepts, serveDemoSeed)
	ds, err := startDemoSim(serveDemoUsers, serveDemoDepts, serveDemoSeed, base+serve.CallbackPath)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(env.Stderr, "dingbook serve --demo: DingTalk simulator at %s (API, v1 API and login page)\n", ds.Base)
	vars := ds.vars(stateDir)
	fmt.Fprintln(env.Stderr, "dingbook serve --demo: pulling (dingbook pull --with-manager --external --count-restricted)")
	raw, err := runDemoStep(ctx, env, vars, "pull", "--json", "--with-manager", "--external", "--count-restricted")
	if err != nil {
		ds.Close()
		return nil, nil, err
	}
	fmt.Fprintf(env.Stderr, "dingbook serve --demo: pulled %s\n", demoPullOf(raw))
	return ds, withVars(env, vars), nil
}

// printServeDemo prints the portal's URL and one login link each for the
// primary admin, a sub-admin and an ordinary employee.
func printServeDemo(env *Env, ds *demoSim, base string) {
	w := env.Stdout
	primary, sub, emp := ds.Sim.DemoLogins()
	names := map[string]string{}
	for _, p := range ds.Truth.Org.People {
		names[p.UserID] = p.Name
	}
	fmt.Fprintln(w, "dingbook serve --demo — the portal on a generated organisation")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Portal    %s/\n", base)
	fmt.Fprintln(w, "Log in as (one click each, through the simulator's DingTalk login page):")
	for _, l := range []struct{ role, userid string }{{"primary admin", primary}, {"sub-admin", sub}, {"employee", emp}} {
		if l.userid == "" {
			fmt.Fprintf(w, "  %-14s (none in this organisation)\n", l.role)
			continue
		}
		fmt.Fprintf(w, "  %-14s %s/login?%s=%s  (%s)\n", l.role, base, simUserParam, url.QueryEscape(l.userid), names[l.userid])
	}
	fmt.Fprintf(w, "Anyone    %s/login (the simulator's page lists who may log in)\n", base)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ctrl-C stops the portal and the simulator.")
}

// simUserParam is the simulator login page's parameter that picks who
// logs in without showing the page.
const simUserParam = "sim_user"

// simUserLogin lets the demo's login links pick who logs in: GET
// /login?sim_user=USERID starts the portal's own login, and the redirect
// to the simulator's login page (below loginBase) carries sim_user, so the
// simulator sends the browser straight back with that person's code.
func simUserLogin(h http.Handler, loginBase string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get(simUserParam)
		if r.Method != http.MethodGet || r.URL.Path != "/login" || user == "" {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&simUserWriter{ResponseWriter: w, user: user, authorize: loginBase + "/oauth2/auth?"}, r)
	})
}

type simUserWriter struct {
	http.ResponseWriter
	user, authorize string
	wrote           bool
}

func (s *simUserWriter) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		if loc := s.Header().Get("Location"); strings.HasPrefix(loc, s.authorize) {
			if u, err := url.Parse(loc); err == nil {
				q := u.Query()
				q.Set(simUserParam, s.user)
				u.RawQuery = q.Encode()
				s.Header().Set("Location", u.String())
			}
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *simUserWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}
