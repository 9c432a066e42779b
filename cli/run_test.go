package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// TestWarnExposed: a config or database readable by group or others
// gives a start-up warning naming the file and its mode; 0600 gives none.
func TestWarnExposed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := t.TempDir()
	cfg, db := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "chatwarden.db")
	for _, f := range []string{cfg, db} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	warnExposed(zerolog.New(&buf), cfg, db)
	if buf.Len() != 0 {
		t.Errorf("warnings for 0600 files: %s", buf.String())
	}
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db, 0o640); err != nil {
		t.Fatal(err)
	}
	warnExposed(zerolog.New(&buf), cfg, db)
	out := buf.String()
	if strings.Count(out, `"level":"warn"`) != 2 || !strings.Contains(out, `"file":"`+cfg+`","mode":"-rw-r--r--"`) ||
		!strings.Contains(out, `"file":"`+db+`","mode":"-rw-r-----"`) || !strings.Contains(out, "the config file is readable by other users") {
		t.Errorf("warnings:\n%s", out)
	}
}

// TestDoctorReportsExposedConfig: doctor names a world-readable config
// as an advisory problem with its fix, and still exits 0.
func TestDoctorReportsExposedConfig(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	cfg, _ := doctorConfig(t, discordtest.Options{Token: "doctor-discord-token"}, telegramtest.Options{})
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli("doctor", "--config", cfg)
	if code != 0 || !strings.Contains(out, "! config file private: "+cfg+" is -rw-r--r--") || !strings.Contains(out, "chmod 600 "+cfg) {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}
