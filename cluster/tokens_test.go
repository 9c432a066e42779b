package cluster_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/command"
)

// TestTokensReachQueryNodes: a token made on a shard through
// command.Tokens is accepted on a query node and stops being accepted
// once revoked; changes made while NATS is down, or while the query node
// is not watching, arrive once they can.
func TestTokensReachQueryNodes(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	url := ns.ClientURL()
	ctx := context.Background()
	shard := newFixture(t, url)
	ts, err := cluster.NewTokenSync(cluster.TokenOptions{Conn: cluster.Conn{URL: url}, Bucket: "CW_tokens",
		Store: shard.store, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ts.Run)
	made := command.NewTokens(ts, shard.rec)
	admin := command.Admin{ID: "1", Name: "Owner"}
	create := func() (string, command.TokenInfo) {
		tok, info, err := made.Create(ctx, audit.Discord, "g1", admin, "board")
		if err != nil {
			t.Fatal(err)
		}
		return tok, info
	}
	tokA, infoA := create()

	qs := openStore(t, "query.db")
	accepted := command.NewTokens(qs, nil)
	works := func(tok string) bool {
		info, err := accepted.Lookup(ctx, tok)
		if err != nil && !errors.Is(err, command.ErrTokenNotFound) {
			t.Fatal(err)
		}
		return err == nil && info.Property == "g1"
	}
	mirror := func() (*cluster.TokenMirror, func()) {
		m, err := cluster.NewTokenMirror(cluster.TokenOptions{Conn: cluster.Conn{URL: url}, Bucket: "CW_tokens",
			Store: qs, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return m, run(t, m.Run)
	}
	m, stopMirror := mirror()
	eventually(t, "the shard's token accepted on the query node", func() bool { return works(tokA) && m.Ready(ctx) == nil })

	// NATS goes away; the shard revokes A and makes B meanwhile.
	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	if _, err := made.Revoke(ctx, audit.Discord, "g1", infoA.ID, admin); err != nil {
		t.Fatal(err)
	}
	tokB, _ := create()
	eventually(t, "the shard reports changes waiting", func() bool { return ts.Ready(ctx) != nil })
	if n, err := ts.Pending(); err != nil || n != 2 {
		t.Fatalf("%d changes pending (%v), want 2", n, err)
	}
	stopMirror() // the query node is not watching when NATS comes back
	if !works(tokA) || works(tokB) {
		t.Fatal("the query node's tokens changed while NATS was down")
	}
	startNATS(t, port, dir)
	eventually(t, "the changes copied to the bucket", func() bool { n, _ := ts.Pending(); return n == 0 })
	m, _ = mirror()
	eventually(t, "A revoked and B accepted on the query node", func() bool { return !works(tokA) && works(tokB) && m.Ready(ctx) == nil })

	// And while it watches.
	if _, err := made.Revoke(ctx, audit.Discord, "g1", tokB, admin); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B revoked on the query node", func() bool { return !works(tokB) })
}
