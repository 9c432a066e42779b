package e2e

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/verification"
)

// TestReadmeDocumentsEveryConfigKey keeps the README's configuration
// reference and the config struct in step: every key of the struct has a
// row, and every row names a key.
func TestReadmeDocumentsEveryConfigKey(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, ref, ok := strings.Cut(string(data), "### Reference")
	if !ok {
		t.Fatal("README.md has no configuration reference")
	}
	ref, _, _ = strings.Cut(ref, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| (?:`|—)")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(ref, -1) {
		documented = append(documented, m[1])
	}
	keys := config.Keys()
	for _, k := range keys {
		if !slices.Contains(documented, k) {
			t.Errorf("config key %s has no row in README.md", k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(keys, k) {
			t.Errorf("README.md documents %s, which is not a config key", k)
		}
	}
}

// TestReadmeRowsComeFromTheDefinitions: an engine setting's row in the
// README's reference shows its one definition's default and help text, so
// that the table cannot drift from the code.
func TestReadmeRowsComeFromTheDefinitions(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range moderation.Settings {
		if d.Scope == settings.CommunityOnly {
			want = append(want, fmt.Sprintf("| `%s` | %s |", d.Name, d.Help))
		} else {
			want = append(want, fmt.Sprintf("| `moderation.%s` | `%s` | %s |", d.Name, d.Default, d.Help))
		}
	}
	for _, d := range verification.Settings {
		if d.Scope == settings.CommunityOnly {
			want = append(want, fmt.Sprintf("| `%s` | %s |", d.Name, d.Help))
		} else {
			want = append(want, fmt.Sprintf("| `%s` | `%s` | %s |", d.Name, d.Default, d.Help))
		}
	}
	for _, row := range want {
		if !strings.Contains(string(data), "\n"+row+"\n") {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}

// TestCIRunsTheQuickStart keeps CI honest about the README: each command
// of the quick start is run by .ci/run exactly as written.
func TestCIRunsTheQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	_, quick, ok := strings.Cut(string(readme), "## Quick start")
	if !ok {
		t.Fatal("README.md has no quick start")
	}
	_, block, _ := strings.Cut(quick, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var commands []string
	for _, line := range strings.Split(block, "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		if cmd = strings.TrimSpace(cmd); cmd != "" {
			commands = append(commands, cmd)
		}
	}
	if len(commands) != 2 {
		t.Fatalf("the quick start has %d commands, want 2 (the demo and the tests): %q", len(commands), commands)
	}
	ciLines := strings.Split(string(ci), "\n")
	for _, cmd := range commands {
		if !slices.ContainsFunc(ciLines, func(l string) bool { return strings.TrimSpace(l) == cmd }) {
			t.Errorf(".ci/run does not run the quick start's %q as written", cmd)
		}
	}
}
