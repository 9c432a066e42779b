package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/config"
)

// TestReadmeDocumentsEveryConfigKey keeps the README's configuration
// reference and the config struct in step: every key of the struct has a
// row, and every row names a key.
func TestReadmeDocumentsEveryConfigKey(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, ref, ok := strings.Cut(string(data), "### Reference")
	if !ok {
		t.Fatal("README.md has no configuration reference")
	}
	ref, _, _ = strings.Cut(ref, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|")
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
