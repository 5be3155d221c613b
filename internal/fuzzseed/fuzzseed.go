// Package fuzzseed reads the seed corpus files of Go fuzz targets
// (testdata/fuzz/FuzzXxx/*, "go test fuzz v1"), so that tests can feed the
// same inputs to real programs (7-Zip, python3-vobject) that a fuzz
// function cannot start for every input.
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Read returns the arguments of each corpus file of target under
// testdata/fuzz, by file name: strings and byte slices unquoted, other
// values (numbers, booleans) as written.
func Read(target string) (map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if lines[0] != "go test fuzz v1" {
			return nil, fmt.Errorf("%s: not a fuzz corpus file", file)
		}
		var args []string
		for _, l := range lines[1:] {
			open, close := strings.IndexByte(l, '('), strings.LastIndexByte(l, ')')
			if open < 0 || close < open {
				return nil, fmt.Errorf("%s: cannot read %q", file, l)
			}
			v := l[open+1 : close]
			if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "`") {
				if v, err = strconv.Unquote(v); err != nil {
					return nil, fmt.Errorf("%s: %q: %v", file, l, err)
				}
			}
			args = append(args, v)
		}
		out[filepath.Base(file)] = args
	}
	return out, nil
}
