package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/chatwarden/chatwarden"

// imports lists each package of the module (by path below the module)
// with every package its code and its tests import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "soak", "-f",
		"{{.ImportPath}} {{join .Imports \" \"}} {{join .TestImports \" \"}} {{join .XTestImports \" \"}}", module+"/...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		name := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		if name == "" {
			name = "main"
		}
		var deps []string
		for _, d := range f[1:] {
			if d == module {
				d = "main"
			} else if rest, ok := strings.CutPrefix(d, module+"/"); ok {
				d = rest
			}
			if d != name && !slices.Contains(deps, d) {
				deps = append(deps, d)
			}
		}
		pkgs[name] = deps
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func under(pkg string, roots ...string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

// TestImportRules keeps the dependency rules of DESIGN.md true: the
// platform libraries stay in their handler and its fake, engines import no
// handler, the core imports neither engines nor handlers, and only the
// outer shell (cli, demo, e2e) imports the running bot.
func TestImportRules(t *testing.T) {
	core := []string{"audit", "clock", "coord", "platform", "recorder", "settings", "logentry", "logchannel", "export", "store"}
	engines := []string{"moderation", "verification"}
	shell := []string{"main", "bot", "cli", "demo", "e2e", "config", "command", "handlers", "cluster"}
	platformLibs := map[string][]string{
		"github.com/bwmarrin/discordgo":                      {"handlers/discord"},
		"github.com/go-telegram-bot-api/telegram-bot-api/v5": {"handlers/telegram"},
		// NATS: the client in cluster only, the server in its tests only.
		"github.com/nats-io/nats.go":               {"cluster"},
		"github.com/nats-io/nats.go/jetstream":     {"cluster"},
		"github.com/nats-io/nats-server/v2/server": {"cluster"},
	}
	for pkg, deps := range imports(t) {
		for _, d := range deps {
			for lib, owners := range platformLibs {
				if d == lib && !under(pkg, owners...) {
					t.Errorf("%s imports %s: the library belongs to %s (and its fake or tests)", pkg, lib, owners[0])
				}
			}
			switch {
			case pkg == "audit" && !strings.Contains(strings.SplitN(d, "/", 2)[0], ".") && under(d, append(core, append(engines, shell...)...)...):
				t.Errorf("audit imports %s: the event model imports no other chatwarden package", d)
			case under(pkg, core...) && under(d, append(engines, shell...)...):
				t.Errorf("%s imports %s: the core imports neither the engines nor the outer packages", pkg, d)
			case under(pkg, engines...) && under(d, shell...):
				t.Errorf("%s imports %s: an engine imports no handler, command or wiring", pkg, d)
			case under(pkg, "handlers") && under(d, "cluster"):
				t.Errorf("%s imports %s: a handler reaches the fleet through package coord's interfaces", pkg, d)
			case d == "bot" && !under(pkg, "cli", "demo", "e2e"):
				t.Errorf("%s imports bot: only the CLI, the demo and the system tests run the bot", pkg)
			case d == "cli" && pkg != "main" && pkg != "e2e", d == "demo" && pkg != "cli":
				t.Errorf("%s imports %s", pkg, d)
			case under(pkg, "handlers/discord/discordtest", "handlers/telegram/telegramtest") && strings.HasPrefix(d, "handlers/") || under(pkg, "handlers/discord/discordtest", "handlers/telegram/telegramtest") && under(d, core...):
				t.Errorf("%s imports %s: a fake speaks the platform's protocol and knows nothing of the bot", pkg, d)
			}
		}
		// A handler does not import another handler (its fake and the
		// engines' test harness excepted).
		if h, ok := strings.CutPrefix(pkg, "handlers/"); ok {
			own := strings.SplitN(h, "/", 2)[0]
			for _, d := range deps {
				if o, ok := strings.CutPrefix(d, "handlers/"); ok && strings.SplitN(o, "/", 2)[0] != own && d != "handlers/enginetest" {
					t.Errorf("%s imports %s: handlers do not import each other", pkg, d)
				}
			}
		}
	}
}
