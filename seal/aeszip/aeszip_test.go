package aeszip

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func need7zz(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("7zz")
	if err != nil {
		t.Fatal("7zz (Debian package 7zip) is required for this test: apt-get install 7zip")
	}
	return p
}

// TestLECTRCounter checks the keystream against AES(key, counter) computed
// independently: block n (from 0) uses the little-endian counter n+1, so
// the second block differs from Go's big-endian cipher.NewCTR.
func TestLECTRCounter(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, _ := aes.NewCipher(key)
	c := newLECTR(b)
	zero := make([]byte, 16*300)
	ks := make([]byte, len(zero))
	// Feed in odd-sized pieces to exercise partial blocks.
	for off, step := 0, 7; off < len(zero); off += step {
		end := min(off+step, len(zero))
		c.XORKeyStream(ks[off:end], zero[off:end])
	}
	for n := 0; n < 300; n++ {
		var ctr, want [16]byte
		v := n + 1
		ctr[0], ctr[1] = byte(v), byte(v>>8)
		b.Encrypt(want[:], ctr[:])
		if !bytes.Equal(ks[16*n:16*n+16], want[:]) {
			t.Fatalf("keystream block %d differs from AES(key, LE counter %d)", n, v)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, pw := range []string{"", "密码密码", strings.Repeat("a", 100), "tab\there"} {
		err := ValidatePassword(pw)
		if err == nil {
			t.Errorf("ValidatePassword(%q) accepted", pw)
			continue
		}
		if pw != "" && strings.Contains(err.Error(), pw) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	if err := ValidatePassword(strings.Repeat("Ab1", 33)); err != nil {
		t.Errorf("99-byte ASCII password refused: %v", err)
	}
	if _, err := NewWriter(&bytes.Buffer{}, "密码"); err == nil {
		t.Error("NewWriter accepted a non-ASCII password")
	}
}

// TestSevenZip writes an archive with an empty file, a 2-byte file, a
// multi-block (>1 MB random + text) file and UTF-8 content and names, and
// has 7-Zip list, extract and reject it.
func TestSevenZip(t *testing.T) {
	sz := need7zz(t)
	dir := t.TempDir()
	big := make([]byte, 3<<20+12345) // several pflate blocks
	rand.Read(big[:len(big)/2])
	copy(big[len(big)/2:], bytes.Repeat([]byte("欧阳娜娜,技术部,13800138000\r\n"), len(big)/60))
	files := []struct {
		name string
		data []byte
	}{
		{"empty.csv", nil},
		{"two.txt", []byte("hi")},
		{"export-big.bin", big},
		{"名单.csv", []byte("姓名,部门\n欧阳娜娜,技术部\nSiti Rahayu,Penjualan\n")},
	}
	pw := "Zq8rT2vLm9XwPa4Kc7NbYe"
	zpath := filepath.Join(dir, "out.zip")
	f, err := os.Create(zpath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range files {
		ew, err := w.Create(fl.name, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		// write in uneven chunks
		for off := 0; off < len(fl.data); off += 65537 {
			if _, err := ew.Write(fl.data[off:min(off+65537, len(fl.data))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, err := exec.Command(sz, "l", "-slt", "-p"+pw, zpath).CombinedOutput()
	if err != nil {
		t.Fatalf("7zz l: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "Method = AES-256 Deflate"); n != len(files) {
		t.Fatalf("7zz l -slt shows %d AES-256 Deflate entries, want %d:\n%s", n, len(files), out)
	}
	xdir := filepath.Join(dir, "x")
	out, err = exec.Command(sz, "x", "-p"+pw, "-o"+xdir, zpath).CombinedOutput()
	if err != nil {
		t.Fatalf("7zz x: %v\n%s", err, out)
	}
	for _, fl := range files {
		got, err := os.ReadFile(filepath.Join(xdir, fl.name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, fl.data) {
			t.Fatalf("%s: extracted %d bytes differ from the %d written", fl.name, len(got), len(fl.data))
		}
	}
	cmd := exec.Command(sz, "x", "-pWrongPassword123", "-o"+filepath.Join(dir, "y"), zpath)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("7zz x with a wrong password: exit %v, want 2 (%v)\n%s", cmd.ProcessState, err, out)
	}
	// A flipped ciphertext byte fails the HMAC check.
	raw, _ := os.ReadFile(zpath)
	i := bytes.Index(raw, []byte("export-big.bin"))
	raw[i+len("export-big.bin")+11+100] ^= 1
	bad := filepath.Join(dir, "bad.zip")
	os.WriteFile(bad, raw, 0o600)
	cmd = exec.Command(sz, "t", "-p"+pw, bad)
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("7zz t of a tampered archive: exit %d, want 2\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

func BenchmarkWrite100MB(b *testing.B) {
	chunk := bytes.Repeat([]byte("欧阳娜娜,技术部,13800138000,nana@example.com\r\n"), 1<<14)
	total := 100 << 20
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		f, _ := os.Create(filepath.Join(b.TempDir(), "b.zip"))
		w, _ := NewWriter(f, "Zq8rT2vLm9XwPa4Kc7NbYe")
		ew, _ := w.Create("export.csv", time.Now())
		for n := 0; n < total; n += len(chunk) {
			ew.Write(chunk)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
