package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// TestCrashLosesNothingAcknowledged runs a child process that records
// events through the Recorder as fast as it can and prints the id of every
// acknowledged event, kills it with SIGKILL at a random moment, and checks
// that every acknowledged event is in the reopened database and that every
// chain verifies.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if os.Getenv("CHATWARDEN_CRASH_CHILD") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := 0; round < 3; round++ {
		path := filepath.Join(t.TempDir(), "crash.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), "CHATWARDEN_CRASH_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		var mu sync.Mutex
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
		// Wait for the first acknowledgements, then kill at a random moment.
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-readDone
		_ = cmd.Wait()
		if len(acked) == 0 {
			t.Fatal("the child acknowledged nothing")
		}

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("reopen after SIGKILL: %v", err)
		}
		present := map[string]bool{}
		for _, p := range s.Properties() {
			err := s.Scan(context.Background(), Query{Platform: p.Platform, Property: p.ID}, func(e *audit.Event) error {
				present[e.ID.String()] = true
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for id := range acked {
			if !present[id] {
				t.Fatalf("round %d: acknowledged event %s lost (%d acknowledged, %d present)", round, id, len(acked), len(present))
			}
		}
		vs, err := s.VerifyAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if !v.OK {
				t.Fatalf("round %d: chain of %s broken after SIGKILL: %s", round, v.Property, v.Problem)
			}
		}
		t.Logf("round %d: %d acknowledged, %d present, chains verify", round, len(acked), len(present))
		s.Close()
	}
}

// TestCrashChild is the child of TestCrashLosesNothingAcknowledged.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("CHATWARDEN_CRASH_CHILD")
	if path == "" {
		t.Skip("only run as a child of the crash test")
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{})
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			for {
				evs := make([]*audit.Event, 1+rng.IntN(5))
				for i := range evs {
					evs[i] = genEvent(rng)
				}
				if err := rec.Record(context.Background(), evs...); err != nil {
					fmt.Fprintln(os.Stderr, "record:", err)
					return
				}
				mu.Lock()
				for _, e := range evs {
					fmt.Fprintf(w, "ACK %s\n", e.ID)
				}
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
