package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
)

// ActionQuota is the audit action of a person crossing the portal's
// hourly quota of person views and searches.
const ActionQuota = "quota"

// CodeQuota is the error code of a spend past the quota.
const CodeQuota = "quota"

// ErrQuota is wrapped by Quota.Spend's error past the quota.
var ErrQuota = errors.New("hourly quota of person views and searches used up")

// QuotaError is Quota.Spend's refusal: the person may browse again at
// Until (the end of the hour).
type QuotaError struct {
	Limit int
	Until time.Time
}

func (e *QuotaError) Error() string { return ErrQuota.Error() }
func (e *QuotaError) Unwrap() error { return ErrQuota }

// Quota counts each person's person views and searches in the portal per
// hour of the clock (bulk access looks like scraping, issue 10 §5). The
// first spend past the limit in an hour is audited and sends a DingTalk
// work notice to the admins of the person's departments (sub-admins
// whose scope covers one of them, sub-departments included, and the
// primary admins); later ones are refused quietly until the hour ends.
// The counts live in memory: a restart starts the hour afresh.
type Quota struct {
	App *App
	// Client sends the work notices and reads the person's departments
	// and the admins (nil: no notice).
	Client *dingtalk.Client
	// Limit per person and hour (0: policy.DefaultQuotaPerHour).
	Limit int
	// Hit, if set, is called once for each refused spend (a metric).
	Hit func()
	// Logf receives a failure to notify the admins (the refusal stands).
	Logf func(format string, args ...any)
	// Say words the work notice ("notice.quota": userid, limit, until)
	// from the front end's catalogue, in each admin's language as other
	// notices are (notices.go).
	Say Say

	mu    sync.Mutex
	hour  time.Time
	spent map[string]int
}

func (q *Quota) limit() int {
	if q.Limit > 0 {
		return q.Limit
	}
	return policy.DefaultQuotaPerHour
}

// Spend counts one person view or search of userid. Past the limit it
// returns a *dingbook.Error wrapping a *QuotaError (code CodeQuota).
func (q *Quota) Spend(ctx context.Context, userid string) error {
	now := q.App.now()
	hour := now.Truncate(time.Hour)
	q.mu.Lock()
	if !hour.Equal(q.hour) || q.spent == nil {
		q.hour, q.spent = hour, map[string]int{}
	}
	q.spent[userid]++
	n, lim := q.spent[userid], q.limit()
	q.mu.Unlock()
	if n <= lim {
		return nil
	}
	if q.Hit != nil {
		q.Hit()
	}
	until := hour.Add(time.Hour)
	err := &dingbook.Error{Code: CodeQuota,
		Message: fmt.Sprintf("you have viewed or searched %d times this hour, the portal's limit per person", lim),
		Hint:    "browsing pauses until " + until.Format("15:04 MST") + "; for a list of many people ask for an export instead",
		Err:     &QuotaError{Limit: lim, Until: until}}
	if n == lim+1 {
		// the first refusal of the hour: audited, the admins told
		if aerr := q.crossed(ctx, userid, lim, until); aerr != nil {
			// the refusal stands; the operator learns the record is missing
			if q.Logf != nil {
				q.Logf("quota: audit record for %s: %v", userid, aerr)
			}
			return errors.Join(err, aerr)
		}
	}
	return err
}

func (q *Quota) crossed(ctx context.Context, userid string, lim int, until time.Time) error {
	admins, notifyErr := q.notify(ctx, userid, lim, until)
	details := map[string]string{"limit": strconv.Itoa(lim), "until": until.UTC().Format(time.RFC3339), "notified": strconv.Itoa(len(admins))}
	if notifyErr != nil {
		details["notice_error"] = notifyErr.Error()
		if q.Logf != nil {
			q.Logf("quota: work notice for %s: %v", userid, notifyErr)
		}
	}
	rec := audit.Record{Time: q.App.now(), Actor: userid, Action: ActionQuota, Outcome: audit.OutcomeRefused,
		Reason: "hourly quota of person views and searches used up", Details: details}
	_, err := audit.Append(ctx, q.App.DB, rec)
	return err
}

// notify sends the work notice to the admins of userid's departments and
// returns their userids.
func (q *Quota) notify(ctx context.Context, userid string, lim int, until time.Time) ([]string, error) {
	if q.Client == nil {
		return nil, nil
	}
	admins, err := q.AdminsOf(ctx, userid)
	if err != nil || len(admins) == 0 {
		return nil, err
	}
	n := notice{client: q.Client, say: q.Say, key: "notice.quota", args: []any{userid, lim, until.Format("15:04 MST")}}
	_, err = n.send(ctx, q.App, admins)
	return admins, err
}

// AdminsOf returns the admins of userid's departments, as DingTalk says
// now: the primary admins, and the sub-admins whose scope holds one of
// the person's departments or an ancestor of one (in the latest
// snapshot's tree). The person is never their own recipient.
func (q *Quota) AdminsOf(ctx context.Context, userid string) ([]string, error) {
	p, err := q.Client.GetUser(ctx, userid)
	if err != nil {
		return nil, err
	}
	// the person's departments and their ancestors
	covered := map[int64]bool{}
	var tree *dingbook.Tree
	if dir, _, err := q.App.snapshot(ctx, 0); err == nil {
		tree = dingbook.NewTree(dir.Departments())
	}
	for _, id := range p.DeptIDs() {
		for seen := 0; id != 0 && !covered[id] && seen < 1000; seen++ {
			covered[id] = true
			if tree == nil || tree.Dept(id) == nil {
				break
			}
			id = tree.Dept(id).ParentID
		}
	}
	return adminsCovering(ctx, q.Client, userid, func(scope []int64) bool {
		return slices.ContainsFunc(scope, func(d int64) bool { return covered[d] })
	})
}

// adminsCovering returns, as DingTalk says now (user/listadmin,
// get_admin_scope), the primary admins and the sub-admins whose scope
// covers passes, sorted; never exclude.
func adminsCovering(ctx context.Context, client *dingtalk.Client, exclude string, covers func(scope []int64) bool) ([]string, error) {
	list, err := client.ListAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range list {
		if a.UserID == exclude {
			continue
		}
		switch a.SysLevel {
		case 1:
			out = append(out, a.UserID)
		case 2:
			scope, err := client.AdminScope(ctx, a.UserID)
			if err != nil {
				return nil, err
			}
			if covers(scope) {
				out = append(out, a.UserID)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
