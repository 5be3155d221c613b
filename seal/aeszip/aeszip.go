// Package aeszip writes WinZip AE-2 encrypted zip archives (AES-256,
// PBKDF2-HMAC-SHA1 key derivation, HMAC-SHA1 authentication) that 7-Zip,
// WinZip, WinRAR and Keka open. It is built only from the standard library:
// the Go module proxy serves no AES-zip writer (formats.md §2.7).
//
// Entries are streamed: each is deflated, encrypted and authenticated on
// the fly and written with a data descriptor, so memory use does not grow
// with the size of a file and no plaintext is buffered on disk.
//
// # Format (formats.md §2)
//
// Each entry has general-purpose flag bit 0 set, compression method 99 and
// the 11-byte extra field 0x9901 (AE-2, vendor "AE", strength 3 = AES-256,
// actual method 8 = deflate) in both its local and central headers. Its data
// is salt (16 bytes) ‖ password verification value (2 bytes) ‖ ciphertext ‖
// the first 10 bytes of HMAC-SHA1(macKey, ciphertext). AE-2 stores CRC 0.
// The CTR mode counter is little-endian and incremented before each block,
// which Go's cipher.NewCTR (big-endian) does not do; see leCTR.
package aeszip

import (
	"archive/zip"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook/internal/pflate"
)

const (
	keyLen     = 32 // AES-256
	saltLen    = 16 // half the key length
	pvvLen     = 2
	macLen     = 10
	iterations = 1000
	// MaxPasswordLen is 7-Zip's limit on password bytes.
	MaxPasswordLen = 99
	methodAES      = 99
)

// ValidatePassword reports whether pw can protect an archive that 7-Zip
// opens everywhere: non-empty, at most 99 bytes, printable ASCII only
// (7-Zip refuses non-ASCII passwords and reads typed ones in the ANSI code
// page on Windows). The error never contains the password.
func ValidatePassword(pw string) error {
	if pw == "" {
		return errors.New("the passphrase is empty")
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("the passphrase is %d bytes long; 7-Zip accepts at most %d", len(pw), MaxPasswordLen)
	}
	for i := 0; i < len(pw); i++ {
		if c := pw[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("the passphrase has a non-printable or non-ASCII byte at position %d; 7-Zip accepts printable ASCII only", i+1)
		}
	}
	return nil
}

// Writer writes an AES-256 encrypted zip archive. Call Create for each
// entry, write its contents, and Close the Writer to finish the archive
// (the underlying io.Writer is not closed).
type Writer struct {
	zw   *zip.Writer
	pw   string
	last *entryWriter
	// names holds each entry name in lower case, and dirs the folders
	// they imply, to refuse entries that would overwrite one another.
	names, dirs map[string]bool
}

// NewWriter starts an archive on w whose entries are encrypted with
// password, which must pass ValidatePassword.
func NewWriter(w io.Writer, password string) (*Writer, error) {
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	return &Writer{zw: zip.NewWriter(w), pw: password, names: map[string]bool{}, dirs: map[string]bool{}}, nil
}

// checkName refuses an entry name that 7-Zip would not extract to the same
// path on every system: it must be valid UTF-8, relative and
// slash-separated, with no empty, "." or ".." part, no part longer than
// 255 bytes, no control character and none of \ : * ? " < > | (which
// Windows replaces), and must not repeat or contain an earlier entry's
// name (ignoring case, as Windows and macOS do) nor be an earlier entry's
// folder.
func (w *Writer) checkName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("aeszip: entry name %q %s; use a relative slash-separated path of plain names", name, why)
	}
	if !utf8.ValidString(name) {
		return bad("is not valid UTF-8")
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return r < 0x20 || r == 0x7f || strings.ContainsRune(`\:*?"<>|`, r)
	}); i >= 0 {
		return bad(fmt.Sprintf("has the character %q", name[i:i+1]))
	}
	for _, part := range strings.Split(name, "/") {
		switch {
		case part == "" || part == "." || part == "..":
			return bad(`has an empty, "." or ".." part (or starts or ends with /)`)
		case len(part) > 255:
			return bad("has a part longer than 255 bytes")
		}
	}
	key := strings.ToLower(name)
	if w.names[key] || w.dirs[key] {
		return bad("repeats an earlier entry's name or folder")
	}
	for i := range len(key) {
		if key[i] == '/' && w.names[key[:i]] {
			return bad("puts an entry inside an earlier entry")
		}
	}
	w.names[key] = true
	for i := range len(key) {
		if key[i] == '/' {
			w.dirs[key[:i]] = true
		}
	}
	return nil
}

// Create adds an entry named name (UTF-8, slash-separated, see checkName)
// and returns the writer for its plaintext. The entry is finished by the next Create or by
// Close.
func (w *Writer) Create(name string, modified time.Time) (io.Writer, error) {
	if err := w.finish(); err != nil {
		return nil, err
	}
	if err := w.checkName(name); err != nil {
		return nil, err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	dk, err := pbkdf2.Key(sha1.New, w.pw, salt, iterations, 2*keyLen+pvvLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dk[:keyLen])
	if err != nil {
		return nil, err
	}
	extra := make([]byte, 11)
	binary.LittleEndian.PutUint16(extra[0:], 0x9901)
	binary.LittleEndian.PutUint16(extra[2:], 7)
	binary.LittleEndian.PutUint16(extra[4:], 2) // AE-2
	extra[6], extra[7] = 'A', 'E'
	extra[8] = 3 // AES-256
	binary.LittleEndian.PutUint16(extra[9:], zip.Deflate)
	fh := &zip.FileHeader{
		Name:     name,
		Method:   methodAES,
		Flags:    0x1 | 0x8 | 0x800, // encrypted, data descriptor, UTF-8 name
		Extra:    extra,
		Modified: modified,
	}
	fh.SetMode(0o600)
	raw, err := w.zw.CreateRaw(fh)
	if err != nil {
		return nil, err
	}
	if _, err := raw.Write(salt); err != nil {
		return nil, err
	}
	if _, err := raw.Write(dk[2*keyLen:]); err != nil {
		return nil, err
	}
	e := &entryWriter{fh: fh, raw: raw, mac: hmac.New(sha1.New, dk[keyLen:2*keyLen])}
	e.ctr = newLECTR(block)
	// A million-card vCard is a few hundred MB: compressed on one core it
	// was a good part of a convert's time; pflate uses every core.
	e.fw, err = pflate.NewWriter(&e.enc, flate.DefaultCompression)
	if err != nil {
		return nil, err
	}
	e.enc.e = e
	w.last = e
	return e, nil
}

// finish closes the current entry: flushes the compressor, writes the
// authentication code and records the sizes for the data descriptor.
func (w *Writer) finish() error {
	e := w.last
	if e == nil {
		return nil
	}
	w.last = nil
	if err := e.fw.Close(); err != nil {
		return err
	}
	if e.err != nil {
		return e.err
	}
	tag := e.mac.Sum(nil)[:macLen]
	if _, err := e.raw.Write(tag); err != nil {
		return err
	}
	comp := uint64(saltLen+pvvLen+macLen) + e.ctLen
	e.fh.CRC32 = 0
	e.fh.CompressedSize64 = comp
	e.fh.UncompressedSize64 = e.plainLen
	// archive/zip writes the data descriptor of a non-zip64 entry from the
	// deprecated 32-bit fields, so they must be set too (formats.md §2.5).
	e.fh.CompressedSize = uint32(min(comp, 0xffffffff)) //lint:ignore SA1019 read by archive/zip's data descriptor

	e.fh.UncompressedSize = uint32(min(e.plainLen, 0xffffffff)) //lint:ignore SA1019 read by archive/zip's data descriptor
	return nil
}

// Close finishes the last entry and writes the central directory.
func (w *Writer) Close() error {
	if err := w.finish(); err != nil {
		return err
	}
	return w.zw.Close()
}

type entryWriter struct {
	fh       *zip.FileHeader
	raw      io.Writer
	fw       *pflate.Writer
	enc      encWriter
	ctr      *leCTR
	mac      hash.Hash
	plainLen uint64
	ctLen    uint64
	err      error
}

// Write compresses p into the entry.
func (e *entryWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.fw.Write(p)
	e.plainLen += uint64(n)
	if err == nil {
		err = e.err
	}
	return n, err
}

// encWriter receives compressed bytes, encrypts and MACs them.
type encWriter struct {
	e   *entryWriter
	buf []byte
}

func (w *encWriter) Write(p []byte) (int, error) {
	e := w.e
	if e.err != nil {
		return 0, e.err
	}
	if cap(w.buf) < len(p) {
		w.buf = make([]byte, len(p))
	}
	ct := w.buf[:len(p)]
	e.ctr.XORKeyStream(ct, p)
	e.mac.Write(ct)
	if _, err := e.raw.Write(ct); err != nil {
		e.err = err
		return 0, err
	}
	e.ctLen += uint64(len(p))
	return len(p), nil
}

// leCTR is WinZip AES's CTR mode: a 16-byte little-endian counter that
// starts at zero and is incremented before each block, so the first
// keystream block is AES(key, 01 00 … 00).
type leCTR struct {
	b       cipher.Block
	ctr, ks [16]byte
	used    int // keystream bytes consumed from ks
}

func newLECTR(b cipher.Block) *leCTR { return &leCTR{b: b, used: 16} }

// XORKeyStream XORs src with the keystream into dst (which may alias src).
func (c *leCTR) XORKeyStream(dst, src []byte) {
	for i := range src {
		if c.used == 16 {
			for j := range c.ctr {
				if c.ctr[j]++; c.ctr[j] != 0 {
					break
				}
			}
			c.b.Encrypt(c.ks[:], c.ctr[:])
			c.used = 0
		}
		dst[i] = src[i] ^ c.ks[c.used]
		c.used++
	}
}
