package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds hostile YAML to Parse. Properties: no panic; a file
// that does not load fails with a *Error naming the file, a line inside
// the file when it names one, and its key when it names one; a file that
// loads re-validates, parses the same way twice, and survives a round
// trip: the config written back as YAML loads to the same config.
func FuzzParse(f *testing.F) {
	for _, env := range []string{"CHATWARDEN_DISCORD_TOKEN", "CHATWARDEN_TELEGRAM_TOKEN",
		"CHATWARDEN_API_OPERATOR_TOKEN", "CHATWARDEN_STORAGE_PATH", "CHATWARDEN_API_LISTEN"} {
		f.Setenv(env, "")
	}
	for _, s := range []string{
		"",
		"log_level: debug\nstorage:\n  path: x.db\n  retention_days: 30\n",
		"storage:\n  retention_days: -1\n",
		"storage:\n  retention_day: 3\n",
		"storage: 5\n",
		"storage:\n  path: a\nstorage:\n  path: b\n",
		"discord:\n  enabled: true\n  shard_count: 2\n  shard_id: 2\n",
		"discord:\n  api_url: \"javascript:alert(1)\"\n",
		"telegram:\n  poll_timeout: 1h\n  webhook:\n    listen: \":8443\"\n    url: https://x.example/hook\n    secret_token: \"a b\"\n",
		"moderation:\n  link_filter:\n    denylist: [a.example, \"b\\nc\"]\n    escalate_window: nope\n",
		"defaults:\n  locale: xx\n",
		"api:\n  listen: 127.0.0.1:8080\n  operator_token: short\n",
		"- a\n- b\n",
		"a: &x [*x]\n",
		"log_level: \"info\\u202e\"\n",
		"verification:\n  timeout: 5m\n  max_attempts: 99999999999999999999\n",
		"\xff\xfe: 1\n",
	} {
		f.Add([]byte(s))
	}
	if data, err := readExample(); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return // a config file is small; keep each run cheap
		}
		defer watchdog(10*time.Second, data)()
		const name = "fuzz.yaml"
		cfg, err := Parse(data, name)
		if err != nil {
			checkError(t, data, name, err)
			return
		}
		if err := cfg.validate(name, cfg.lines); err != nil {
			t.Fatalf("a loaded config does not re-validate: %v", err)
		}
		again, err := Parse(data, name)
		if err != nil {
			t.Fatalf("the same file failed the second time: %v", err)
		}
		first, second := dump(t, cfg), dump(t, again)
		if !bytes.Equal(first, second) {
			t.Fatalf("the same file parsed two ways:\n%s\n%s", first, second)
		}
		// Round trip. Secrets write back as [redacted]: they are replaced
		// by a placeholder that passes every secret's validation.
		written := dump(t, cfg)
		written = bytes.ReplaceAll(written, []byte(": '[redacted]'"), []byte(": "+strings.Repeat("R", 40)))
		back, err := Parse(written, name)
		if err != nil {
			t.Fatalf("the config written back does not load: %v\n%s", err, written)
		}
		if rewritten := dump(t, back); !bytes.Equal(first, rewritten) {
			t.Fatalf("round trip changed the config:\n%s\n%s", first, rewritten)
		}
	})
}

// checkError asserts the shape of a configuration error.
func checkError(t *testing.T, data []byte, name string, err error) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *config.Error: %v", err, err)
	}
	msg := err.Error()
	if ce.File != name || !strings.HasPrefix(msg, name+":") {
		t.Fatalf("error does not name the file: %q", msg)
	}
	if ce.Msg == "" {
		t.Fatalf("error without a message: %q", msg)
	}
	if lines := yamlLines(data); ce.Line < 0 || ce.Line > lines {
		t.Fatalf("error names line %d of a %d-line file: %q", ce.Line, lines, msg)
	}
	if ce.Key != "" && !strings.Contains(msg, ce.Key+": ") {
		t.Fatalf("error does not name its key %q: %q", ce.Key, msg)
	}
	if ce.Key != "" && !isKey(ce.Key) {
		t.Fatalf("error names %q, which is not a key of the config", ce.Key)
	}
}

// yamlLines counts the lines of data as YAML (and so the error lines)
// does: in the file's encoding (UTF-16 after its byte-order mark, as the
// YAML reader decodes it, else UTF-8), "\r\n", "\n", a lone "\r", and
// NEL, LS and PS (U+0085, U+2028, U+2029) each end one. The fuzzer found
// "\r0", "\u00850" and a UTF-16 NEL, each rightly reported on line 2.
func yamlLines(data []byte) int {
	text := string(data)
	if len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) {
		units := make([]uint16, 0, len(data)/2)
		for i := 2; i+1 < len(data); i += 2 {
			if data[0] == 0xff { // little-endian
				units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		text = string(utf16.Decode(units))
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	return strings.Count(text, "\n") + strings.Count(text, "\r") +
		strings.Count(text, "\u0085") + strings.Count(text, "\u2028") + strings.Count(text, "\u2029") + 1
}

// isKey reports whether k is a dotted key path of Config, or a section.
func isKey(k string) bool {
	for _, known := range Keys() {
		if known == k || strings.HasPrefix(known, k+".") {
			return true
		}
	}
	return false
}

func dump(t *testing.T, c *Config) []byte {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// readExample is the repository's commented example config, a good seed.
func readExample() ([]byte, error) {
	return os.ReadFile("../config.example.yaml")
}

// watchdog crashes the fuzzing process when one input runs longer than d,
// so that the fuzzer records the input that hangs: "never an unbounded
// time" is a property too. It returns the function that stops it.
func watchdog(d time.Duration, input []byte) (stop func() bool) {
	return time.AfterFunc(d, func() {
		panic(fmt.Sprintf("one input ran longer than %s: %q", d, input))
	}).Stop
}
