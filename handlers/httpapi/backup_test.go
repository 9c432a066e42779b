package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// slowBackup opens /v1/backup and reads it at about 1 KB/s until stop is
// closed, then reads the rest; it returns the body.
func slowBackup(t *testing.T, e *env, started chan<- struct{}, stop <-chan struct{}) ([]byte, error) {
	req, _ := http.NewRequest("GET", e.ts.URL+"/v1/backup", nil)
	req.Header.Set("Authorization", "Bearer "+testOperator)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("backup: %s", resp.Status)
	}
	close(started)
	var body []byte
	buf := make([]byte, 100)
	for {
		select {
		case <-stop:
			rest, err := io.ReadAll(resp.Body)
			return append(body, rest...), err
		case <-time.After(100 * time.Millisecond): // 100 bytes per 100 ms: 1 KB/s
		}
		n, err := resp.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			return body, fmt.Errorf("the backup ended at %d bytes while the client was still reading slowly: %w", len(body), err)
		}
	}
}

// TestSlowBackupClientDoesNotStallRecording: a client reading /v1/backup
// at 1 KB/s while records are written as fast as the recorder takes them:
// every record commits while the backup is still being read, and the
// backup, once read, is the database as it was when it began.
func TestSlowBackupClientDoesNotStallRecording(t *testing.T) {
	e := newEnv(t)
	for i := range 300 {
		e.record(ev(i, audit.ChatMessage, func(x *audit.Event) { x.Content = strings.Repeat("seed ", 100) }))
	}
	started, stop := make(chan struct{}), make(chan struct{})
	type result struct {
		body []byte
		err  error
	}
	got := make(chan result, 1)
	go func() { b, err := slowBackup(t, e, started, stop); got <- result{b, err} }()
	select {
	case <-started:
	case r := <-got:
		t.Fatal(r.err)
	}
	const n = 4000 // several MB: the file and bbolt's mapping grow
	var committed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard against a hang
	defer cancel()
	for i := range n {
		x := ev(1000+i, audit.ChatMessage, func(x *audit.Event) { x.Content = strings.Repeat(fmt.Sprint(i), 300) })
		if err := e.rec.Record(ctx, x); err != nil {
			close(stop)
			t.Fatalf("record %d of %d while a slow client read the backup: %v", i, n, err)
		}
		committed.Add(1)
	}
	select {
	case r := <-got:
		t.Fatalf("the slow backup ended before the records were written: %v", r.err)
	default:
	}
	close(stop)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	total := 0
	for _, p := range c.Properties() {
		total += int(p.Count)
	}
	if total != 300 {
		t.Errorf("the backup holds %d records, want the 300 recorded before it began", total)
	}
	t.Logf("%d records committed while the client read %d bytes at 1 KB/s", committed.Load(), len(r.body))
}

// TestBackupsAreCapped: past maxBackups in progress, a backup gets 429.
func TestBackupsAreCapped(t *testing.T) {
	e := newEnv(t)
	for range maxBackups {
		e.srv.backups <- struct{}{}
	}
	r := e.get("/v1/backup", testOperator)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("backup past the cap: %d %s", r.StatusCode, r.body)
	}
	<-e.srv.backups
	if r := e.get("/v1/backup", testOperator); r.StatusCode != 200 {
		t.Fatalf("backup with a free slot: %d", r.StatusCode)
	}
}
