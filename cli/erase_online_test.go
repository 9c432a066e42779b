package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
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

// TestEraseOnAStoppedShardQueuesTheRecord: on the database of a fleet's
// shard, chatwarden erase queues its DATA_RETENTION record for the
// stream, so that the erasure reaches the query nodes when the bot runs
// again; on a database that never published, nothing is queued.
func TestEraseOnAStoppedShardQueuesTheRecord(t *testing.T) {
	for _, shard := range []bool{true, false} {
		db, _ := testDB(t, 30)
		if shard {
			s, err := store.Open(db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.MarkChainStarts(); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
		if code, out, errs := cli("erase", "--db", db, "--platform", "discord", "--property", "g1", "--user", "u1"); code != 0 {
			t.Fatalf("erase: exit %d %s %s", code, out, errs)
		}
		s, err := store.Open(db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		queued, err := s.OutboxReplicas(context.Background(), cluster.Sink, "stream", 100)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !shard && len(queued) != 0:
			t.Errorf("a database that never published queued %d records for the stream", len(queued))
		case shard && (len(queued) != 1 || queued[0].Replica.Event == nil || queued[0].Replica.Event.Type != audit.DataRetention ||
			queued[0].Replica.Event.TargetIDs[0] != "u1"):
			t.Errorf("a shard's erasure queued %+v for the stream, want its DATA_RETENTION record", queued)
		}
	}
}
