package serve

import (
	"context"
	"slices"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/source/dingtalk/stream"
)

// contactEvents are the event types the live directory follows; others
// are acknowledged and ignored.
var contactEvents = []string{stream.UserAdd, stream.UserModify, stream.UserLeave, stream.UserActive,
	stream.DeptCreate, stream.DeptModify, stream.DeptRemove, stream.AdminAdd, stream.AdminRemove}

// StreamClient returns a DingTalk Stream client that keeps the live
// directory current: cfg with the server's durable dedupe (the revision
// log: an event redelivered, even after a restart, is applied once) and
// its DingTalk client for the failed-push backlog, drained after every
// connection. cfg supplies the API base and the app's credentials.
func (s *Server) StreamClient(cfg stream.Config) *stream.Client {
	cfg.Dedupe = app.EventDeduper{App: s.App}
	cfg.Backlog = s.Client
	if cfg.Logf == nil {
		cfg.Logf = s.logf
	}
	return stream.New(cfg)
}

// RunStream keeps c's connection open until ctx ends (reconnecting with
// backoff) and applies each contact event to the live directory
// (app.ApplyEvent: re-read, then one committed revision); the event is
// acknowledged only after that, and answered LATER, so DingTalk delivers
// it again, when a re-read or the commit fails. Before the first complete
// pull an event ends a leaver's sessions and app passwords (or re-roles
// an admin change's) and is acknowledged: the pull reads the rest. It
// returns what c.Run
// returns: ctx's error, or a refusal of the credentials.
func (s *Server) RunStream(ctx context.Context, c *stream.Client) error {
	return c.Run(ctx, func(ctx context.Context, ev stream.Event) error {
		if !slices.Contains(contactEvents, ev.Type) {
			return nil
		}
		res, err := s.App.ApplyEvent(ctx, s.Client, s.policy(), ev)
		if err != nil {
			return err
		}
		if res.SessionsEnded > 0 || res.AppPasswordsRevoked > 0 || res.RolesChanged > 0 {
			s.logf("serve: DingTalk event %s: %d sessions ended, %d app passwords revoked, %d people's roles changed", ev.Type, res.SessionsEnded, res.AppPasswordsRevoked, res.RolesChanged)
		}
		return nil
	})
}
