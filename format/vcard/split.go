package vcard

import (
	"fmt"
	"path/filepath"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fileutil"
)

// SplitWriter writes cards into numbered files of at most N cards each:
// <dir>/<base>-001.vcf, <base>-002.vcf, … Each file is written atomically
// with mode 0600 and appears at its final path only when it is complete.
type SplitWriter struct {
	dir, base string
	n         int
	opts      Options
	// Overwrite allows replacing existing files (set before the first
	// write).
	Overwrite bool

	cur   *fileutil.File
	w     *Writer
	count int
	files []string
	err   error
}

// NewSplit returns a SplitWriter writing n cards per file (n >= 1).
func NewSplit(dir, base string, n int, opts Options) (*SplitWriter, error) {
	if n < 1 {
		return nil, dingbook.Errorf(dingbook.EINVALID, "--split %d: the number of cards per file must be at least 1", n).
			WithHint("give a number of cards per file such as 1000, or none for one file").WithField("split")
	}
	return &SplitWriter{dir: dir, base: base, n: n, opts: opts}, nil
}

// WritePerson writes p's card.
func (s *SplitWriter) WritePerson(p *dingbook.Person, tree *dingbook.Tree) error {
	return s.WriteCard(CardFor(p, tree, s.opts))
}

// WriteCard writes c, starting a new file every n cards.
func (s *SplitWriter) WriteCard(c Card) error {
	if s.err != nil {
		return s.err
	}
	if s.cur == nil || s.count == s.n {
		if err := s.finish(); err != nil {
			return err
		}
		path := filepath.Join(s.dir, fmt.Sprintf("%s-%03d.vcf", s.base, len(s.files)+1))
		f, err := fileutil.Create(path, s.Overwrite)
		if err != nil {
			s.err = &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot create %s", path),
				Hint: "choose another output directory, or allow overwriting", Err: err}
			return s.err
		}
		s.cur, s.w, s.count = f, New(f, s.opts), 0
	}
	if err := s.w.WriteCard(c); err != nil {
		s.Abort()
		s.err = err
		return err
	}
	s.count++
	return nil
}

func (s *SplitWriter) finish() error {
	if s.cur == nil {
		return nil
	}
	f, w := s.cur, s.w
	s.cur, s.w = nil, nil
	if err := w.Close(); err != nil {
		f.Abort()
		s.err = err
		return err
	}
	if err := f.Commit(); err != nil {
		s.err = err
		return err
	}
	s.files = append(s.files, f.Path())
	return nil
}

// Close commits the last file.
func (s *SplitWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	return s.finish()
}

// Abort discards the file being written (committed files stay).
func (s *SplitWriter) Abort() {
	if s.cur != nil {
		s.cur.Abort()
		s.cur, s.w = nil, nil
	}
}

// Files returns the paths of the committed files, in order.
func (s *SplitWriter) Files() []string { return s.files }
