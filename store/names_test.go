package store

import (
	"testing"

	"github.com/chatwarden/chatwarden/audit"
)

func TestPropertyNames(t *testing.T) {
	s := openTest(t)
	if n, err := s.PropertyName(audit.Discord, "1"); err != nil || n != "" {
		t.Fatalf("unknown property: %q %v", n, err)
	}
	for _, step := range []struct {
		p        audit.Platform
		id, name string
	}{
		{audit.Discord, "1", "Gardeners"}, {audit.Telegram, "1", "Group"}, {audit.Discord, "1", "Riverside Gardeners"},
		{audit.Discord, "1", ""}, // an empty name keeps the last one
	} {
		if err := s.SetPropertyName(step.p, step.id, step.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct {
		p        audit.Platform
		id, name string
	}{
		{audit.Discord, "1", "Riverside Gardeners"}, {audit.Telegram, "1", "Group"}, {audit.Telegram, "2", ""},
	} {
		if n, err := s.PropertyName(want.p, want.id); err != nil || n != want.name {
			t.Errorf("%s:%s: %q %v, want %q", want.p, want.id, n, err, want.name)
		}
	}
}
