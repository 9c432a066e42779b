// Package config loads chatwarden's YAML configuration strictly: an unknown
// or misspelt key, a duplicate key or a value of the wrong type is an error
// naming the file, line and key; values are validated with messages that
// say what is wrong and what is allowed. Tokens may come from the
// environment and never appear in errors or logs. The moderation and
// verification sections are read through the engines' own definitions of
// their settings (moderation.Settings, verification.Settings), so that a
// setting is defined once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/verification"
	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. Zero fields take the defaults of
// Default(); every key is documented in config.example.yaml.
type Config struct {
	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"`

	Storage  Storage  `yaml:"storage"`
	Discord  Discord  `yaml:"discord"`
	Telegram Telegram `yaml:"telegram"`
	Defaults Defaults `yaml:"defaults"`
	API      API      `yaml:"api"`
	Cluster  Cluster  `yaml:"cluster"`

	// The engines' sections: the operator's defaults, parsed through each
	// setting's one definition (moderation.Settings, verification.Settings).
	Moderation   moderation.Defaults   `yaml:"-"`
	Verification verification.Defaults `yaml:"-"`

	file  string         // the file the config came from, for ErrorAt
	lines map[string]int // each key's line
}

// ErrorAt returns a configuration error for a dotted key
// ("moderation.link_filter.mode"), at the key's line when the file set it.
func (c *Config) ErrorAt(key, msg string) error {
	return &Error{File: c.file, Line: c.lines[key], Key: key, Msg: msg}
}

// Storage configures the bbolt database.
type Storage struct {
	Path                string `yaml:"path"`
	RetentionDays       int    `yaml:"retention_days"`
	StoreMessageContent bool   `yaml:"store_message_content"`
}

// Discord configures the Discord connection.
type Discord struct {
	Enabled    bool   `yaml:"enabled"`
	Token      Secret `yaml:"token"`
	APIURL     string `yaml:"api_url"`
	ShardID    int    `yaml:"shard_id"`
	ShardCount int    `yaml:"shard_count"`
	DevGuildID string `yaml:"dev_guild_id"`
	// MessageContent asks for the privileged MESSAGE_CONTENT intent when
	// the application has it; false never does (messages are then
	// recorded without their text).
	MessageContent bool `yaml:"message_content"`
}

// Telegram configures the Telegram connection.
type Telegram struct {
	Enabled             bool     `yaml:"enabled"`
	Token               Secret   `yaml:"token"`
	APIURL              string   `yaml:"api_url"`
	PollTimeout         Duration `yaml:"poll_timeout"`
	Webhook             Webhook  `yaml:"webhook"`
	DeleteCommandsAfter Duration `yaml:"delete_commands_after"`
}

// Webhook configures Telegram's optional webhook mode.
type Webhook struct {
	Listen      string `yaml:"listen"`
	URL         string `yaml:"url"`
	SecretToken Secret `yaml:"secret_token"`
}

// Defaults are the per-property settings used until a property's admins
// change them.
type Defaults struct {
	Locale string `yaml:"locale"`
}

// API configures the HTTP query API.
type API struct {
	Listen        string `yaml:"listen"`
	OperatorToken Secret `yaml:"operator_token"`
	// PublicURL is where moderators reach the viewer (behind a proxy,
	// the proxy's address); the chat commands' login links point there.
	PublicURL string `yaml:"public_url"`
	// TrustedProxyHeader names the header a TLS-terminating proxy in
	// front sets to the client's scheme (X-Forwarded-Proto, or Forwarded
	// with proto=); when it says https the viewer's cookie is Secure.
	// Its presence also makes the API read the client's address from
	// X-Forwarded-For (or Forwarded's for=).
	TrustedProxyHeader string `yaml:"trusted_proxy_header"`
	// PermissionRecheck is how often a viewer session's moderator is
	// checked again on their platform (View Audit Log, admin status).
	PermissionRecheck Duration `yaml:"permission_recheck"`
	// DiscordOAuth adds "Log in with Discord" to the viewer.
	DiscordOAuth DiscordOAuth `yaml:"discord_oauth"`
	// TelegramLogin adds Telegram's Login Widget to the viewer.
	TelegramLogin TelegramLogin `yaml:"telegram_login"`
}

// DiscordOAuth is a Discord application's OAuth2 credentials for the
// viewer's "Log in with Discord".
type DiscordOAuth struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL is registered with the application; by default
	// api.public_url + /login/discord/callback.
	RedirectURL string `yaml:"redirect_url"`
}

// DiscordRedirectPath is where Discord sends the browser back.
const DiscordRedirectPath = "/login/discord/callback"

// TelegramLogin turns on Telegram's Login Widget for the bot named.
type TelegramLogin struct {
	BotUsername string `yaml:"bot_username"`
}

// Cluster configures publishing to a NATS JetStream fleet. Without
// NATSURL nothing of NATS runs.
type Cluster struct {
	NATSURL     string     `yaml:"nats_url"`
	Credentials string     `yaml:"credentials"`
	Stream      string     `yaml:"stream"`
	TLS         ClusterTLS `yaml:"tls"`
	// CoordinationBucket is the JetStream key-value bucket that holds the
	// Telegram poller's lease and update offset, Discord's identify
	// buckets and shard claims.
	CoordinationBucket string `yaml:"coordination_bucket"`
	// LeaseTTL is how long a process that stopped renewing keeps the
	// Telegram poller's lease or its Discord shard claims: another process
	// takes over after it. A new Telegram poller also waits this long
	// before adopting a batch the last one left in the lease.
	LeaseTTL Duration `yaml:"lease_ttl"`
}

// Enabled reports whether the process publishes to a fleet.
func (c Cluster) Enabled() bool { return c.NATSURL != "" }

// ClusterTLS are the TLS files for the NATS connection: a CA to trust and,
// for mutual TLS, a client certificate and key.
type ClusterTLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Locales the log formats exist in.
var Locales = []string{"en", "fr", "hi"}

// Default returns the configuration used for missing keys.
func Default() Config {
	return Config{
		LogLevel:  "info",
		LogFormat: "json",
		Storage:   Storage{Path: "chatwarden.db", RetentionDays: 90, StoreMessageContent: true},
		Discord:   Discord{APIURL: "https://discord.com/api/v9", ShardCount: 1, MessageContent: true},
		Telegram: Telegram{APIURL: "https://api.telegram.org", PollTimeout: Duration(50 * time.Second),
			DeleteCommandsAfter: Duration(time.Minute)},
		Defaults:     Defaults{Locale: "en"},
		API:          API{PermissionRecheck: Duration(5 * time.Minute)},
		Cluster:      Cluster{Stream: "CHATWARDEN", CoordinationBucket: "CHATWARDEN_COORD", LeaseTTL: Duration(15 * time.Second)},
		Moderation:   moderation.BuiltinDefaults(),
		Verification: verification.BuiltinDefaults(),
	}
}

// Secret is a token: it prints as [redacted] in every format.
type Secret string

func (Secret) String() string                  { return "[redacted]" }
func (Secret) GoString() string                { return "[redacted]" }
func (Secret) MarshalJSON() ([]byte, error)    { return []byte(`"[redacted]"`), nil }
func (Secret) MarshalYAML() (any, error)       { return "[redacted]", nil }
func (Secret) MarshalText() ([]byte, error)    { return []byte("[redacted]"), nil }
func (s Secret) Reveal() string                { return string(s) }
func (s Secret) Format(f fmt.State, verb rune) { f.Write([]byte("[redacted]")) }

// Duration is a Go duration written like "90s" or "1m".
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a duration (write it like 90s, 5m or 1h30m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Error is a configuration error at a place in a file.
type Error struct {
	File string
	Line int    // 0 when not tied to a line
	Key  string // dotted path, e.g. storage.retention_days
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// File is the file the config was read from ("" when parsed from bytes
// without a name).
func (c *Config) File() string { return c.file }

// Load reads and parses the file at path, then applies the environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse parses YAML named name (for messages), applies the environment
// (CHATWARDEN_DISCORD_TOKEN, CHATWARDEN_TELEGRAM_TOKEN,
// CHATWARDEN_API_OPERATOR_TOKEN, CHATWARDEN_STORAGE_PATH,
// CHATWARDEN_API_LISTEN) and validates.
func Parse(data []byte, name string) (*Config, error) {
	cfg := Default()
	lines := map[string]int{}
	if len(bytes.TrimSpace(data)) > 0 {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, &Error{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		if len(doc.Content) > 0 {
			root := doc.Content[0]
			if root.Kind != yaml.MappingNode {
				if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
					goto env
				}
				return nil, &Error{File: name, Line: root.Line, Msg: "the top level must be a mapping of keys to values"}
			}
			if err := cfg.engineSections(name, root, lines); err != nil {
				return nil, err
			}
			if err := checkKeys(name, root, reflect.TypeOf(cfg), "", lines); err != nil {
				return nil, err
			}
			if err := root.Decode(&cfg); err != nil {
				return nil, &Error{File: name, Msg: typeError(err)}
			}
		}
	}
env:
	for env, dst := range map[string]*Secret{
		"CHATWARDEN_DISCORD_TOKEN":                   &cfg.Discord.Token,
		"CHATWARDEN_TELEGRAM_TOKEN":                  &cfg.Telegram.Token,
		"CHATWARDEN_API_OPERATOR_TOKEN":              &cfg.API.OperatorToken,
		"CHATWARDEN_API_DISCORD_OAUTH_CLIENT_SECRET": &cfg.API.DiscordOAuth.ClientSecret,
	} {
		if v := os.Getenv(env); v != "" {
			*dst = Secret(v)
		}
	}
	if v := os.Getenv("CHATWARDEN_STORAGE_PATH"); v != "" {
		cfg.Storage.Path = v
	}
	if v := os.Getenv("CHATWARDEN_API_LISTEN"); v != "" {
		cfg.API.Listen = v
	}
	if err := cfg.validate(name, lines); err != nil {
		return nil, err
	}
	cfg.file, cfg.lines = name, lines
	return &cfg, nil
}

// typeError turns yaml's type errors into one readable line each.
func typeError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

// checkKeys walks a mapping against the struct type t, rejecting unknown
// and duplicate keys, and notes each key's line.
func checkKeys(file string, m *yaml.Node, t reflect.Type, prefix string, lines map[string]int) error {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			fields[tag] = f.Type
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		path := prefix + k.Value
		if line, dup := seen[k.Value]; dup {
			return &Error{File: file, Line: k.Line, Key: path, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)}
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if prefix != "" {
				msg += " in " + strings.TrimSuffix(prefix, ".")
			}
			if s := suggest(k.Value, slices.Collect(maps.Keys(fields))); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			return &Error{File: file, Line: k.Line, Msg: msg}
		}
		lines[path] = v.Line
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration(0)) {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.MappingNode {
				return &Error{File: file, Line: v.Line, Key: path, Msg: "must be a mapping of keys to values"}
			}
			if err := checkKeys(file, v, ft, path+".", lines); err != nil {
				return err
			}
		}
	}
	return nil
}

// suggest returns the known key closest to key, if it is close.
func suggest(key string, names []string) string {
	best, bestD := "", 3
	names = slices.Sorted(slices.Values(names))
	for _, name := range names {
		if d := distance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func (c *Config) validate(file string, lines map[string]int) error {
	fail := func(key, format string, args ...any) error {
		return &Error{File: file, Line: lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if !slices.Contains([]string{"trace", "debug", "info", "warn", "error"}, c.LogLevel) {
		return fail("log_level", "must be one of trace, debug, info, warn, error; got %q", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return fail("log_format", "must be json or console; got %q", c.LogFormat)
	}
	if strings.TrimSpace(c.Storage.Path) == "" {
		return fail("storage.path", "must not be empty")
	}
	if c.Storage.RetentionDays < 0 {
		return fail("storage.retention_days", "must be ≥ 0 (0 keeps records forever); got %d", c.Storage.RetentionDays)
	}
	if err := checkURL(c.Discord.APIURL); err != nil {
		return fail("discord.api_url", "%v", err)
	}
	if c.Discord.ShardCount < 1 {
		return fail("discord.shard_count", "must be ≥ 1; got %d", c.Discord.ShardCount)
	}
	if c.Discord.ShardID < 0 || c.Discord.ShardID >= c.Discord.ShardCount {
		return fail("discord.shard_id", "must be within 0..%d (shard_count - 1); got %d", c.Discord.ShardCount-1, c.Discord.ShardID)
	}
	if c.Discord.Enabled && c.Discord.Token == "" {
		return fail("discord.enabled", "is true but there is no token: set discord.token or CHATWARDEN_DISCORD_TOKEN")
	}
	if err := checkURL(c.Telegram.APIURL); err != nil {
		return fail("telegram.api_url", "%v", err)
	}
	if p := c.Telegram.PollTimeout.D(); p < time.Second || p > 50*time.Second {
		return fail("telegram.poll_timeout", "must be between 1s and 50s; got %s", p)
	}
	if c.Telegram.DeleteCommandsAfter < 0 {
		return fail("telegram.delete_commands_after", "must be ≥ 0 (0 keeps command exchanges); got %s", c.Telegram.DeleteCommandsAfter.D())
	}
	if c.Telegram.Enabled && c.Telegram.Token == "" {
		return fail("telegram.enabled", "is true but there is no token: set telegram.token or CHATWARDEN_TELEGRAM_TOKEN")
	}
	if w := c.Telegram.Webhook; w.Listen != "" {
		if _, _, err := net.SplitHostPort(w.Listen); err != nil {
			return fail("telegram.webhook.listen", "must be host:port; got %q", w.Listen)
		}
		if err := checkURL(w.URL); err != nil {
			return fail("telegram.webhook.url", "%v", err)
		}
		if !validSecretToken(string(w.SecretToken)) {
			return fail("telegram.webhook.secret_token", "is required with webhook.listen: 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
		}
	}
	if !slices.Contains(Locales, c.Defaults.Locale) {
		return fail("defaults.locale", "must be one of %s; got %q", strings.Join(Locales, ", "), c.Defaults.Locale)
	}
	if c.API.Listen != "" {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			return fail("api.listen", "must be host:port, e.g. 127.0.0.1:8080; got %q", c.API.Listen)
		}
	}
	if u := c.API.PublicURL; u != "" {
		if err := checkURL(u); err != nil {
			return fail("api.public_url", "%v", err)
		}
	}
	if h := c.API.TrustedProxyHeader; h != "" && !headerName(h) {
		return fail("api.trusted_proxy_header", "must be a header name such as X-Forwarded-Proto or Forwarded; got %q", h)
	}
	if err := c.API.validateLogins(c, fail); err != nil {
		return err
	}
	if d := c.API.PermissionRecheck.D(); d < time.Second || d > time.Hour {
		return fail("api.permission_recheck", "must be from 1s to 1h; got %s", d)
	}
	if t := c.API.OperatorToken; t != "" && len(t) < 32 {
		return fail("api.operator_token", "must be at least 32 characters (or CHATWARDEN_API_OPERATOR_TOKEN)")
	}
	return c.Cluster.validate(fail)
}

func (c Cluster) validate(fail func(key, format string, args ...any) error) error {
	if c.NATSURL == "" {
		for key, v := range map[string]string{"cluster.credentials": c.Credentials, "cluster.tls.ca_file": c.TLS.CAFile,
			"cluster.tls.cert_file": c.TLS.CertFile, "cluster.tls.key_file": c.TLS.KeyFile} {
			if v != "" {
				return fail(key, "is set but cluster.nats_url is not: set the NATS server URL, or remove the cluster section")
			}
		}
		return nil
	}
	for _, u := range strings.Split(c.NATSURL, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, p.Scheme) || p.Host == "" {
			return fail("cluster.nats_url", "must be nats://HOST:PORT (or tls://, ws://, wss://), several separated by commas; got %q", redactURL(u))
		}
	}
	if c.Stream == "" || strings.ContainsAny(c.Stream, " \t.*>/\\") {
		return fail("cluster.stream", "must be a JetStream stream name: no spaces, '.', '*', '>', '/' or '\\'; got %q", c.Stream)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fail("cluster.tls.cert_file", "cert_file and key_file go together (mutual TLS needs both)")
	}
	if b := c.CoordinationBucket; b == "" || strings.IndexFunc(b, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return fail("cluster.coordination_bucket", "must be a JetStream key-value bucket name: letters, digits, '_' and '-' only; got %q", b)
	}
	if d := c.LeaseTTL.D(); d < 2*time.Second || d > 5*time.Minute {
		return fail("cluster.lease_ttl", "must be between 2s and 5m; got %s", d)
	}
	return nil
}

// redactURL hides a password that a NATS URL may carry (nats://user:pass@host).
func redactURL(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "[redacted]" + s[i:]
		}
		return "[redacted]" + s[i:]
	}
	return s
}

// validateLogins checks the viewer's optional logins and fills in the
// Discord redirect URL from api.public_url.
func (a *API) validateLogins(c *Config, fail func(key, format string, args ...any) error) error {
	d := &a.DiscordOAuth
	if d.ClientID != "" { // without it, the other keys are unused
		if _, err := strconv.ParseUint(d.ClientID, 10, 64); err != nil {
			return fail("api.discord_oauth.client_id", "must be the application's id (a number); got %q", d.ClientID)
		}
		if d.ClientSecret == "" {
			return fail("api.discord_oauth.client_secret", "is required with client_id (or CHATWARDEN_API_DISCORD_OAUTH_CLIENT_SECRET)")
		}
		if d.RedirectURL == "" {
			if a.PublicURL == "" {
				return fail("api.discord_oauth.client_id", "needs api.public_url or api.discord_oauth.redirect_url (where Discord sends the browser back)")
			}
			d.RedirectURL = strings.TrimRight(a.PublicURL, "/") + DiscordRedirectPath
		}
		if err := checkURL(d.RedirectURL); err != nil {
			return fail("api.discord_oauth.redirect_url", "%v", err)
		}
		if !strings.HasSuffix(d.RedirectURL, DiscordRedirectPath) {
			return fail("api.discord_oauth.redirect_url", "must end in %s (the viewer's callback); got %q", DiscordRedirectPath, d.RedirectURL)
		}
	}
	if u := a.TelegramLogin.BotUsername; u != "" {
		if !validBotUsername(strings.TrimPrefix(u, "@")) {
			return fail("api.telegram_login.bot_username", "must be the bot's username (5-32 letters, digits or _); got %q", u)
		}
		if c.Telegram.Token == "" {
			return fail("api.telegram_login.bot_username", "needs the bot's token (telegram.token or CHATWARDEN_TELEGRAM_TOKEN) to check the widget's logins")
		}
		if a.PublicURL == "" {
			return fail("api.telegram_login.bot_username", "needs api.public_url (where the widget sends the browser back)")
		}
	}
	return nil
}

func validBotUsername(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL; got %q", s)
	}
	return nil
}

func validSecretToken(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Keys lists every key path of Config (for docs and drift tests).
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+tag+".")
				continue
			}
			out = append(out, prefix+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	for _, sec := range engineSections {
		for _, name := range sec.names() {
			out = append(out, sec.path+name)
		}
	}
	return out
}

// headerName reports whether s is an HTTP header name of letters, digits
// and dashes (every header a proxy sets the scheme in is one).
func headerName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
