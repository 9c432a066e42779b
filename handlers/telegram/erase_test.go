package telegram

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

func TestEraseDeletesMemberState(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chat, user := "-1001", "42"
	gone := [][2]string{{nsProfile, profileKey(-1001, 42)}, {nsJoinMsg, profileKey(-1001, 42)},
		{nsSeen, chat + "/" + user + "/join"}, {nsSeen, chat + "/" + user + "/leave"}}
	kept := [][2]string{{nsProfile, profileKey(-1001, 43)}, {nsSeen, chat + "/" + "421/join"}}
	for _, kv := range append(gone, kept...) {
		if err := s.Put(kv[0], []byte(kv[1]), []byte("Alice")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Erase(context.Background(), audit.Telegram, chat, user); err != nil {
		t.Fatal(err)
	}
	for _, kv := range gone {
		if _, err := s.GetKV(kv[0], []byte(kv[1])); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s/%s survived the erasure (%v)", kv[0], kv[1], err)
		}
	}
	for _, kv := range kept {
		if _, err := s.GetKV(kv[0], []byte(kv[1])); err != nil {
			t.Errorf("%s/%s of another member went too: %v", kv[0], kv[1], err)
		}
	}
}
