package account

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// WipeResult is what Wipe deleted and the audit head it left.
type WipeResult struct {
	store.WipeCounts
	Bundles    int    `json:"bundles"`
	TmpEntries int    `json:"tmp_entries"`
	HeadBefore string `json:"head_before"`
	HeadSeq    int64  `json:"head_seq"`
	HeadHash   string `json:"head_hash"`
}

// Wipe is the verified wipe at the end of a hosting contract (R-PROCESSOR):
// it deletes every snapshot, every registered bundle still on disk and
// every temporary file, keeps the audit chain (and the records: export
// registry, holdings, incidents, consent register), and appends a final
// record with what was deleted; its hash is the resulting head. confirm
// must name the tenant: a stored snapshot's corp id or organisation name,
// or the policy's company when there is none.
func Wipe(ctx context.Context, db *store.DB, pol *policy.Policy, confirm, actor string, now time.Time) (*WipeResult, error) {
	tenants, err := db.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		tenants = []string{strings.TrimSpace(pol.Company)}
	}
	if !slices.Contains(tenants, strings.TrimSpace(confirm)) {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("wipe refused: --confirm %q does not name the tenant whose data is stored here", confirm),
			Hint: "give the corp id or organisation name of the stored snapshots ('dingbook snapshots' lists them) with --confirm"}
	}
	res := &WipeResult{}
	_, res.HeadBefore, err = audit.Head(ctx, db)
	if err != nil {
		return nil, err
	}
	exps, err := govern.ListExports(ctx, db, now)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		if e.Purged != nil {
			continue
		}
		if err := os.Remove(e.Path); err == nil {
			res.Bundles++
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("wipe: delete bundle %s: %w", e.ID, err)
		}
	}
	tmp := filepath.Join(db.Dir, govern.TmpDirName)
	if ents, err := os.ReadDir(tmp); err == nil {
		res.TmpEntries = len(ents)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("wipe: delete %s: %w", tmp, err)
	}
	if res.WipeCounts, err = db.WipeData(ctx, now); err != nil {
		return nil, fmt.Errorf("wipe: %w", err)
	}
	rec, err := audit.Append(ctx, db, audit.Record{Time: now, Actor: nonEmpty(actor, "unknown"), Action: ActionWipe, Tenant: confirm,
		Rows: res.People, PolicyHash: pol.Hash, Reason: "all data wiped (end of processing)",
		Details: map[string]string{"snapshots": strconv.Itoa(res.Snapshots), "people": strconv.Itoa(res.People), "pull_runs": strconv.Itoa(res.PullRuns),
			"bundles": strconv.Itoa(res.Bundles), "tmp_entries": strconv.Itoa(res.TmpEntries), "head_before": res.HeadBefore}})
	if err != nil {
		return nil, err
	}
	res.HeadSeq, res.HeadHash = rec.Seq, rec.Hash
	return res, nil
}
