package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
)

func init() {
	Register(&Command{Name: "convert", Short: "convert a member file to another format (xlsx, csv → xlsx, csv, vcf, jsonl)", Run: runConvert})
}

// convertFormat maps an output file's extension to an export format.
func convertFormat(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	switch ext {
	case "xlsx", "csv", "vcf", "jsonl":
		return ext, nil
	case "vcard":
		return "vcf", nil
	}
	return "", &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s: cannot tell the output format from the extension %q", path, filepath.Ext(path)),
		Hint: "name the output file .xlsx, .csv, .vcf or .jsonl"}
}

func runConvert(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "convert", "convert --purpose TEXT [flags] IN OUT   (IN: the console's .xlsx/.csv member file; OUT: .xlsx .csv .vcf .jsonl, sealed as OUT.zip by default)")
	var ef exportFlags
	ef.register(fs)
	gf := addGovFlags(fs, true)
	noQuality := fs.Bool("no-quality", false, "xlsx: leave out the status column, highlighting and Quality sheet")
	region := fs.String("region", "CN", "default phone region for numbers without a country code")
	var cons consoleFlags
	cons.register(fs, "in-encoding")
	overwrite := fs.Bool("overwrite", false, "replace OUT if it exists")
	jsonOut := fs.Bool("json", false, "print a machine-readable summary on stdout")
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("convert takes IN and OUT, got %d argument(s)", len(pos)),
			Hint: "example: dingbook convert members.xlsx contacts.vcf"}
	}
	in, out := env.Path(pos[0]), env.Path(pos[1])
	format, err := convertFormat(out)
	if err != nil {
		return err
	}
	if *region, err = checkRegion(*region); err != nil {
		return err
	}
	if err := checkSplit(ef.split, []string{format}); err != nil {
		return err
	}
	if abs1, _ := filepath.Abs(in); abs1 != "" {
		if abs2, _ := filepath.Abs(out); abs1 == abs2 {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "IN and OUT are the same file: " + in, Hint: "write to another file name"}
		}
	}
	co, err := cons.options()
	if err != nil {
		return err
	}
	opts := export.Options{
		Dir: filepath.Dir(out), Formats: []string{format}, Paths: map[string]string{format: out},
		Overwrite: *overwrite, IncludeInactive: true, Now: env.Now(), Region: *region,
	}
	ef.apply(&opts)
	a, pol, err := openWithPolicy(ctx, env, gf.Policy)
	if err != nil {
		return err
	}
	defer a.Close()
	base := strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
	req := &govern.Request{Action: "convert", Actor: env.Actor, Fields: opts.Fields, Profile: ef.profile, Masks: opts.Mask,
		OutDir: filepath.Dir(out), BundleBase: base, Overwrite: *overwrite, OutHint: "name OUT in a writable directory",
		Source: "file:" + filepath.Base(in), Now: env.Now}
	if err := gf.Apply(req, env.Getenv, env.StdinIsTTY, nil); err != nil {
		return a.Refuse(ctx, pol, req, err)
	}
	cres, err := a.Convert(ctx, pol, app.ExportOptions{Request: req, Export: opts, Quality: !*noQuality, Split: ef.split,
		File: &app.FileSource{Path: in, Console: co, Dedupe: cons.dedupe}, Hooks: withProgress(env, memberHooks(env), *jsonOut)})
	if err != nil {
		return err
	}
	gres, res := cres.Bundle, cres.Export
	printGoverned(env, gres, res)
	if *jsonOut {
		sum := ExportSummary{Source: "file:" + pos[0], GovernedSummary: governedSummary(gres, res), Rows: res.Rows, Fields: res.Fields, LeftOut: res.LeftOut, Quality: res.Quality}
		return printJSON(env, sum)
	}
	return nil
}
