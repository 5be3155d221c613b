package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
)

// ActionRoleChange is the audit action of a person's roles changed in
// their live sessions and app passwords after a pull (actor RoleActor,
// Details userid, from, to, scope_from, scope_to).
const ActionRoleChange = "role-change"

// RoleActor is the actor of the role changes dingbook makes itself.
const RoleActor = "dingbook"

// refreshRoles re-reads the roles of everyone with a live session or app
// password, as a login does (user/listadmin, get_admin_scope for
// sub-admins, the policy's approvers and auditors), after a complete
// pull: a person whose roles or admin scope changed keeps their sessions
// with the new roles (a demoted admin gets 403 at their next admin
// request, without logging in again), each change audited. The people
// the pull found gone have already lost their sessions. Their next
// CardDAV sync starts afresh (ownChange). It returns how many people's
// roles changed.
func (a *App) refreshRoles(ctx context.Context, client *dingtalk.Client, pol *policy.Policy) (int, error) {
	held, err := a.DB.HeldRoles(ctx)
	if err != nil || len(held) == 0 || client == nil {
		return 0, err
	}
	admins, err := client.ListAdmin(ctx)
	if err != nil {
		return 0, fmt.Errorf("the snapshot is stored, but the admins could not be re-read for the portal's sessions: %w", err)
	}
	changed, err := a.setRoles(ctx, client, pol, held, admins, "DingTalk's admin list or the policy changed (pull)")
	if oerr := a.ownChange(ctx, changed); err == nil {
		err = oerr
	}
	return len(changed), err
}

// setRoles gives each person of held (sorted by userid) the roles and
// admin scope that admins (user/listadmin), get_admin_scope and the
// policy give them now, in all their sessions and app passwords, where
// they differ; each change is a role-change record with reason. It
// returns the people whose roles changed (those changed before an error
// too).
func (a *App) setRoles(ctx context.Context, client *dingtalk.Client, pol *policy.Policy, held []store.HeldRoles, admins []dingtalk.Admin, reason string) ([]string, error) {
	level := map[string]int{}
	for _, ad := range admins {
		level[ad.UserID] = ad.SysLevel
	}
	var changed []string
	for start := 0; start < len(held); {
		// held is sorted by userid: rows are this person's run
		h := held[start]
		end := start + 1
		for end < len(held) && held[end].UserID == h.UserID {
			end++
		}
		rows := held[start:end]
		start = end
		roles := RolesFor(level[h.UserID], h.UserID, pol)
		scope, err := client.ScopeOf(ctx, h.UserID, level[h.UserID])
		if err != nil {
			return changed, err
		}
		if scope == nil {
			scope = []int64{}
		}
		if !slices.ContainsFunc(rows, func(x store.HeldRoles) bool {
			return !slices.Equal(x.Roles, roles) || !slices.Equal(x.AdminScope, scope)
		}) {
			continue
		}
		rec := audit.Record{Time: a.now(), Actor: RoleActor, Action: ActionRoleChange, Outcome: audit.OutcomeOK, Reason: reason,
			Details: map[string]string{"userid": h.UserID, "from": strings.Join(h.Roles, ","), "to": strings.Join(roles, ","),
				"scope_from": ints(h.AdminScope), "scope_to": ints(scope)}}
		if _, err := audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error {
			_, err := tx.SetUserRoles(h.UserID, roles, scope)
			return err
		}); err != nil {
			return changed, err
		}
		changed = append(changed, h.UserID)
	}
	return changed, nil
}

func ints(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}
