package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

func TestRunAPINeedsClusterAndListen(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"no nats_url", func(c *config.Config) { c.API.Listen = "127.0.0.1:0" }, "cluster.nats_url"},
		{"no listen", func(c *config.Config) { c.Cluster.NATSURL = "nats://127.0.0.1:1" }, "api.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Storage.Path = filepath.Join(t.TempDir(), "q.db")
			tc.edit(&cfg)
			err := RunAPI(context.Background(), &cfg, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// TestQueryNodeServesTheShardsRecords: records of two shard stores,
// published to the stream, are served by a query node's HTTP API; the
// chain of a guild recorded before its shard joined the fleet starts on
// the query node with the first record published, and verifies.
func TestQueryNodeServesTheShardsRecords(t *testing.T) {
	ns := clustertest.StartNATS(t, 0, t.TempDir())
	cc := config.Cluster{NATSURL: ns.ClientURL(), Stream: "CW"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Two shards, each with its own store, publishing as bot.Run wires it.
	for shard, guild := range []string{"1001", "1002"} {
		s, err := store.Open(filepath.Join(t.TempDir(), fmt.Sprintf("shard%d.db", shard)), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		rec := recorder.New(s, recorder.Options{})
		if shard == 0 { // records from before the shard joined the fleet, never published
			for i := range 3 {
				err := rec.Record(ctx, &audit.Event{Platform: audit.Discord, PropertyID: guild, Type: audit.ChatMessage,
					Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprintf("early%d", i)})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		pub, err := newPublisher(cc, s, rec, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- pub.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
			rec.Close(context.Background())
			s.Close()
		})
		for i := range 10 {
			err := rec.Record(ctx, &audit.Event{Platform: audit.Discord, PropertyID: guild, Type: audit.ChatMessage,
				Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprintf("u%d", i)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const operator = "operator-token-operator-token-0123456789"
	cfg := config.Default()
	cfg.Storage.Path = filepath.Join(t.TempDir(), "query.db")
	cfg.Cluster = cc
	cfg.API.Listen = addr
	cfg.API.OperatorToken = operator
	apiDone := make(chan error, 1)
	go func() { apiDone <- RunAPI(ctx, &cfg, zerolog.Nop()) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-apiDone; err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)

	count := func(property string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/properties/discord:"+property+"/activities?maxResults=1000", nil)
		req.Header.Set("Authorization", "Bearer "+operator)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1 // not listening yet
		}
		defer resp.Body.Close()
		var page struct{ Items []json.RawMessage }
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&page) != nil {
			return -1
		}
		return len(page.Items)
	}
	deadline := time.Now().Add(60 * time.Second)
	for count("1001") != 10 || count("1002") != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("the query node serves %d and %d records, want 10 and 10", count("1001"), count("1002"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Ready once caught up with the stream and the token bucket.
	var resp *http.Response
	for {
		resp, err = http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz answers %d once caught up: %s", resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// /metrics counts the commits of the records copied from the stream.
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+operator)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	commits := regexp.MustCompile(`(?m)^chatwarden_recorder_commits_total (\d+)`).FindSubmatch(body)
	if commits == nil || string(commits[1]) == "0" {
		t.Fatalf("the query node's metrics count no commit of copied records: %q", commits)
	}

	// The query node's own record of a failed authentication goes to its
	// own database: the fleet's chains stay the shards', and verify.
	req, _ = http.NewRequest("GET", "http://"+addr+"/v1/properties/discord:1001/activities", nil)
	req.Header.Set("Authorization", "Bearer cw_"+strings.Repeat("A", 43))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unknown token answers %d", resp.StatusCode)
	}
	stop()
	qs, err := store.Open(cfg.Storage.Path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	vs, err := qs.VerifyAll(context.Background())
	if err != nil || len(vs) != 2 {
		t.Fatalf("chains on the query node: %+v %v", vs, err)
	}
	for _, v := range vs {
		if !v.OK || v.Records != 10 {
			t.Errorf("chain of %s on the query node: ok %v, %d records (%s)", v.Property, v.OK, v.Records, v.Problem)
		}
	}
	own, err := store.Open(NodeStorePath(cfg.Storage.Path), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	page, err := own.Query(context.Background(), store.Query{Platform: audit.Discord, Property: "1001", Types: []audit.EventType{audit.SecurityEvent}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("the node's own record of the failed authentication: %v %v", page.Events, err)
	}
}
