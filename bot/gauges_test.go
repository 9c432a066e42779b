package bot

import (
	"path/filepath"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

// The pending-verifications gauge reports the store's count by platform,
// the same before and after the store is reopened.
func TestPendingChallengesGauge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gauge.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	key := func(p audit.Platform, property, user string) []byte {
		return []byte(string(rune(p)) + property + "\x00" + user) // verification's key layout
	}
	for _, k := range [][]byte{key(audit.Discord, "g1", "a"), key(audit.Discord, "g2", "b"), key(audit.Discord, "g2", "c"),
		key(audit.Telegram, "-100", "d")} {
		if err := s.Put(verification.NSPending, k, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteKV(verification.NSPending, key(audit.Discord, "g2", "c")); err != nil {
		t.Fatal(err)
	}
	gauge := func() map[string]float64 {
		got := map[string]float64{}
		pendingChallenges(s, func(v float64, labels ...string) { got[labels[0]] = v })
		return got
	}
	check := func(when string) {
		t.Helper()
		if got := gauge(); len(got) != 2 || got["discord"] != 2 || got["telegram"] != 1 {
			t.Fatalf("%s: gauge %v, want discord 2, telegram 1", when, got)
		}
	}
	check("as written")
	s.Close()
	if s, err = store.Open(path, store.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	check("reopened")
}
