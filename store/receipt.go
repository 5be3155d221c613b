package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dingbook/dingbook"
)

// SnapshotReceipt returns the receipt stored with snapshot id: nil for a
// snapshot without one (an import) or no such snapshot.
func (db *DB) SnapshotReceipt(ctx context.Context, id int64) (*dingbook.Receipt, error) {
	var receipt sql.NullString
	err := db.sdb.QueryRowContext(ctx, `SELECT receipt FROM snapshot WHERE id = ?`, id).Scan(&receipt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeReceipt(id, receipt)
}

// decodeReceipt decodes snapshot id's receipt column (nil when NULL).
func decodeReceipt(id int64, receipt sql.NullString) (*dingbook.Receipt, error) {
	if !receipt.Valid {
		return nil, nil
	}
	rc := new(dingbook.Receipt)
	if err := json.Unmarshal([]byte(receipt.String), rc); err != nil {
		return nil, fmt.Errorf("snapshot %d receipt: %w", id, err)
	}
	return rc, nil
}
