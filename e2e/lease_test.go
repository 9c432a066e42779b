package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cli"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/store"
)

// syncBuffer is a log buffer two goroutines of exec write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTelegramPollerFailover runs two `chatwarden run` processes with
// Telegram enabled, each with its own database, sharing a NATS server
// (in this process) through cluster.nats_url with a 3s lease. Only the
// lease holder polls. Three times, the poller is killed with SIGKILL
// while messages keep coming: the other process must take over within 30
// seconds, and the killed one is started again (it stands by, and records
// a batch a kill left pending in the lease under its name). In the end
// every message is recorded exactly once across the two databases, every
// chain verifies, and every message reached its group's log channel.
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
	seed, err := os.ReadFile(sc.db) // the groups' log channel settings
	if err != nil {
		t.Fatal(err)
	}
	type proc struct {
		name, db, cfg string
		logs          *syncBuffer
		cmd           *exec.Cmd
	}
	procs := make([]*proc, 2)
	for i := range procs {
		p := &proc{name: string(rune('A' + i)), logs: &syncBuffer{}}
		dir := t.TempDir()
		p.db, p.cfg = filepath.Join(dir, "bot.db"), filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p.db, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`log_level: info
storage: {path: %s}
telegram:
  enabled: true
  token: %q
  api_url: %s
  poll_timeout: 1s
  delete_commands_after: 0s
cluster:
  nats_url: %s
  lease_ttl: 3s
`, p.db, fake.Token(), fake.URL, ns.ClientURL())
		if err := os.WriteFile(p.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	start := func(p *proc) {
		p.cmd = exec.Command(os.Args[0], "-test.run=^TestLeaseChild$")
		p.cmd.Env = append(os.Environ(), "CHATWARDEN_LEASE_CHILD="+p.cfg)
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	dump := func() string {
		return "--- A ---\n" + procs[0].logs.String() + "\n--- B ---\n" + procs[1].logs.String()
	}
	defer func() {
		for _, p := range procs {
			if p.cmd != nil && p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 22))
	var sent []string
	say := func() {
		g := groups[rng.IntN(len(groups))]
		text := fmt.Sprintf("message %d", len(sent))
		fake.Message(g.chat, members[rng.IntN(len(members))], text)
		sent = append(sent, text)
	}
	standingBy := func(p *proc, n int) bool {
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
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%s did not stop cleanly: %v\n%s", p.name, err, dump())
		}
	}

	// Every message once across the two databases; each chain verifies.
	recorded := map[string]int{}
	for _, p := range procs {
		s, err := store.Open(p.db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
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
		}
		s.Close()
	}
	for _, text := range sent {
		if recorded[text] != 1 {
			t.Errorf("%q recorded %d times across the two databases, want exactly once", text, recorded[text])
		}
	}
	if len(recorded) != len(sent) {
		t.Errorf("%d messages recorded, %d sent", len(recorded), len(sent))
	}
	t.Logf("%d messages through %d kills of the poller", len(sent), kills)
}

// TestLeaseChild is a process of the failover test.
func TestLeaseChild(t *testing.T) {
	cfg := os.Getenv("CHATWARDEN_LEASE_CHILD")
	if cfg == "" {
		t.Skip("only run as a child of the failover test")
	}
	os.Exit(cli.Run([]string{"run", "--config", cfg}, os.Stdout, os.Stderr))
}
