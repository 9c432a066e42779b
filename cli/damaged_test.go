package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// TestDamagedPagesGiveErrors damages random pages of a real database
// (a scrambled page header, a flipped byte, a zeroed page) and runs the
// tools on each copy: none panics, and each either succeeds or fails with
// an error naming the file.
func TestDamagedPagesGiveErrors(t *testing.T) {
	dir := t.TempDir()
	pristine := filepath.Join(dir, "pristine.db")
	s, err := store.Open(pristine, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4000; i += 200 {
		var evs []*audit.Event
		for j := range 200 {
			evs = append(evs, &audit.Event{Time: time.Now().Add(-time.Duration(4000-i-j) * time.Minute), Platform: audit.Discord,
				PropertyID: fmt.Sprint(100 + (i+j)%3), Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE",
				Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprint(1000 + j%50), ActorName: "member",
				ChannelID: "7", MessageID: fmt.Sprint(i + j), Content: strings.Repeat("text ", 1+j%40)})
		}
		if err := s.Append(context.Background(), &recorder.Batch{Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	orig, err := os.ReadFile(pristine)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	pages := len(orig) / pageSize
	rng := rand.New(rand.NewPCG(19, 19))
	failures := 0
	for round := range 60 {
		b := bytes.Clone(orig)
		page := 2 + rng.IntN(pages-2)
		if round%10 == 9 {
			page = rng.IntN(2) // a meta page
		}
		off := page * pageSize
		kind := round % 3
		switch kind {
		case 0: // the page header: id, flags, count, overflow
			for i := range 16 {
				b[off+i] = byte(rng.Uint32())
			}
		case 1:
			b[off+rng.IntN(pageSize)] ^= byte(1 + rng.IntN(255))
		case 2:
			clear(b[off : off+pageSize])
		}
		path := filepath.Join(dir, fmt.Sprintf("damaged-%02d.db", round))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"verify", "--db", path},
			{"logs", "--db", path, "--limit", "1000"},
			{"export", "--db", path, "--property", "101", "--out", filepath.Join(dir, "export.ndjson")},
			{"backup", "--db", path, "--out", filepath.Join(dir, "backup.db")},
		} {
			var stdout, stderr bytes.Buffer
			code := Run(args, &stdout, &stderr) // a panic fails the test
			switch {
			case code == 1:
				failures++
				if !strings.Contains(stderr.String(), path) {
					t.Errorf("round %d (page %d, damage %d): %s failed without naming the file: %s", round, page, kind, args[0], stderr.String())
				}
			case code != 0:
				t.Errorf("round %d: %s exited %d: %s", round, args[0], code, stderr.String())
			}
		}
		// What `run` does first: open the file for writing.
		func() {
			s, err := store.Open(path, store.Options{NoSync: true})
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("round %d: open for writing failed without naming the file: %v", round, err)
				}
				return
			}
			s.Close()
		}()
	}
	if failures == 0 {
		t.Fatal("no damaged copy made any tool fail: the damage reached nothing")
	}
	t.Logf("%d tool runs failed with an error naming the file", failures)
}
