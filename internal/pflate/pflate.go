// Package pflate is a DEFLATE compressor that uses every CPU, for the
// large parts of a zip archive (an XLSX sheet of a million rows is a few
// hundred MB of XML, and compressing it on one core is about a third of
// an export's time).
//
// It works as pigz does: the input is cut into blocks, each block is
// compressed on its own goroutine with the 32 KiB before it as the
// dictionary (so matches may still reach back across the cut), every
// block but the last ends with a sync flush (an empty stored block that
// byte-aligns the output), and the outputs are written in order. The
// result is one ordinary DEFLATE stream that any inflater reads; it is
// a little larger than a single-threaded stream (a block's Huffman
// tables start afresh).
package pflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"runtime"
	"sync"
)

// BlockSize is how much input each goroutine compresses at a time.
const BlockSize = 1 << 20

const window = 32 << 10 // DEFLATE's back-reference window

// maxProcs caps the blocks compressed at once (twice as many are in
// flight, each ~1 MiB of input plus a ~1 MiB compressor): eight cores
// already deflate faster than a sheet's XML is read back from disk, and
// a 64-core machine should not spend 200 MB on it.
const maxProcs = 8

// Writer compresses what is written to it into w.
type Writer struct {
	w       io.Writer
	level   int
	buf     []byte
	dict    []byte // the last window bytes of the input before buf
	pending []*job // dispatched, not yet written, in order
	max     int    // blocks in flight
	err     error
	closed  bool
}

type job struct {
	out  bytes.Buffer
	err  error
	done chan struct{}
}

var blocks = sync.Pool{New: func() any { b := make([]byte, 0, BlockSize); return &b }}

// NewWriter returns a Writer compressing at level (as compress/flate's
// levels; HuffmanOnly and NoCompression included) into w.
func NewWriter(w io.Writer, level int) (*Writer, error) {
	if level < flate.HuffmanOnly || level > flate.BestCompression {
		return nil, errors.New("pflate: invalid compression level")
	}
	return &Writer{w: w, level: level, max: 2 * min(runtime.GOMAXPROCS(0), maxProcs), buf: *blocks.Get().(*[]byte)}, nil
}

// Write buffers p and hands every full block to a goroutine.
func (z *Writer) Write(p []byte) (int, error) {
	if z.closed {
		return 0, errors.New("pflate: write after Close")
	}
	n := len(p)
	for len(p) > 0 {
		if z.err != nil {
			return n - len(p), z.err
		}
		k := min(len(p), BlockSize-len(z.buf))
		z.buf = append(z.buf, p[:k]...)
		p = p[k:]
		if len(z.buf) == BlockSize {
			z.dispatch(false)
		}
	}
	return n, z.err
}

// dispatch compresses buf on a goroutine (the last block with the final
// bit set) and writes out the finished blocks at the head of the queue;
// it waits for the oldest when too many are in flight.
func (z *Writer) dispatch(last bool) {
	in, dict := z.buf, z.dict
	// The next block's dictionary: the tail of this block (with the tail
	// of the one before when this one is shorter than the window).
	next := make([]byte, 0, window)
	if len(in) < window {
		next = append(next, dict[max(0, len(dict)-(window-len(in))):]...)
	}
	z.dict = append(next, in[max(0, len(in)-window):]...)
	j := &job{done: make(chan struct{})}
	z.pending = append(z.pending, j)
	go func() {
		defer close(j.done)
		defer func() { b := in[:0]; blocks.Put(&b) }()
		fw, err := flate.NewWriterDict(&j.out, z.level, dict)
		if err == nil {
			_, err = fw.Write(in)
		}
		if err == nil {
			if last {
				err = fw.Close()
			} else {
				err = fw.Flush()
			}
		}
		j.err = err
	}()
	z.buf = *blocks.Get().(*[]byte)
	z.drain(len(z.pending) >= z.max)
}

// drain writes finished blocks from the head of the queue; with wait it
// first waits for the oldest.
func (z *Writer) drain(wait bool) {
	for len(z.pending) > 0 {
		j := z.pending[0]
		if wait {
			<-j.done
			wait = false
		} else {
			select {
			case <-j.done:
			default:
				return
			}
		}
		z.pending = z.pending[1:]
		if z.err == nil {
			if j.err != nil {
				z.err = j.err
			} else if _, err := j.out.WriteTo(z.w); err != nil {
				z.err = err
			}
		}
	}
}

// Close compresses the rest, ends the stream and waits for every block.
// It does not close the underlying writer.
func (z *Writer) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	z.dispatch(true)
	for len(z.pending) > 0 {
		z.drain(true)
	}
	return z.err
}
