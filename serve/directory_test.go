package serve_test

import (
	"testing"

	"github.com/dingbook/dingbook/app"
)

// pullSim pulls the simulator's organisation into the state database (a
// complete snapshot, which the directory reads).
func pullSim(t *testing.T, e *env) {
	t.Helper()
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.app.Pull(t.Context(), pol, app.PullOptions{Actor: "tester", Client: e.srv.Client, BaseURL: e.simURL})
	if err != nil || !res.Snapshot.Receipt.Complete {
		t.Fatalf("pull: %v", err)
	}
}
