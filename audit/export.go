package audit

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/dingbook/dingbook/store"
)

// ExportLine is one line of Export: a record as stored. Data is the exact
// canonical JSON the hash covers, so the chain can be checked elsewhere:
// hash = SHA-256("dingbook-audit-v1" 0x00 seq 0x00 prev_hash 0x00 data).
type ExportLine struct {
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	Data     string `json:"data"`
}

// ExportHead is Export's last line: the chain's head when it was written.
type ExportHead struct {
	Head struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	} `json:"head"`
	Records   int    `json:"records"`
	Since     string `json:"since,omitempty"`
	Exported  string `json:"exported_at"`
	Retention string `json:"retention,omitempty"`
}

// Export writes the records since (zero: all) as JSON Lines for auditors,
// in seq order, then one line with the chain's head (ExportHead).
// retention (e.g. "1096d") is the policy's audit retention, for the
// reader.
func Export(ctx context.Context, db *store.DB, since time.Time, now time.Time, retention string, w io.Writer) (*ExportHead, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	head := &ExportHead{Exported: now.UTC().Format(time.RFC3339), Retention: retention}
	if !since.IsZero() {
		head.Since = since.UTC().Format(time.RFC3339)
	}
	err := db.EachAudit(ctx, store.AuditQuery{Since: since}, func(r store.AuditRow) error {
		head.Records++
		return enc.Encode(ExportLine{Seq: r.Seq, PrevHash: r.PrevHash, Hash: r.Hash, Data: r.Data})
	})
	if err != nil {
		return nil, err
	}
	if head.Head.Seq, head.Head.Hash, err = Head(ctx, db); err != nil {
		return nil, err
	}
	return head, enc.Encode(head)
}
