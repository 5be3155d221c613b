// Package seal packs an export's files into one protected bundle:
//
//   - "zip" (the default): a WinZip AE-2 AES-256 zip (package seal/aeszip)
//     that 7-Zip, WinZip, WinRAR and Keka open with the passphrase;
//   - "age": a tar of the files encrypted with filippo.io/age, to X25519
//     (age1…) recipients, or to a passphrase (scrypt); the bundle is
//     named .tar.age and decrypts with the age CLI (age -d -i key.txt, or
//     age -d with the passphrase typed at the terminal), then tar -x;
//   - "none": a plain deflate zip, only where the policy allows it.
//
// Bundles are streamed entry by entry; nothing is held whole in memory.
// Passphrases are never part of an error message.
package seal

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/pflate"
	"github.com/dingbook/dingbook/seal/aeszip"
)

// Kinds of bundle.
const (
	KindZip  = "zip"
	KindAge  = "age"
	KindNone = "none"
)

// Ext returns the bundle file extension for kind.
func Ext(kind string) string {
	if kind == KindAge {
		return ".tar.age"
	}
	return ".zip"
}

// ValidKind reports whether kind is zip, age or none.
func ValidKind(kind string) bool {
	return kind == KindZip || kind == KindAge || kind == KindNone
}

// Entry is one file of a bundle: Name inside the bundle, Path on disk
// (inside a private directory).
type Entry struct {
	Name string
	Path string
}

// Options says how to seal.
type Options struct {
	Kind string
	// Passphrase protects zip bundles and age bundles without recipients.
	Passphrase string
	// Recipients are age public keys (age1…); when set, an age
	// bundle is encrypted to them instead of a passphrase.
	Recipients []string
	// Modified is the time stamped on every entry (zero: now).
	Modified time.Time
	// ScryptWorkFactor is log2 of the scrypt cost for passphrase age
	// bundles; 0 keeps age's default (18). Tests lower it.
	ScryptWorkFactor int
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// PassphraseLen is the length of generated passphrases: 24 base62
// characters, about 143 bits.
const PassphraseLen = 24

// GeneratePassphrase returns a random printable-ASCII (base62) passphrase
// of PassphraseLen characters.
func GeneratePassphrase() (string, error) {
	var sb strings.Builder
	max := big.NewInt(int64(len(base62)))
	for range PassphraseLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		sb.WriteByte(base62[n.Int64()])
	}
	return sb.String(), nil
}

// ValidatePassphrase checks a user-supplied passphrase: printable ASCII, at
// most 99 bytes (7-Zip's limits), at least 12 characters. The error names
// the source (e.g. "--passphrase-file key.txt") but never the passphrase.
func ValidatePassphrase(pw, source string) error {
	if err := aeszip.ValidatePassword(pw); err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "passphrase from " + source + ": " + err.Error(),
			Hint: "use 12 to 99 printable ASCII characters, or give none and let dingbook generate one", Field: "passphrase"}
	}
	if len(pw) < 12 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("passphrase from %s is only %d characters long", source, len(pw)),
			Hint: "use at least 12 characters (zip encryption uses only 1000 PBKDF2 rounds), or let dingbook generate one", Field: "passphrase"}
	}
	if strings.Count(pw, pw[:1]) == len(pw) { // all spaces included: ValidatePassword let only printable ASCII through
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "passphrase from " + source + " is one character repeated (or only spaces)",
			Hint: "use a passphrase with different characters, or give none and let dingbook generate one", Field: "passphrase"}
	}
	return nil
}

// ParseRecipients parses age recipients: age public keys (age1…,
// age1pq1…) and SSH public keys (ssh-ed25519 and ssh-rsa, as in
// ~/.ssh/id_ed25519.pub or authorized_keys; a comment after the key is
// ignored), which age decrypts with the matching private key (age -d -i
// ~/.ssh/id_ed25519).
func ParseRecipients(recips []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for i, s := range recips {
		s = strings.TrimSpace(s)
		var r age.Recipient
		var err error
		if strings.HasPrefix(s, "ssh-") {
			r, err = agessh.ParseRecipient(s)
		} else {
			var rs []age.Recipient
			rs, err = age.ParseRecipients(strings.NewReader(s))
			if err == nil && len(rs) != 1 {
				err = fmt.Errorf("expected one recipient, found %d", len(rs))
			}
			if err == nil {
				r = rs[0]
			}
		}
		if err != nil {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("age recipient %d (%.12s…) is not valid", i+1, s),
				Hint: "give an age public key (age1…, from age-keygen -y) or an SSH public key (ssh-ed25519 … or ssh-rsa …, the line of a .pub file)", Err: err}
		}
		out = append(out, r)
	}
	return out, nil
}

// Write seals entries into out according to opts.
func Write(out io.Writer, opts Options, entries []Entry) error {
	mod := opts.Modified
	if mod.IsZero() {
		mod = time.Now()
	}
	switch opts.Kind {
	case KindZip:
		zw, err := aeszip.NewWriter(out, opts.Passphrase)
		if err != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot seal the zip bundle: " + err.Error(), Hint: "use a printable ASCII passphrase of at most 99 characters"}
		}
		for _, e := range entries {
			w, err := zw.Create(e.Name, mod)
			if err != nil {
				return err
			}
			if err := copyFile(w, e.Path); err != nil {
				return err
			}
		}
		return zw.Close()
	case KindNone:
		zw := zip.NewWriter(out)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return pflate.NewWriter(w, flate.DefaultCompression) })
		for _, e := range entries {
			fh := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: mod}
			fh.SetMode(0o600)
			w, err := zw.CreateHeader(fh)
			if err != nil {
				return err
			}
			if err := copyFile(w, e.Path); err != nil {
				return err
			}
		}
		return zw.Close()
	case KindAge:
		var recips []age.Recipient
		if len(opts.Recipients) > 0 {
			var err error
			if recips, err = ParseRecipients(opts.Recipients); err != nil {
				return err
			}
		} else {
			r, err := age.NewScryptRecipient(opts.Passphrase)
			if err != nil {
				return &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot seal the age bundle: the passphrase is empty", Hint: "give a passphrase or age recipients", Field: "passphrase"}
			}
			if opts.ScryptWorkFactor > 0 {
				r.SetWorkFactor(opts.ScryptWorkFactor)
			}
			recips = []age.Recipient{r}
		}
		aw, err := age.Encrypt(out, recips...)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(aw)
		for _, e := range entries {
			st, err := os.Stat(e.Path)
			if err != nil {
				return err
			}
			hdr := &tar.Header{Name: e.Name, Mode: 0o600, Size: st.Size(), ModTime: mod, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if err := copyFile(tw, e.Path); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return aw.Close()
	}
	return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("unknown encryption %q", opts.Kind), Hint: "choose the encryption zip, age or none", Field: "encrypt"}
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
