package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/sink/gsheets"
	gsim "github.com/dingbook/dingbook/sink/gsheets/sim"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

func init() {
	Register(&Command{
		Name:  "sim",
		Short: "serve the local DingTalk API simulator (for tests and demos)",
		Run:   runSim,
	})
}

// simReady, if set, receives the listening address (tests use it).
var simReady func(addr string)

func runSim(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "sim", "sim [--addr 127.0.0.1:8765] [--users N --depts M --seed S | --org FILE.json|yaml] [--qps 20] [--global-qps N] [--latency 80ms] [--transient 0.05] [--http5xx 0.01] [--resets 0.01] [--throttle-burst 300ms] [--token-ttl 7200s] [--empty omit|empty] [--expired-code 40014|42001] [--no-mobile-field] [--no-email-field] [--range-depts 12,34] [--ip-whitelist 1.2.3.4] [--string-numbers] [--extras] [--agent-id N] [--redirect-uri URL] [--token-corpid always|corpid-scope|never] ...")
	addr := fs.String("addr", "127.0.0.1:8765", "listen address (port 0 picks a free port)")
	users := fs.Int("users", 200, "people in the generated org")
	depts := fs.Int("depts", 20, "departments in the generated org (root included)")
	seed := fs.Int64("seed", 1, "generator seed")
	corp := fs.String("corp", "", "organisation name (default "+gen.DefaultCorpName+")")
	orgFile := fs.String("org", "", "serve this exact org (.json, .yaml or .yml) instead of a generated one")
	qps := fs.Int("qps", 20, "per-app per-API calls per second before 88/90018 (0 or negative: unlimited)")
	globalQPS := fs.Int("global-qps", 0, "per-API calls per second across apps before 88/90002 (0: off)")
	latency := fs.Duration("latency", 0, "latency added to every request")
	transient := fs.Float64("transient", 0, "fraction of API calls answered -1 系统繁忙")
	http5xx := fs.Float64("http5xx", 0, "fraction answered HTTP 502/503 with an HTML body")
	resets := fs.Float64("resets", 0, "fraction of connections reset without a response")
	burst := fs.Duration("throttle-burst", 0, "every 2s, answer all calls 88/90018 for this long")
	ttl := fs.Duration("token-ttl", 7200*time.Second, "access token lifetime")
	empty := fs.String("empty", "empty", "unset text fields: 'empty' (\"\") or 'omit'")
	expired := fs.String("expired-code", "40014", "expired token error: 40014, 42001 or 42001-plain")
	noMobile := fs.Bool("no-mobile-field", false, "the app lacks 企业员工手机号信息 (no mobile/state_code)")
	noEmail := fs.Bool("no-email-field", false, "the app lacks 邮箱等个人信息 (no email/org_email/work_place/remark/extension)")
	rangeDepts := fs.String("range-depts", "", "contact range: comma-separated department ids (default: whole org)")
	rangeUsers := fs.String("range-users", "", "contact range: comma-separated userids")
	whitelist := fs.String("ip-whitelist", "", "comma-separated caller IPs allowed (default: any)")
	stringNumbers := fs.Bool("string-numbers", false, "quote numbers and booleans in responses like the doc examples")
	extras := fs.Bool("extras", false, "add undocumented fields clients must ignore")
	hang := fs.Float64("hang", 0, "fraction of requests never answered (client timeouts)")
	ipLimit := fs.Int("ip-limit", 0, "calls per caller IP per 20s before a 5-minute block (0: off)")
	listsubNoDept := fs.String("listsub-without-dept", "root", "listsub without dept_id: 'root' or 'error'")
	separateV1 := fs.Bool("separate-v1-tokens", false, "v1.0/oauth2/accessToken keeps its own token (not gettoken's)")
	wrapErrors := fs.Bool("wrap-errors", false, "send 50002/50004/60003/60121 as errcode 88 sub_codes")
	opaqueCursor := fs.Bool("opaque-cursor", false, "next_cursor is opaque, not cursor+returned")
	isv := fs.Bool("isv", false, "the app is an ISV app (no mobile, email, telephone, hired_date, …)")
	truthOut := fs.String("truth-out", "", "also write the served org and its truth (injected problems, restricted staff) to this JSON file")
	dupEvents := fs.Bool("dup-events", false, "Stream: send every event twice (two messageIds, one eventId)")
	backlogOffline := fs.Bool("backlog-offline", false, "Stream: events fired while no client is connected go to the failed-push backlog instead of waiting")
	ackTimeout := fs.Duration("ack-timeout", 16*time.Second, "Stream: redeliver an event that got no answer within this time")
	churn := fs.Duration("churn", 0, "make a random change (a joiner, a new title, a move, a leaver) this often, firing its events (0: never)")
	verbose := fs.Bool("v", false, "log every request to stderr")
	agentID := fs.Int64("agent-id", sim.DefaultAgentID, "the app's agentId for work notices (asyncsend_v2)")
	redirects := fs.String("redirect-uri", "", "login redirect URLs registered for the app, comma-separated (default: any)")
	codeTTL := fs.Duration("code-ttl", 5*time.Minute, "lifetime of login and in-app auth codes")
	tokenCorp := fs.String("token-corpid", "always", "when userAccessToken returns corpId: always, corpid-scope or never")
	codeReuse := fs.String("code-reuse", "refuse", "a login code exchanged twice: refuse (400 invalidCode) or same-token")
	callbackParams := fs.String("callback-params", "both", "login callback parameters: both (code and authCode), code or authCode")
	nonMember := fs.String("nonmember-login", "allow", "non-members on the login page: allow (refused by the API calls) or refuse (error=)")
	leaver := fs.String("leaver-lookup", "gone", "getbyunionid for a former member: gone (60121) or stale (old userid)")
	invalidCode := fs.Int("invalid-code-status", 400, "HTTP status of userAccessToken's invalidCode: 400 or 409")
	googleKey := fs.String("google-key", "", "also serve Google Sheets and Drive (push --sheets), writing a service-account key for them to this file (0600)")
	googleSubject := fs.String("google-subject", "admin@example.com", "with --google-key: the Workspace user the key may impersonate (--impersonate)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	bad := func(flag, msg, hint string) error {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "sim: --" + flag + " " + msg, Hint: hint}
	}
	if *empty != "empty" && *empty != "omit" {
		return bad("empty", fmt.Sprintf("%q is not 'empty' or 'omit'", *empty), "use --empty empty or --empty omit")
	}
	switch *expired {
	case "40014", "42001", "42001-plain":
	default:
		return bad("expired-code", fmt.Sprintf("%q is not supported", *expired), "use 40014, 42001 or 42001-plain")
	}
	if *listsubNoDept != "root" && *listsubNoDept != "error" {
		return bad("listsub-without-dept", fmt.Sprintf("%q is not 'root' or 'error'", *listsubNoDept), "use root or error")
	}
	for name, v := range map[string]float64{"transient": *transient, "http5xx": *http5xx, "resets": *resets, "hang": *hang} {
		if v < 0 || v > 1 {
			return bad(name, fmt.Sprintf("%v is not a fraction between 0 and 1", v), "e.g. --"+name+" 0.05")
		}
	}
	for flag, v := range map[string]struct {
		val  string
		opts []string
	}{
		"token-corpid":    {*tokenCorp, []string{"always", "corpid-scope", "never"}},
		"code-reuse":      {*codeReuse, []string{"refuse", "same-token"}},
		"callback-params": {*callbackParams, []string{"both", "code", "authCode"}},
		"nonmember-login": {*nonMember, []string{"allow", "refuse"}},
		"leaver-lookup":   {*leaver, []string{"gone", "stale"}},
	} {
		if !slices.Contains(v.opts, v.val) {
			return bad(flag, fmt.Sprintf("%q is not one of %s", v.val, strings.Join(v.opts, ", ")), "use --"+flag+" "+v.opts[0])
		}
	}
	if *invalidCode != 400 && *invalidCode != 409 {
		return bad("invalid-code-status", fmt.Sprintf("%d is not 400 or 409", *invalidCode), "use --invalid-code-status 409")
	}
	if *users < 0 || *depts < 1 {
		return bad("users/--depts", "must be ≥ 0 and ≥ 1", "e.g. --users 200 --depts 20")
	}
	var truth *gen.Truth
	if *orgFile != "" {
		t, err := gen.Load(env.Path(*orgFile))
		if err != nil {
			return err
		}
		truth = t
	} else {
		truth = gen.Generate(gen.Options{Users: *users, Depts: *depts, Seed: *seed, CorpName: *corp})
	}
	if *truthOut != "" {
		if err := truth.Save(env.Path(*truthOut)); err != nil {
			return err
		}
	}
	app := sim.DefaultApp()
	app.NoMobileField, app.NoEmailField, app.ISV = *noMobile, *noEmail, *isv
	for _, f := range simSplitList(*rangeDepts) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id < 1 {
			return bad("range-depts", fmt.Sprintf("%q is not a department id", f), "give ids like --range-depts 1,400001887")
		}
		app.RangeDepts = append(app.RangeDepts, id)
	}
	app.RangeUsers = simSplitList(*rangeUsers)
	app.IPWhitelist = simSplitList(*whitelist)
	app.AgentID = *agentID
	app.RedirectURIs = simSplitList(*redirects)
	cfg := sim.Config{
		Truth:              truth,
		Apps:               []sim.App{app},
		QPS:                *qps,
		GlobalQPS:          *globalQPS,
		EmptyFields:        *empty,
		ExpiredTokenCode:   *expired,
		StringNumbers:      *stringNumbers,
		Extras:             *extras,
		Seed:               *seed,
		Faults:             sim.Faults{TransientRate: *transient, HTTP5xxRate: *http5xx, ResetRate: *resets, HangRate: *hang, Latency: *latency, ThrottleBurst: *burst, TokenTTL: *ttl},
		ListsubWithoutDept: *listsubNoDept,
		IPLimit:            *ipLimit,
		SeparateV1Tokens:   *separateV1,
		WrapBusinessErrors: *wrapErrors,
		OpaqueCursor:       *opaqueCursor,
		Login: sim.LoginConfig{CodeTTL: *codeTTL, TokenCorpID: *tokenCorp, CodeReuse: *codeReuse,
			CallbackParams: *callbackParams, NonMemberLogin: *nonMember, LeaverLookup: *leaver, InvalidCodeStatus: *invalidCode},
	}
	cfg.Faults.DuplicateEvents, cfg.Faults.BacklogWhileDisconnected = *dupEvents, *backlogOffline
	cfg.Stream.AckTimeout = *ackTimeout
	if *verbose {
		cfg.Logf = func(format string, a ...any) { fmt.Fprintf(env.Stderr, format+"\n", a...) }
	}
	if cfg.QPS == 0 {
		cfg.QPS = -1
	}
	srv := sim.New(cfg)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "sim: cannot listen on " + *addr, Hint: "pick another --addr, e.g. --addr 127.0.0.1:0", Err: err}
	}
	base := "http://" + ln.Addr().String()
	var handler http.Handler = srv
	if *googleKey != "" {
		if handler, err = serveGoogle(env, srv, base, env.Path(*googleKey), *googleSubject); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "export DINGTALK_API_BASE=%s\n", base)
	fmt.Fprintf(env.Stdout, "export DINGTALK_APP_KEY=%s\n", app.Key)
	fmt.Fprintf(env.Stdout, "export DINGTALK_APP_SECRET=%s\n", app.Secret)
	fmt.Fprintf(env.Stdout, "export DINGTALK_API_V1_BASE=%s\n", base)
	fmt.Fprintf(env.Stdout, "export DINGTALK_LOGIN_BASE=%s\n", base)
	fmt.Fprintf(env.Stdout, "export DINGTALK_CORP_ID=%s\n", srv.CorpID())
	fmt.Fprintf(env.Stdout, "export DINGTALK_AGENT_ID=%d\n", app.AgentID)
	fmt.Fprintf(env.Stderr, "dingbook sim: serving %q (%d departments, %d people, %d restricted) at %s; Ctrl-C stops\n",
		truth.Org.Name, len(truth.Org.Depts), len(truth.Org.People), len(truth.Restricted), base)
	if simReady != nil {
		simReady(ln.Addr().String())
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if *churn > 0 {
		cctx, stop := context.WithCancel(ctx)
		churned := make(chan struct{})
		go func() { defer close(churned); simChurn(cctx, env, srv, *churn, *seed) }()
		defer func() { stop(); <-churned }()
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		srv.DropStreams() // Shutdown leaves hijacked WebSockets alone
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return &dingbook.Error{Code: dingbook.EINTERNAL, Message: "sim: server stopped", Err: err}
	}
}

// serveGoogle adds the Google simulator (sink/gsheets/sim) beside the
// DingTalk one: a fresh service-account key is written to keyPath, and
// the variables push reads are printed.
func serveGoogle(env *Env, dingtalk http.Handler, base, keyPath, subject string) (http.Handler, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	const email = "dingbook-sim@sim-project.iam.gserviceaccount.com"
	if err := fileutil.WriteFile(keyPath, gsim.KeyJSON(email, base+"/token", key), true); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "sim: cannot write --google-key " + keyPath, Hint: "choose a writable path", Err: err}
	}
	g := gsim.New(gsim.Options{})
	g.AddServiceAccount(email, &key.PublicKey, subject)
	mux := http.NewServeMux()
	mux.Handle("/token", g)
	mux.Handle("/v4/", g)
	mux.Handle("/drive/v3/", g)
	mux.Handle("/", dingtalk)
	fmt.Fprintf(env.Stdout, "export %s=%s\n", gsheets.CredentialsEnv, keyPath)
	fmt.Fprintf(env.Stdout, "export %s=%s\n", gsheets.SheetsBaseEnv, base)
	fmt.Fprintf(env.Stdout, "export %s=%s\n", gsheets.DriveBaseEnv, base)
	fmt.Fprintf(env.Stderr, "dingbook sim: serving Google Sheets and Drive too; push with --impersonate %s\n", subject)
	return mux, nil
}

// simChurn makes a random change every interval until ctx is done.
func simChurn(ctx context.Context, env *Env, srv *sim.Server, every time.Duration, seed int64) {
	rng := mrand.New(mrand.NewPCG(uint64(seed), 0xc4a9))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		what, err := srv.RandomChange(rng)
		if err != nil {
			fmt.Fprintf(env.Stderr, "dingbook sim: churn: %s: %v\n", what, err)
			continue
		}
		fmt.Fprintf(env.Stderr, "dingbook sim: churn: %s\n", what)
	}
}

func simSplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
