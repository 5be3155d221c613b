package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
)

// FuzzParse feeds any document to the policy parser. A document it
// accepts must give a policy that holds together (positive retention with
// default ≤ max, a defined and allowed default profile, known fields,
// bases and classes) and that reads back the same from its own YAML
// (policy show → a policy file); a document it refuses must say why.
// The document is also given to ParseKeep as a retention period (see
// checkKeep).
// The seed corpus is testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkKeep(t, string(doc))
		p, problems := Parse(doc)
		if len(problems) > 0 {
			for _, pr := range problems {
				if pr.Message == "" {
					t.Fatalf("problem without a message: %+v", problems)
				}
			}
			return
		}
		checkCoherent(t, p)
		again, problems := Parse(p.YAML())
		if len(problems) > 0 {
			t.Fatalf("the policy's own YAML is refused: %v\n%s", problems, p.YAML())
		}
		a, _ := json.Marshal(p)
		again.Hash, again.Source = p.Hash, p.Source
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("the policy changes when read back from its YAML:\n%s\n%s", a, b)
		}
	})
}

// checkKeep checks that a retention period ParseKeep accepts is positive
// and that FormatKeep writes it so that it parses back the same.
func checkKeep(t *testing.T, s string) {
	t.Helper()
	d, err := ParseKeep(s)
	if err != nil {
		return
	}
	if d <= 0 {
		t.Fatalf("ParseKeep(%q) = %v, accepted though not positive", s, d)
	}
	back, err := ParseKeep(FormatKeep(d))
	if err != nil || back != d {
		t.Fatalf("ParseKeep(%q) = %v, written %q, read back %v, %v", s, d, FormatKeep(d), back, err)
	}
}

func checkCoherent(t *testing.T, p *Policy) {
	t.Helper()
	def, max := time.Duration(p.Retention.Default), time.Duration(p.Retention.Max)
	if def <= 0 || max <= 0 || def > max {
		t.Fatalf("accepted retention default %v, max %v", def, max)
	}
	if p.SnapshotKeep < 0 {
		t.Fatalf("accepted snapshot_keep %v", time.Duration(p.SnapshotKeep))
	}
	if !p.ProfileAllowed(p.DefaultProfile) {
		t.Fatalf("default profile %q not allowed", p.DefaultProfile)
	}
	for _, name := range p.AllowedProfiles {
		if _, ok := p.ProfileFields(name); !ok {
			t.Fatalf("allowed profile %q undefined", name)
		}
	}
	for name, fields := range p.Profiles {
		for _, f := range fields {
			if _, ok := dingbook.FieldByKey(f); !ok {
				t.Fatalf("profile %q has unknown field %q", name, f)
			}
		}
	}
	if !p.BasisAllowed(p.DefaultBasis) {
		t.Fatalf("default basis %q not allowed", p.DefaultBasis)
	}
	for _, c := range p.JustifyClasses {
		switch dingbook.FieldClass(c) {
		case dingbook.ClassPersonal, dingbook.ClassSensitive, dingbook.ClassWork:
		default:
			t.Fatalf("unknown justify class %q", c)
		}
	}
}
