package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/export"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// cli runs one command line and returns its exit status and output.
func cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// testDB writes n records to a new database over two guilds and a chat.
func testDB(t *testing.T, n int) (string, []*audit.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cli.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var evs []*audit.Event
	base := time.Now().Add(-48 * time.Hour)
	for i := 0; i < n; i++ {
		e := &audit.Event{Time: base.Add(time.Duration(i) * time.Minute), Platform: audit.Discord, PropertyID: "g1",
			Type: []audit.EventType{audit.ChatMessage, audit.UserJoin, audit.UserBan}[i%3], PlatformType: "MESSAGE_CREATE",
			Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprintf("u%d", i%5),
			ActorName: fmt.Sprintf("user\n%d\u202e", i%5), ChannelID: "c1", Content: fmt.Sprintf("message %d", i)}
		switch i % 4 {
		case 1:
			e.PropertyID = "g2"
		case 2:
			e.Platform, e.PropertyID = audit.Telegram, "-100"
		}
		if i == 7 {
			e.Content = "=HYPERLINK(\"http://evil\")"
		}
		if e.Type == audit.UserBan {
			e.TargetIDs = []string{"t1", "t2"}
			e.Params.Set(audit.ParamTargetName, "Mallory")
			e.Params.Set(audit.ParamChannelName, "general")
		}
		evs = append(evs, e)
	}
	if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	return path, evs
}

func count(evs []*audit.Event, keep func(*audit.Event) bool) int {
	n := 0
	for _, e := range evs {
		if keep(e) {
			n++
		}
	}
	return n
}

func TestLogsPagesThroughEverything(t *testing.T) {
	db, evs := testDB(t, 300)
	want := count(evs, func(e *audit.Event) bool { return e.PropertyID == "g1" && e.Type == audit.UserJoin })
	seen := map[string]bool{}
	args := []string{"logs", "--db", db, "--property", "g1", "--type", "user_join", "--limit", "7", "--json"}
	for pages := 0; ; pages++ {
		code, out, errs := cli(args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var e audit.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("bad NDJSON line %q: %v", line, err)
			}
			if e.PropertyID != "g1" || e.Type != audit.UserJoin || seen[e.ID.String()] {
				t.Fatalf("unexpected or repeated record %+v", e)
			}
			seen[e.ID.String()] = true
		}
		cur, ok := strings.CutPrefix(strings.TrimSpace(errs), "more: --cursor ")
		if !ok {
			break
		}
		args = append(args[:len(args):len(args)], "--cursor", cur)
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != want {
		t.Fatalf("paged through %d records, want %d", len(seen), want)
	}
}

func TestLogsTableIsSafe(t *testing.T) {
	db, _ := testDB(t, 30)
	code, out, _ := cli("logs", "--db", db, "--platform", "discord", "--property", "g1", "--limit", "5")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("want a header and 5 rows, got:\n%s", out)
	}
	if strings.ContainsRune(out, '\u202e') {
		t.Fatal("a bidi override from a name reached the terminal")
	}
	// Targets and channels by name, as moderators know them.
	if !strings.Contains(out, "Mallory (t1) +1") || !strings.Contains(out, "#general") {
		t.Fatalf("targets and channels not named:\n%s", out)
	}
}

func TestExportFormats(t *testing.T) {
	db, evs := testDB(t, 90)
	dir := t.TempDir()
	code, _, errs := cli("export", "--db", db, "--format", "csv", "--out", filepath.Join(dir, "x.csv"))
	if code != 0 {
		t.Fatalf("csv: exit %d %s", code, errs)
	}
	f, _ := os.Open(filepath.Join(dir, "x.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(evs)+1 || strings.Join(rows[0], ",") != strings.Join(export.CSVHeader, ",") {
		t.Fatalf("csv: %d rows, err %v", len(rows), err)
	}
	found := false
	for _, r := range rows[1:] {
		if strings.Contains(r[14], "HYPERLINK") {
			found = true
			if !strings.HasPrefix(r[14], "'=") {
				t.Fatalf("formula not defused: %q", r[14])
			}
		}
	}
	if !found {
		t.Fatal("the formula record is missing")
	}
	code, out, _ := cli("export", "--db", db, "--format", "ndjson", "--platform", "telegram", "--property", "-100")
	want := count(evs, func(e *audit.Event) bool { return e.PropertyID == "-100" })
	if code != 0 || strings.Count(out, "\n") != want {
		t.Fatalf("ndjson: exit %d, %d lines, want %d", code, strings.Count(out, "\n"), want)
	}
}

func TestVerifyDetectsTamperingAndBackupCopies(t *testing.T) {
	db, _ := testDB(t, 60)
	if code, out, _ := cli("verify", "--db", db); code != 0 || strings.Count(out, "OK") != 3 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if code, _, errs := cli("backup", "--db", db, "--out", backup); code != 0 {
		t.Fatalf("backup: exit %d %s", code, errs)
	}
	// Flip a byte of one record in the original.
	bdb, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("ev"))
		k, v := b.Cursor().First()
		v = bytes.Clone(v)
		v[len(v)-2] ^= 1
		return b.Put(bytes.Clone(k), v)
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli("verify", "--db", db)
	if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "altered") {
		t.Fatalf("tampered verify: exit %d\n%s", code, out)
	}
	if code, out, _ := cli("verify", "--db", backup); code != 0 {
		t.Fatalf("the backup does not verify: %s", out)
	}
}

func TestBackupWhileLockedFailsFast(t *testing.T) {
	db, _ := testDB(t, 3)
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	code, _, errs := cli("backup", "--db", db, "--out", filepath.Join(t.TempDir(), "b.db"))
	if code != 1 || !strings.Contains(errs, "running") || !strings.Contains(errs, db) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestEraseAndPurge(t *testing.T) {
	db, _ := testDB(t, 120)
	code, out, errs := cli("erase", "--db", db, "--platform", "discord", "--property", "g1", "--user", "u1")
	if code != 0 || !strings.Contains(out, "erased") {
		t.Fatalf("erase: exit %d %s %s", code, out, errs)
	}
	code, out, _ = cli("logs", "--db", db, "--platform", "discord", "--property", "g1", "--user", "u1", "--json", "--limit", "1000")
	if code != 0 || strings.Contains(out, "message ") {
		t.Fatalf("content of u1 survived the erasure:\n%s", out)
	}
	if code, out, _ := cli("logs", "--db", db, "--property", "g1", "--type", "DATA_RETENTION", "--json"); code != 0 || !strings.Contains(out, `"action":"ERASE"`) {
		t.Fatalf("the erasure was not recorded: %s", out)
	}
	code, out, _ = cli("purge", "--db", db, "--days", "1")
	if code != 0 || !strings.Contains(out, "purged") {
		t.Fatalf("purge: exit %d %s", code, out)
	}
	if code, out, _ := cli("verify", "--db", db); code != 0 {
		t.Fatalf("chains after erase and purge: %s", out)
	}
	code, out, _ = cli("logs", "--db", db, "--until", "25h", "--json")
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("records older than a day survived the purge:\n%s", out)
	}
}

// TestEraseAndPurgeOnAQueryNode: on a query node's database, whose
// chains are its shards' (two shards recording the same communities, as
// when a Telegram group's poller moves: one chain per community and
// origin), verify names each chain's origin, the erasure and the purge
// are recorded in the node's own database, and the shards' chains still
// verify.
func TestEraseAndPurgeOnAQueryNode(t *testing.T) {
	shardDB, _ := testDB(t, 120)
	shard, err := store.Open(shardDB, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	// Two shards: the test database's events recorded again, alternately
	// in one and the other, each routed to the stream, and read back with
	// their chains as a publisher does.
	var recs []recorder.Replica
	err = shard.Scan(context.Background(), store.Query{}, func(e *audit.Event) error { recs = append(recs, recorder.Replica{Event: e}); return nil })
	shard.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []store.OutboxReplica
	var origins []string
	for half := range 2 {
		rs, err := store.Open(filepath.Join(t.TempDir(), "routed.db"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		b := &recorder.Batch{}
		seen := map[string]int{}              // each community's records alternate between the shards
		for i := len(recs) - 1; i >= 0; i-- { // oldest first
			e := *recs[i].Event
			if seen[e.PropertyID]++; seen[e.PropertyID]%2 != half {
				continue
			}
			b.Events = append(b.Events, &e)
			b.Routes = append(b.Routes, []recorder.Route{{Sink: "cluster", Target: "stream"}})
		}
		if err := rs.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		o, err := rs.OutboxReplicas(context.Background(), "cluster", "stream", 1000)
		if err != nil || len(o) != 60 {
			t.Fatalf("%d replicas (%v)", len(o), err)
		}
		out = append(out, o...)
		origins = append(origins, rs.Origin())
		rs.Close()
	}
	db := filepath.Join(t.TempDir(), "query.db")
	q, err := store.Open(db, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[:0]
	for _, o := range out {
		recs = append(recs, o.Replica)
	}
	if res, err := q.AppendReplica(context.Background(), &recorder.ReplicaBatch{Records: recs}); err != nil || len(res.Stored) != 120 {
		t.Fatalf("replicas stored: %d, %v", len(res.Stored), err)
	}
	q.Close()

	code, vout, _ := cli("verify", "--db", db)
	if code != 0 || strings.Count(vout, "OK") != 6 {
		t.Fatalf("verify on the query node: exit %d, want 6 chains OK (3 communities, 2 origins)\n%s", code, vout)
	}
	for _, o := range origins {
		if strings.Count(vout, "(origin "+o+")") != 3 {
			t.Fatalf("verify does not name origin %s for each community:\n%s", o, vout)
		}
	}
	if code, out, errs := cli("erase", "--db", db, "--platform", "discord", "--property", "g1", "--user", "u1"); code != 0 {
		t.Fatalf("erase: exit %d %s %s", code, out, errs)
	}
	if code, out, errs := cli("purge", "--db", db, "--days", "1"); code != 0 || !strings.Contains(out, "purged") {
		t.Fatalf("purge: exit %d %s %s", code, out, errs)
	}
	if code, out, _ := cli("verify", "--db", db); code != 0 {
		t.Fatalf("the shards' chains on the query node after erase and purge: %s", out)
	}
	if code, out, _ := cli("logs", "--db", db, "--type", "DATA_RETENTION", "--json"); code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("an operator's action recorded in the shards' chains: %s", out)
	}
	own := bot.NodeStorePath(db)
	if code, out, _ := cli("logs", "--db", own, "--property", "g1", "--type", "DATA_RETENTION", "--json"); code != 0 ||
		!strings.Contains(out, `"action":"ERASE"`) || !strings.Contains(out, `"action":"PURGE"`) {
		t.Fatalf("the node's own database lacks the erasure and the purge: %s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	db, _ := testDB(t, 3)
	for _, args := range [][]string{
		{},
		{"nope"},
		{"logs"},
		{"logs", "--db", db, "--since", "yesterday"},
		{"logs", "--db", db, "--limit", "5000"},
		{"logs", "--db", db, "--type", "USER_JION"},
		{"logs", "--db", db, "--bogus"},
		{"logs", "--db", db, "--cursor", "tampered"},
		{"logs", "--db", db, "--since", "1h", "--until", "2h"},
		{"export", "--db", db, "--format", "xml"},
		{"verify", "--db", db, "--property", "g1"},
		{"erase", "--db", db, "--platform", "discord"},
		{"run"},
		{"api"},
		{"invite"},
		{"version", "extra"},
		{"demo", "--listen"},
	} {
		if code, _, errs := cli(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
	for _, args := range [][]string{{"--help"}, {"logs", "--help"}, {"export", "-h"}, {"run", "--help"}, {"demo", "--help"}} {
		if code, _, _ := cli(args...); code != 0 {
			t.Errorf("%v: exit %d, want 0", args, code)
		}
	}
}

func TestVersionAndInvite(t *testing.T) {
	if code, out, _ := cli("version"); code != 0 || !strings.HasPrefix(out, "chatwarden ") {
		t.Fatalf("version: %d %q", code, out)
	}
	code, out, _ := cli("invite", "--client-id", "123456789012345678")
	if code != 0 || !strings.Contains(out, "client_id=123456789012345678") || !strings.Contains(out, "scope=bot+applications.commands") ||
		!strings.Contains(out, fmt.Sprintf("permissions=%d", invitePermissions)) {
		t.Fatalf("invite: %d %q", code, out)
	}
	// The id comes from the token's first part; the token is never printed.
	token := "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.c2VjcmV0c2VjcmV0c2VjcmV0"
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("discord:\n  enabled: true\n  token: "+token+"\n"), 0o600)
	code, out, errs := cli("invite", "--config", cfg)
	if code != 0 || !strings.Contains(out, "client_id=123456789012345678") || strings.Contains(out+errs, "c2VjcmV0") {
		t.Fatalf("invite from config: %d %q %q", code, out, errs)
	}
}

func TestOnlineBackupFromARunningBot(t *testing.T) {
	db, _ := testDB(t, 40)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.Storage.Path = db
	cfg.API.Listen = addr
	const token = "operator-token-operator-token-0123456789"
	cfg.API.OperatorToken = token
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx, &cfg, zerolog.Nop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + addr
	waitUntil(t, "the API", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	// The database is held: an offline copy is refused and says what to do.
	if code, _, errs := cli("backup", "--db", db, "--out", filepath.Join(t.TempDir(), "x.db")); code != 1 || !strings.Contains(errs, "--from") {
		t.Fatalf("offline backup of a held database: exit %d %s", code, errs)
	}
	t.Setenv("CHATWARDEN_API_OPERATOR_TOKEN", "wrong-token-wrong-token-wrong-token-00")
	if code, _, _ := cli("backup", "--from", base, "--out", filepath.Join(t.TempDir(), "y.db")); code != 1 {
		t.Fatalf("a wrong token got a backup: exit %d", code)
	}
	t.Setenv("CHATWARDEN_API_OPERATOR_TOKEN", token)
	out := filepath.Join(t.TempDir(), "online.db")
	if code, stdout, errs := cli("backup", "--from", base, "--out", out); code != 0 || !strings.Contains(stdout, "running bot") {
		t.Fatalf("online backup: exit %d %s %s", code, stdout, errs)
	}
	// Three communities verify, and the refused attempt is on record.
	if code, o, _ := cli("verify", "--db", out); code != 0 || strings.Count(o, "OK") < 3 {
		t.Fatalf("the online copy does not verify:\n%s", o)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics: %v %v", resp, err)
	}
	resp.Body.Close()
}

// waitUntil polls cond until it holds, failing after a generous timeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
