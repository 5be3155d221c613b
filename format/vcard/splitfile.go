package vcard

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dingbook/dingbook/internal/fileutil"
)

// SplitFile cuts a .vcf file written by this package into files of at most
// n cards each, for importers that have limits: <base>-001.vcf,
// <base>-002.vcf … beside it (mode 0600, written atomically). The original
// file is removed once every part is written. It returns the parts with
// their card counts. A file of at most n cards is left as it is.
func SplitFile(path string, n int) (parts []string, counts []int, err error) {
	if n <= 0 {
		return nil, nil, fmt.Errorf("split %s: %d cards per file", path, n)
	}
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer in.Close()
	base := strings.TrimSuffix(path, filepath.Ext(path))
	var (
		cur   *fileutil.File
		w     *bufio.Writer
		cards int
	)
	abort := func() {
		if cur != nil {
			cur.Abort()
		}
		for _, p := range parts[:len(counts)] {
			os.Remove(p)
		}
	}
	finish := func() error {
		if cur == nil {
			return nil
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := cur.Commit(); err != nil {
			return err
		}
		counts = append(counts, cards)
		cur, cards = nil, 0
		return nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sc.Split(scanCRLFLines)
	total := 0
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.EqualFold(bytes.TrimRight(line, "\r\n"), []byte("BEGIN:VCARD")) {
			if cur != nil && cards == n {
				if err := finish(); err != nil {
					abort()
					return nil, nil, err
				}
			}
			if cur == nil {
				p := fmt.Sprintf("%s-%03d.vcf", base, len(parts)+1)
				if cur, err = fileutil.Create(p, false); err != nil {
					abort()
					return nil, nil, err
				}
				parts = append(parts, p)
				w = bufio.NewWriter(cur)
			}
			cards++
			total++
		}
		if cur == nil {
			abort()
			return nil, nil, fmt.Errorf("%s: text before the first BEGIN:VCARD", path)
		}
		if _, err := w.Write(line); err != nil {
			abort()
			return nil, nil, err
		}
	}
	if err := sc.Err(); err != nil {
		abort()
		return nil, nil, err
	}
	if total <= n {
		// One part only: keep the original file.
		abort()
		return []string{path}, []int{total}, nil
	}
	if err := finish(); err != nil {
		abort()
		return nil, nil, err
	}
	in.Close()
	if err := os.Remove(path); err != nil {
		return nil, nil, err
	}
	return parts, counts, nil
}

// scanCRLFLines splits after each LF, keeping the line ending.
func scanCRLFLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
