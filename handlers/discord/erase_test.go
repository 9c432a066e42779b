package discord

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

func TestEraseDeletesMemberProfile(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, k := range []string{"1/2", "1/3"} {
		if err := s.Put(nsProfile, []byte(k), []byte(`{"username":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Erase(context.Background(), audit.Discord, "1", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKV(nsProfile, []byte("1/2")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the erased member's profile is still stored (%v)", err)
	}
	if _, err := s.GetKV(nsProfile, []byte("1/3")); err != nil {
		t.Errorf("another member's profile went too: %v", err)
	}
}
