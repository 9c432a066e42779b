package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// doctorConfig writes a config for both fakes. The Discord fake has no
// guild (the guild checks are tested in handlers/discord, the only place
// that may build Discord's types).
func doctorConfig(t *testing.T, d discordtest.Options, tg telegramtest.Options) (path string, secrets []string) {
	t.Helper()
	dfake := discordtest.New(d)
	t.Cleanup(dfake.Close)
	tfake := telegramtest.New(tg)
	t.Cleanup(tfake.Close)
	dir := t.TempDir()
	path = filepath.Join(dir, "config.yaml")
	err := os.WriteFile(path, fmt.Appendf(nil, `storage: {path: %s}
discord: {enabled: true, token: doctor-discord-token, api_url: %s}
telegram: {enabled: true, token: %q, api_url: %s}
`, filepath.Join(dir, "chatwarden.db"), dfake.APIURL(), tfake.Token(), tfake.URL), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path, []string{"doctor-discord-token", tfake.Token()}
}

func TestDoctorAllGood(t *testing.T) {
	cfg, secrets := doctorConfig(t, discordtest.Options{Token: "doctor-discord-token"}, telegramtest.Options{})
	code, out, errs := cli("doctor", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"storage ", "✓ store path writable", "✓ free disk space", "discord\n  ✓ token valid",
		"! in a server: the bot is in no server — Invite it with the URL", "telegram\n  ✓ token valid", "✓ privacy mode off",
		"everything chatwarden needs is in place"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, s := range secrets {
		if strings.Contains(out+errs, s) {
			t.Errorf("a token is printed:\n%s%s", out, errs)
		}
	}
}

// TestDoctorFindsProblems: a missing intent and privacy mode on exit 1
// and are named with their fixes, in text and in JSON.
func TestDoctorFindsProblems(t *testing.T) {
	cfg, _ := doctorConfig(t, discordtest.Options{Token: "doctor-discord-token", AppFlags: discordtest.FlagMessageContent},
		telegramtest.Options{PrivacyMode: true})
	code, out, errs := cli("doctor", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "chatwarden doctor found problems") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"✗ SERVER MEMBERS INTENT on — Turn on SERVER MEMBERS INTENT under Bot > Privileged Gateway Intents",
		"✗ privacy mode off — Send /setprivacy to @BotFather", "2 check(s) need attention"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	code, out, _ = cli("doctor", "--config", cfg, "--json")
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.OK {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	failed := map[string]string{}
	for _, c := range r.Failed() {
		if !c.Advisory {
			failed[c.Name] = c.Fix
		}
	}
	if failed["SERVER MEMBERS INTENT on"] == "" || failed["privacy mode off"] == "" || len(failed) != 2 {
		t.Errorf("failed checks: %v", failed)
	}
	if code, _, _ := cli("doctor"); code != 2 {
		t.Errorf("doctor without --config: exit %d", code)
	}
}
