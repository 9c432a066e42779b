package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDefaultsFromEmptyFile(t *testing.T) {
	for _, src := range []string{"", "\n# only a comment\n", "---\n"} {
		cfg, err := Parse([]byte(src), "c.yaml")
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if cfg.Storage.RetentionDays != 90 || cfg.Telegram.PollTimeout.D() != 50*time.Second || cfg.Defaults.Locale != "en" {
			t.Fatalf("%q: defaults not applied: %+v", src, cfg)
		}
	}
}

func TestValuesParsed(t *testing.T) {
	cfg, err := Parse([]byte(`
log_format: console
storage: {path: /data/x.db, retention_days: 0, store_message_content: false}
discord: {enabled: true, token: abc, shard_id: 1, shard_count: 2}
telegram: {poll_timeout: 30s, delete_commands_after: 0s}
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogFormat != "console" || cfg.Storage.Path != "/data/x.db" || cfg.Storage.StoreMessageContent ||
		cfg.Discord.Token.Reveal() != "abc" || cfg.Discord.ShardID != 1 || cfg.Telegram.PollTimeout.D() != 30*time.Second {
		t.Fatalf("parsed %+v", cfg)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // substrings of the error
	}{
		{"unknown key", "log_level: info\nloglevel: debug\n", []string{"c.yaml:2", `unknown key "loglevel"`, "did you mean log_level"}},
		{"nested unknown key", "storage:\n  path: x.db\n  retention_day: 3\n", []string{"c.yaml:3", `"retention_day" in storage`, "retention_days"}},
		{"deep unknown key", "telegram:\n  webhook:\n    secret: x\n", []string{"c.yaml:3", "in telegram.webhook"}},
		{"duplicate key", "storage:\n  path: a\n  path: b\n", []string{"c.yaml:3", "storage.path", "duplicate", "line 2"}},
		{"bad duration", "telegram:\n  poll_timeout: soon\n", []string{"line 2", `"soon" is not a duration`}},
		{"out of range duration", "telegram:\n  poll_timeout: 2m\n", []string{"c.yaml:2", "telegram.poll_timeout", "between 1s and 50s"}},
		{"wrong type", "storage:\n  retention_days: lots\n", []string{"line 2", "lots"}},
		{"bad enum", "log_format: xml\n", []string{"c.yaml:1", "log_format", "json or console"}},
		{"bad level", "log_level: loud\n", []string{"log_level", "trace, debug"}},
		{"negative retention", "storage:\n  retention_days: -3\n", []string{"c.yaml:2", "storage.retention_days", "-3"}},
		{"shard out of range", "discord:\n  shard_id: 2\n  shard_count: 2\n", []string{"c.yaml:2", "discord.shard_id", "0..1"}},
		{"missing discord token", "discord:\n  enabled: true\n", []string{"c.yaml:2", "CHATWARDEN_DISCORD_TOKEN"}},
		{"missing telegram token", "telegram:\n  enabled: true\n", []string{"CHATWARDEN_TELEGRAM_TOKEN"}},
		{"bad url", "discord:\n  api_url: discord.com\n", []string{"discord.api_url", "http(s) URL"}},
		{"webhook without secret", "telegram:\n  webhook:\n    listen: :8443\n    url: https://x.example/tg\n", []string{"secret_token", "required"}},
		{"bad locale", "defaults:\n  locale: de\n", []string{"defaults.locale", "en, fr, hi"}},
		{"short operator token", "api:\n  operator_token: short\n", []string{"api.operator_token", "32"}},
		{"bad public url", "api:\n  public_url: viewer.example\n", []string{"api.public_url", "http(s) URL"}},
		{"bad proxy header", "api:\n  listen: 127.0.0.1:8080\n  trusted_proxy_header: \"X-Forwarded-Proto: https\"\n", []string{"c.yaml:3", "api.trusted_proxy_header", "X-Forwarded-Proto"}},
		{"oauth without secret", "api:\n  public_url: https://v.example\n  discord_oauth:\n    client_id: \"123\"\n", []string{"c.yaml", "api.discord_oauth.client_secret", "required"}},
		{"oauth without public url", "api:\n  discord_oauth:\n    client_id: \"123\"\n    client_secret: s\n", []string{"api.discord_oauth.client_id", "api.public_url"}},
		{"oauth bad redirect", "api:\n  discord_oauth:\n    client_id: \"123\"\n    client_secret: s\n    redirect_url: https://v.example/cb\n", []string{"c.yaml:5", "api.discord_oauth.redirect_url", "/login/discord/callback"}},
		{"oauth bad id", "api:\n  public_url: https://v.example\n  discord_oauth:\n    client_id: abc\n    client_secret: s\n", []string{"api.discord_oauth.client_id", "a number"}},
		{"widget without token", "api:\n  public_url: https://v.example\n  telegram_login:\n    bot_username: cw_bot\n", []string{"c.yaml:4", "api.telegram_login.bot_username", "token"}},
		{"widget bad username", "telegram:\n  token: t\napi:\n  public_url: https://v.example\n  telegram_login:\n    bot_username: \"a b\"\n", []string{"api.telegram_login.bot_username", "username"}},
		{"recheck too rare", "api:\n  permission_recheck: 2h\n", []string{"api.permission_recheck", "from 1s to 1h"}},
		{"section not a mapping", "storage: yes\n", []string{"storage", "mapping"}},
		{"cluster credentials without url", "cluster:\n  credentials: /x.creds\n", []string{"c.yaml:2", "cluster.credentials", "cluster.nats_url"}},
		{"cluster bad url", "cluster:\n  nats_url: http://u:hunter2@h:4222\n", []string{"c.yaml:2", "cluster.nats_url", "nats://", "[redacted]@h:4222"}},
		{"cluster bad stream", "cluster:\n  nats_url: nats://h:4222\n  stream: a.b\n", []string{"c.yaml:3", "cluster.stream"}},
		{"cluster cert without key", "cluster:\n  nats_url: tls://h:4222\n  tls:\n    cert_file: c.pem\n", []string{"cluster.tls.cert_file", "key_file"}},
		{"cluster bad bucket", "cluster:\n  nats_url: nats://h:4222\n  coordination_bucket: a.b\n", []string{"c.yaml:3", "cluster.coordination_bucket", `"a.b"`}},
		{"cluster lease too short", "cluster:\n  nats_url: nats://h:4222\n  lease_ttl: 500ms\n", []string{"c.yaml:3", "cluster.lease_ttl", "between 2s and 5m", "500ms"}},
		{"not yaml", "storage: [unclosed\n", []string{"not valid YAML"}},
		{"top level list", "- a\n- b\n", []string{"top level"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "c.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCluster(t *testing.T) {
	cfg, err := Parse(nil, "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.Enabled() || cfg.Cluster.Stream != "CHATWARDEN" {
		t.Fatalf("default cluster %+v: want disabled, stream CHATWARDEN", cfg.Cluster)
	}
	cfg, err = Parse([]byte("cluster:\n  nats_url: nats://a:4222, nats://b:4222\n  credentials: /etc/cw.creds\n  tls: {ca_file: ca.pem}\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Cluster.Enabled() || cfg.Cluster.Credentials != "/etc/cw.creds" || cfg.Cluster.TLS.CAFile != "ca.pem" || cfg.Cluster.Stream != "CHATWARDEN" {
		t.Fatalf("parsed %+v", cfg.Cluster)
	}
	if cfg.Cluster.CoordinationBucket != "CHATWARDEN_COORD" || cfg.Cluster.LeaseTTL.D() != 15*time.Second {
		t.Fatalf("coordination defaults %q %s: want CHATWARDEN_COORD, 15s", cfg.Cluster.CoordinationBucket, cfg.Cluster.LeaseTTL.D())
	}
	cfg, err = Parse([]byte("cluster:\n  nats_url: nats://a:4222\n  coordination_bucket: fleet-1\n  lease_ttl: 4s\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.CoordinationBucket != "fleet-1" || cfg.Cluster.LeaseTTL.D() != 4*time.Second {
		t.Fatalf("parsed %q %s", cfg.Cluster.CoordinationBucket, cfg.Cluster.LeaseTTL.D())
	}
}

func TestEnvironmentTokens(t *testing.T) {
	t.Setenv("CHATWARDEN_DISCORD_TOKEN", "from-env")
	t.Setenv("CHATWARDEN_STORAGE_PATH", "/data/env.db")
	t.Setenv("CHATWARDEN_API_LISTEN", "0.0.0.0:8080")
	cfg, err := Parse([]byte("discord:\n  enabled: true\n  token: from-file\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Discord.Token.Reveal() != "from-env" || cfg.Storage.Path != "/data/env.db" || cfg.API.Listen != "0.0.0.0:8080" {
		t.Fatalf("env not applied: token %q path %q", cfg.Discord.Token.Reveal(), cfg.Storage.Path)
	}
}

func TestTokensNeverPrinted(t *testing.T) {
	const tok = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.secretsecretsecretsecret"
	cfg, err := Parse([]byte("discord:\n  enabled: true\n  token: "+tok+"\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := yaml.Marshal(cfg)
	for _, s := range []string{fmtAll(cfg), string(out)} {
		if strings.Contains(s, "secretsecret") {
			t.Fatalf("token printed: %s", s)
		}
	}
	// A config error elsewhere in a file with a token does not show it.
	_, err = Parse([]byte("discord:\n  token: "+tok+"\n  shard_id: 9\n"), "c.yaml")
	if err == nil || strings.Contains(err.Error(), "secretsecret") {
		t.Fatalf("error %v", err)
	}
}

func TestUnreadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

// TestExampleDocumentsEveryKey keeps config.example.yaml and Config in
// step: every key of the struct is in the example, and the example loads.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data, "config.example.yaml"); err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var inExample []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.MappingNode {
				walk(v, prefix+k.Value+".")
				continue
			}
			inExample = append(inExample, prefix+k.Value)
		}
	}
	walk(doc.Content[0], "")
	slices.Sort(inExample)
	keys := Keys()
	slices.Sort(keys)
	if !slices.Equal(inExample, keys) {
		t.Fatalf("config.example.yaml keys\n%v\ndiffer from Config's\n%v", inExample, keys)
	}
	// Each key has a comment above it or its section.
	if n := len(regexp.MustCompile(`(?m)^\s*#`).FindAllString(string(data), -1)); n < len(keys)/2 {
		t.Fatalf("only %d comment lines for %d keys", n, len(keys))
	}
}

func fmtAll(cfg *Config) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		b.WriteString(fmt.Sprintf(verb, cfg))
	}
	return b.String()
}
