package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cli"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/store"
)

const fleetOperator = "fleet-operator-token-0123456789abcdefghij"

// TestFleetSurvivesKills is issue 22's failure test. A three-node
// JetStream cluster holds the stream and the token bucket with three
// replicas; two shard processes (`chatwarden run`, children of this test)
// record two fake Discord guilds each, the first also a Telegram group;
// a query node (`chatwarden api`, a child too) copies the stream. Under
// load, one NATS node stops and one shard process is killed with SIGKILL;
// both come back. Then the query node holds exactly the union of the
// shards' records, each once, under the shards' ids and hashes; every
// chain verifies there with its shard's head; the operator's export
// across all properties returns them all. A community API token made
// with /apitoken on the first shard works on the query node, and stops
// working there once revoked.
func TestFleetSurvivesKills(t *testing.T) {
	if os.Getenv("CHATWARDEN_FLEET_CHILD") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("fleet kill test in -short mode")
	}
	dir := t.TempDir()
	nats := clustertest.StartCluster(t, 3, filepath.Join(dir, "nats"))
	clustertest.Provision(t, nats.URL(), "CHATWARDEN", cluster.SubjectPrefix+".>", cluster.TokenBucket("CHATWARDEN"), 3)

	// Two Discords, one per shard, with ids drawn from one of them so
	// that no guild id repeats; each guild's id puts it on the shard of
	// its fake ((guild_id >> 22) % 2, as Discord routes guilds to shards
	// and the fake does).
	discords := []*discordtest.Server{discordtest.New(discordtest.Options{}), discordtest.New(discordtest.Options{})}
	type guild struct {
		fake        *discordtest.Server
		id, channel string
		members     []*discordtest.User
	}
	var guilds []guild
	owner := &discordtest.User{ID: discords[0].Snowflake(), Username: "owner", GlobalName: "Owner"}
	for shard, d := range discords {
		t.Cleanup(d.Close)
		for range 2 {
			g := guild{fake: d, id: onShard(discords[0].Snowflake(), shard, 2), channel: discords[0].Snowflake()}
			ms := []*discordtest.Member{{User: owner, Roles: []string{}}}
			for j := range 3 {
				u := &discordtest.User{ID: discords[0].Snowflake(), Username: fmt.Sprintf("m%d", j), GlobalName: fmt.Sprintf("Member %d", j)}
				g.members = append(g.members, u)
				ms = append(ms, &discordtest.Member{User: u, Roles: []string{}})
			}
			d.AddGuild(&discordtest.Guild{ID: g.id, Name: "Guild " + g.id, OwnerID: owner.ID,
				Roles:    []*discordtest.Role{{ID: g.id, Name: "@everyone"}},
				Channels: []*discordtest.Channel{{ID: g.channel, GuildID: g.id, Name: "general", Type: discordtest.ChannelTypeGuildText}},
				Members:  ms})
			guilds = append(guilds, g)
		}
	}
	tg := telegramtest.New(telegramtest.Options{LongPollCap: time.Second})
	t.Cleanup(tg.Close)
	tgOwner, tgAnn := tg.NewUser("Owner"), tg.NewUser("Ann")
	group := tg.NewSupergroup("Fleet group", tgOwner, tgAnn)
	dm := tg.PrivateChat(tgOwner)

	// Configs: shard 0 with Discord 0 and Telegram, shard 1 with
	// Discord 1, and the query node.
	cfgs := make([]string, 3)
	bases := make([]string, 3)
	dbs := make([]string, 3)
	for i := range cfgs {
		addr := freeAddr(t)
		bases[i] = "http://" + addr
		dbs[i] = filepath.Join(dir, fmt.Sprintf("node%d.db", i))
		text := fmt.Sprintf("log_level: warn\nstorage: {path: %s}\napi: {listen: %s, operator_token: %s}\ncluster: {nats_url: %q, lease_ttl: 4s}\n",
			dbs[i], addr, fleetOperator, nats.URL())
		if i < 2 {
			// Two shards of one application: each claims its own shard id
			// (a second claim of one shard is refused). Each has its own
			// fake, holding only guilds of its shard.
			text += fmt.Sprintf("discord: {enabled: true, token: test-token, api_url: %s, shard_id: %d, shard_count: 2}\n", discords[i].APIURL(), i)
		}
		if i == 0 {
			text += fmt.Sprintf("telegram: {enabled: true, token: %q, api_url: %s, poll_timeout: 1s, delete_commands_after: 0s}\n", tg.Token(), tg.URL)
		}
		cfgs[i] = filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		if err := os.WriteFile(cfgs[i], []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logs testlog.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the processes' logs:\n%s", logs.String())
		}
	})
	start := func(i int) *exec.Cmd {
		sub := "run"
		if i == 2 {
			sub = "api"
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$")
		cmd.Env = append(os.Environ(), "CHATWARDEN_FLEET_CHILD="+sub+" "+cfgs[i])
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	procs := []*exec.Cmd{start(0), start(1), start(2)}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.ProcessState == nil {
				p.Process.Kill()
				p.Wait()
			}
		}
	})
	for i, b := range bases {
		waitUntil(t, fmt.Sprintf("process %d ready", i), func() bool { return ready(b) })
	}

	// Load: messages in every guild and in the Telegram group.
	ctx, stopLoad := context.WithCancel(context.Background())
	var sent atomic.Int64
	var wg sync.WaitGroup
	for gi, g := range guilds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				g.fake.Say(g.id, g.channel, g.members[i%len(g.members)], fmt.Sprintf("guild %d message %d", gi, i))
				sent.Add(1)
				time.Sleep(25 * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			tg.Message(group, tgAnn, fmt.Sprintf("group message %d", i))
			sent.Add(1)
			time.Sleep(40 * time.Millisecond)
		}
	}()

	// Mid-stream: a NATS node stops, shard 1 is killed; both come back.
	waitUntil(t, "load flowing", func() bool { return sent.Load() > 200 })
	nats.Stop(2)
	if err := procs[1].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	procs[1].Wait()
	time.Sleep(1500 * time.Millisecond)
	procs[1] = start(1)
	time.Sleep(500 * time.Millisecond)
	nats.Start(2)
	waitUntil(t, "shard 1 ready again", func() bool { return ready(bases[1]) })

	// A token made on shard 0 with /apitoken works on the query node.
	chat := strconv.FormatInt(group.ID, 10)
	tg.Command(dm, tgOwner, "/apitoken create "+chat+" fleet")
	var token string
	tokenRE := regexp.MustCompile(command.TokenPrefix + `[A-Za-z0-9_-]{43}`)
	waitUntil(t, "the token in the private chat", func() bool {
		for _, m := range tg.Messages(dm.ID) {
			if tok := tokenRE.FindString(m.Text); tok != "" {
				token = tok
				return true
			}
		}
		return false
	})
	groupURL := bases[2] + "/v1/properties/telegram:" + chat + "/activities"
	waitUntil(t, "the shard's token accepted by the query node", func() bool { return status(groupURL, token) == http.StatusOK })
	stopLoad()
	wg.Wait()

	tg.Command(dm, tgOwner, "/apitoken revoke "+chat+" "+command.TokenID(token))
	waitUntil(t, "the revoked token refused by the query node", func() bool { return status(groupURL, token) == http.StatusUnauthorized })

	// Everything published and copied; then the shards stop.
	for i := range 2 {
		waitUntil(t, fmt.Sprintf("shard %d's outbox empty", i), func() bool { return gauge(bases[i], cluster.MetricOutboxDepth) == 0 })
	}
	waitUntil(t, "the query node caught up", func() bool { return ready(bases[2]) })
	for i := range 2 {
		procs[i].Process.Signal(syscall.SIGTERM)
		if err := procs[i].Wait(); err != nil {
			t.Fatalf("shard %d did not stop cleanly: %v\n%s", i, err, logs.String())
		}
	}
	want := map[string]string{} // platform:property/id -> hash
	heads := map[string][32]byte{}
	for i := range 2 {
		s, err := store.Open(dbs[i], store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.OutboxDepth(cluster.Sink); err != nil || n != 0 {
			t.Fatalf("shard %d stopped with %d records not published (%v)", i, n, err)
		}
		s.Scan(context.Background(), store.Query{}, func(e *audit.Event) error { want[recordKey(e)] = string(e.Hash); return nil })
		vs, err := s.VerifyAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if !v.OK {
				t.Errorf("shard %d: chain of %s %s: %s", i, v.Platform, v.Property, v.Problem)
			}
			heads[v.Platform.String()+":"+v.Property] = v.Head
		}
		s.Close()
	}
	if len(heads) != 5 {
		t.Errorf("the shards hold %d chains, want 5 (4 guilds, 1 group)", len(heads))
	}

	// The operator's export across every property of the fleet, once the
	// query node has copied the stream.
	var got []audit.Event
	deadline := time.Now().Add(60 * time.Second)
	for {
		got = exportAll(t, bases[2])
		if len(got) >= len(want) && ready(bases[2]) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]int{}
	for _, e := range got {
		seen[recordKey(&e)]++
		if h, ok := want[recordKey(&e)]; !ok || h != string(e.Hash) {
			t.Errorf("record %s on the query node is not as a shard wrote it", recordKey(&e))
		}
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("record %s is on the query node %d times", k, seen[k])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("the query node exports %d records, the shards hold %d\n%s", len(got), len(want), logs.String())
	}

	procs[2].Process.Signal(syscall.SIGTERM)
	if err := procs[2].Wait(); err != nil {
		t.Fatalf("the query node did not stop cleanly: %v\n%s", err, logs.String())
	}
	qs, err := store.Open(dbs[2], store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	vs, err := qs.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if !v.OK || v.Head != heads[v.Platform.String()+":"+v.Property] {
			t.Errorf("query node: chain of %s %s: ok %v (%s), head %x is not its shard's", v.Platform, v.Property, v.OK, v.Problem, v.Head[:4])
		}
	}
	if len(vs) != len(heads) {
		t.Errorf("%d chains on the query node, %d on the shards", len(vs), len(heads))
	}
	t.Logf("%d messages sent, %d records on the shards, all on the query node once", sent.Load(), len(want))
}

// recordKey names a record across the fleet: ids are unique in their
// shard's store only.
func recordKey(e *audit.Event) string {
	return e.Platform.String() + ":" + e.PropertyID + "/" + e.ID.String()
}

// TestFleetChild is a process of the fleet test: "run CONFIG" or "api
// CONFIG".
func TestFleetChild(t *testing.T) {
	env := os.Getenv("CHATWARDEN_FLEET_CHILD")
	if env == "" {
		t.Skip("only run as a child of the fleet test")
	}
	sub, cfg, _ := strings.Cut(env, " ")
	os.Exit(cli.Run([]string{sub, "--config", cfg}, os.Stdout, os.Stderr))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// status is the status of a GET with a bearer token, or 0.
func status(url, token string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// gauge reads an unlabelled gauge from /metrics, or -1.
func gauge(base, name string) float64 {
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+fleetOperator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// exportAll reads every record of the fleet from a query node's export.
func exportAll(t *testing.T, base string) []audit.Event {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/properties/all/activities:export?format=ndjson", nil)
	req.Header.Set("Authorization", "Bearer "+fleetOperator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	var out []audit.Event
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var e audit.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// onShard returns the snowflake id with its timestamp moved forward, if
// need be, so that the guild of that id belongs to shard of shards
// ((id >> 22) % shards == shard).
func onShard(id string, shard, shards int) string {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		panic(err)
	}
	ts := n >> 22
	for ts%uint64(shards) != uint64(shard) {
		ts++
	}
	return strconv.FormatUint(ts<<22|n&(1<<22-1), 10)
}
