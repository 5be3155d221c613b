package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "demo", Short: "run the whole job on a generated organisation (simulator → pull → quality → export → sealed bundle)", Run: runDemo})
}

// DemoSummary is what demo --json prints.
type DemoSummary struct {
	Out        string          `json:"out"`
	StateDir   string          `json:"state_dir"`
	Pull       json.RawMessage `json:"pull"`
	Quality    json.RawMessage `json:"quality,omitempty"`
	Export     json.RawMessage `json:"export"`
	Bundle     json.RawMessage `json:"bundle"`
	Passphrase string          `json:"passphrase"`
}

// runDemo starts the simulator in-process with a small generated
// organisation and runs the real commands against it, each in-process with
// an environment that points at the simulator and at a state directory
// inside the output directory, so the demo needs no configuration and
// touches nothing outside ./dingbook-demo.
func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "demo", "demo [--out DIR] [--users N] [--depts M] [--seed S] [--json]")
	out := fs.String("out", "dingbook-demo", "output directory")
	users := fs.Int("users", serveDemoUsers, "people in the generated organisation")
	depts := fs.Int("depts", serveDemoDepts, "departments in the generated organisation")
	seed := fs.Int64("seed", serveDemoSeed, "generator seed")
	jsonOut := fs.Bool("json", false, "print a machine-readable summary on stdout")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "demo takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "run 'dingbook demo -h'"}
	}
	outDir, err := filepath.Abs(env.Path(*out))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot create " + outDir, Hint: "choose another directory with --out", Err: err}
	}
	stateDir := filepath.Join(outDir, "state")
	filesDir := filepath.Join(outDir, "files")
	bundleDir := filepath.Join(outDir, "bundle")
	for _, d := range []string{filesDir, bundleDir} {
		// A rerun replaces the previous demo's files.
		os.RemoveAll(d)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}

	// 1. The simulator, serving a generated organisation on loopback.
	fmt.Fprintf(env.Stderr, "dingbook demo: generating an organisation of %d people in %d departments (seed %d)\n", *users, *depts, *seed)
	ds, err := startDemoSim(*users, *depts, *seed)
	if err != nil {
		return err
	}
	defer ds.Close()
	truth := ds.Truth
	fmt.Fprintf(env.Stderr, "dingbook demo: DingTalk simulator at %s\n", ds.Base)

	passphrase := demoPassphrase()
	vars := ds.vars(stateDir)
	vars["DINGBOOK_PASSPHRASE"] = passphrase
	sub := func(name string, argv ...string) (json.RawMessage, error) {
		return runDemoStep(ctx, env, vars, name, argv...)
	}

	// 2. Pull the whole organisation, with the completeness receipt.
	fmt.Fprintln(env.Stderr, "dingbook demo: pulling (dingbook pull --with-manager)")
	pullJSON, err := sub("pull", "--json", "--with-manager")
	if err != nil {
		return err
	}
	// 3. The quality report.
	var qualityJSON json.RawMessage
	if _, ok := commands["quality"]; ok {
		fmt.Fprintln(env.Stderr, "dingbook demo: checking quality (dingbook quality)")
		qualityJSON, err = sub("quality", "--json", "--report", filepath.Join(filesDir, "quality.json"))
		if err != nil {
			return err
		}
	}
	// 4. Every format, as plain files: the data is generated, not personal,
	// so the demo may show it in the clear (a real export is always sealed).
	fmt.Fprintln(env.Stderr, "dingbook demo: exporting every format into files/")
	exportJSON, err := demoFiles(ctx, stateDir, filesDir)
	if err != nil {
		return err
	}
	// 5. The same export, sealed as it would be by default: an AES-256 zip.
	fmt.Fprintln(env.Stderr, "dingbook demo: sealing an AES-256 bundle (dingbook export)")
	exportArgs := []string{"--json", "--format", "xlsx,csv,vcf,jsonl", "--profile", "full", "--include-inactive",
		"--purpose", "dingbook demo on a generated organisation", "--basis", "legitimate-interest",
		"--justify", "demonstration with generated data only", "--pia", "demo: generated data, no real person", "--keep", "7d", "--out", bundleDir}
	bundleJSON, err := sub("export", exportArgs...)
	if err != nil {
		return err
	}

	sum := DemoSummary{Out: outDir, StateDir: stateDir, Pull: pullJSON, Quality: qualityJSON, Export: exportJSON, Bundle: bundleJSON, Passphrase: passphrase}
	if *jsonOut {
		return printJSON(env, sum)
	}
	printDemo(env, &sum, truth)
	return nil
}

// demoSim is the DingTalk simulator the demos run in-process: a generated
// organisation served on a free loopback port, with the simulator's
// default app.
type demoSim struct {
	Sim   *sim.Server
	Truth *gen.Truth
	App   sim.App
	Base  string // http://127.0.0.1:PORT: the API, the v1 API and the login page
	hs    *http.Server
}

// startDemoSim generates an organisation and serves it; redirectURIs are
// the login redirect URLs registered for the app (none: any).
func startDemoSim(users, depts int, seed int64, redirectURIs ...string) (*demoSim, error) {
	truth := gen.Generate(gen.Options{Users: users, Depts: depts, Seed: seed})
	a := sim.DefaultApp()
	a.RedirectURIs = redirectURIs
	srv := sim.New(sim.Config{Truth: truth, Apps: []sim.App{a}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return &demoSim{Sim: srv, Truth: truth, App: a, Base: "http://" + ln.Addr().String(), hs: hs}, nil
}

// Close stops the simulator.
func (d *demoSim) Close() { d.hs.Close() }

// vars are the environment the demo's commands run with: the simulator's
// URLs and app, and stateDir as DINGBOOK_HOME.
func (d *demoSim) vars(stateDir string) map[string]string {
	return map[string]string{
		"DINGTALK_API_BASE":    d.Base,
		"DINGTALK_API_V1_BASE": d.Base,
		"DINGTALK_LOGIN_BASE":  d.Base,
		"DINGTALK_CORP_ID":     d.Sim.CorpID(),
		"DINGTALK_AGENT_ID":    strconv.FormatInt(d.App.AgentID, 10),
		"DINGTALK_APP_KEY":     d.App.Key,
		"DINGTALK_APP_SECRET":  d.App.Secret,
		"DINGBOOK_HOME":        stateDir,
	}
}

// withVars returns a copy of env whose Getenv answers vars first.
func withVars(env *Env, vars map[string]string) *Env {
	e := *env
	e.Getenv = func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return env.Getenv(k)
	}
	return &e
}

// runDemoStep runs 'dingbook NAME ARGV...' in-process with vars, quietly,
// and returns its JSON output (its stderr is shown only when it fails).
func runDemoStep(ctx context.Context, env *Env, vars map[string]string, name string, argv ...string) (json.RawMessage, error) {
	var stdout, stderr bytes.Buffer
	e := withVars(env, vars)
	e.Stdout, e.Stderr = &stdout, &stderr
	e.StderrIsTTY, e.StdinIsTTY = false, false
	if err := commands[name].Run(ctx, e, argv); err != nil {
		env.Stderr.Write(stderr.Bytes())
		return nil, fmt.Errorf("demo step 'dingbook %s %s': %w", name, strings.Join(argv, " "), err)
	}
	raw := bytes.TrimSpace(stdout.Bytes())
	if !json.Valid(raw) {
		return nil, fmt.Errorf("demo step 'dingbook %s': unexpected output", name)
	}
	return raw, nil
}

// demoFiles exports the latest snapshot in stateDir in every format into
// dir as plain files, with the quality extras in the xlsx, and returns the
// export summary as JSON.
func demoFiles(ctx context.Context, stateDir, dir string) (json.RawMessage, error) {
	db, err := store.Open(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	id, err := db.LatestSnapshotID(ctx)
	if err != nil {
		return nil, err
	}
	d, err := db.Directory(ctx, id)
	if err != nil {
		return nil, err
	}
	opts := export.Options{Dir: dir, Formats: []string{"xlsx", "csv", "vcf", "jsonl"}, Profile: "full", IncludeInactive: true,
		Headers: "zh", BaseName: "dingbook-demo", Overwrite: true, Quality: true, QualitySize: d.Len(),
		XLSX:  xlsx.Options{TmpDir: filepath.Join(stateDir, govern.TmpDirName)},
		VCard: app.VCard(vcard.V3)}
	res, err := export.Run(ctx, d, opts)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(struct {
		Files  []export.File `json:"files"`
		Rows   int           `json:"rows"`
		Fields []string      `json:"fields"`
	}{res.Files, res.Rows, res.Fields})
	return b, err
}

func demoPassphrase() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	var b strings.Builder
	for i := 0; i < 24; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}

func printDemo(env *Env, s *DemoSummary, truth *gen.Truth) {
	w := env.Stdout
	pull := demoPullOf(s.Pull)
	var exp struct {
		Files []struct {
			Path   string `json:"path"`
			Format string `json:"format"`
			Rows   int    `json:"rows"`
			Bytes  int64  `json:"bytes"`
		} `json:"files"`
		Fields []string `json:"fields"`
	}
	json.Unmarshal(s.Export, &exp)
	var bundle map[string]any
	json.Unmarshal(s.Bundle, &bundle)

	fmt.Fprintln(w, "dingbook demo — the whole job on a generated organisation")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Pull      %s\n", pull)
	if len(s.Quality) > 0 {
		fmt.Fprintf(w, "Quality   %s\n", qualityLine(s.Quality))
	}
	fmt.Fprintf(w, "Export    %d fields: %s\n", len(exp.Fields), strings.Join(exp.Fields, ", "))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Files (generated data, so written in the clear):")
	for _, f := range exp.Files {
		fmt.Fprintf(w, "  %-6s %6d rows  %9s  %s\n", f.Format, f.Rows, humanBytes(f.Bytes), rel(s.Out, f.Path))
	}
	if _, err := os.Stat(filepath.Join(s.Out, "files", "quality.json")); err == nil {
		fmt.Fprintf(w, "  %-6s %6s       %9s  %s\n", "report", "", "", rel(s.Out, filepath.Join(s.Out, "files", "quality.json")))
	}
	fmt.Fprintln(w)
	if p, ok := bundle["bundle"].(string); ok {
		fmt.Fprintln(w, "Sealed bundle (what every real export produces by default):")
		fmt.Fprintf(w, "  %s\n", rel(s.Out, p))
		fmt.Fprintf(w, "  AES-256 zip: open it with 7-Zip (7zz x %s) and the passphrase %s\n", filepath.Base(p), s.Passphrase)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "State     %s (snapshot %d, audit log: DINGBOOK_HOME=%s dingbook audit list)\n", rel(s.Out, s.StateDir), pull.SnapshotID, s.StateDir)
	fmt.Fprintf(w, "Truth     the generator injected %s\n", truthLine(truth))
}

// demoPull is what the demos read of 'pull --json'.
type demoPull struct {
	SnapshotID  int64 `json:"snapshot_id"`
	Departments int   `json:"departments"`
	People      int   `json:"people"`
	APICalls    int   `json:"api_calls"`
	Complete    bool  `json:"complete"`
	OrgCount    int   `json:"org_count"`
	DurationMS  int64 `json:"duration_ms"`
}

func demoPullOf(raw json.RawMessage) demoPull {
	var p demoPull
	json.Unmarshal(raw, &p)
	return p
}

// String is the pull's one-line receipt.
func (p demoPull) String() string {
	complete := "COMPLETE"
	if !p.Complete {
		complete = "INCOMPLETE"
	}
	return fmt.Sprintf("%d people in %d departments, %d API calls, %.1fs — receipt: %s (user/count says %d)",
		p.People, p.Departments, p.APICalls, float64(p.DurationMS)/1000, complete, p.OrgCount)
}

func qualityLine(raw json.RawMessage) string {
	var q struct {
		Totals struct {
			People   int            `json:"people"`
			Problems map[string]int `json:"problems"`
		} `json:"totals"`
	}
	if json.Unmarshal(raw, &q) != nil || q.Totals.Problems == nil {
		return "report written"
	}
	var parts []string
	for _, p := range dingbook.AllProblems {
		if n := q.Totals.Problems[string(p)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p, n))
		}
	}
	return strings.Join(parts, ", ")
}

func truthLine(t *gen.Truth) string {
	var parts []string
	for _, p := range dingbook.AllProblems {
		if n := len(t.Problems[p]); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p, n))
		}
	}
	return strings.Join(parts, ", ")
}

func rel(base, p string) string {
	if r, err := filepath.Rel(filepath.Dir(base), p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
