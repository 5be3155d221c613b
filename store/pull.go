package store

// Pull checkpoints (migration 002_pull.sql): the pull package records what
// it has fetched so that a killed pull resumes without refetching.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/dingbook/dingbook"
)

// PullRun is one pull's checkpoint header.
type PullRun struct {
	ID        int64
	Key       string
	Params    json.RawMessage
	StartedAt time.Time
}

// PullDept is the checkpoint of one department of a run.
type PullDept struct {
	Dept         dingbook.Department
	ChildrenDone bool // listsub done and the children recorded
	DetailDone   bool // department/get done
	MembersDone  bool // every page of v2/user/list done
	// Members is the JSON []dingbook.Person listed in the department.
	Members json.RawMessage
	// Visible is the JSON []string of userids listed without restricted
	// staff (nil until done; pull --count-restricted).
	Visible json.RawMessage
}

// OpenPullRun returns the newest unfinished run with key (resumed=true),
// or starts a new one with params.
func (db *DB) OpenPullRun(ctx context.Context, key string, params []byte, now time.Time) (run *PullRun, resumed bool, err error) {
	run = &PullRun{Key: key}
	var started string
	var p string
	err = db.sdb.QueryRowContext(ctx, `SELECT id, params, started_at FROM pull_run WHERE run_key = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1`, key).Scan(&run.ID, &p, &started)
	if err == nil {
		run.Params = json.RawMessage(p)
		run.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
		return run, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}
	res, err := db.sdb.ExecContext(ctx, `INSERT INTO pull_run (run_key, params, started_at) VALUES (?,?,?)`, key, string(params), now.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return nil, false, err
	}
	run.ID, err = res.LastInsertId() // SQLite: LastInsertId
	run.Params = params
	run.StartedAt = now
	return run, false, err
}

// AbandonPullRuns marks every unfinished run with key as finished without
// a snapshot, so the next OpenPullRun starts afresh (pull --fresh).
func (db *DB) AbandonPullRuns(ctx context.Context, key string, now time.Time) error {
	_, err := db.sdb.ExecContext(ctx, `UPDATE pull_run SET finished_at = ? WHERE run_key = ? AND finished_at IS NULL`, now.UTC().Format(time.RFC3339Nano), key)
	if err != nil {
		return err
	}
	if _, err = db.sdb.ExecContext(ctx, `DELETE FROM pull_dept WHERE run_id IN (SELECT id FROM pull_run WHERE finished_at IS NOT NULL)`); err != nil {
		return err
	}
	_, err = db.sdb.ExecContext(ctx, `DELETE FROM pull_user WHERE run_id IN (SELECT id FROM pull_run WHERE finished_at IS NOT NULL)`)
	return err
}

// PullDepts returns the departments recorded for run, by dept id.
func (db *DB) PullDepts(ctx context.Context, runID int64) ([]PullDept, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT data, children_done, detail_done, members_done, members, visible FROM pull_dept WHERE run_id = ? ORDER BY dept_id`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PullDept
	for rows.Next() {
		var data string
		var members, visible sql.NullString
		var pd PullDept
		if err := rows.Scan(&data, &pd.ChildrenDone, &pd.DetailDone, &pd.MembersDone, &members, &visible); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &pd.Dept); err != nil {
			return nil, err
		}
		if members.Valid {
			pd.Members = json.RawMessage(members.String)
		}
		if visible.Valid {
			pd.Visible = json.RawMessage(visible.String)
		}
		out = append(out, pd)
	}
	return out, rows.Err()
}

// SavePullChildren records children (keeping any already recorded) and,
// when parent is not 0, marks parent's children as done, atomically.
func (db *DB) SavePullChildren(ctx context.Context, runID, parent int64, children []dingbook.Department) error {
	return db.Write(ctx, func(w *Tx) error {
		tx := w.tx
		for i := range children {
			b, _ := json.Marshal(&children[i])
			// SQLite: INSERT OR IGNORE
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO pull_dept (run_id, dept_id, data) VALUES (?,?,?)`, runID, children[i].ID, string(b)); err != nil {
				return err
			}
		}
		if parent != 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE pull_dept SET children_done = 1 WHERE run_id = ? AND dept_id = ?`, runID, parent); err != nil {
				return err
			}
		}
		return nil
	})
}

// SavePullDetail records a department's details (department/get).
func (db *DB) SavePullDetail(ctx context.Context, runID int64, d dingbook.Department) error {
	b, _ := json.Marshal(&d)
	_, err := db.sdb.ExecContext(ctx, `UPDATE pull_dept SET data = ?, detail_done = 1 WHERE run_id = ? AND dept_id = ?`, string(b), runID, d.ID)
	return err
}

// SavePullMembers records a department's complete member listing.
func (db *DB) SavePullMembers(ctx context.Context, runID, dept int64, members []byte) error {
	_, err := db.sdb.ExecContext(ctx, `UPDATE pull_dept SET members = ?, members_done = 1 WHERE run_id = ? AND dept_id = ?`, string(members), runID, dept)
	return err
}

// SavePullVisible records the userids a department lists without
// restricted staff.
func (db *DB) SavePullVisible(ctx context.Context, runID, dept int64, userids []byte) error {
	_, err := db.sdb.ExecContext(ctx, `UPDATE pull_dept SET visible = ? WHERE run_id = ? AND dept_id = ?`, string(userids), runID, dept)
	return err
}

// SavePullUser records one person fetched with v2/user/get.
func (db *DB) SavePullUser(ctx context.Context, runID int64, userid string, data []byte) error {
	// SQLite: INSERT OR REPLACE
	_, err := db.sdb.ExecContext(ctx, `INSERT OR REPLACE INTO pull_user (run_id, userid, data) VALUES (?,?,?)`, runID, userid, string(data))
	return err
}

// PullUsers returns the people recorded with SavePullUser, by userid.
func (db *DB) PullUsers(ctx context.Context, runID int64) (map[string]json.RawMessage, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT userid, data FROM pull_user WHERE run_id = ?`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return nil, err
		}
		out[id] = json.RawMessage(data)
	}
	return out, rows.Err()
}

// PullCheckpoints counts the departments of unfinished pulls' checkpoints
// whose member listings are finished, and all their departments recorded
// (both 0 once every pull finished).
func (db *DB) PullCheckpoints(ctx context.Context) (finished, known int, err error) {
	err = db.sdb.QueryRowContext(ctx, `SELECT coalesce(sum(members_done),0), count(*) FROM pull_dept`).Scan(&finished, &known)
	return
}

// FinishPullRun marks run finished with its snapshot and drops its
// checkpoint rows.
func (db *DB) FinishPullRun(ctx context.Context, runID, snapshotID int64, now time.Time) error {
	return db.Write(ctx, func(w *Tx) error {
		tx := w.tx
		if _, err := tx.ExecContext(ctx, `UPDATE pull_run SET finished_at = ?, snapshot_id = ? WHERE id = ?`, now.UTC().Format(time.RFC3339Nano), snapshotID, runID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pull_dept WHERE run_id = ?`, runID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pull_user WHERE run_id = ?`, runID); err != nil {
			return err
		}
		return nil
	})
}
