//go:build linux

package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/recorder"
)

// TestDiskFullKeepsEventsAndRecovers fills the disk under the real store
// and recorder: a child process lowers its file-size limit
// (RLIMIT_FSIZE) to zero, so every write to the database fails as it
// would on a full disk, while producers keep recording. Nothing may be
// acknowledged while the disk is full, the recorder must say so in its
// log, and once space returns every event must commit, with the chains
// intact. A separate process is used because the limit is per process.
func TestDiskFullKeepsEventsAndRecovers(t *testing.T) {
	if os.Getenv("CHATWARDEN_DISKFULL_CHILD") != "" {
		t.Skip("child")
	}
	path := filepath.Join(t.TempDir(), "full.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFullChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CHATWARDEN_DISKFULL_CHILD="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	for _, want := range []string{"FULL: no acknowledgement", "RECOVERED", "--- PASS: TestDiskFullChild"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("child output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDiskFullChild(t *testing.T) {
	path := os.Getenv("CHATWARDEN_DISKFULL_CHILD")
	if path == "" {
		t.Skip("only run as a child of the disk-full test")
	}
	// A write past the limit raises SIGXFSZ, which would kill the process;
	// ignored, the write fails with EFBIG instead, as ENOSPC would.
	signal.Ignore(syscall.SIGXFSZ)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	rec := recorder.New(s, recorder.Options{Logger: zerolog.New(&logs)})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	before := genEvents(rng, 50)
	if err := rec.Record(ctx, before...); err != nil {
		t.Fatal(err)
	}

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	full := lim
	full.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Fatal(err)
	}

	// Producers record while the disk is full.
	const producers, each = 8, 25
	var acked sync.Map
	var wg sync.WaitGroup
	var during []*audit.Event
	var mu sync.Mutex
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(p), 9))
			for range each {
				e := genEvent(rng)
				mu.Lock()
				during = append(during, e)
				mu.Unlock()
				if err := rec.Record(ctx, e); err != nil {
					t.Errorf("record: %v", err)
					return
				}
				acked.Store(e.ID, true)
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for rec.Stats().Failures.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the recorder saw no failing commits with the disk full")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := 0
	acked.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d events acknowledged while nothing could be written", n)
	}
	if !strings.Contains(logs.String(), "events kept in memory, retrying") {
		t.Fatalf("the recorder did not say the commit failed:\n%s", logs.String())
	}
	fmt.Println("FULL: no acknowledgement, failures", rec.Stats().Failures.Load())

	// Space returns: everything commits.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	fmt.Println("RECOVERED")
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(during) != producers*each {
		t.Fatalf("%d events submitted, want %d", len(during), producers*each)
	}
	for _, e := range append(before, during...) {
		got, err := s.Get(ctx, e.Platform, e.PropertyID, e.ID)
		if err != nil || got.ID != e.ID {
			t.Fatalf("event %s lost: %v", e.ID, err)
		}
	}
	vs, err := s.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if !v.OK {
			t.Fatalf("chain of %s %s broken: %+v", v.Platform, v.Property, v)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
