package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cli"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// TestTelegramPollerFailover runs two `chatwarden run` processes with
// Telegram enabled, each with its own database, sharing a NATS server
// (in this process) through cluster.nats_url with a 3s lease, and a
// query node (`chatwarden api`) copying their stream. Only the lease
// holder polls. Three times, the poller is killed with SIGKILL while
// messages keep coming: the other process must take over within 30
// seconds, and the killed one is started again (it stands by, and records
// a batch a kill left pending in the lease under its name). In the end
// every message is recorded exactly once across the two databases, every
// chain verifies, and every message reached its group's log channel. The
// query node holds exactly the union of the two databases' records, each
// once, with each group's records in one chain per process (origin), each
// verifying with its process's head, and its export across every group
// returns every message once.
func TestTelegramPollerFailover(t *testing.T) {
	if os.Getenv("CHATWARDEN_LEASE_CHILD") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("kill test in -short mode")
	}
	ns := clustertest.StartNATS(t, 0, t.TempDir())
	sc := newTelegramScene(t)
	fake, groups, members := sc.fake, sc.groups, sc.members
	procs := leaseProcs(t, ns.ClientURL(), sc, 2, "3s")
	qn := startQueryNode(t, ns.ClientURL())
	qdb, qbase, query := qn.db, qn.base, qn.cmd
	start := func(p *leaseProc) { p.start(t) }
	dump := func() string { return dumpLogs(procs, qn) }
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 22))
	var sent []string
	say := func() {
		g := groups[rng.IntN(len(groups))]
		text := fmt.Sprintf("message %d", len(sent))
		fake.Message(g.chat, members[rng.IntN(len(members))], text)
		sent = append(sent, text)
	}
	standingBy := func(p *leaseProc, n int) bool {
		return strings.Count(p.logs.String(), "standing by for the Telegram poller") >= n
	}

	// A alone: it takes the lease and polls.
	start(procs[0])
	say()
	if !fake.WaitUpdatesConsumed(30 * time.Second) {
		t.Fatalf("the first process never polled\n%s", dump())
	}
	start(procs[1])
	waitUntil(t, "B standing by", func() bool { return standingBy(procs[1], 1) })

	holder, standby := procs[0], procs[1]
	const kills = 3
	for k := range kills {
		// Messages flow through the holder...
		until := time.Now().Add(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		for time.Now().Before(until) {
			say()
			time.Sleep(time.Duration(10+rng.IntN(40)) * time.Millisecond)
		}
		// ...until it is killed, at any moment of a batch.
		holder.cmd.Process.Kill()
		holder.cmd.Wait()
		killed := time.Now()
		say() // while nobody polls
		for !fake.WaitUpdatesConsumed(100 * time.Millisecond) {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("kill %d: %s did not take over within 30s\n%s", k+1, standby.name, dump())
			}
			say()
		}
		t.Logf("kill %d: %s took over after %s", k+1, standby.name, time.Since(killed).Round(100*time.Millisecond))
		// The killed process comes back and stands by.
		before := strings.Count(holder.logs.String(), "standing by for the Telegram poller")
		start(holder)
		waitUntil(t, holder.name+" standing by again", func() bool { return standingBy(holder, before+1) })
		holder, standby = standby, holder
	}
	for range 20 {
		say()
	}
	if !fake.WaitUpdatesConsumed(30 * time.Second) {
		t.Fatalf("the last holder did not catch up\n%s", dump())
	}
	waitUntil(t, "every message in a log channel", func() bool {
		for _, text := range sent {
			if !sc.logged(text) {
				return false
			}
		}
		return true
	})
	// Everything published, and copied to the query node.
	for _, p := range procs {
		waitUntil(t, p.name+"'s outbox empty", func() bool { return gauge(p.base, cluster.MetricOutboxDepth) == 0 })
	}
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%s did not stop cleanly: %v\n%s", p.name, err, dump())
		}
	}

	// Every message once across the two databases; each chain verifies.
	recorded := map[string]int{}
	want := map[string]string{}              // record -> hash, as its process wrote it
	heads := map[string]store.Verification{} // platform:property@origin -> chain
	for _, p := range procs {
		s, err := store.Open(p.db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.OutboxDepth(cluster.Sink); err != nil || n != 0 {
			t.Fatalf("%s stopped with %d records not published (%v)", p.name, n, err)
		}
		s.Scan(context.Background(), store.Query{}, func(e *audit.Event) error {
			want[s.Origin()+"/"+recordKey(e)] = string(e.Hash)
			return nil
		})
		for _, g := range groups {
			page, err := s.Query(context.Background(), store.Query{Platform: audit.Telegram,
				Property: strconv.FormatInt(g.chat.ID, 10), Types: []audit.EventType{audit.ChatMessage}, Limit: store.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				recorded[e.Content]++
			}
		}
		vs, err := s.VerifyAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if !v.OK {
				t.Errorf("%s: chain of %s %s: %+v", p.name, v.Platform, v.Property, v)
			}
			heads[v.Platform.String()+":"+v.Property+"@"+s.Origin()] = v
		}
		s.Close()
	}
	// The export across every group, from both processes, once the query
	// node has copied the stream.
	var exported []audit.Event
	deadline := time.Now().Add(60 * time.Second)
	for {
		exported = exportAll(t, qbase)
		if len(exported) >= len(want) && ready(qbase) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A process killed after recording a batch but before clearing it
	// from the lease, and slower to come back than the survivor's grace
	// (one lease_ttl), has its batch adopted too: the documented double,
	// which the returning process reports. Only then may a message be
	// in both databases.
	doubled := false
	for _, p := range procs {
		doubled = doubled || strings.Contains(p.logs.String(), "query nodes show them twice")
	}
	if doubled {
		t.Logf("a batch was recorded by its process and adopted by the other, as documented")
		messages := map[string]int{}
		for _, e := range exported {
			messages[e.Content]++
		}
		for _, text := range sent {
			if recorded[text] < 1 || recorded[text] > 2 || messages[text] != recorded[text] {
				t.Errorf("%q recorded %d times across the two databases, exported %d times", text, recorded[text], messages[text])
			}
		}
	} else {
		checkQueryNode(t, query, qdb, exported, want, heads, sent, dump)
		for _, text := range sent {
			if recorded[text] != 1 {
				t.Errorf("%q recorded %d times across the two databases, want exactly once", text, recorded[text])
			}
		}
	}
	if len(recorded) != len(sent) {
		t.Errorf("%d messages recorded, %d sent", len(recorded), len(sent))
	}
	t.Logf("%d messages through %d kills of the poller", len(sent), kills)
}

// TestTelegramPollerThatNeverReturns runs two `chatwarden run`
// processes sharing a 4s lease (long enough for A's slow motion below)
// and a query node. While A polls, a burst
// of 100 messages is held back at the fake Telegram and released in one
// getUpdates answer; the moment the lease shows A's batch committed, A is
// killed with SIGKILL and never started again (its machine is lost). B
// takes over, and one lease TTL later adopts the batch A left in the
// lease: it records it in its own database and notes the adoption in the
// lease. In the end every message is in A's or B's database and on the
// query node, each once, and every chain verifies there with its
// process's head. If the kill came after A had recorded the batch (the
// window is a few milliseconds of translating and committing), the burst
// is in both databases, the documented double record, and the test checks
// that it is exactly the burst, once in each.
func TestTelegramPollerThatNeverReturns(t *testing.T) {
	if os.Getenv("CHATWARDEN_LEASE_CHILD") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("kill test in -short mode")
	}
	ns := clustertest.StartNATS(t, 0, t.TempDir())
	sc := newTelegramScene(t)
	fake, groups, members := sc.fake, sc.groups, sc.members
	procs := leaseProcs(t, ns.ClientURL(), sc, 2, "4s")
	a, b := procs[0], procs[1]
	qn := startQueryNode(t, ns.ClientURL())
	dump := func() string { return dumpLogs(procs, qn) }
	watcher, err := cluster.NewCoordinator(cluster.CoordinatorOptions{Conn: cluster.Conn{URL: ns.ClientURL(), Name: "watcher"},
		Bucket: "CHATWARDEN_COORD", TTL: 4 * time.Second, Holder: "watcher", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	botID, _, _ := strings.Cut(fake.Token(), ":")
	lease := watcher.Lease("telegram." + botID)
	type batch struct {
		From int64 `json:"from"`
		Next int64 `json:"next"`
		By   string
	}
	var value struct {
		Pending map[string]batch `json:"pending"`
		Adopted map[string]batch `json:"adopted"`
	}
	peek := func() bool {
		v, err := lease.Peek(context.Background())
		if err != nil || v == nil {
			return false
		}
		value.Pending, value.Adopted = nil, nil
		return json.Unmarshal(v, &value) == nil
	}

	var sent, burst []string
	say := func(text string) {
		g := groups[len(sent)%len(groups)]
		fake.Message(g.chat, members[len(sent)%len(members)], text)
		sent = append(sent, text)
	}
	a.start(t)
	say("before 0")
	if !fake.WaitUpdatesConsumed(30 * time.Second) {
		t.Fatalf("A never polled\n%s", dump())
	}
	b.start(t)
	waitUntil(t, "B standing by", func() bool { return strings.Contains(b.logs.String(), "standing by for the Telegram poller") })
	for i := 1; i < 20; i++ {
		say(fmt.Sprintf("before %d", i))
		time.Sleep(20 * time.Millisecond)
	}
	if !fake.WaitUpdatesConsumed(30 * time.Second) {
		t.Fatalf("A did not keep up\n%s", dump())
	}
	waitUntil(t, "A's records published", func() bool { return gauge(a.base, cluster.MetricOutboxDepth) == 0 })

	// The burst, in one batch; A dies once it is in the lease. A runs in
	// slices of a fraction of a millisecond (SIGCONT, SIGSTOP), and the
	// lease is read between slices, so that the kill comes between A's
	// lease commit and its own (translating and recording 100 updates
	// takes milliseconds).
	fake.PauseUpdates()
	for i := range 100 {
		text := fmt.Sprintf("burst %d %s", i, strings.Repeat("long text ", 30))
		say(text)
		burst = append(burst, text)
	}
	first := int64(fake.PendingUpdates()[0].UpdateID)
	pid := a.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	fake.ResumeUpdates()
	var holderA string
	for steps := 0; holderA == ""; steps++ {
		if peek() {
			for h, p := range value.Pending {
				if p.From == first {
					holderA = h
				}
			}
		}
		if holderA != "" {
			break
		}
		if steps > 20000 {
			t.Fatalf("the burst never reached the lease\n%s", dump())
		}
		syscall.Kill(pid, syscall.SIGCONT)
		time.Sleep(200 * time.Microsecond)
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	a.kill()
	killed := time.Now()

	// B takes over and adopts the batch.
	for i := range 20 {
		say(fmt.Sprintf("after %d", i))
		time.Sleep(100 * time.Millisecond)
	}
	if !fake.WaitUpdatesConsumed(30 * time.Second) {
		t.Fatalf("B did not take over\n%s", dump())
	}
	waitUntil(t, "B to adopt A's batch", func() bool { return peek() && value.Adopted[holderA].From == first })
	t.Logf("B took over and adopted A's batch %+v %s after the kill", value.Adopted[holderA], time.Since(killed).Round(100*time.Millisecond))
	if _, ok := value.Pending[holderA]; ok || value.Adopted[holderA].By == holderA || value.Adopted[holderA].Next != first+100 {
		t.Fatalf("the lease holds %+v; want A's batch of 100 adopted by B", value)
	}
	if !strings.Contains(b.logs.String(), "adopting a batch another process took from Telegram") {
		t.Errorf("B did not log the adoption\n%s", dump())
	}
	waitUntil(t, "B's records published", func() bool { return gauge(b.base, cluster.MetricOutboxDepth) == 0 })
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("B did not stop cleanly: %v\n%s", err, dump())
	}

	// Every message in A's or B's database; each chain verifies.
	counts := map[string]map[string]int{} // process -> text -> records
	want := map[string]string{}
	heads := map[string]store.Verification{}
	var aOffset int64
	aPublished := true
	for _, p := range procs {
		s, err := store.Open(p.db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		counts[p.name] = map[string]int{}
		for _, g := range groups {
			page, err := s.Query(context.Background(), store.Query{Platform: audit.Telegram,
				Property: strconv.FormatInt(g.chat.ID, 10), Types: []audit.EventType{audit.ChatMessage}, Limit: store.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				counts[p.name][e.Content]++
			}
		}
		s.Scan(context.Background(), store.Query{}, func(e *audit.Event) error {
			want[s.Origin()+"/"+recordKey(e)] = string(e.Hash)
			return nil
		})
		vs, err := s.VerifyAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if !v.OK {
				t.Errorf("%s: chain of %s %s: %+v", p.name, v.Platform, v.Property, v)
			}
			heads[v.Platform.String()+":"+v.Property+"@"+s.Origin()] = v
		}
		if p == a {
			cur, err := s.Cursor("telegram/offset")
			var st struct {
				Offset int64 `json:"offset"`
			}
			if err != nil || json.Unmarshal(cur, &st) != nil {
				t.Fatalf("A's cursor %q: %v", cur, err)
			}
			aOffset = st.Offset
			n, err := s.OutboxDepth(cluster.Sink)
			aPublished = err == nil && n == 0
		}
		s.Close()
	}
	recordedByA := aOffset >= first+100
	inBurst := map[string]bool{}
	for _, text := range burst {
		inBurst[text] = true
	}
	for _, text := range sent {
		na, nb := counts["A"][text], counts["B"][text]
		switch {
		case inBurst[text] && recordedByA:
			if na != 1 || nb != 1 {
				t.Errorf("%q, of the batch A recorded before its kill: in A %d times, in B %d; want once in each", text[:10], na, nb)
			}
		case inBurst[text]:
			if na != 0 || nb != 1 {
				t.Errorf("%q, of the batch A left unrecorded: in A %d times, in B %d; want only B, once", text[:10], na, nb)
			}
		case na+nb != 1:
			t.Errorf("%q recorded %d times in A and %d in B, want once in all", text, na, nb)
		}
	}
	if recordedByA {
		t.Logf("A was killed after recording the burst (its offset %d): the burst is in both databases, as documented", aOffset)
	}

	// The query node: every record of the two databases (A's all
	// published), each once.
	if !aPublished {
		t.Logf("A was killed with records not published: the query node cannot have them")
		return
	}
	var exported []audit.Event
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		exported = exportAll(t, qn.base)
		if len(exported) >= len(want) && ready(qn.base) || time.Now().After(deadline) {
			break
		}
	}
	if recordedByA {
		messages := map[string]int{}
		for _, e := range exported {
			messages[e.Content]++
		}
		for _, text := range sent {
			if w := 1 + btoi(inBurst[text]); messages[text] != w {
				t.Errorf("%q exported %d times by the query node, want %d", text[:10], messages[text], w)
			}
		}
		return
	}
	checkQueryNode(t, qn.cmd, qn.db, exported, want, heads, sent, dump)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// leaseProc is one `chatwarden run` process with Telegram enabled in a
// fleet, run as a child of the test binary.
type leaseProc struct {
	name, db, cfg, base string
	logs                *testlog.Buffer
	cmd                 *exec.Cmd
}

// leaseProcs prepares n processes sharing the NATS server at url with
// the given cluster.lease_ttl, each with its own database holding the
// scene's groups' settings; they are killed when the test ends.
func leaseProcs(t *testing.T, url string, sc *telegramScene, n int, ttl string) []*leaseProc {
	t.Helper()
	procs := make([]*leaseProc, n)
	for i := range procs {
		p := &leaseProc{name: string(rune('A' + i)), logs: &testlog.Buffer{}}
		dir := t.TempDir()
		p.db, p.cfg = filepath.Join(dir, "bot.db"), filepath.Join(dir, "config.yaml")
		// Each process its own database with the groups' log channel
		// settings, not a copy of one file: a copy would share its
		// origin (store.Store.Origin) with its original.
		copySettings(t, sc.db, p.db, sc.groups)
		addr := freeAddr(t)
		p.base = "http://" + addr
		cfg := fmt.Sprintf(`log_level: info
storage: {path: %s}
api: {listen: %s, operator_token: %s}
telegram:
  enabled: true
  token: %q
  api_url: %s
  poll_timeout: 1s
  delete_commands_after: 0s
cluster:
  nats_url: %s
  lease_ttl: %s
`, p.db, addr, fleetOperator, sc.fake.Token(), sc.fake.URL, url, ttl)
		if err := os.WriteFile(p.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})
	return procs
}

// start runs the process (again).
func (p *leaseProc) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestLeaseChild$")
	p.cmd.Env = append(os.Environ(), "CHATWARDEN_LEASE_CHILD="+p.cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill ends the process with SIGKILL, if it runs.
func (p *leaseProc) kill() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// queryNode is a `chatwarden api` process copying the fleet's stream.
type queryNode struct {
	db, base string
	logs     *testlog.Buffer
	cmd      *exec.Cmd
}

// startQueryNode starts a query node on the NATS server at url; it is
// killed when the test ends unless stopped before.
func startQueryNode(t *testing.T, url string) *queryNode {
	t.Helper()
	dir := t.TempDir()
	qn := &queryNode{db: filepath.Join(dir, "query.db"), logs: &testlog.Buffer{}}
	cfg, addr := filepath.Join(dir, "query.yaml"), freeAddr(t)
	qn.base = "http://" + addr
	err := os.WriteFile(cfg, []byte(fmt.Sprintf("log_level: info\nstorage: {path: %s}\napi: {listen: %s, operator_token: %s}\ncluster: {nats_url: %q}\n",
		qn.db, addr, fleetOperator, url)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	qn.cmd = exec.Command(os.Args[0], "-test.run=^TestFleetChild$")
	qn.cmd.Env = append(os.Environ(), "CHATWARDEN_FLEET_CHILD=api "+cfg)
	qn.cmd.Stdout, qn.cmd.Stderr = qn.logs, qn.logs
	if err := qn.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if qn.cmd.ProcessState == nil {
			qn.cmd.Process.Kill()
			qn.cmd.Wait()
		}
	})
	return qn
}

func dumpLogs(procs []*leaseProc, qn *queryNode) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", p.name, p.logs.String())
	}
	return b.String() + "--- query node ---\n" + qn.logs.String()
}

// checkQueryNode stops the query node and checks that it holds exactly
// the shards' records (want: origin/record -> hash), each once, that
// every chain verifies there with its shard's head (heads, by
// platform:property@origin), that some group has chains from both
// processes, and that its export (exported) returned every message once.
func checkQueryNode(t *testing.T, query *exec.Cmd, qdb string, exported []audit.Event, want map[string]string,
	heads map[string]store.Verification, sent []string, dump func() string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("the processes' logs:\n%s", dump())
		}
	}()
	hashes := map[string]int{} // a record's hash names it across origins
	for _, h := range want {
		hashes[h]++
	}
	messages := map[string]int{}
	for _, e := range exported {
		if hashes[string(e.Hash)] != 1 {
			t.Errorf("record %s exported by the query node is not one record of a process", recordKey(&e))
		}
		hashes[string(e.Hash)]++
		if e.Type == audit.ChatMessage {
			messages[e.Content]++
		}
	}
	if len(exported) != len(want) {
		t.Errorf("the query node exports %d records, the processes hold %d", len(exported), len(want))
	}
	for _, text := range sent {
		if messages[text] != 1 {
			t.Errorf("%q exported %d times by the query node, want once", text, messages[text])
		}
	}
	query.Process.Signal(syscall.SIGTERM)
	if err := query.Wait(); err != nil {
		t.Fatalf("the query node did not stop cleanly: %v\n%s", err, dump())
	}
	qs, err := store.Open(qdb, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	vs, err := qs.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	origins := map[string]int{}
	for _, v := range vs {
		sv, ok := heads[v.Platform.String()+":"+v.Property+"@"+v.Origin]
		if !v.OK || !ok || v.Head != sv.Head || v.Records != sv.Records {
			t.Errorf("query node: chain of %s %s from origin %q: ok %v (%s), %d records, head %x; its process's: %d records, head %x",
				v.Platform, v.Property, v.Origin, v.OK, v.Problem, v.Records, v.Head[:4], sv.Records, sv.Head[:4])
		}
		origins[v.Platform.String()+":"+v.Property]++
	}
	if len(vs) != len(heads) {
		t.Errorf("%d chains on the query node, %d in the processes' databases", len(vs), len(heads))
	}
	both := 0
	for _, n := range origins {
		if n == 2 {
			both++
		}
	}
	if both == 0 {
		t.Errorf("no group has records of both processes on the query node: the failover was not exercised (%v)", origins)
	}
}

// copySettings creates a database at dst with the settings of the
// groups in src.
func copySettings(t *testing.T, src, dst string, groups []sceneGroup) {
	t.Helper()
	from, err := store.Open(src, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	to, err := store.Open(dst, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	for _, g := range groups {
		id := strconv.FormatInt(g.chat.ID, 10)
		set, err := from.Settings(context.Background(), audit.Telegram, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := to.UpdateSettings(context.Background(), audit.Telegram, id, func(st *settings.Community) error {
			*st = set
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeaseChild is a process of the failover test.
func TestLeaseChild(t *testing.T) {
	cfg := os.Getenv("CHATWARDEN_LEASE_CHILD")
	if cfg == "" {
		t.Skip("only run as a child of the failover test")
	}
	os.Exit(cli.Run([]string{"run", "--config", cfg}, os.Stdout, os.Stderr))
}
