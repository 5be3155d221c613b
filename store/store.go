// Package store is dingbook's state database: a SQLite file (pure Go,
// modernc.org/sqlite) in the state directory, and the only package that
// runs SQL. It keeps snapshots of organisations, pull checkpoints, the
// audit log's rows (the chain's logic is package audit's), the export
// registry and the intents of bundles being sealed, holdings, incidents
// and the consent register, each behind typed methods of DB; the writes
// that must land with an audit record are methods of Tx, inside one
// DB.Write transaction. Tables come from numbered migrations in
// migration/*.sql. dialect.go says what a second backend would change.
//
// The state directory is DINGBOOK_HOME, or $XDG_DATA_HOME/dingbook, or
// ~/.local/share/dingbook. It is created mode 0700 and its files are 0600.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dingbook/dingbook"
	fastjson "github.com/segmentio/encoding/json"
	_ "modernc.org/sqlite"
)

//go:embed migration/*.sql
var migrations embed.FS

// DBName is the database file's name inside the state directory.
const DBName = "dingbook.db"

// Home returns the state directory from the environment.
func Home(getenv func(string) string) (string, error) {
	if h := getenv("DINGBOOK_HOME"); h != "" {
		return h, nil
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "dingbook"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot find the state directory", Hint: "set DINGBOOK_HOME to a directory dingbook may use", Err: err}
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "dingbook"), nil
}

// DB is an open state database. Every query dingbook runs is a typed
// method of DB (or of Tx, inside a write transaction): no other package
// sees SQL.
type DB struct {
	sdb *sql.DB
	// Dir is the state directory the database lives in.
	Dir string
	// wsem admits one write transaction of this process at a time, so
	// that concurrent jobs queue here instead of in SQLite's busy handler
	// (which gives up after busy_timeout); other processes are kept out by
	// BEGIN IMMEDIATE.
	wsem chan struct{}
	// gen watches for commits (Generation, generation.go)
	gen generation
}

// Close closes the database.
func (db *DB) Close() error {
	db.gen.closeWait()
	return db.sdb.Close()
}

// Open opens (creating if needed) the state database in dir and applies
// pending migrations.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot create the state directory %s", dir), Hint: "set DINGBOOK_HOME to a writable directory", Err: err}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chmod state directory: %w", err)
	}
	path := filepath.Join(dir, DBName)
	// Create the file ourselves so that it is 0600 from the start.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot open the state database %s", path), Hint: "check the permissions of DINGBOOK_HOME", Err: err}
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	sdb, err := sql.Open(dialect.driver, dialect.dsn(path))
	if err != nil {
		return nil, err
	}
	db := &DB{sdb: sdb, Dir: dir, wsem: make(chan struct{}, 1)}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Chmod(path+suffix, 0o600)
	}
	return db, nil
}

// OpenReadOnly opens the state database in dir for reading only, without
// creating it or applying migrations: another process's view of a
// database in use (a test watching a pull's checkpoints).
func OpenReadOnly(dir string) (*DB, error) {
	path := filepath.Join(dir, DBName)
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	sdb, err := sql.Open(dialect.driver, dialect.dsn(path)+"&mode=ro")
	if err != nil {
		return nil, err
	}
	return &DB{sdb: sdb, Dir: dir, wsem: make(chan struct{}, 1)}, nil
}

// migrate applies pending migrations. Each runs in a BEGIN IMMEDIATE
// transaction that re-checks whether it is still pending, so two processes
// opening the same database at once do not both apply it.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.sdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := applyMigration(ctx, conn, base, string(body)); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, name, body string) (err error) {
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.Background(), `ROLLBACK`)
		}
	}()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schema_migration WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		_, err = conn.ExecContext(ctx, `COMMIT`)
		return err
	}
	if _, err := conn.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migration (name, applied_at) VALUES (?, ?)`, name, ts(time.Now())); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `COMMIT`)
	return err
}

// SnapshotInfo describes a stored snapshot without its contents.
type SnapshotInfo struct {
	ID          int64     `json:"id"`
	Source      string    `json:"source"`
	TakenAt     time.Time `json:"taken_at"`
	CorpID      string    `json:"corp_id,omitempty"`
	OrgName     string    `json:"org_name"`
	Complete    bool      `json:"complete"`
	Departments int       `json:"departments"`
	People      int       `json:"people"`
}

// SaveSnapshot stores s in one transaction and sets s.ID.
func (db *DB) SaveSnapshot(ctx context.Context, s *dingbook.Snapshot) error {
	var id int64
	err := db.Write(ctx, func(w *Tx) error {
		tx := w.tx
		var receipt []byte
		complete := false
		if s.Receipt != nil {
			receipt, _ = json.Marshal(s.Receipt)
			complete = s.Receipt.Complete
		}
		missing, _ := json.Marshal(missingManagers(&s.Org))
		res, err := tx.ExecContext(ctx, `INSERT INTO snapshot (source, taken_at, corp_id, org_name, complete, departments, people, receipt, missing_managers) VALUES (?,?,?,?,?,?,?,?,?)`,
			s.Source, s.TakenAt.UTC().Format(time.RFC3339Nano), s.Org.CorpID, s.Org.Name, complete, len(s.Org.Depts), len(s.Org.People), nullBytes(receipt), string(missing))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId() // SQLite: LastInsertId
		if err != nil {
			return err
		}
		ds, err := tx.PrepareContext(ctx, `INSERT INTO snapshot_dept (snapshot_id, seq, dept_id, data) VALUES (?,?,?,?)`)
		if err != nil {
			return err
		}
		for i := range s.Org.Depts {
			b, _ := json.Marshal(&s.Org.Depts[i])
			if _, err := ds.ExecContext(ctx, id, i, s.Org.Depts[i].ID, b); err != nil {
				return fmt.Errorf("store department %d: %w", s.Org.Depts[i].ID, err)
			}
		}
		ps, err := tx.PrepareContext(ctx, `INSERT INTO snapshot_person (snapshot_id, seq, userid, data) VALUES (?,?,?,?)`)
		if err != nil {
			return err
		}
		for i := range s.Org.People {
			b, _ := json.Marshal(&s.Org.People[i])
			if _, err := ps.ExecContext(ctx, id, i, s.Org.People[i].UserID, b); err != nil {
				return fmt.Errorf("store person %s: %w", s.Org.People[i].UserID, err)
			}
		}
		for i := range s.Org.External {
			b, _ := json.Marshal(&s.Org.External[i])
			if _, err := tx.ExecContext(ctx, `INSERT INTO snapshot_external (snapshot_id, seq, data) VALUES (?,?,?)`, id, i, b); err != nil {
				return fmt.Errorf("store external contact %s: %w", s.Org.External[i].UserID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.ID = id
	return nil
}

// missingManagers lists, sorted, the manager_userids in org that name
// nobody in it.
func missingManagers(org *dingbook.Org) []string {
	ids := make(map[string]struct{}, len(org.People))
	for i := range org.People {
		ids[org.People[i].UserID] = struct{}{}
	}
	seen := map[string]bool{}
	out := []string{}
	for i := range org.People {
		m := org.People[i].ManagerUserID
		if _, ok := ids[m]; m == "" || ok || seen[m] {
			continue
		}
		seen[m] = true
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// ErrNoSnapshot is returned when the database holds no snapshot.
var ErrNoSnapshot = &dingbook.Error{Code: dingbook.ENOTFOUND, Message: "no snapshot in the state database", Hint: "pull the organisation from DingTalk (or import a member file) first", Field: "snapshot"}

// Snapshots lists stored snapshots, newest first.
func (db *DB) Snapshots(ctx context.Context) ([]SnapshotInfo, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT id, source, taken_at, corp_id, org_name, complete, departments, people FROM snapshot ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SnapshotInfo
	for rows.Next() {
		var si SnapshotInfo
		var taken string
		if err := rows.Scan(&si.ID, &si.Source, &taken, &si.CorpID, &si.OrgName, &si.Complete, &si.Departments, &si.People); err != nil {
			return nil, err
		}
		si.TakenAt, _ = time.Parse(time.RFC3339Nano, taken)
		out = append(out, si)
	}
	return out, rows.Err()
}

// LatestSnapshotID returns the id of the newest snapshot.
func (db *DB) LatestSnapshotID(ctx context.Context) (int64, error) {
	var id int64
	err := db.sdb.QueryRowContext(ctx, `SELECT id FROM snapshot ORDER BY id DESC LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNoSnapshot
	}
	return id, err
}

// LatestCompleteSnapshotID returns the id of the newest snapshot whose
// receipt vouches for completeness and that marks the access-restricted
// staff (its receipt counted them: a pull with CountRestricted): the
// portal hides restricted staff by that mark, so a snapshot without it
// would show them to everyone.
func (db *DB) LatestCompleteSnapshotID(ctx context.Context) (int64, error) {
	var id int64
	// SQLite: json_extract.
	err := db.sdb.QueryRowContext(ctx, `SELECT id FROM snapshot WHERE complete AND json_extract(receipt, '$.restricted') >= 0
		ORDER BY id DESC LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: "no complete snapshot that marks access-restricted staff in the state database",
			Hint: "pull the organisation from DingTalk counting restricted staff (dingbook pull --count-restricted, or an admin's pull now) first", Field: "snapshot"}
	}
	return id, err
}

// LoadSnapshot reads snapshot id whole.
func (db *DB) LoadSnapshot(ctx context.Context, id int64) (*dingbook.Snapshot, error) {
	s := &dingbook.Snapshot{ID: id}
	var taken string
	var receipt sql.NullString
	err := db.sdb.QueryRowContext(ctx, `SELECT source, taken_at, corp_id, org_name, receipt FROM snapshot WHERE id = ?`, id).Scan(&s.Source, &taken, &s.Org.CorpID, &s.Org.Name, &receipt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no snapshot %d", id), Hint: "run 'dingbook snapshots' to list them"}
	}
	if err != nil {
		return nil, err
	}
	s.TakenAt, _ = time.Parse(time.RFC3339Nano, taken)
	if s.Receipt, err = decodeReceipt(id, receipt); err != nil {
		return nil, err
	}
	rows, err := db.sdb.QueryContext(ctx, `SELECT data FROM snapshot_dept WHERE snapshot_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var b []byte
		var d dingbook.Department
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal(b, &d); err != nil {
			rows.Close()
			return nil, fmt.Errorf("snapshot %d department: %w", id, err)
		}
		s.Org.Depts = append(s.Org.Depts, d)
	}
	rows.Close()
	if s.Org.External, err = db.ExternalContacts(ctx, id); err != nil {
		return nil, err
	}
	err = db.EachPerson(ctx, id, func(p *dingbook.Person) error {
		s.Org.People = append(s.Org.People, *p)
		return nil
	})
	return s, err
}

// ExternalContacts reads the external contacts of snapshot id, in stored
// order.
func (db *DB) ExternalContacts(ctx context.Context, id int64) ([]dingbook.ExternalContact, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT data FROM snapshot_external WHERE snapshot_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dingbook.ExternalContact
	for rows.Next() {
		var b []byte
		var x dingbook.ExternalContact
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &x); err != nil {
			return nil, fmt.Errorf("snapshot %d external contact: %w", id, err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// EachPerson streams the people of snapshot id in stored order.
func (db *DB) EachPerson(ctx context.Context, id int64, fn func(*dingbook.Person) error) error {
	rows, err := db.sdb.QueryContext(ctx, `SELECT data FROM snapshot_person WHERE snapshot_id = ? ORDER BY seq`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b sql.RawBytes // valid until Next; the decoder copies what it keeps
		if err := rows.Scan(&b); err != nil {
			return err
		}
		var p dingbook.Person
		if err := fastjson.Unmarshal(b, &p); err != nil {
			return fmt.Errorf("snapshot %d person: %w", id, err)
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteSnapshot removes snapshot id and its rows, in the transaction of
// the purge record that says so.
func (tx *Tx) DeleteSnapshot(id int64) error {
	_, err := tx.tx.ExecContext(tx.ctx, `DELETE FROM snapshot WHERE id = ?`, id)
	return err
}

// SnapshotDirectory is a stored snapshot read as a dingbook.Directory: the
// departments are loaded, the people streamed from the database.
type SnapshotDirectory struct {
	db     *DB
	id     int64
	name   string
	corp   string
	people int
	taken  time.Time
	depts  []dingbook.Department
}

// Len returns the number of people in the snapshot.
func (d *SnapshotDirectory) Len() int { return d.people }

// TakenAt returns when the snapshot was taken.
func (d *SnapshotDirectory) TakenAt() time.Time { return d.taken }

var (
	_ dingbook.Directory            = (*SnapshotDirectory)(nil)
	_ dingbook.UserIDLister         = (*SnapshotDirectory)(nil)
	_ dingbook.MissingManagerLister = (*SnapshotDirectory)(nil)
)

// Directory opens snapshot id as a Directory.
func (db *DB) Directory(ctx context.Context, id int64) (*SnapshotDirectory, error) {
	d := &SnapshotDirectory{db: db, id: id}
	var taken string
	err := db.sdb.QueryRowContext(ctx, `SELECT org_name, corp_id, people, taken_at FROM snapshot WHERE id = ?`, id).Scan(&d.name, &d.corp, &d.people, &taken)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no snapshot %d", id), Hint: "run 'dingbook snapshots' to list them"}
	}
	if err != nil {
		return nil, err
	}
	d.taken, _ = time.Parse(time.RFC3339Nano, taken)
	rows, err := db.sdb.QueryContext(ctx, `SELECT data FROM snapshot_dept WHERE snapshot_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var dep dingbook.Department
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &dep); err != nil {
			return nil, err
		}
		d.depts = append(d.depts, dep)
	}
	return d, rows.Err()
}

// ID returns the snapshot id.
func (d *SnapshotDirectory) ID() int64 { return d.id }

// Info implements dingbook.Directory.
func (d *SnapshotDirectory) Info() (string, string) { return d.name, d.corp }

// Departments implements dingbook.Directory.
func (d *SnapshotDirectory) Departments() []dingbook.Department { return d.depts }

// MissingManagers implements dingbook.MissingManagerLister with the list
// recorded when the snapshot was saved; ok is false for a snapshot saved
// before dingbook recorded it.
func (d *SnapshotDirectory) MissingManagers(ctx context.Context) ([]string, bool, error) {
	var s sql.NullString
	if err := d.db.sdb.QueryRowContext(ctx, `SELECT missing_managers FROM snapshot WHERE id = ?`, d.id).Scan(&s); err != nil {
		return nil, false, err
	}
	if !s.Valid {
		return nil, false, nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(s.String), &ids); err != nil {
		return nil, false, fmt.Errorf("snapshot %d: missing_managers: %w", d.id, err)
	}
	return ids, true, nil
}

// EachUserID implements dingbook.UserIDLister from the userid index.
func (d *SnapshotDirectory) EachUserID(ctx context.Context, fn func(string) error) error {
	rows, err := d.db.sdb.QueryContext(ctx, `SELECT userid FROM snapshot_person WHERE snapshot_id = ?`, d.id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachPerson implements dingbook.Directory.
func (d *SnapshotDirectory) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	return d.db.EachPerson(ctx, d.id, fn)
}

// Tenants lists the corp ids and organisation names of the stored
// snapshots.
func (db *DB) Tenants(ctx context.Context) ([]string, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT DISTINCT corp_id FROM snapshot WHERE corp_id != '' UNION SELECT DISTINCT org_name FROM snapshot WHERE org_name != ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// WipeCounts is what WipeData deleted.
type WipeCounts struct {
	Snapshots int `json:"snapshots"`
	People    int `json:"people"`
	PullRuns  int `json:"pull_runs"`
}

// WipeData deletes every snapshot and pull checkpoint and marks every
// export and holding purged at t, keeping the audit log, the export
// registry, the holdings and the consent register (records, not export
// data). The deleted pages are overwritten (secure_delete), the file is
// rebuilt (VACUUM) and the write-ahead log emptied, so that no deleted
// row survives on disk.
func (db *DB) WipeData(ctx context.Context, t time.Time) (WipeCounts, error) {
	var c WipeCounts
	conn, err := db.sdb.Conn(ctx)
	if err != nil {
		return c, err
	}
	defer conn.Close()
	// SQLite: secure_delete, VACUUM, wal_checkpoint.
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return c, err
	}
	err = func() error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(people), 0) FROM snapshot`).Scan(&c.Snapshots, &c.People); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pull_run`).Scan(&c.PullRuns); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM snapshot_person`, `DELETE FROM snapshot_dept`, `DELETE FROM snapshot_external`, `DELETE FROM snapshot`,
			`DELETE FROM pull_user`, `DELETE FROM pull_dept`, `DELETE FROM pull_run`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		// the live directory's change log holds people's records too
		for _, t := range revisionTables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("DELETE FROM %s: %w", t, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE export SET purged_at = ? WHERE purged_at IS NULL`, ts(t)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE holding SET purged_at = ? WHERE purged_at IS NULL AND kind = ?`, ts(t), KindExport); err != nil {
			return err
		}
		// Grants, shares and devices are served from this state: they end.
		if _, err := tx.ExecContext(ctx, `UPDATE holding SET revoked_at = ? WHERE revoked_at IS NULL AND kind != ?`, ts(t), KindExport); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		return c, err
	}
	for _, q := range []string{`VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return c, fmt.Errorf("%s: %w", q, err)
		}
	}
	return c, nil
}
