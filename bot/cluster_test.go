package bot

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// TestClusterWiring: without cluster.nats_url no publisher exists and no
// record is queued for a stream; with it, every record is queued in its
// commit, and readiness says the stream is behind while NATS is away.
func TestClusterWiring(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster config.Cluster
		queued  int
	}{
		{"default", config.Default().Cluster, 0},
		{"nats_url set", config.Cluster{NATSURL: "nats://127.0.0.1:1", Stream: "CW"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(filepath.Join(t.TempDir(), "c.db"), store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rec := recorder.New(s, recorder.Options{})
			defer rec.Close(context.Background())
			pub, err := newPublisher(tc.cluster, s, rec, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			if (pub != nil) != tc.cluster.Enabled() {
				t.Fatalf("publisher %v with cluster %+v", pub, tc.cluster)
			}
			err = rec.Record(context.Background(), &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.ChatMessage,
				Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "u"})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := s.OutboxDepth(cluster.Sink); err != nil || n != tc.queued {
				t.Fatalf("cluster outbox holds %d (%v), want %d", n, err, tc.queued)
			}
			if pub != nil {
				if err := pub.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "1 waiting in the outbox") {
					t.Fatalf("ready before connecting: %v", err)
				}
			}
		})
	}
}
