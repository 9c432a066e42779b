package bot

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

func TestServeDrainsOnCancel(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Path = filepath.Join(t.TempDir(), "run.db")
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, &cfg, NewLogger(&cfg, &logs)) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), `"message":"chatwarden running"`) {
		t.Fatalf("logs: %s", logs.String())
	}
	// The database is closed: it opens again at once.
	s, err := store.Open(cfg.Storage.Path, store.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestEngineDefaultsFromConfig: the config's moderation and verification
// sections become the engines' defaults (the built-in ones when the file
// sets nothing), and a value the engines refuse names its key and line.
func TestEngineDefaultsFromConfig(t *testing.T) {
	cfg, err := config.Parse(nil, "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mod, ver, err := EngineDefaults(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mod, moderation.BuiltinDefaults()) {
		t.Errorf("moderation defaults\n%+v\nwant\n%+v", mod, moderation.BuiltinDefaults())
	}
	if !reflect.DeepEqual(ver, verification.BuiltinDefaults()) {
		t.Errorf("verification defaults\n%+v\nwant\n%+v", ver, verification.BuiltinDefaults())
	}
	cfg, err = config.Parse([]byte("moderation:\n  link_filter:\n    denylist: [evil.example]\n  impersonation:\n    action: ban\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if mod, _, err = EngineDefaults(cfg); err != nil || mod.Impersonation.Action != "ban" || mod.LinkFilter.Denylist[0] != "evil.example" {
		t.Fatalf("parsed %+v, %v", mod, err)
	}
	for src, want := range map[string]string{
		"moderation:\n  link_filter:\n    mode: blocklist\n": "c.yaml:3: moderation.link_filter.mode",
		"moderation:\n  raid_guard:\n    joins: 0\n":         "c.yaml:3: moderation.raid_guard.joins",
		"verification:\n  kind: captcha\n":                   "c.yaml:2: verification.kind",
		"verification:\n  timeout: 1s\n":                     "c.yaml:2: verification.timeout",
		"moderation:\n  impersonation:\n    action: shout\n": "c.yaml:3: moderation.impersonation.action",
	} {
		cfg, err := config.Parse([]byte(src), "c.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := EngineDefaults(cfg); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want it to start with %q", src, err, want)
		}
	}
}
