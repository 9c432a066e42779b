// Package clustertest runs NATS JetStream servers in-process for tests,
// listening on 127.0.0.1 only, so that tests of the fleet need nothing
// installed beyond Go.
package clustertest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartNATS runs a JetStream server on 127.0.0.1 until the test ends;
// port 0 picks a free port. dir holds its streams, so a server started
// again on the same port and dir finds them.
func StartNATS(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}
