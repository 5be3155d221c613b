package pflate

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sample is XML-like text (compressible, with long-range repeats) mixed
// with random bytes.
func sample(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		if rng.IntN(50) == 0 {
			r := make([]byte, rng.IntN(3000))
			for j := range r {
				r[j] = byte(rng.Uint32())
			}
			b.Write(r)
			continue
		}
		fmt.Fprintf(&b, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>张三%d</t></is></c></row>`, i, i, rng.IntN(1000))
	}
	return b.Bytes()[:n]
}

func roundTrip(t *testing.T, in []byte, level int, chunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	z, err := NewWriter(&out, level)
	if err != nil {
		t.Fatal(err)
	}
	for p := in; len(p) > 0; {
		k := min(len(p), chunk)
		if n, err := z.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(flate.NewReader(bytes.NewReader(out.Bytes())))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	if !bytes.Equal(got, in) {
		t.Fatalf("round trip of %d bytes gave %d bytes, different", len(in), len(got))
	}
	return out.Bytes()
}

// TestRoundTrip: every size around the block boundaries, several levels
// and write sizes, inflates back to the input with compress/flate.
func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, window - 1, window, window + 1, BlockSize - 1, BlockSize, BlockSize + 1,
		BlockSize + window/2, 2*BlockSize + 7, 5*BlockSize + 12345}
	for _, n := range sizes {
		in := sample(n, uint64(n))
		for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, 1, 5, 9} {
			for _, chunk := range []int{1 << 30, 4096, 777} {
				if n > 3*BlockSize && (chunk != 4096 || level == flate.NoCompression) {
					continue
				}
				roundTrip(t, in, level, chunk)
			}
		}
	}
}

// TestRatio: the cut into blocks costs little: within 2% of one
// single-threaded stream at the same level, because each block starts
// with the window before it.
func TestRatio(t *testing.T) {
	in := sample(8*BlockSize, 3)
	par := roundTrip(t, in, 5, 1<<30)
	var one bytes.Buffer
	fw, _ := flate.NewWriter(&one, 5)
	fw.Write(in)
	fw.Close()
	if float64(len(par)) > 1.02*float64(one.Len()) {
		t.Errorf("parallel %d bytes, single stream %d bytes", len(par), one.Len())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, io.ErrShortWrite
	}
	return len(p), nil
}

// TestWriteError: a failing destination's error comes back from Write or
// Close.
func TestWriteError(t *testing.T) {
	z, _ := NewWriter(&failWriter{n: 1000}, 5)
	_, err := z.Write(sample(6*BlockSize, 9))
	if err == nil {
		err = z.Close()
	}
	if err != io.ErrShortWrite {
		t.Fatalf("err = %v, want %v", err, io.ErrShortWrite)
	}
	if _, err := NewWriter(io.Discard, 12); err == nil {
		t.Error("level 12 accepted")
	}
}

// TestSevenZip: a zip whose entries are compressed by pflate passes
// 7-Zip's own integrity test (CRC of every entry) and extracts
// byte-identical.
func TestSevenZip(t *testing.T) {
	sz, err := exec.LookPath("7zz")
	if err != nil {
		t.Fatal("7zz (Debian package 7zip) is required: run scripts/test.sh, which installs it")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "t.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return NewWriter(w, 5) })
	want := map[string][]byte{"empty.xml": nil, "small.xml": sample(100, 1), "big.xml": sample(3*BlockSize+999, 2)}
	for name, b := range want {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(sz, "t", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "Everything is Ok") {
		t.Fatalf("7zz t: %v\n%s", err, out)
	}
	x := filepath.Join(dir, "x")
	if out, err := exec.Command(sz, "x", "-o"+x, path).CombinedOutput(); err != nil {
		t.Fatalf("7zz x: %v\n%s", err, out)
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(x, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: %d bytes extracted (%v), want %d", name, len(got), err, len(b))
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	in := sample(16*BlockSize, 4)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		z, _ := NewWriter(io.Discard, 5)
		z.Write(in)
		z.Close()
	}
}

func BenchmarkStdlib(b *testing.B) {
	in := sample(16*BlockSize, 4)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		fw, _ := flate.NewWriter(io.Discard, 5)
		fw.Write(in)
		fw.Close()
	}
}
