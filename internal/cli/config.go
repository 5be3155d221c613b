package cli

// Credentials and profiles.
//
// dingbook reads the DingTalk app's credentials from the environment
// (DINGTALK_APP_KEY, DINGTALK_APP_SECRET, DINGTALK_API_BASE; for login and
// work notices also DINGTALK_API_V1_BASE, DINGTALK_LOGIN_BASE,
// DINGTALK_CORP_ID and DINGTALK_AGENT_ID) or from a named
// profile in a YAML config file ($DINGBOOK_HOME/config.yaml, or --config
// FILE), for providers serving several organisations:
//
//	default_profile: acme
//	profiles:
//	  acme:
//	    app_key: dingxxxxxxxx
//	    app_secret_env: ACME_DINGTALK_SECRET   # or app_secret_file: /run/secrets/acme
//	    api_base: https://oapi.dingtalk.com    # optional
//	    qps: 20                                # optional
//
// The secret itself is best kept out of the file (app_secret_env or
// app_secret_file); an inline app_secret is accepted but discouraged. The
// secret is never printed or logged.

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
	"gopkg.in/yaml.v3"
)

// Profile is one named set of credentials in the config file.
type Profile struct {
	AppKey        string `yaml:"app_key"`
	AppSecret     string `yaml:"app_secret,omitempty"`
	AppSecretEnv  string `yaml:"app_secret_env,omitempty"`
	AppSecretFile string `yaml:"app_secret_file,omitempty"`
	APIBase       string `yaml:"api_base,omitempty"`
	QPS           int    `yaml:"qps,omitempty"`
}

// ConfigFile is the YAML config file.
type ConfigFile struct {
	DefaultProfile string             `yaml:"default_profile,omitempty"`
	Profiles       map[string]Profile `yaml:"profiles"`
}

// Credentials are resolved app credentials. String never shows the secret.
type Credentials struct {
	AppKey    string
	AppSecret string
	BaseURL   string
	QPS       int
	// Profile is the profile used ("" for the environment).
	Profile string
}

// String describes the credentials without the secret.
func (c *Credentials) String() string {
	src := "environment"
	if c.Profile != "" {
		src = "profile " + c.Profile
	}
	return fmt.Sprintf("app %s at %s (%s)", c.AppKey, c.BaseURL, src)
}

// credFlags are the flags every command talking to DingTalk takes.
type credFlags struct {
	config  string
	profile string
	qps     int
	verbose bool
}

func (f *credFlags) register(env *Env, fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "config file with profiles (default $DINGBOOK_HOME/config.yaml)")
	fs.StringVar(&f.profile, "config-profile", "", "profile of the config file to use")
	deprecate(env, fs, "profile", "config-profile")
	fs.IntVar(&f.qps, "qps", 0, "calls per second per DingTalk API (default 20, or the profile's qps)")
	fs.BoolVar(&f.verbose, "v", false, "log retries, throttling and token refreshes to stderr (never secrets)")
}

// LoadCredentials resolves the credentials: an explicit profile (--config-profile)
// first; otherwise DINGTALK_APP_KEY/DINGTALK_APP_SECRET; otherwise the
// config file's default_profile. An API base that is not an http(s) URL
// is refused here, before any call.
func LoadCredentials(env *Env, configPath, profile string) (*Credentials, error) {
	c, err := loadCredentials(env, configPath, profile)
	if err != nil {
		return nil, err
	}
	if err := dingtalk.CheckBaseURL(c.BaseURL); err != nil {
		return nil, err
	}
	return c, nil
}

func loadCredentials(env *Env, configPath, profile string) (*Credentials, error) {
	base := env.Getenv("DINGTALK_API_BASE")
	if base == "" {
		base = dingtalk.DefaultBaseURL
	}
	explicitConfig := configPath != ""
	if configPath == "" {
		if home, err := store.Home(env.Getenv); err == nil {
			configPath = filepath.Join(home, "config.yaml")
		}
	} else {
		configPath = env.Path(configPath)
	}
	if profile == "" && env.Getenv("DINGTALK_APP_KEY") != "" {
		c := &Credentials{AppKey: env.Getenv("DINGTALK_APP_KEY"), AppSecret: env.Getenv("DINGTALK_APP_SECRET"), BaseURL: base}
		if c.AppSecret == "" {
			return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: "DINGTALK_APP_KEY is set but DINGTALK_APP_SECRET is not",
				Hint: "export DINGTALK_APP_SECRET with the app's Client Secret (open-dev.dingtalk.com → the app → 凭证与基础信息 / Credentials)"}
		}
		return c, nil
	}
	cf, err := readConfig(configPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicitConfig {
			if profile != "" {
				return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--config-profile %s: there is no config file %s", profile, configPath),
					Hint: "create it with a 'profiles:' map, or pass --config FILE"}
			}
			return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: "no DingTalk app credentials",
				Hint: "export DINGTALK_APP_KEY and DINGTALK_APP_SECRET (the app's Client ID and Client Secret), or add a profile to " + configPath}
		}
		return nil, err
	}
	name := profile
	if name == "" {
		name = cf.DefaultProfile
	}
	if name == "" {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s has no default_profile and no --config-profile was given", configPath),
			Hint: "pass --config-profile NAME (one of: " + strings.Join(profileNames(cf), ", ") + ")"}
	}
	p, ok := cf.Profiles[name]
	if !ok {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s: no profile %q", configPath, name),
			Hint: "the profiles are: " + strings.Join(profileNames(cf), ", ")}
	}
	c := &Credentials{AppKey: p.AppKey, BaseURL: base, QPS: p.QPS, Profile: name}
	if p.APIBase != "" {
		c.BaseURL = p.APIBase
	}
	switch {
	case p.AppSecretEnv != "":
		c.AppSecret = env.Getenv(p.AppSecretEnv)
		if c.AppSecret == "" {
			return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: fmt.Sprintf("%s: profile %s takes its secret from $%s, which is empty", configPath, name, p.AppSecretEnv),
				Hint: "export " + p.AppSecretEnv + " with the app's Client Secret"}
		}
	case p.AppSecretFile != "":
		path := p.AppSecretFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(configPath), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: fmt.Sprintf("%s: profile %s: cannot read app_secret_file %s", configPath, name, path),
				Hint: "check the path and that it is readable (mode 0600)", Err: errors.Unwrap(err)}
		}
		c.AppSecret = strings.TrimSpace(string(b))
	default:
		c.AppSecret = p.AppSecret
	}
	if c.AppKey == "" || c.AppSecret == "" {
		return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: fmt.Sprintf("%s: profile %s lacks app_key or a secret", configPath, name),
			Hint: "set app_key and one of app_secret_env / app_secret_file"}
	}
	return c, nil
}

func readConfig(path string) (*ConfigFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "config file " + path + " does not exist",
				Hint: "check --config, or drop it to use DINGTALK_APP_KEY/DINGTALK_APP_SECRET", Err: os.ErrNotExist}
		}
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot read config file " + path, Hint: "check its permissions", Err: errors.Unwrap(err)}
	}
	var cf ConfigFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "config file " + path + " is not valid YAML", Hint: "fix the syntax: " + err.Error()}
	}
	return &cf, nil
}

func profileNames(cf *ConfigFile) []string {
	var names []string
	for n := range cf.Profiles {
		names = append(names, n)
	}
	if len(names) == 0 {
		return []string{"(none)"}
	}
	sort.Strings(names)
	return names
}

// newClient builds the DingTalk client for a command.
func newClient(env *Env, f *credFlags) (*dingtalk.Client, *Credentials, error) {
	if err := checkQPS(f.qps); err != nil {
		return nil, nil, err
	}
	cred, err := LoadCredentials(env, f.config, f.profile)
	if err != nil {
		return nil, nil, err
	}
	qps := cred.QPS
	if f.qps > 0 {
		qps = f.qps
	}
	cfg := dingtalk.Config{BaseURL: cred.BaseURL, AppKey: cred.AppKey, AppSecret: cred.AppSecret, QPS: qps}
	if err := loginConfig(env, &cfg); err != nil {
		return nil, nil, err
	}
	if f.verbose {
		var mu sync.Mutex
		cfg.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(env.Stderr, "dingbook: "+format+"\n", args...)
		}
	}
	return dingtalk.New(cfg), cred, nil
}

// loginConfig reads what DingTalk login and work notices need from the
// environment: DINGTALK_API_V1_BASE (default https://api.dingtalk.com),
// DINGTALK_LOGIN_BASE (default https://login.dingtalk.com),
// DINGTALK_CORP_ID and DINGTALK_AGENT_ID.
func loginConfig(env *Env, cfg *dingtalk.Config) error {
	cfg.APIV1Base = env.Getenv("DINGTALK_API_V1_BASE")
	cfg.LoginBase = env.Getenv("DINGTALK_LOGIN_BASE")
	cfg.CorpID = strings.TrimSpace(env.Getenv("DINGTALK_CORP_ID"))
	if v := strings.TrimSpace(env.Getenv("DINGTALK_AGENT_ID")); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("DINGTALK_AGENT_ID %q is not an agentId", v),
				Hint: "set it to the app's AgentId, a number (open-dev.dingtalk.com → the app → 凭证与基础信息 / Credentials)"}
		}
		cfg.AgentID = id
	}
	return nil
}
