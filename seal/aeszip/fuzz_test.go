package aeszip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/internal/fuzzseed"
)

// fallbackPW protects the archive when the fuzzed password is refused.
const fallbackPW = "Zq8rT2vLm9XwPa4Kc7NbYe"

type entry struct {
	name string
	data []byte
}

// writeArchive writes entries with pw (fallbackPW when NewWriter refuses
// it, checking that the refusal does not show it), writing each entry's
// data in pieces of chunk bytes (0: at once). It returns the archive, the
// password used and the entries Create accepted; a refused name must be
// refused with an error naming it, and accepted names must be local,
// clean and slash-separated.
func writeArchive(t *testing.T, pw string, chunk int, entries []entry) ([]byte, string, []entry) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, pw)
	if err != nil {
		if len(pw) > 2 && strings.Contains(err.Error(), pw) {
			t.Fatalf("the refusal shows the password: %v", err)
		}
		pw = fallbackPW
		if w, err = NewWriter(&buf, pw); err != nil {
			t.Fatal(err)
		}
	}
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var kept []entry
	for _, e := range entries {
		ew, err := w.Create(e.name, mod)
		if err != nil {
			if !strings.Contains(err.Error(), "entry name") {
				t.Fatalf("Create(%q): %v", e.name, err)
			}
			continue
		}
		if !filepath.IsLocal(e.name) || path.Clean(e.name) != e.name || strings.Contains(e.name, `\`) {
			t.Fatalf("Create accepted the name %q, which does not extract to itself", e.name)
		}
		step := chunk
		if step <= 0 {
			step = len(e.data) + 1
		}
		for off := 0; off < len(e.data); off += step {
			if _, err := ew.Write(e.data[off:min(off+step, len(e.data))]); err != nil {
				t.Fatal(err)
			}
		}
		kept = append(kept, e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), pw, kept
}

// FuzzWriter writes two entries with any names, contents, password and
// write sizes, then reads the archive back with archive/zip and decrypts
// every entry here, independently of the writer: the AE-2 headers, the
// password verification value, the HMAC-SHA1 tag and the little-endian CTR
// keystream must all check out and give back the contents. (7-Zip itself
// reads the seed corpus and random archives in TestSevenZipReadsFuzzSeeds;
// starting 7zz for every fuzz input would be too slow.)
// The seed corpus is testdata/fuzz/FuzzWriter.
func FuzzWriter(f *testing.F) {
	f.Fuzz(func(t *testing.T, name1 string, data1 []byte, name2 string, data2 []byte, pw string, chunk uint8) {
		archive, pw, kept := writeArchive(t, pw, int(chunk), []entry{{name1, data1}, {name2, data2}})
		checkArchive(t, archive, pw, kept)
	})
}

// checkArchive decrypts every entry of archive and compares it with want.
func checkArchive(t *testing.T, archive []byte, pw string, want []entry) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("archive/zip cannot read the archive: %v", err)
	}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
	for i, f := range zr.File {
		e := want[i]
		if f.Name != e.name || f.Method != methodAES || f.Flags&0x1 == 0 || f.Flags&0x800 == 0 || f.CRC32 != 0 ||
			f.UncompressedSize64 != uint64(len(e.data)) {
			t.Fatalf("entry %d: header %+v for %q (%d bytes)", i, f.FileHeader, e.name, len(e.data))
		}
		if !bytes.Contains(f.Extra, []byte{0x01, 0x99, 7, 0, 2, 0, 'A', 'E', 3, 8, 0}) {
			t.Fatalf("%q: no AE-2 AES-256 deflate extra field in % x", e.name, f.Extra)
		}
		rc, err := f.OpenRaw()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) < saltLen+pvvLen+macLen || uint64(len(raw)) != f.CompressedSize64 {
			t.Fatalf("%q: %d raw bytes, header says %d", e.name, len(raw), f.CompressedSize64)
		}
		salt, pvv := raw[:saltLen], raw[saltLen:saltLen+pvvLen]
		ct, tag := raw[saltLen+pvvLen:len(raw)-macLen], raw[len(raw)-macLen:]
		dk, err := pbkdf2.Key(sha1.New, pw, salt, 1000, 66)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pvv, dk[64:]) {
			t.Fatalf("%q: password verification value differs", e.name)
		}
		mac := hmac.New(sha1.New, dk[32:64])
		mac.Write(ct)
		if !bytes.Equal(tag, mac.Sum(nil)[:macLen]) {
			t.Fatalf("%q: HMAC-SHA1 tag differs", e.name)
		}
		block, _ := aes.NewCipher(dk[:32])
		plain := make([]byte, len(ct))
		var ctr, ks [16]byte
		for off := 0; off < len(ct); off += 16 {
			binary.LittleEndian.PutUint64(ctr[:], uint64(off/16+1))
			block.Encrypt(ks[:], ctr[:])
			for j := off; j < min(off+16, len(ct)); j++ {
				plain[j] = ct[j] ^ ks[j-off]
			}
		}
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(plain)))
		if err != nil {
			t.Fatalf("%q: decrypted data does not inflate: %v", e.name, err)
		}
		if !bytes.Equal(got, e.data) {
			t.Fatalf("%q: decrypted %d bytes differ from the %d written", e.name, len(got), len(e.data))
		}
	}
}

// TestSevenZipReadsFuzzSeeds has 7-Zip test and extract the archive of
// every FuzzWriter seed and of random entries (names from a mix of
// scripts, folders and refused characters; contents from empty to
// multi-block), and compares each extracted file with what was written.
func TestSevenZipReadsFuzzSeeds(t *testing.T) {
	sz := need7zz(t)
	type archiveCase struct {
		label   string
		pw      string
		chunk   int
		entries []entry
	}
	var cases []archiveCase
	seeds, err := fuzzseed.Read("FuzzWriter")
	if err != nil || len(seeds) < 5 {
		t.Fatalf("%d FuzzWriter seeds: %v", len(seeds), err)
	}
	for name, a := range seeds {
		chunk, _ := strconv.Atoi(a[5])
		cases = append(cases, archiveCase{name, a[4], chunk, []entry{{a[0], []byte(a[1])}, {a[2], []byte(a[3])}}})
	}
	rng := rand.New(rand.NewSource(15))
	parts := []string{"名单", "export", "Müller", "ÉTÉ", "a b", "..", ".", "", "x:y", `back\slash`, "😀", "部门/子部门", "CON", "long" + strings.Repeat("x", 250)}
	for i := range 5 {
		var entries []entry
		for range 1 + rng.Intn(4) {
			var name []string
			for range 1 + rng.Intn(3) {
				name = append(name, parts[rng.Intn(len(parts))])
			}
			data := make([]byte, rng.Intn(3)*rng.Intn(200000))
			for j := range data {
				data[j] = "欧阳娜娜,技术部\r\n"[rng.Intn(23)] ^ byte(rng.Intn(2)*rng.Intn(256))
			}
			entries = append(entries, entry{strings.Join(name, "/") + ".csv", data})
		}
		cases = append(cases, archiveCase{fmt.Sprintf("random%d", i), fallbackPW, rng.Intn(70000), entries})
	}
	extracted := 0
	for _, c := range cases {
		archive, pw, kept := writeArchive(t, c.pw, c.chunk, c.entries)
		dir := t.TempDir()
		zpath := filepath.Join(dir, "a.zip")
		if err := os.WriteFile(zpath, archive, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sz, "t", "-p"+pw, zpath).CombinedOutput(); err != nil {
			t.Fatalf("%s: 7zz t: %v\n%s", c.label, err, out)
		}
		xdir := filepath.Join(dir, "x")
		if out, err := exec.Command(sz, "x", "-p"+pw, "-o"+xdir, zpath).CombinedOutput(); err != nil {
			t.Fatalf("%s: 7zz x: %v\n%s", c.label, err, out)
		}
		files := 0
		filepath.WalkDir(xdir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files++
			}
			return err
		})
		if files != len(kept) {
			t.Fatalf("%s: 7zz extracted %d files, want %d", c.label, files, len(kept))
		}
		for _, e := range kept {
			got, err := os.ReadFile(filepath.Join(xdir, filepath.FromSlash(e.name)))
			if err != nil {
				t.Fatalf("%s: %v", c.label, err)
			}
			if !bytes.Equal(got, e.data) {
				t.Fatalf("%s: %q extracted as %d bytes, written %d", c.label, e.name, len(got), len(e.data))
			}
			extracted++
		}
	}
	if extracted < 10 {
		t.Fatalf("only %d entries extracted from %d archives: the cases refuse too much", extracted, len(cases))
	}
}
