package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// stalledWriter accepts the first write only once released: a client that
// stopped reading.
type stalledWriter struct {
	started chan struct{}
	release chan struct{}
	buf     bytes.Buffer
	first   bool
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	if !w.first {
		w.first = true
		close(w.started)
		<-w.release
	}
	return w.buf.Write(p)
}

func bigEvent(i int) *audit.Event {
	return &audit.Event{Time: time.Now(), Platform: audit.Discord, PropertyID: eraseProp,
		Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: "555", ActorName: "someone", ChannelID: "42", MessageID: fmt.Sprint(i),
		Content: strings.Repeat(fmt.Sprintf("message %d ", i), 150)}
}

// TestStalledBackupDoesNotBlockAppends: while a backup's reader does not
// read at all, appends that grow the file (and so bbolt's memory map)
// keep committing. Before, the backup's read transaction held the mmap
// lock and the first append that needed a remap waited for the reader.
func TestStalledBackupDoesNotBlockAppends(t *testing.T) {
	s := openTest(t)
	for i := range 200 {
		appendAll(t, s, []*audit.Event{bigEvent(i)}, 1)
	}
	before, _ := os.Stat(s.Path())
	w := &stalledWriter{started: make(chan struct{}), release: make(chan struct{})}
	backupDone := make(chan error, 1)
	go func() { _, err := s.Backup(context.Background(), w); backupDone <- err }()
	<-w.started

	// About 22 MB: past bbolt's 16 MB growth step, so the file grows (the
	// store maps 1 GiB from the start, so it is the file's growth that
	// once waited for the reader).
	const n = 12000
	appended := make(chan error, 1)
	go func() {
		for i := range n {
			if err := s.Append(context.Background(), &recorder.Batch{Events: []*audit.Event{bigEvent(1000 + i)}}); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-backupDone:
		t.Fatalf("the backup finished while its writer was stalled: %v", err)
	case <-time.After(2 * time.Minute): // a guard against a hang, not a measure
		close(w.release) // let the backup end so that the store can close
		t.Fatal("appends stalled behind a backup whose reader stopped reading")
	}
	after, _ := os.Stat(s.Path())
	if after.Size() <= before.Size() {
		t.Fatalf("the file did not grow (%d -> %d bytes): the test proves nothing", before.Size(), after.Size())
	}
	select {
	case err := <-backupDone:
		t.Fatalf("the backup finished while its writer was stalled: %v", err)
	default:
	}
	close(w.release)
	if err := <-backupDone; err != nil {
		t.Fatal(err)
	}
	// The backup is the database as it was when it began.
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, w.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.Verify(context.Background(), audit.Discord, eraseProp)
	if err != nil || !v.OK || v.Records != 200 {
		t.Fatalf("the backup: %+v, %v; want 200 records that verify", v, err)
	}
}
