package govern

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/seal"
	"github.com/dingbook/dingbook/store"
)

// ProducedFile is one plaintext file the export wrote into the private
// directory.
type ProducedFile struct {
	Path   string // inside the directory given to produce
	Format string // "xlsx", "csv", "vcf", "jsonl", …
	Rows   int
	// TruncatedCells counts cells cut short to fit the format (xlsx).
	TruncatedCells int
	Sheets         []dingbook.SheetInfo // an xlsx's sheets and what they hold
}

// Produced is what the produce callback reports. Fields, DeptScope, Masks,
// Tenant and Snapshot, when set, replace the request's values in the
// manifest and audit record (the export layer knows best what it wrote).
type Produced struct {
	Files     []ProducedFile
	Rows      int
	Fields    []string
	DeptScope []string
	Masks     []string
	Tenant    string
	Snapshot  int64
	// Holders gives the hashes of the people written (a store.Recorder):
	// the holding 'audit who-has' and 'breach' read. Run asks for them
	// only after sealing, so the hashing overlaps the export.
	Holders interface{ Sums() []uint64 }
	// Outputs go into the audit record of a Guard action (push: the
	// spreadsheet, counts and sharing); Details into that of Run or Guard
	// (push's counts and sharing, how many people a consent job left out).
	Outputs []audit.Output
	Details map[string]string
}

// ManifestFile describes one data file inside the bundle.
type ManifestFile struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// TruncatedCells counts cells longer than the format holds (an Excel
	// cell: 32,767 characters), which were cut short.
	TruncatedCells int `json:"truncated_cells,omitempty"`
	// Sheets lists an xlsx's sheets and what each holds.
	Sheets []dingbook.SheetInfo `json:"sheets,omitempty"`
}

// ManifestSchema is the manifest.json schema version.
const ManifestSchema = 1

// Manifest is manifest.json inside every bundle.
type Manifest struct {
	Schema               int            `json:"schema"`
	Generator            string         `json:"generator"`
	ExportID             string         `json:"export_id"`
	Action               string         `json:"action"`
	Tenant               string         `json:"tenant,omitempty"`
	Snapshot             int64          `json:"snapshot,omitempty"`
	Source               string         `json:"source,omitempty"`
	Created              time.Time      `json:"created"`
	Expires              time.Time      `json:"expires"`
	Purpose              string         `json:"purpose"`
	Basis                string         `json:"basis"`
	Justification        string         `json:"justification,omitempty"`
	Profile              string         `json:"profile,omitempty"`
	Fields               []string       `json:"fields"`
	Masks                []string       `json:"masks,omitempty"`
	DeptScope            []string       `json:"dept_scope,omitempty"`
	IncludeHiddenMobiles bool           `json:"include_hidden_mobiles"`
	Rows                 int            `json:"rows"`
	Files                []ManifestFile `json:"files"`
	Seal                 string         `json:"seal"`
	Company              string         `json:"company"`
	DPOContact           string         `json:"dpo_contact"`
	PolicyHash           string         `json:"policy_hash"`
	Transfer
	// Grant names the portal grant a download served.
	Grant *GrantRef `json:"grant,omitempty"`
}

// Result is a finished export.
type Result struct {
	ExportID   string
	BundlePath string
	// BundleSHA256 is the hash of the sealed bundle file.
	BundleSHA256 string
	// Passphrase is set when Run generated it: the front end shows it once
	// to the person who asked (the CLI on stderr) and never stores it.
	Passphrase string
	Expires    time.Time
	Files      []ManifestFile
	Manifest   *Manifest
	Decision   *Decision
	AuditSeq   int64
}

// Produce writes an export's plaintext files into dir (govern's private
// directory) as dec says (fields, hidden mobiles, …) and reports them.
type Produce func(ctx context.Context, dir string, dec *Decision) (*Produced, error)

// TmpDirName is the folder under the state directory that holds every
// temporary file: private export directories (export-*) and the spill
// directories of member files being read (import-*); Sweep empties it of
// orphans.
const TmpDirName = "tmp"

// NewExportID returns a fresh, neutral export id: UTC time plus 4 random
// hex digits, e.g. 20261126-102100-3fa9.
func NewExportID(now time.Time) string {
	var b [2]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// checkOutDir makes the output directory (0700) if needed and checks that
// a file can be created in it.
func checkOutDir(dir, hint string) error {
	fail := func(err error) error {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot write to the output directory " + dir, Hint: nonEmpty(hint, "choose a writable output directory"), Field: outField(hint), Err: err}
	}
	if err := fileutil.MkdirPrivate(dir); err != nil {
		return fail(err)
	}
	f, err := os.CreateTemp(dir, ".dingbook-probe-*")
	if err != nil {
		return fail(err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// outField is the Error.Field of an unwritable output directory: the
// request's OutDir, unless the caller worded its own hint.
func outField(hint string) string {
	if hint != "" {
		return ""
	}
	return "out_dir"
}

// Run governs one export: see the package documentation. It never returns
// a Result without an audit record, and never leaves plaintext outside the
// private directory, which is removed on every path (error, panic, context
// cancellation: a front end turns SIGINT/SIGTERM into a cancelled ctx).
// A SIGKILL cannot run cleanup: the
// directory then stays under $DINGBOOK_HOME/tmp/export-* until the next
// Run, Guard or Sweep removes it.
func Run(ctx context.Context, db *store.DB, pol *policy.Policy, req *Request, produce Produce) (*Result, error) {
	return RunDecided(ctx, db, pol, req, nil, produce)
}

// RunDecided is Run with the decision Resolve already made for req (a
// front end decides before it opens the source, so that the fields are
// known; the decision is then not made a second time). dec nil resolves
// req here.
func RunDecided(ctx context.Context, db *store.DB, pol *policy.Policy, req *Request, dec *Decision, produce Produce) (res *Result, err error) {
	now := req.now().UTC()
	rec := baseRecord(req, pol, now)
	Sweep(db.Dir)
	if err := audit.CheckAnchor(ctx, db, req.Action); err != nil {
		return nil, err
	}
	if _, err := NotePolicy(ctx, db, pol, req.Actor); err != nil {
		return nil, err
	}
	// Bundles left by a process killed before it recorded them go first
	// (a failure to sweep is recorded and left for 'dingbook purge').
	SweepOrphans(ctx, db, pol, nonEmpty(req.Actor, "unknown"), now, false)
	if dec == nil {
		if dec, err = Resolve(pol, req); err != nil {
			return nil, refused(ctx, db, rec, err)
		}
	}
	rec.Basis, rec.Profile, rec.Fields, rec.IncludeHiddenMobiles, rec.Seal = dec.Basis, dec.Profile, dec.Fields, dec.IncludeHiddenMobiles, dec.Encrypt
	expires := now.Add(dec.Keep).Round(time.Second)
	rec.Expires = &expires
	id := NewExportID(now)
	rec.ExportID = id

	pass := req.Passphrase
	generated := false
	if dec.Encrypt == seal.KindZip || (dec.Encrypt == seal.KindAge && len(req.AgeRecipients) == 0) {
		if pass == "" {
			if pass, err = seal.GeneratePassphrase(); err != nil {
				return nil, failed(ctx, db, rec, "passphrase", err)
			}
			generated = true
		} else if err := seal.ValidatePassphrase(pass, nonEmpty(req.PassphraseSource, "the request")); err != nil {
			return nil, refused(ctx, db, rec, err)
		}
	}
	if len(req.AgeRecipients) > 0 {
		if _, err := seal.ParseRecipients(req.AgeRecipients); err != nil {
			return nil, refused(ctx, db, rec, err)
		}
	}

	// The output directory is checked before the work: an unwritable one
	// fails now, not after every row was computed.
	outDir := nonEmpty(req.OutDir, ".")
	if err := checkOutDir(outDir, req.OutHint); err != nil {
		return nil, failed(ctx, db, rec, "output directory", err)
	}

	dir, wipe, err := privateDir(db.Dir)
	if err != nil {
		return nil, failed(ctx, db, rec, "private directory", err)
	}
	defer wipe()
	stopWipe := context.AfterFunc(ctx, wipe) // cancellation wipes at once
	defer stopWipe()
	defer func() {
		if p := recover(); p != nil {
			wipe()
			failed(ctx, db, rec, "export", fmt.Errorf("panic: %v", p))
			panic(p)
		}
	}()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return nil, failed(ctx, db, rec, "private directory", err)
	}

	produced, err := produce(ctx, dataDir, dec)
	if err == nil && produced == nil {
		err = errors.New("the export produced nothing")
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		if c := context.Cause(ctx); c != nil && !strings.Contains(err.Error(), c.Error()) {
			err = fmt.Errorf("%w (%v)", err, c)
		}
		return nil, failed(ctx, db, rec, "export", err)
	}
	if len(produced.Fields) > 0 {
		// The export layer may add fields (the full profile adds custom
		// fields): hold them to the policy too.
		rec.Fields = produced.Fields
		if err := CheckFields(pol, req, produced.Fields); err != nil {
			wipe()
			return nil, refused(ctx, db, rec, err)
		}
	}
	if len(produced.DeptScope) > 0 {
		rec.DeptScope = produced.DeptScope
	}
	if len(produced.Masks) > 0 {
		rec.Masks = produced.Masks
	}
	if produced.Tenant != "" {
		rec.Tenant = produced.Tenant
	}
	if produced.Snapshot != 0 {
		rec.Snapshot = produced.Snapshot
	}
	rec.Rows = produced.Rows
	if err := checkTransfer(pol, req, rec.Fields, produced.Rows, now); err != nil {
		wipe()
		return nil, refused(ctx, db, rec, err)
	}
	for k, v := range produced.Details {
		if rec.Details == nil {
			rec.Details = map[string]string{}
		}
		rec.Details[k] = v
	}

	// Hash the data files and name them neutrally.
	var entries []seal.Entry
	var files []ManifestFile
	used := map[string]bool{}
	for _, pf := range produced.Files {
		p, err := insideDir(dataDir, pf.Path)
		if err != nil {
			return nil, failed(ctx, db, rec, "export", err)
		}
		sum, n, err := hashFile(p)
		if err == nil {
			err = context.Cause(ctx) // a big file takes a while to hash
		}
		if err != nil {
			return nil, failed(ctx, db, rec, "hash", err)
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext == "" && pf.Format != "" {
			ext = "." + pf.Format
		}
		format := pf.Format
		if format == "" {
			format = strings.TrimPrefix(ext, ".")
		}
		name := "export-" + id + ext
		for k := 2; used[name]; k++ {
			name = fmt.Sprintf("export-%s-%d%s", id, k, ext)
		}
		used[name] = true
		files = append(files, ManifestFile{Name: name, Format: format, Rows: pf.Rows, Bytes: n, SHA256: sum, TruncatedCells: pf.TruncatedCells, Sheets: pf.Sheets})
		entries = append(entries, seal.Entry{Name: name, Path: p})
	}
	man := &Manifest{
		Schema: ManifestSchema, Generator: "dingbook", ExportID: id, Action: req.Action,
		Tenant: rec.Tenant, Snapshot: rec.Snapshot, Source: req.Source,
		Created: now, Expires: expires, Purpose: req.Purpose, Basis: dec.Basis, Justification: req.Justification,
		Profile: dec.Profile, Fields: rec.Fields, Masks: rec.Masks, DeptScope: rec.DeptScope,
		IncludeHiddenMobiles: dec.IncludeHiddenMobiles, Rows: produced.Rows, Files: files, Seal: dec.Encrypt,
		Company: pol.Company, DPOContact: pol.DPOContact, PolicyHash: pol.Hash, Transfer: req.Transfer, Grant: req.Grant,
	}
	mb, _ := json.MarshalIndent(man, "", "  ")
	mpath := filepath.Join(dir, "manifest.json")
	npath := filepath.Join(dir, "NOTICE.txt")
	if err := os.WriteFile(mpath, append(mb, '\n'), 0o600); err != nil {
		return nil, failed(ctx, db, rec, "manifest", err)
	}
	if err := os.WriteFile(npath, []byte(Notice(man)), 0o600); err != nil {
		return nil, failed(ctx, db, rec, "notice", err)
	}
	entries = append(entries, seal.Entry{Name: "manifest.json", Path: mpath}, seal.Entry{Name: "NOTICE.txt", Path: npath})

	// Seal atomically into the output directory.
	if err := checkOutDir(outDir, req.OutHint); err != nil {
		return nil, failed(ctx, db, rec, "output directory", err)
	}
	base := "dingbook-" + id
	if req.BundleBase != "" {
		base = req.BundleBase
	}
	bundle := filepath.Join(outDir, base+seal.Ext(dec.Encrypt))
	abs, _ := filepath.Abs(bundle)
	// The intent names the bundle before it exists: if this process dies
	// between sealing and recording, the next export or purge deletes the
	// bundle and records that (SweepOrphans).
	if err := db.AddExportIntent(ctx, store.ExportIntent{ID: id, Created: now, Actor: rec.Actor, Action: req.Action, Path: abs, Workdir: dir}); err != nil {
		return nil, failed(ctx, db, rec, "bundle", err)
	}
	sealed := false
	defer func() {
		if res == nil { // failed (or panicked): an export that is not on record must not exist
			if sealed {
				os.Remove(bundle)
			}
			db.DeleteExportIntent(context.WithoutCancel(ctx), id)
		}
	}()
	f, err := fileutil.Create(bundle, req.Overwrite)
	if err != nil {
		return nil, failed(ctx, db, rec, "bundle", &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot write the bundle " + bundle, Hint: nonEmpty(req.OutHint, "choose a writable output directory"), Field: outField(req.OutHint), Err: err})
	}
	h := sha256.New()
	cw := &countWriter{ctx: ctx, w: io.MultiWriter(f, h)}
	err = seal.Write(cw, seal.Options{Kind: dec.Encrypt, Passphrase: pass, Recipients: req.AgeRecipients, Modified: now}, entries)
	if err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		f.Abort()
		return nil, failed(ctx, db, rec, "seal", err)
	}
	if err := f.Commit(); err != nil {
		return nil, failed(ctx, db, rec, "bundle", err)
	}
	sealed = true
	bsum := hex.EncodeToString(h.Sum(nil))
	crashPoint("sealed")
	rec.Outputs = []audit.Output{{Path: abs, Format: dec.Encrypt, Bytes: cw.n, SHA256: bsum}}
	for _, mf := range files {
		rec.Outputs = append(rec.Outputs, audit.Output{Path: abs, Name: mf.Name, Format: mf.Format, Rows: mf.Rows, Bytes: mf.Bytes, SHA256: mf.SHA256})
	}
	rec.Outcome = audit.OutcomeOK
	var holders []uint64
	if produced.Holders != nil {
		holders = produced.Holders.Sums()
	}
	// The record, the bundle's registration and its holding: one
	// transaction.
	register := registerExport(pol, req, abs, bsum, cw.n, holders)
	out, err := audit.AppendWith(ctx, db, rec, func(tx *store.Tx, r audit.Record) error {
		if err := register(tx, r); err != nil {
			return err
		}
		crashPoint("registered")
		return nil
	})
	if err != nil {
		return nil, failed(ctx, db, rec, "audit", err) // the deferred cleanup removes the bundle
	}
	crashPoint("recorded")
	res = &Result{ExportID: id, BundlePath: abs, BundleSHA256: bsum, Expires: expires, Files: files, Manifest: man, Decision: dec, AuditSeq: out.Seq}
	if generated {
		res.Passphrase = pass
	}
	return res, nil
}

// crashPoint is a test hook: the crash test kills its child process at a
// stage of Run ("sealed": the bundle is at its final path, nothing is
// recorded; "registered": inside the recording transaction, before its
// commit; "recorded": just after the commit).
var crashPoint = func(stage string) {}

// Guard governs an action that writes no bundle (import, pull): it checks
// the request (import needs a purpose and a basis), runs fn, and records
// the outcome with the rows and snapshot fn reports.
func Guard(ctx context.Context, db *store.DB, pol *policy.Policy, req *Request, fn func(ctx context.Context, dec *Decision) (*Produced, error)) error {
	return GuardDecided(ctx, db, pol, req, nil, fn)
}

// GuardDecided is Guard with the decision Resolve already made for req;
// dec nil resolves req here.
func GuardDecided(ctx context.Context, db *store.DB, pol *policy.Policy, req *Request, dec *Decision, fn func(ctx context.Context, dec *Decision) (*Produced, error)) error {
	now := req.now().UTC()
	rec := baseRecord(req, pol, now)
	Sweep(db.Dir)
	if err := audit.CheckAnchor(ctx, db, req.Action); err != nil {
		return err
	}
	if _, err := NotePolicy(ctx, db, pol, req.Actor); err != nil {
		return err
	}
	if dec == nil {
		var err error
		if dec, err = Resolve(pol, req); err != nil {
			return refused(ctx, db, rec, err)
		}
	}
	rec.Basis = dec.Basis
	if writesData(req.Action) {
		// A push writes data out without a bundle: the record holds the
		// decision and the expiry of what was written.
		rec.Profile, rec.Fields, rec.IncludeHiddenMobiles, rec.Seal = dec.Profile, dec.Fields, dec.IncludeHiddenMobiles, ""
		expires := now.Add(dec.Keep).Round(time.Second)
		rec.Expires = &expires
	}
	// fn may report what it did even when it fails or is refused (a push
	// refused for its sharing records the sharing).
	p, err := fn(ctx, dec)
	if p != nil {
		rec.Outputs, rec.Details = p.Outputs, p.Details
	}
	if err != nil {
		if dingbook.ErrorCode(err) == dingbook.EPOLICY {
			return refused(ctx, db, rec, err)
		}
		return failed(ctx, db, rec, req.Action, err)
	}
	if p != nil {
		rec.Rows = p.Rows
		if p.Snapshot != 0 {
			rec.Snapshot = p.Snapshot
		}
		if p.Tenant != "" {
			rec.Tenant = p.Tenant
		}
		if len(p.Fields) > 0 {
			rec.Fields = p.Fields
		}
		if len(p.DeptScope) > 0 {
			rec.DeptScope = p.DeptScope
		}
	}
	_, err = audit.Append(ctx, db, rec)
	return err
}

// Refuse records a refusal decided by the caller (e.g. a flag combination
// its own command rejects) and returns err unchanged.
func Refuse(ctx context.Context, db *store.DB, pol *policy.Policy, req *Request, err error) error {
	return refused(ctx, db, baseRecord(req, pol, req.now().UTC()), err)
}

// Fail records a failure decided before Run or Guard could start (for
// example an unreadable input file) and returns err unchanged. Like Run,
// it stores only the stage, the error code and a hash of the message.
func Fail(ctx context.Context, db *store.DB, pol *policy.Policy, req *Request, stage string, err error) error {
	return failed(ctx, db, baseRecord(req, pol, req.now().UTC()), stage, err)
}

func baseRecord(req *Request, pol *policy.Policy, now time.Time) audit.Record {
	return audit.Record{
		Time: now, Actor: nonEmpty(req.Actor, "unknown"), Action: req.Action,
		Tenant: req.Tenant, Snapshot: req.Snapshot, Source: req.Source,
		Purpose: req.Purpose, Basis: req.Basis, Justification: req.Justification,
		Profile: req.Profile, Fields: req.Fields, DeptScope: req.DeptScope, Masks: req.Masks,
		IncludeHiddenMobiles: req.IncludeHiddenMobiles, Seal: req.Encrypt, PolicyHash: pol.Hash,
		Recipient: req.Recipient, RecipientCountry: req.RecipientCountry, Contract: req.Contract,
		Mechanism: req.Mechanism, ConsentRef: req.ConsentRef, PIA: req.PIA,
	}
}

func refused(ctx context.Context, db *store.DB, rec audit.Record, err error) error {
	rec.Outcome = audit.OutcomeRefused
	rec.Reason = err.Error()
	if _, aerr := audit.Append(ctx, db, rec); aerr != nil {
		return errors.Join(err, fmt.Errorf("recording the refusal in the audit log: %w", aerr))
	}
	return err
}

// failed records a failure. The reason names the stage and error code;
// the producer's own message is kept out of the log (it might quote a row)
// and only its hash is stored, so it can be matched with the text the front
// end showed.
func failed(ctx context.Context, db *store.DB, rec audit.Record, stage string, err error) error {
	rec.Outcome = audit.OutcomeFailed
	sum := sha256.Sum256([]byte(err.Error()))
	details := map[string]string{}
	for k, v := range rec.Details {
		details[k] = v
	}
	details["stage"], details["error_sha256"] = stage, hex.EncodeToString(sum[:8])
	rec.Details = details
	var de *dingbook.Error
	switch {
	case errors.Is(err, context.Canceled):
		rec.Reason = stage + " interrupted"
	case stage == "export" || stage == audit.ActionImport || stage == audit.ActionPull:
		rec.Reason = fmt.Sprintf("%s failed (%s)", stage, dingbook.ErrorCode(err))
	case errors.As(err, &de):
		rec.Reason = stage + " failed: " + de.Message
	default:
		rec.Reason = stage + " failed: " + err.Error()
	}
	if _, aerr := audit.Append(ctx, db, rec); aerr != nil {
		return errors.Join(err, fmt.Errorf("recording the failure in the audit log: %w", aerr))
	}
	return err
}

// privateDir makes $home/tmp/export-XXXX (0700), locked for this process
// (fileutil.LockedDir).
func privateDir(home string) (string, func(), error) {
	return fileutil.LockedDir(filepath.Join(home, TmpDirName), "export-*")
}

// Sweep removes the private directories under home/tmp (exports, the
// spill files of member files being read) that no live process holds:
// left behind by a killed dingbook. Call it at the start of every
// command; Run, Guard and Purge do.
func Sweep(home string) []string {
	return fileutil.SweepDir(filepath.Join(home, TmpDirName))
}

func insideDir(dir, p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("produced file %s is outside the private directory", filepath.Base(p))
	}
	st, err := os.Lstat(p)
	if err != nil {
		return "", fmt.Errorf("produced file %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("produced file %s is not a regular file", rel)
	}
	return p, nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// countWriter counts what it writes, and fails once ctx is done (an
// interrupt stops the sealing at once).
type countWriter struct {
	ctx context.Context
	w   io.Writer
	n   int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
