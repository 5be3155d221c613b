package gsheets

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
)

// CredentialsEnv names the credentials file: a service-account key or a
// user OAuth token file ("authorized_user").
const CredentialsEnv = "GOOGLE_APPLICATION_CREDENTIALS"

// DefaultTokenURL is Google's token endpoint, used when a file has no
// token_uri.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// Scopes are what push asks for: drive.file covers Sheets and Drive calls
// on the files dingbook created; spreadsheets lets it update a sheet
// created by dingbook through another identity.
var Scopes = []string{"https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive.file"}

// Credentials is a parsed credentials file. Secrets stay in unexported
// fields: printing a Credentials shows none.
type Credentials struct {
	Type        string // "service_account" or "authorized_user"
	ClientEmail string // service account
	TokenURL    string
	Path        string // the file, for messages

	key          *rsa.PrivateKey
	keyID        string
	clientID     string
	clientSecret string
	refreshToken string
}

// LoadCredentials reads a service-account key file or a user OAuth token
// file. Errors name the file and the field, never a value.
func LoadCredentials(path string) (*Credentials, error) {
	bad := func(what string) error {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("Google credentials file %s: %s", path, what),
			Hint: "set " + CredentialsEnv + " to a service-account key (JSON, from the Cloud console) or a user OAuth token file (type authorized_user)"}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read the Google credentials file " + path, Hint: "check " + CredentialsEnv, Err: errors.Unwrap(err)}
	}
	var f struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
		TokenURI     string `json:"token_uri"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(b, &f) != nil {
		return nil, bad("not JSON")
	}
	c := &Credentials{Type: f.Type, ClientEmail: f.ClientEmail, TokenURL: f.TokenURI, Path: path, keyID: f.PrivateKeyID,
		clientID: f.ClientID, clientSecret: f.ClientSecret, refreshToken: f.RefreshToken}
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	switch f.Type {
	case "service_account":
		if f.ClientEmail == "" {
			return nil, bad("client_email is missing")
		}
		blk, _ := pem.Decode([]byte(f.PrivateKey))
		if blk == nil {
			return nil, bad("private_key is not a PEM key")
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			if k, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
				return nil, bad("private_key is not an RSA key")
			}
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, bad("private_key is not an RSA key")
		}
		c.key = rk
	case "authorized_user":
		if f.ClientID == "" || f.ClientSecret == "" || f.RefreshToken == "" {
			return nil, bad("client_id, client_secret or refresh_token is missing")
		}
	default:
		return nil, bad(fmt.Sprintf("type %q is neither service_account nor authorized_user", f.Type))
	}
	return c, nil
}

// TokenSource returns access tokens, fetching a new one shortly before the
// last expires.
type TokenSource struct {
	c       *Credentials
	subject string
	hc      *http.Client
	now     func() time.Time

	mu  sync.Mutex
	tok string
	exp time.Time
}

// TokenSource returns a token source for these credentials. subject, for
// a service account, is the Workspace user to impersonate (domain-wide
// delegation); it must be empty for a user token file.
func (c *Credentials) TokenSource(hc *http.Client, subject string, now func() time.Time) (*TokenSource, error) {
	if subject != "" && c.Type != "service_account" {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "--impersonate needs a service-account key, but " + c.Path + " is a user token file",
			Hint: "drop --impersonate (the token file acts as its own user), or point " + CredentialsEnv + " at a service-account key"}
	}
	if now == nil {
		now = time.Now
	}
	return &TokenSource{c: c, subject: subject, hc: hc, now: now}, nil
}

// Identity is the e-mail address the calls are made as ("" for a user
// token file, whose address dingbook does not know).
func (ts *TokenSource) Identity() string {
	if ts.subject != "" {
		return ts.subject
	}
	return ts.c.ClientEmail
}

// Token returns a valid access token.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != "" && ts.now().Add(10*time.Second).Before(ts.exp) {
		return ts.tok, nil
	}
	form := url.Values{}
	if ts.c.Type == "service_account" {
		a, err := ts.assertion()
		if err != nil {
			return "", err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", a)
	} else {
		form.Set("client_id", ts.c.clientID)
		form.Set("client_secret", ts.c.clientSecret)
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", ts.c.refreshToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &dingbook.Error{Code: dingbook.EINVALID, Message: "token_uri of " + ts.c.Path + " is not a URL", Hint: "fix token_uri or remove it", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.hc.Do(req)
	if err != nil {
		return "", &dingbook.Error{Code: dingbook.EINTERNAL, Message: "cannot reach Google's token endpoint " + ts.c.TokenURL, Hint: "check the network; then run push again", Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.Unmarshal(body, &t)
	if resp.StatusCode != 200 || t.AccessToken == "" {
		return "", tokenError(ts, resp.StatusCode, t.Error, t.Description)
	}
	ts.tok = t.AccessToken
	ts.exp = ts.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	if t.ExpiresIn <= 0 {
		ts.exp = ts.now().Add(time.Hour)
	}
	return ts.tok, nil
}

func tokenError(ts *TokenSource, status int, code, desc string) error {
	msg := fmt.Sprintf("Google refused a token for %s (%s): HTTP %d %s", ts.c.Path, ts.c.Type, status, code)
	if desc != "" {
		msg += ": " + desc
	}
	hint := "check the credentials file; a revoked key or token must be replaced"
	switch {
	case code == "unauthorized_client":
		hint = "grant domain-wide delegation to the service account's client_id with the scopes " + strings.Join(Scopes, ",") + " in the Admin console (it can take up to 24 hours), or drop --impersonate"
	case strings.Contains(desc, "iat and exp"):
		hint = "the machine's clock is off: set it right (NTP) and run push again"
	case code == "invalid_grant" && ts.c.Type == "authorized_user":
		hint = "the refresh token expired or was revoked: sign in again to make a new token file (an Internal consent screen avoids the 7-day expiry)"
	case strings.Contains(desc, "Signature"):
		hint = "the key was deleted or replaced: create a new key for the service account"
	}
	return &dingbook.Error{Code: dingbook.EAUTH, Message: msg, Hint: hint}
}

// assertion signs the JWT of the bearer grant (RFC 7523) with RS256.
func (ts *TokenSource) assertion() (string, error) {
	iat := ts.now().Add(-10 * time.Second).Unix() // as x/oauth2 does, for clock skew
	hdr := map[string]string{"alg": "RS256", "typ": "JWT"}
	if ts.c.keyID != "" {
		hdr["kid"] = ts.c.keyID
	}
	claims := map[string]any{"iss": ts.c.ClientEmail, "scope": strings.Join(Scopes, " "), "aud": ts.c.TokenURL, "iat": iat, "exp": iat + 3600}
	if ts.subject != "" {
		claims["sub"] = ts.subject
	}
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot sign with the private_key of " + ts.c.Path, Hint: "create a new key for the service account", Err: err}
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
