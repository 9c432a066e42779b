// Package clustertest runs NATS JetStream servers in-process for tests,
// listening on 127.0.0.1 only, so that tests of the fleet need nothing
// installed beyond Go.
package clustertest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// Cluster is a JetStream cluster of in-process servers on 127.0.0.1,
// whose nodes a test can stop and start again (with their streams).
type Cluster struct {
	t      testing.TB
	dir    string
	ports  []int // client ports
	routes []int // cluster ports
	nodes  []*server.Server
}

// StartCluster starts an n-node JetStream cluster, keeping its nodes'
// streams under dir, and waits until it has elected its JetStream leader.
// Every node is stopped when the test ends.
func StartCluster(t testing.TB, n int, dir string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, dir: dir, nodes: make([]*server.Server, n)}
	for range n {
		c.ports = append(c.ports, freePort(t))
		c.routes = append(c.routes, freePort(t))
	}
	for i := range n {
		c.Start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	c.WaitReady(60 * time.Second)
	return c
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// URL lists every node's client URL, comma-separated, as clients take it.
func (c *Cluster) URL() string {
	var urls []string
	for _, p := range c.ports {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return strings.Join(urls, ",")
}

// Start starts node i (again), on its ports and with its streams.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	var routes []*url.URL
	for j, p := range c.routes {
		if j != i {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	s, err := server.NewServer(&server.Options{ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: c.ports[i],
		JetStream: true, StoreDir: filepath.Join(c.dir, fmt.Sprintf("n%d", i)), NoLog: true, NoSigs: true,
		Cluster: server.ClusterOpts{Name: "chatwarden", Host: "127.0.0.1", Port: c.routes[i]}, Routes: routes})
	if err != nil {
		c.t.Fatalf("nats node %d: %v", i, err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		c.t.Fatalf("nats node %d not ready", i)
	}
	c.nodes[i] = s
}

// Stop stops node i, as abruptly as the server allows; Start brings it
// back.
func (c *Cluster) Stop(i int) {
	if s := c.nodes[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.nodes[i] = nil
	}
}

// WaitReady waits until JetStream answers through every running node.
func (c *Cluster) WaitReady(limit time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for _, s := range c.nodes {
		if s == nil {
			continue
		}
		for !s.JetStreamIsCurrent() || s.JetStreamIsClustered() && !jetStreamAnswers(s.ClientURL()) {
			if time.Now().After(deadline) {
				c.t.Fatal("the JetStream cluster elected no leader in time")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func jetStreamAnswers(u string) bool {
	nc, err := nats.Connect(u)
	if err != nil {
		return false
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err == nil
}

// Provision creates a fleet's stream (subjects under subjects, a
// 10-minute de-duplication window) and its token bucket with the given
// replicas, as an operator does before starting a replicated fleet.
func Provision(t testing.TB, urls, stream, subjects, bucket string, replicas int) {
	t.Helper()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subjects},
		Storage: jetstream.FileStorage, Replicas: replicas, Duplicates: 10 * time.Minute}); err != nil {
		t.Fatalf("create stream %s: %v", stream, err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage,
		Replicas: replicas}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}
