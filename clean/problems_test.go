package clean

import (
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

func TestParseProblems(t *testing.T) {
	s, err := ParseProblems("missing-mobile, duplicate-mobile")
	if err != nil || !s.Has(dingbook.ProblemMissingMobile) || !s.Has(dingbook.ProblemDuplicateMobile) || s.Has(dingbook.ProblemInactive) {
		t.Fatalf("ParseProblems = %v, %v", s.List(), err)
	}
	_, err = ParseProblems("missing-mobile,nope")
	if err == nil || dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown problem: err = %v", err)
	}
	if h := dingbook.ErrorHint(err); !strings.Contains(h, "duplicate-name") || !strings.Contains(h, "missing-mobile") {
		t.Fatalf("hint does not list valid problems: %q", h)
	}
}
