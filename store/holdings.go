package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
)

// Holding kinds: a sealed export or convert bundle; the server's grant
// downloads, card shares and CardDAV devices plug in with their own kinds.
const (
	KindExport = "export"
	KindGrant  = "grant"
	KindShare  = "share"
	KindDevice = "device"
)

// HolderKeyFile is the HMAC key for the holders' hashes in the state
// directory (0600). It never goes into a bundle: without it the hashes
// cannot be matched to anyone.
const HolderKeyFile = "holders.key"

// HolderKey returns the key in dir/holders.key, creating a random 32-byte
// key the first time.
func HolderKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, HolderKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("%s is not a 32-byte key", path), Hint: "restore it from a backup of DINGBOOK_HOME: without it 'audit who-has' cannot match the recorded holders"}
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	// Written whole to a temporary file, then linked into place: link
	// fails if another process made the key first, and then its key wins.
	tmp, err := os.CreateTemp(dir, ".holders.key-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return HolderKey(dir)
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return key, nil
}

// Holding hash schemes (holding.hashing): how a holding's people were
// hashed. Holdings recorded before migration 008 use HashHMAC; new ones
// HoldingHashing. WhoHas and AffectedPeople hash the person under the
// scheme of each holding, so both kinds stay searchable.
const (
	// HashHMAC: HMAC-SHA256 under the holder key, truncated to its first
	// 8 bytes (also the audit records' person_hmac).
	HashHMAC = 1
	// HashSipHash: SipHash-2-4 under a 128-bit key derived from the
	// holder key (HMAC-SHA256(key, sipKeyLabel), first 16 bytes): a keyed
	// PRF with the same 64-bit output, about five times cheaper.
	HashSipHash = 2

	HoldingHashing = HashSipHash
)

const sipKeyLabel = "dingbook holding hash: siphash-2-4"

// Hasher computes the holders' hashes: a keyed PRF of the person's key
// under the holder key (HoldingHashing; see HashHMAC and HashSipHash),
// 64 bits. 64 bits keep a 500,000-person export at 4 MB and make a false
// match negligible (a lookup against 1,000 such exports matches a
// stranger with probability about 1000·5e5/2^64 ≈ 3e-11); the list is
// exact, so there are no false negatives. Without the key the values
// cannot be matched to anyone. Not safe for concurrent use.
type Hasher struct {
	scheme int
	k0, k1 uint64 // HashSipHash
	mac    hash.Hash
	buf    []byte
	sum    []byte
}

// NewHasher returns a Hasher for key under the scheme of new holdings.
func NewHasher(key []byte) *Hasher { return NewHasherScheme(key, HoldingHashing) }

// NewHasherScheme returns a Hasher for key under scheme (HashHMAC or
// HashSipHash).
func NewHasherScheme(key []byte, scheme int) *Hasher {
	if scheme == HashSipHash {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(sipKeyLabel))
		h := &Hasher{scheme: scheme}
		h.k0, h.k1 = sipKey(m.Sum(nil))
		return h
	}
	return &Hasher{scheme: HashHMAC, mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size)}
}

// Sum returns the hash of id.
func (h *Hasher) Sum(id string) uint64 {
	if h.scheme == HashSipHash {
		return sipHash24(h.k0, h.k1, id)
	}
	h.mac.Reset()
	h.buf = append(h.buf[:0], id...)
	h.mac.Write(h.buf)
	h.sum = h.mac.Sum(h.sum[:0])
	return binary.BigEndian.Uint64(h.sum)
}

// Recorder collects the hashes of the people an export writes. Add is
// cheap (it keeps the key); the hashing runs on a goroutine of its own, in
// step with the export, and Sums waits for it and returns the sorted
// hashes. Close (or Sums) must be called, also when the export fails.
type Recorder struct {
	h     *Hasher
	batch []string
	ch    chan []string
	done  chan struct{}
	sums  []uint64
	once  sync.Once
}

const recorderBatch = 4096

// recorderQueue batches (a million keys) may wait for the hashing, so that
// a fast writer (csv) never stalls on it.
const recorderQueue = 256

// NewRecorder starts a Recorder for about size people (0: unknown).
func NewRecorder(key []byte, size int) *Recorder {
	r := &Recorder{h: NewHasher(key), ch: make(chan []string, recorderQueue), done: make(chan struct{}), sums: make([]uint64, 0, size),
		batch: make([]string, 0, recorderBatch)}
	go func() {
		defer close(r.done)
		for b := range r.ch {
			for _, k := range b {
				r.sums = append(r.sums, r.h.Sum(k))
			}
		}
		r.sums = sortHashes(r.sums)
	}()
	return r
}

// Add records p (under PersonKey; people without any key are not
// recorded). Not safe for concurrent use.
func (r *Recorder) Add(p *dingbook.Person) {
	k := PersonKey(p)
	if k == "" {
		return
	}
	r.batch = append(r.batch, k)
	if len(r.batch) == recorderBatch {
		r.ch <- r.batch
		r.batch = make([]string, 0, recorderBatch)
	}
}

// Close hands the last keys to the hashing goroutine; it does not wait.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.ch <- r.batch
		close(r.ch)
	})
}

// Sums closes the recorder, waits for the hashing and returns the sorted
// hashes.
func (r *Recorder) Sums() []uint64 {
	r.Close()
	<-r.done
	return r.sums
}

// PersonKey is what a holding records of a person: the userid, or for
// people from a member file without one, "mobile:" and the mobile's
// digits, else "email:" and the lower-case e-mail ("" when none).
func PersonKey(p *dingbook.Person) string {
	switch {
	case p.UserID != "":
		return p.UserID
	case digits(p.Mobile) != "":
		return "mobile:" + digits(p.Mobile)
	case p.Email != "":
		return "email:" + strings.ToLower(strings.TrimSpace(p.Email))
	case p.OrgEmail != "":
		return "email:" + strings.ToLower(strings.TrimSpace(p.OrgEmail))
	}
	return ""
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Holding is one copy of people's data that left dingbook.
type Holding struct {
	ID               int64      `json:"-"`
	Kind             string     `json:"kind"`
	Ref              string     `json:"id"`
	Time             time.Time  `json:"time"`
	Actor            string     `json:"actor,omitempty"`
	Purpose          string     `json:"purpose"`
	Basis            string     `json:"basis,omitempty"`
	Recipient        string     `json:"recipient"`
	RecipientCountry string     `json:"recipient_country,omitempty"`
	Fields           []string   `json:"fields"`
	People           int        `json:"people"`
	Snapshot         int64      `json:"snapshot,omitempty"`
	Expires          time.Time  `json:"expires_at"`
	Purged           *time.Time `json:"purged_at,omitempty"`
	Revoked          *time.Time `json:"revoked_at,omitempty"`
	AuditSeq         int64      `json:"audit_seq"`
	Hashing          int        `json:"-"` // HashHMAC or HashSipHash; set when recorded
	// GrantID is the grant a bundle of kind KindGrant was made for (its
	// Ref is the bundle's export id: a grant of several downloads has a
	// holding per bundle); "" for other kinds.
	GrantID string `json:"grant,omitempty"`
}

// bucketBits is how many top bits of a hash pick its bucket: 8,192
// buckets hold ~61 hashes (~490 bytes) each for a 500,000-person export,
// small enough to stay inside SQLite's b-tree page (no overflow pages), so
// that a lookup reads one small row per holding.
const bucketBits = 13

func bucketOf(h uint64) int64 { return int64(h >> (64 - bucketBits)) }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// sortHashes sorts hashes (returning a new slice): a counting pass by
// their top sortBits bits, then an insertion sort of each run of a few
// values (hashes are uniform: ~8 a run at 500,000), about ten times
// faster than a comparison sort over 500,000 values.
func sortHashes(hashes []uint64) []uint64 {
	const sortBits = 16
	if len(hashes) < 1<<sortBits { // the counts would cost more than they save
		out := slices.Clone(hashes)
		slices.Sort(out)
		return out
	}
	count := make([]int, 1<<sortBits+1)
	for _, v := range hashes {
		count[v>>(64-sortBits)+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	out := make([]uint64, len(hashes))
	next := slices.Clone(count)
	for _, v := range hashes {
		b := v >> (64 - sortBits)
		out[next[b]] = v
		next[b]++
	}
	for b := 0; b < 1<<sortBits; b++ {
		run := out[count[b]:count[b+1]]
		if len(run) > 32 { // not uniform
			slices.Sort(run)
			continue
		}
		for i := 1; i < len(run); i++ {
			for j := i; j > 0 && run[j] < run[j-1]; j-- {
				run[j], run[j-1] = run[j-1], run[j]
			}
		}
	}
	return out
}

// hashRowsPerInsert is how many holding_hash rows one INSERT writes: a
// 500,000-person export's 8,192 rows in 128 statements rather than 8,192.
const hashRowsPerInsert = 64

// insertHolding writes h and its hashes (sorted when they are not, and
// de-duplicated) and sets h.ID and h.People.
func insertHolding(ctx context.Context, tx *sql.Tx, h *Holding, hashes []uint64) error {
	if !slices.IsSorted(hashes) {
		hashes = sortHashes(hashes)
	}
	hashes = slices.Compact(hashes)
	h.People = len(hashes)
	h.Hashing = HoldingHashing
	fields, _ := json.Marshal(nonNil(h.Fields))
	res, err := tx.ExecContext(ctx, `INSERT INTO holding (kind, ref, time, actor, purpose, basis, recipient, recipient_country, fields, people, snapshot_id, expires_at, purged_at, revoked_at, audit_seq, hashing, grant_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		h.Kind, h.Ref, ts(h.Time), h.Actor, h.Purpose, h.Basis, h.Recipient, h.RecipientCountry, string(fields), h.People, h.Snapshot, ts(h.Expires), nullTime(h.Purged), nullTime(h.Revoked), h.AuditSeq, h.Hashing, h.GrantID)
	if err != nil {
		return fmt.Errorf("record holding %s %s: %w", h.Kind, h.Ref, err)
	}
	if h.ID, err = res.LastInsertId(); err != nil { // SQLite: LastInsertId
		return err
	}
	// One blob of all the hashes; each bucket's row is a slice of it,
	// hashRowsPerInsert rows a statement.
	blob := make([]byte, 0, 8*len(hashes))
	for _, v := range hashes {
		blob = binary.BigEndian.AppendUint64(blob, v)
	}
	args := make([]any, 0, 3*hashRowsPerInsert)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		q := `INSERT INTO holding_hash (bucket, holding_id, hashes) VALUES (?,?,?)` + strings.Repeat(`,(?,?,?)`, len(args)/3-1)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("record holding %s %s: %w", h.Kind, h.Ref, err)
		}
		args = args[:0]
		return nil
	}
	for i := 0; i < len(hashes); {
		b, start := bucketOf(hashes[i]), i
		for i < len(hashes) && bucketOf(hashes[i]) == b {
			i++
		}
		args = append(args, b, h.ID, blob[8*start:8*i])
		if len(args) == cap(args) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AddHolding records h (a grant, share or device; exports use
// Tx.RegisterExport) with the hashes of the people it holds.
func (db *DB) AddHolding(ctx context.Context, h *Holding, hashes []uint64) error {
	return db.Write(ctx, func(tx *Tx) error { return insertHolding(tx.ctx, tx.tx, h, hashes) })
}

// ExportRow is one row of the export registry (a sealed bundle).
type ExportRow struct {
	ID, Actor, Action, Path, Seal, SHA256 string
	Created, Expires                      time.Time
	Purged                                *time.Time
	Bytes                                 int64
	Rows                                  int
	AuditSeq                              int64
}

// RegisterExport registers a sealed bundle and its holding (kind export,
// ref the export id) with the people's hashes; h may be nil (nothing to
// record). The caller's transaction also appends the export's audit
// record (audit.AppendWith), so that the three land together.
func (tx *Tx) RegisterExport(e ExportRow, h *Holding, hashes []uint64) error {
	if _, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO export (id, created_at, actor, action, path, seal, sha256, bytes, rows, expires_at, audit_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID, ts(e.Created), e.Actor, e.Action, e.Path, e.Seal, e.SHA256, e.Bytes, e.Rows, ts(e.Expires), e.AuditSeq); err != nil {
		return fmt.Errorf("register export %s: %w", e.ID, err)
	}
	if h != nil {
		return insertHolding(tx.ctx, tx.tx, h, hashes)
	}
	return nil
}

// Exports lists the export registry, oldest first.
func (db *DB) Exports(ctx context.Context) ([]ExportRow, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT id, created_at, actor, action, path, seal, sha256, bytes, rows, expires_at, purged_at, audit_seq FROM export ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ExportRow
	for rows.Next() {
		var e ExportRow
		var created, expires string
		var purged sql.NullString
		if err := rows.Scan(&e.ID, &created, &e.Actor, &e.Action, &e.Path, &e.Seal, &e.SHA256, &e.Bytes, &e.Rows, &expires, &purged, &e.AuditSeq); err != nil {
			return nil, err
		}
		e.Created, _ = time.Parse(time.RFC3339, created)
		e.Expires, _ = time.Parse(time.RFC3339, expires)
		if purged.Valid {
			t, _ := time.Parse(time.RFC3339, purged.String)
			e.Purged = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// MarkExportPurged records, in the transaction of the purge's audit
// record, that export id's bundle was deleted at t, in the registry and
// its holding.
func (tx *Tx) MarkExportPurged(id string, t time.Time) error {
	if _, err := tx.tx.ExecContext(tx.ctx, `UPDATE export SET purged_at = ? WHERE id = ?`, ts(t), id); err != nil {
		return err
	}
	_, err := tx.tx.ExecContext(tx.ctx, `UPDATE holding SET purged_at = ? WHERE kind = ? AND ref = ? AND purged_at IS NULL`, ts(t), KindExport, id)
	return err
}

// RevokeHolding marks a holding revoked at t (a grant, share or device the
// server must no longer serve), in the transaction of the audit record
// that says so. It reports whether it was not revoked yet.
func (tx *Tx) RevokeHolding(id int64, t time.Time) (bool, error) {
	res, err := tx.tx.ExecContext(tx.ctx, `UPDATE holding SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, ts(t), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RevokeHoldingsOf marks every holding of kind with ref that is not
// revoked yet revoked at t, in the transaction of the audit record that
// says so: as FindHoldings, ref names one holding or, for kind
// KindGrant, a grant id names every bundle of the grant. It reports how
// many.
func (tx *Tx) RevokeHoldingsOf(kind, ref string, t time.Time) (int, error) {
	return tx.affected(`UPDATE holding SET revoked_at = ? WHERE `+holdingsOf+` AND revoked_at IS NULL`, ts(t), kind, ref, kind, ref)
}

// DiscardHolding marks the holding of kind with ref (one bundle) revoked
// and purged at t, unless it is already: its bundle was deleted before
// anyone could fetch it (a grant's bundle whose recording failed). In the
// transaction of the audit record that says so.
func (tx *Tx) DiscardHolding(kind, ref string, t time.Time) error {
	_, err := tx.tx.ExecContext(tx.ctx, `UPDATE holding SET revoked_at = COALESCE(revoked_at, ?), purged_at = COALESCE(purged_at, ?) WHERE kind = ? AND ref = ?`, ts(t), ts(t), kind, ref)
	return err
}

// holdingsOf picks the holdings of a kind and a ref (args kind, ref,
// kind, ref): the holding whose ref it is, or the bundles of the grant
// whose id it is. Written as a union so that each side reads its own
// index (an OR reads every holding of the kind).
const holdingsOf = `id IN (SELECT id FROM holding WHERE kind = ? AND ref = ? UNION ALL SELECT id FROM holding WHERE kind = ? AND grant_id = ? AND grant_id <> '')`

const holdingCols = `SELECT id, kind, ref, time, actor, purpose, basis, recipient, recipient_country, fields, people, snapshot_id, expires_at, purged_at, revoked_at, audit_seq, hashing, grant_id FROM holding`

func scanHolding(row interface{ Scan(...any) error }) (Holding, error) {
	var h Holding
	var t, fields, exp string
	var purged, revoked sql.NullString
	if err := row.Scan(&h.ID, &h.Kind, &h.Ref, &t, &h.Actor, &h.Purpose, &h.Basis, &h.Recipient, &h.RecipientCountry, &fields, &h.People, &h.Snapshot, &exp, &purged, &revoked, &h.AuditSeq, &h.Hashing, &h.GrantID); err != nil {
		return h, err
	}
	h.Time, _ = time.Parse(time.RFC3339, t)
	h.Expires, _ = time.Parse(time.RFC3339, exp)
	json.Unmarshal([]byte(fields), &h.Fields)
	for _, p := range []struct {
		s   sql.NullString
		dst **time.Time
	}{{purged, &h.Purged}, {revoked, &h.Revoked}} {
		if p.s.Valid {
			v, _ := time.Parse(time.RFC3339, p.s.String)
			*p.dst = &v
		}
	}
	return h, nil
}

// FindHolding returns the holding of kind with ref (an export id, a
// share's id, …; for a grant, the oldest of FindHoldings).
func (db *DB) FindHolding(ctx context.Context, kind, ref string) (*Holding, error) {
	hs, err := db.FindHoldings(ctx, kind, ref)
	if err != nil {
		return nil, err
	}
	return &hs[0], nil
}

// FindHoldings returns the holdings of kind with ref, oldest first: the
// one whose ref it is (an export id, a share's id, a grant bundle's
// export id) or, for kind KindGrant, every bundle of the grant whose id
// it is. None is a not-found error.
func (db *DB) FindHoldings(ctx context.Context, kind, ref string) ([]Holding, error) {
	rows, err := db.sdb.QueryContext(ctx, holdingCols+` WHERE `+holdingsOf+` ORDER BY id`, kind, ref, kind, ref)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Holding
	for rows.Next() {
		h, err := scanHolding(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no %s %q on record", kind, ref), Hint: "run 'dingbook exports' (or 'dingbook audit list') to see the recorded ids"}
	}
	return out, nil
}

// HoldingByID returns holding id.
func (db *DB) HoldingByID(ctx context.Context, id int64) (*Holding, error) {
	h, err := scanHolding(db.sdb.QueryRowContext(ctx, holdingCols+` WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("holding %d: %w", id, err)
	}
	return &h, nil
}

// HoldingHashes returns the sorted hashes of the people holding id holds.
func (db *DB) HoldingHashes(ctx context.Context, id int64) ([]uint64, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT hashes FROM holding_hash WHERE holding_id = ? ORDER BY bucket`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, binary.BigEndian.Uint64(b[i:]))
		}
	}
	return out, rows.Err()
}

// WhoHas returns the holdings, oldest first, that hold any of keys (one
// person may be known under several PersonKeys), hashed under key in each
// holding's scheme, and were made at or after since (zero: all).
func (db *DB) WhoHas(ctx context.Context, key []byte, keys []string, since time.Time) ([]Holding, error) {
	ids := map[int64]bool{}
	q := `SELECT h.holding_id, h.hashes FROM holding CROSS JOIN holding_hash h ON h.holding_id = holding.id AND h.bucket = ? WHERE holding.hashing = ?` // CROSS: holdings outside, each bucket row by its key
	args := []any{nil, nil}
	if !since.IsZero() {
		q += ` AND holding.time >= ?`
		args = append(args, ts(since))
	}
	st, err := db.sdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for _, scheme := range []int{HashHMAC, HashSipHash} {
		h := NewHasherScheme(key, scheme)
		args[1] = scheme
		for _, k := range keys {
			want := h.Sum(k)
			args[0] = bucketOf(want)
			rows, err := st.QueryContext(ctx, args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id int64
				var b sql.RawBytes
				if err := rows.Scan(&id, &b); err != nil {
					rows.Close()
					return nil, err
				}
				if containsHash(b, want) {
					ids[id] = true
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	var out []Holding
	for id := range ids {
		h, err := db.HoldingByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b Holding) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

// containsHash binary-searches a blob of sorted big-endian uint64s.
func containsHash(b []byte, want uint64) bool {
	lo, hi := 0, len(b)/8
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		v := binary.BigEndian.Uint64(b[8*m:])
		switch {
		case v == want:
			return true
		case v < want:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false
}

// FindPeople returns the userids of the people in the stored snapshots
// whose userid is id, or whose mobile or e-mail matches id (a mobile
// matches on its digits, with or without the country code; an e-mail
// case-insensitively), newest snapshot first, without duplicates; then
// those of the snapshots' external contacts (an export with --external
// records them in its holding by their userid).
func (db *DB) FindPeople(ctx context.Context, id string) ([]string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, nil
	}
	like := id
	isMail := strings.Contains(id, "@")
	d := digits(id)
	isMobile := !isMail && len(d) >= 6 && len(d) >= len(strings.Trim(id, "+ -()"))-2
	if isMobile {
		like = d[max(0, len(d)-7):] // stored mobiles may be formatted; the tail is there
	}
	// matches reports whether a person or contact with these fields is
	// the one id names.
	matches := func(uid, mobile, stateCode string, emails ...string) bool {
		switch {
		case uid == id:
			return true
		case isMail:
			return slices.ContainsFunc(emails, func(e string) bool { return strings.EqualFold(strings.TrimSpace(e), id) })
		case isMobile:
			pd := digits(mobile)
			return pd != "" && (pd == d || digits(stateCode)+pd == d || strings.TrimLeft(d, "0") == pd)
		}
		return false
	}
	var out []string
	seen := map[string]bool{}
	add := func(uid string) {
		if uid != "" && !seen[uid] {
			seen[uid] = true
			out = append(out, uid)
		}
	}
	// SQLite: CAST(data AS TEXT) LIKE over the stored JSON.
	rows, err := db.sdb.QueryContext(ctx, `SELECT userid, data FROM snapshot_person WHERE userid = ? OR CAST(data AS TEXT) LIKE ? ESCAPE '\' ORDER BY snapshot_id DESC`, id, "%"+likeEscape(like)+"%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var uid, data string
		if err := rows.Scan(&uid, &data); err != nil {
			return nil, err
		}
		if uid == id {
			add(uid)
			continue
		}
		var p dingbook.Person
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return nil, err
		}
		if matches(uid, p.Mobile, p.StateCode, p.Email, p.OrgEmail) {
			add(uid)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ext, err := db.sdb.QueryContext(ctx, `SELECT data FROM snapshot_external WHERE CAST(data AS TEXT) LIKE ? ESCAPE '\' ORDER BY snapshot_id DESC`, "%"+likeEscape(like)+"%")
	if err != nil {
		return nil, err
	}
	defer ext.Close()
	for ext.Next() {
		var data string
		if err := ext.Scan(&data); err != nil {
			return nil, err
		}
		var x dingbook.ExternalContact
		if err := json.Unmarshal([]byte(data), &x); err != nil {
			return nil, err
		}
		if matches(x.UserID, x.Mobile, x.StateCode, x.Email) {
			add(x.UserID)
		}
	}
	return out, ext.Err()
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// LatestPerson returns the person with userid from the newest snapshot
// that holds them, and that snapshot's id.
func (db *DB) LatestPerson(ctx context.Context, userid string) (*dingbook.Person, int64, error) {
	var data string
	var sid int64
	err := db.sdb.QueryRowContext(ctx, `SELECT snapshot_id, data FROM snapshot_person WHERE userid = ? ORDER BY snapshot_id DESC LIMIT 1`, userid).Scan(&sid, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var p dingbook.Person
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return nil, 0, err
	}
	return &p, sid, nil
}

// EachStoredPerson calls fn for every person in every stored snapshot,
// newest snapshot first (a person appears once per snapshot).
func (db *DB) EachStoredPerson(ctx context.Context, fn func(snapshot int64, p *dingbook.Person) error) error {
	rows, err := db.sdb.QueryContext(ctx, `SELECT snapshot_id, data FROM snapshot_person ORDER BY snapshot_id DESC, seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sid int64
		var data []byte
		if err := rows.Scan(&sid, &data); err != nil {
			return err
		}
		var p dingbook.Person
		if err := json.Unmarshal(data, &p); err != nil {
			return err
		}
		if err := fn(sid, &p); err != nil {
			return err
		}
	}
	return rows.Err()
}
