package govern

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/seal"
	"golang.org/x/term"
)

// PassphraseEnv is the environment variable that may hold the passphrase.
const PassphraseEnv = "DINGBOOK_PASSPHRASE"

// Flags are the governance flags shared by export, convert and import.
// AddFlags defines them on a command's FlagSet; Apply copies them into a
// Request.
type Flags struct {
	Purpose, Basis, Justify string
	Keep                    string
	Encrypt                 string
	AgeRecipients           listFlag
	PassphraseFile          string
	AskPassphrase           bool
	IncludeHiddenMobiles    bool
	Policy                  string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// AddFlags defines --purpose, --basis, --justify, --keep, --encrypt,
// --age-recipient, --passphrase-file, --ask-passphrase,
// --include-hidden-mobiles and --policy on fs. bundle is false for
// commands that write no bundle (import): only --purpose, --basis,
// --justify and --policy are defined then.
func AddFlags(fs *flag.FlagSet, bundle bool) *Flags {
	f := &Flags{}
	fs.StringVar(&f.Purpose, "purpose", "", "why the data is needed (required; recorded in the audit log)")
	fs.StringVar(&f.Basis, "basis", "", "legal basis: "+strings.Join(policy.Bases, "|")+" (default: the policy's)")
	fs.StringVar(&f.Justify, "justify", "", "justification for personal or sensitive fields (recorded in the audit log)")
	fs.StringVar(&f.Policy, "policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml, else safe defaults)")
	if !bundle {
		return f
	}
	fs.StringVar(&f.Keep, "keep", "", "how long the bundle may be kept, e.g. 30d, 72h, 2w (at least 1h; default and maximum: the policy's)")
	fs.StringVar(&f.Encrypt, "encrypt", "", "bundle encryption: zip (AES-256, opens in 7-Zip; the default), age (the default with --age-recipient), or none (only if the policy allows)")
	fs.Var(&f.AgeRecipients, "age-recipient", "age public key (age1…) or SSH public key (ssh-ed25519 …, ssh-rsa …) to encrypt to; repeatable; implies --encrypt age")
	fs.StringVar(&f.PassphraseFile, "passphrase-file", "", "read the bundle passphrase from this file (else $"+PassphraseEnv+", else one is generated and shown once)")
	fs.BoolVar(&f.AskPassphrase, "ask-passphrase", false, "prompt for the bundle passphrase (stdin must be a terminal)")
	fs.BoolVar(&f.IncludeHiddenMobiles, "include-hidden-mobiles", false, "include mobiles people hid in DingTalk (needs policy allow_hidden_mobiles and --justify)")
	return f
}

// Apply copies the flags into req. It parses --keep and, for bundle
// commands, resolves the passphrase (prompting through prompt when
// --ask-passphrase is given and stdinIsTTY; prompt nil means the terminal
// on os.Stdin). When it fails, the command should still record the
// refusal: govern.Refuse(ctx, db, pol, req, err).
func (f *Flags) Apply(req *Request, getenv func(string) string, stdinIsTTY bool, prompt func() (string, error)) error {
	req.Purpose, req.Basis, req.Justification = f.Purpose, f.Basis, f.Justify
	req.IncludeHiddenMobiles = f.IncludeHiddenMobiles
	req.Encrypt = strings.ToLower(strings.TrimSpace(f.Encrypt))
	req.AgeRecipients = f.AgeRecipients
	if len(f.AgeRecipients) > 0 {
		switch req.Encrypt {
		case "":
			req.Encrypt = "age"
		case "zip":
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "--encrypt zip and --age-recipient conflict: a zip is sealed with a passphrase, an age file for recipients",
				Hint: "drop --encrypt zip to encrypt to the recipients with age, or drop --age-recipient for a passphrase zip"}
		}
	}
	if f.Keep != "" {
		d, err := policy.ParseKeep(f.Keep)
		if err != nil {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: "--keep: " + err.Error(), Hint: "give a period such as --keep 30d"}
		}
		req.Keep = d
	}
	if req.Encrypt == "none" || len(req.AgeRecipients) > 0 {
		return nil
	}
	pass, src, err := ResolvePassphrase(PassphraseInput{File: f.PassphraseFile, Ask: f.AskPassphrase, StdinIsTTY: stdinIsTTY, Getenv: getenv, Prompt: prompt})
	if err != nil {
		return err
	}
	req.Passphrase, req.PassphraseSource = pass, src
	return nil
}

// PassphraseInput says where a passphrase may come from.
type PassphraseInput struct {
	File       string
	Ask        bool
	StdinIsTTY bool
	Getenv     func(string) string
	// Prompt reads a passphrase without echo; nil uses the terminal.
	Prompt func() (string, error)
}

// ResolvePassphrase returns the passphrase and its source's name: the
// prompt (--ask-passphrase, only on a terminal), --passphrase-file, or
// DINGBOOK_PASSPHRASE; "" when none is given (Run then generates one).
// The passphrase is validated (printable ASCII, 12–99 characters).
func ResolvePassphrase(in PassphraseInput) (string, string, error) {
	var pass, src string
	switch {
	case in.Ask:
		if !in.StdinIsTTY {
			return "", "", &dingbook.Error{Code: dingbook.EINVALID, Message: "--ask-passphrase needs a terminal on stdin",
				Hint: "use --passphrase-file FILE or $" + PassphraseEnv + " in scripts, or omit them to get a generated passphrase"}
		}
		prompt := in.Prompt
		if prompt == nil {
			prompt = TerminalPrompt(os.Stderr)
		}
		p, err := prompt()
		if err != nil {
			return "", "", &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read the passphrase from the terminal", Hint: "use --passphrase-file FILE instead", Err: err}
		}
		pass, src = p, "the prompt"
	case in.File != "":
		b, err := os.ReadFile(in.File)
		if err != nil {
			return "", "", &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read --passphrase-file " + in.File, Hint: "check the path; the file holds the passphrase on its first line", Err: errors.Unwrap(err)}
		}
		line, _, _ := strings.Cut(string(b), "\n")
		pass, src = strings.TrimRight(line, "\r"), "--passphrase-file "+in.File
	case in.Getenv != nil && in.Getenv(PassphraseEnv) != "":
		pass, src = in.Getenv(PassphraseEnv), "$"+PassphraseEnv
	default:
		return "", "", nil
	}
	return pass, src, validatePass(pass, src)
}

func validatePass(pass, src string) error {
	if pass == "" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "the passphrase from " + src + " is empty", Hint: "give a passphrase of 12 to 99 printable ASCII characters, or none to get a generated one"}
	}
	return sealValidate(pass, src)
}

// TerminalPrompt reads a passphrase twice from the terminal on stdin
// without echo, writing the prompts to w.
func TerminalPrompt(w io.Writer) func() (string, error) {
	return func() (string, error) {
		fd := int(os.Stdin.Fd())
		fmt.Fprint(w, "Bundle passphrase: ")
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return "", err
		}
		fmt.Fprint(w, "Repeat passphrase: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passphrases differ")
		}
		return string(a), nil
	}
}

var sealValidate = seal.ValidatePassphrase
