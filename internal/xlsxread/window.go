package xlsxread

import (
	"archive/zip"
	"bytes"
	"io"
	"sync"
)

// chunkSize is how much inflated XML the inflating goroutine hands over at
// a time; chunksAhead is how many chunks it may run ahead of the scanner.
const (
	chunkSize   = 256 << 10
	chunksAhead = 8
)

// inflater inflates one zip part on its own goroutine, so inflating and
// scanning run on two cores.
type inflater struct {
	ch   chan []byte // chunks; closed at the end
	err  error       // set before ch is closed
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	pool sync.Pool
}

func startInflate(zf *zip.File) *inflater {
	in := &inflater{ch: make(chan []byte, chunksAhead), done: make(chan struct{})}
	in.pool.New = func() any { return make([]byte, chunkSize) }
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		defer close(in.ch)
		rc, err := zf.Open()
		if err != nil {
			in.err = err
			return
		}
		defer rc.Close()
		for {
			buf := in.pool.Get().([]byte)[:chunkSize]
			n, err := io.ReadFull(rc, buf)
			if n > 0 {
				select {
				case in.ch <- buf[:n]:
				case <-in.done:
					return
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				in.err = err
				return
			}
		}
	}()
	return in
}

// close stops the goroutine and waits for it.
func (in *inflater) close() {
	in.once.Do(func() { close(in.done) })
	in.wg.Wait()
}

// window is the scanner's view of the inflated part: buf[off:] is not yet
// scanned; more appends the next chunk.
type window struct {
	in   *inflater
	part string
	buf  []byte
	off  int
	base int64 // offset in the part of buf[0]
	eof  bool
}

// more appends the next chunk, first dropping what was scanned. It
// returns false at the end of the part (or its error, see err).
func (w *window) more() (bool, error) {
	if w.eof {
		return false, nil
	}
	chunk, ok := <-w.in.ch
	if !ok {
		w.eof = true
		if w.in.err != nil {
			return false, w.in.err
		}
		return false, nil
	}
	if w.off > 0 {
		n := copy(w.buf, w.buf[w.off:])
		w.buf = w.buf[:n]
		w.base += int64(w.off)
		w.off = 0
	}
	w.buf = append(w.buf, chunk...)
	w.in.pool.Put(chunk[:cap(chunk)]) //nolint:staticcheck // a slice is fine here
	return true, nil
}

// rest is the unscanned bytes.
func (w *window) rest() []byte { return w.buf[w.off:] }

// need makes at least n unscanned bytes available, if the part has them.
func (w *window) need(n int) error {
	for len(w.buf)-w.off < n {
		ok, err := w.more()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
	return nil
}

// skipSpace drops XML white space.
func (w *window) skipSpace() error {
	for {
		r := w.rest()
		i := 0
		for i < len(r) && isSpace(r[i]) {
			i++
		}
		w.off += i
		if i < len(r) {
			return nil
		}
		ok, err := w.more()
		if err != nil || !ok {
			return err
		}
	}
}

// tagEnd returns the length of the start tag at the beginning of rest
// (through its '>'), reading more as needed; -1 if the part ends first.
func (w *window) tagEnd() (int, error) {
	from := 1
	var quote byte
	for {
		r := w.rest()
		for i := from; i < len(r); i++ {
			c := r[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '>':
				return i + 1, nil
			}
		}
		from = len(r)
		ok, err := w.more()
		if err != nil {
			return -1, err
		}
		if !ok {
			return -1, nil
		}
	}
}

// find returns the index in rest of the first sep at or after from,
// reading more as needed; -1 if the part ends first.
func (w *window) find(from int, sep []byte) (int, error) {
	for {
		r := w.rest()
		if from < len(r) {
			if i := bytes.Index(r[from:], sep); i >= 0 {
				return from + i, nil
			}
			if n := len(r) - len(sep) + 1; n > from {
				from = n
			}
		}
		ok, err := w.more()
		if err != nil {
			return -1, err
		}
		if !ok {
			return -1, nil
		}
	}
}

// element returns the whole element that starts rest (its start tag
// through the end tag closing ("</name"), or a self-closing tag), without
// consuming it; nil if the part ends first. The end is the first closing
// followed by optional space and '>': markup that could hide one
// (comments, CDATA) is refused by whoever parses the element.
func (w *window) element(closing []byte) ([]byte, error) {
	te, err := w.tagEnd()
	if err != nil || te < 0 {
		return nil, err
	}
	if w.rest()[te-2] == '/' {
		return w.rest()[:te], nil
	}
	from := te
	for {
		i, err := w.find(from, closing)
		if err != nil || i < 0 {
			return nil, err
		}
		j := i + len(closing)
		for {
			if err := w.need(j + 1); err != nil {
				return nil, err
			}
			r := w.rest()
			if j >= len(r) {
				return nil, nil
			}
			if !isSpace(r[j]) {
				break
			}
			j++
		}
		if w.rest()[j] == '>' {
			return w.rest()[:j+1], nil
		}
		from = i + 1
	}
}

func (w *window) unsupported(at int, format string, args ...any) error {
	e := unsupported(w.part, format, args...).(*UnsupportedError)
	e.Offset = w.base + int64(w.off+at)
	return e
}

var (
	closeRow = []byte("</row")
	closeSI  = []byte("</si")
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
