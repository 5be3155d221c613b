package cli

import (
	"context"
	"fmt"

	"github.com/dingbook/dingbook"
)

func init() {
	Register(&Command{Name: "wipe", Short: "delete every snapshot, bundle and temporary file (end of a hosting contract); the audit chain stays", Run: runWipe})
}

func runWipe(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "wipe", "wipe --all --confirm TENANT [--json]")
	all := fs.Bool("all", false, "wipe all data (required: there is no partial wipe)")
	confirm := fs.String("confirm", "", "the tenant's corp id or organisation name, as 'dingbook snapshots' shows it")
	policyPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "print what was deleted and the resulting audit head as JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if !*all || *confirm == "" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "wipe needs --all and --confirm TENANT", Hint: "wipe deletes every snapshot and bundle for good: run 'dingbook wipe --all --confirm CORP_ID' ('dingbook snapshots' shows the corp id)"}
	}
	a, pol, err := openWithPolicy(ctx, env, *policyPath)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Wipe(ctx, pol, *confirm, env.Actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: wiped %d snapshot(s) (%d people), %d pull checkpoint(s), %d bundle(s), %d temporary item(s); the audit log is kept\n",
		res.Snapshots, res.People, res.PullRuns, res.Bundles, res.TmpEntries)
	fmt.Fprintf(env.Stderr, "dingbook: audit head %d %s (keep it: 'dingbook audit verify --head HASH' proves the log later)\n", res.HeadSeq, res.HeadHash)
	if *asJSON {
		return printJSON(env, res)
	}
	return nil
}
