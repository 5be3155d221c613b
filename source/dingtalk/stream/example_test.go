package stream_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/dingtalk/stream"
	"github.com/dingbook/dingbook/source/gen"
)

// A consumer keeps a Stream connection, re-reads what each event names
// and returns nil only once the change is applied: then the event is
// acknowledged. Here the simulator plays DingTalk and a joiner arrives.
func Example() {
	srv := sim.New(sim.Config{Truth: gen.Generate(gen.Options{Users: 50, Depts: 5, Seed: 1})})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	app := sim.DefaultApp()
	api := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: app.Key, AppSecret: app.Secret})
	c := stream.New(stream.Config{APIBase: ts.URL, ClientID: app.Key, ClientSecret: app.Secret, Backlog: api})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- c.Run(ctx, func(ctx context.Context, ev stream.Event) error {
			if ev.Type != stream.UserAdd {
				return nil
			}
			p, err := api.GetUser(ctx, ev.UserIDs[0])
			if err != nil {
				return err // not acknowledged: DingTalk delivers it again
			}
			fmt.Println(ev.Type, p.UserID, p.Name)
			cancel()
			return nil
		})
	}()
	srv.AddUser(dingbook.Person{UserID: "joiner-7", Name: "林新", Active: true, Depts: []dingbook.Membership{{DeptID: 1}}})
	<-done
	// Output: user_add_org joiner-7 林新
}
