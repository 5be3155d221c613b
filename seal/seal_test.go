package seal

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func writeEntries(t *testing.T, dir string) ([]Entry, map[string][]byte) {
	t.Helper()
	data := map[string][]byte{
		"export-1.csv":  []byte("\ufeff姓名,部门\r\n欧阳娜娜,技术部\r\n"),
		"export-1.vcf":  bytes.Repeat([]byte("BEGIN:VCARD\r\nFN:Siti\r\nEND:VCARD\r\n"), 5000),
		"manifest.json": []byte(`{"schema":1}`),
		"empty.txt":     nil,
	}
	var es []Entry
	for _, n := range []string{"export-1.csv", "export-1.vcf", "manifest.json", "empty.txt"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, data[n], 0o600); err != nil {
			t.Fatal(err)
		}
		es = append(es, Entry{Name: n, Path: p})
	}
	return es, data
}

func TestGeneratePassphrase(t *testing.T) {
	a, err := GeneratePassphrase()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GeneratePassphrase()
	if a == b || len(a) < 22 {
		t.Fatalf("weak passphrases %q %q", a, b)
	}
	if err := ValidatePassphrase(a, "generated"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"short", "密码密码密码密码密码密码", strings.Repeat("x", 100)} {
		err := ValidatePassphrase(bad, "--passphrase-file p.txt")
		if err == nil || strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "p.txt") {
			t.Errorf("ValidatePassphrase(%q) = %v", bad, err)
		}
	}
}

func untar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = b
	}
	return got
}

func sameFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d files, want %d", len(got), len(want))
	}
	for n, w := range want {
		if !bytes.Equal(got[n], w) {
			t.Fatalf("%s differs after decryption", n)
		}
	}
}

// TestAgeCLIRecipient decrypts a recipient bundle with the real age CLI
// and an identity file made by age-keygen.
func TestAgeCLIRecipient(t *testing.T) {
	for _, p := range []string{"age", "age-keygen", "tar"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is required (Debian package age)", p)
		}
	}
	dir := t.TempDir()
	es, want := writeEntries(t, dir)
	key := filepath.Join(dir, "key.txt")
	if out, err := exec.Command("age-keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v %s", err, out)
	}
	pub, err := exec.Command("age-keygen", "-y", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "b.tar.age")
	f, _ := os.Create(bundle)
	if err := Write(f, Options{Kind: KindAge, Recipients: []string{strings.TrimSpace(string(pub))}}, es); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("age", "-d", "-i", key, bundle).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	sameFiles(t, untar(t, bytes.NewReader(out)), want)
	// Another identity must not open it.
	other := filepath.Join(dir, "other.txt")
	exec.Command("age-keygen", "-o", other).Run()
	if err := exec.Command("age", "-d", "-i", other, bundle).Run(); err == nil {
		t.Fatal("age -d with a foreign identity succeeded")
	}
	if _, err := ParseRecipients([]string{"AGE-SECRET-KEY-1XYZ"}); err == nil {
		t.Fatal("an identity was accepted as a recipient")
	}
}

// TestAgePassphrase decrypts a scrypt bundle with filippo.io/age.
func TestAgePassphrase(t *testing.T) {
	dir := t.TempDir()
	es, want := writeEntries(t, dir)
	var buf bytes.Buffer
	if err := Write(&buf, Options{Kind: KindAge, Passphrase: "correct-horse-battery", ScryptWorkFactor: 10}, es); err != nil {
		t.Fatal(err)
	}
	id, _ := age.NewScryptIdentity("correct-horse-battery")
	r, err := age.Decrypt(bytes.NewReader(buf.Bytes()), id)
	if err != nil {
		t.Fatal(err)
	}
	sameFiles(t, untar(t, r), want)
	bad, _ := age.NewScryptIdentity("wrong-horse-battery")
	if _, err := age.Decrypt(bytes.NewReader(buf.Bytes()), bad); err == nil {
		t.Fatal("wrong passphrase decrypted")
	}
}

// TestZipAndNone opens an AES bundle and a plain bundle with 7-Zip.
func TestZipAndNone(t *testing.T) {
	sz, err := exec.LookPath("7zz")
	if err != nil {
		t.Fatal("7zz is required (Debian package 7zip)")
	}
	dir := t.TempDir()
	es, want := writeEntries(t, dir)
	for _, kind := range []string{KindZip, KindNone} {
		bundle := filepath.Join(dir, kind+".zip")
		f, _ := os.Create(bundle)
		if err := Write(f, Options{Kind: kind, Passphrase: "Zq8rT2vLm9XwPa4Kc7NbYe"}, es); err != nil {
			t.Fatal(err)
		}
		f.Close()
		x := filepath.Join(dir, "x-"+kind)
		args := []string{"x", "-o" + x, bundle}
		if kind == KindZip {
			args = append(args, "-pZq8rT2vLm9XwPa4Kc7NbYe")
		}
		if out, err := exec.Command(sz, args...).CombinedOutput(); err != nil {
			t.Fatalf("7zz x %s: %v\n%s", kind, err, out)
		}
		got := map[string][]byte{}
		for n := range want {
			got[n], _ = os.ReadFile(filepath.Join(x, n))
		}
		sameFiles(t, got, want)
		l, _ := exec.Command(sz, "l", "-slt", "-pZq8rT2vLm9XwPa4Kc7NbYe", bundle).Output()
		if enc := strings.Contains(string(l), "AES-256"); enc != (kind == KindZip) {
			t.Fatalf("%s bundle: AES-256 listed = %v", kind, enc)
		}
	}
	if err := Write(io.Discard, Options{Kind: "rot13"}, es); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

// TestAgeCLIPassphrase decrypts a scrypt (passphrase) bundle with the real
// age CLI, typing the passphrase through a pty (testdata/age_pty.py).
func TestAgeCLIPassphrase(t *testing.T) {
	if _, err := exec.LookPath("age"); err != nil {
		t.Fatal("age is required (Debian package age)")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("Debian's /usr/bin/python3 is required to drive age through a pty")
	}
	dir := t.TempDir()
	es, want := writeEntries(t, dir)
	pw, _ := GeneratePassphrase()
	bundle := filepath.Join(dir, "b.tar.age")
	f, _ := os.Create(bundle)
	if err := Write(f, Options{Kind: KindAge, Passphrase: pw, ScryptWorkFactor: 10}, es); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "b.tar")
	if o, err := exec.Command("/usr/bin/python3", "testdata/age_pty.py", pw, bundle, out).CombinedOutput(); err != nil {
		t.Fatalf("age -d with the passphrase: %v\n%s", err, o)
	}
	tf, _ := os.Open(out)
	defer tf.Close()
	sameFiles(t, untar(t, tf), want)
	if err := exec.Command("/usr/bin/python3", "testdata/age_pty.py", "not-"+pw, bundle, filepath.Join(dir, "c.tar")).Run(); err == nil {
		t.Fatal("age -d accepted a wrong passphrase")
	}
}

// sshKey makes an SSH key pair of kind "ed25519" or "rsa": the private key
// in OpenSSH format (0600, as ssh-keygen writes it) and the public key
// line of its .pub file, with a comment.
func sshKey(t *testing.T, dir, kind string) (keyPath, pubLine string) {
	t.Helper()
	var priv crypto.Signer
	switch kind {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyPath = filepath.Join(dir, "id_"+kind)
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return keyPath, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " hr-admin@example"
}

// TestAgeCLISSHRecipients: a bundle sealed to SSH public keys (ed25519
// and RSA, .pub lines with their comments) is opened by the real age CLI
// with either private key, and not with another key.
func TestAgeCLISSHRecipients(t *testing.T) {
	if _, err := exec.LookPath("age"); err != nil {
		t.Fatal("age is required (Debian package age)")
	}
	dir := t.TempDir()
	es, want := writeEntries(t, dir)
	edKey, edPub := sshKey(t, dir, "ed25519")
	rsaKey, rsaPub := sshKey(t, dir, "rsa")
	bundle := filepath.Join(dir, "b.tar.age")
	f, _ := os.Create(bundle)
	if err := Write(f, Options{Kind: KindAge, Recipients: []string{edPub, rsaPub}}, es); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, key := range []string{edKey, rsaKey} {
		out, err := exec.Command("age", "-d", "-i", key, bundle).CombinedOutput()
		if err != nil {
			t.Fatalf("age -d -i %s: %v\n%s", filepath.Base(key), err, out)
		}
		sameFiles(t, untar(t, bytes.NewReader(out)), want)
	}
	otherDir := t.TempDir()
	other, _ := sshKey(t, otherDir, "ed25519")
	if err := exec.Command("age", "-d", "-i", other, bundle).Run(); err == nil {
		t.Fatal("age -d with another SSH key succeeded")
	}
	for _, bad := range []string{"ssh-ed25519 AAAAnotbase64", "ssh-dss AAAAB3NzaC1kc3MAAACBAP"} {
		if _, err := ParseRecipients([]string{bad}); err == nil {
			t.Errorf("%q accepted as a recipient", bad)
		}
	}
}
