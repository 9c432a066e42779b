package doctor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	var r Report
	s := Section{Platform: "discord", Community: "1", Name: "Guild"}
	s.Pass("token valid", "")
	s.Warn("members cached", "", "Wait.")
	r.Add(s)
	if !r.OK {
		t.Fatal("an advisory failure failed the report")
	}
	s2 := Section{Platform: "telegram"}
	s2.Fail("privacy mode off", "privacy mode is on", "Turn it off with @BotFather.")
	r.Add(s2)
	if r.OK || len(r.Failed()) != 2 {
		t.Fatalf("OK %v, failed %v", r.OK, r.Failed())
	}
	var b bytes.Buffer
	r.WriteText(&b)
	for _, want := range []string{"discord Guild (1)\n  ✓ token valid\n", "  ! members cached — Wait.\n",
		"  ✗ privacy mode off: privacy mode is on — Turn it off with @BotFather.\n", "1 check(s) need attention"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	b.Reset()
	r.WriteJSON(&b)
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.OK || len(back.Sections) != 2 || back.Sections[1].Checks[0].Fix == "" {
		t.Fatalf("JSON: %v %+v", err, back)
	}
}

func TestStorage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chatwarden.db")
	if err := os.WriteFile(path, make([]byte, 3000), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Storage(path, 90, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC))
	if !s.OK() {
		t.Fatalf("a writable temp dir fails: %+v", s.Checks)
	}
	text := lines(s)
	for _, want := range []string{"✓ store path writable", "✓ database size: 2.9 KiB", "✓ free disk space: ",
		"✓ next retention purge: 2026-01-03T03:00:00Z (records older than 90 days)"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	missing := Storage(filepath.Join(dir, "nope", "x.db"), 0, time.Time{})
	if missing.OK() || !strings.Contains(lines(missing), "✗ store path writable") ||
		!strings.Contains(lines(missing), "kept forever") {
		t.Errorf("a missing folder:\n%s", lines(missing))
	}
}

func lines(s Section) string {
	var b strings.Builder
	for _, c := range s.Checks {
		b.WriteString(c.Line() + "\n")
	}
	return b.String()
}

func TestBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := t.TempDir()
	cfg, db := filepath.Join(dir, "c.yaml"), filepath.Join(dir, "x.db")
	for _, f := range []string{cfg, db} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if s := Permissions(cfg, db); len(s.Checks) != 2 || !s.Checks[0].OK || !s.Checks[1].OK {
		t.Errorf("0600 files: %s", lines(s))
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(db, mode); err != nil {
			t.Fatal(err)
		}
		s := Permissions(cfg, db)
		c := s.Checks[1]
		if c.OK || !c.Advisory || !strings.Contains(c.Detail, mode.String()) || !strings.Contains(c.Fix, "chmod 600 "+db) || !s.OK() {
			t.Errorf("database %v: %s", mode, lines(s))
		}
		if !s.Checks[0].OK {
			t.Errorf("config 0600 reported with the database %v", mode)
		}
	}
	if _, ok := Exposed(filepath.Join(dir, "missing")); ok {
		t.Error("a missing file is exposed")
	}
}
