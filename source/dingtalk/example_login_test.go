package dingtalk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// The browser login as a server runs it, against the simulator: send the
// browser to AuthorizeURL, read the callback with CallbackCode (after
// checking state), and let LoginWithCode admit or refuse the person.
func ExampleClient_LoginWithCode() {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 50, Depts: 5, Seed: 2})
	srv := sim.New(sim.Config{Truth: truth})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	app := sim.DefaultApp()
	c := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, APIV1Base: ts.URL, LoginBase: ts.URL,
		AppKey: app.Key, AppSecret: app.Secret, CorpID: srv.CorpID()})

	// The simulator's login page would do this when the primary admin
	// picks themselves (or with &sim_user=USERID on AuthorizeURL).
	primary := truth.Admins[0]
	code, _ := srv.LoginCode(primary.UserID, true)
	id, err := c.LoginWithCode(ctx, code)
	fmt.Println(id.UserID == primary.UserID, id.SysLevel, id.AdminScope, err)

	// A replayed callback is refused.
	_, err = c.LoginWithCode(ctx, code)
	fmt.Println(errors.Is(err, dingtalk.ErrCodeReused))

	// So is an outsider's DingTalk account.
	for _, a := range truth.Accounts {
		if a.Kind == gen.AccountOutsider {
			code, _ = srv.LoginCode(a.UnionID, true)
			_, err = c.LoginWithCode(ctx, code)
			fmt.Println(errors.Is(err, dingtalk.ErrNotMember))
			break
		}
	}
	// Output:
	// true 1 [1] <nil>
	// true
	// true
}
