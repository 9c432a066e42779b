package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// TestEraseWhileTheBotRuns: chatwarden erase on a database a running bot
// holds changes nothing and tells the operator how to erase through the
// bot: the endpoint, with the community and user filled in.
func TestEraseWhileTheBotRuns(t *testing.T) {
	db, _ := testDB(t, 30)
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, _, errs := cli("erase", "--db", db, "--platform", "discord", "--property", "g1", "--user", "u1")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errs)
	}
	for _, want := range []string{"in use by another process", "curl -X POST", "/v1/properties/discord:g1/members/u1:erase",
		"CHATWARDEN_API_OPERATOR_TOKEN", "/audit erase", "/erase"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the message does not say %q:\n%s", want, errs)
		}
	}
	page, err := s.Query(context.Background(), store.Query{Platform: audit.Discord, Property: "g1", User: "u1", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) == 0 {
		t.Fatal("no record of u1 to check")
	}
	for _, e := range page.Events {
		if e.Redacted {
			t.Fatalf("record %s was erased by a command that said it could not run", e.ID)
		}
	}
}
