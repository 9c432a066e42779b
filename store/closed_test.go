package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/recorder"
)

// A store closed under a running recorder (a shutdown in the wrong order)
// must fail the recorder's callers with ErrJournalClosed, not leave it
// retrying forever with Close never returning.
func TestRecorderOnAClosedStoreGivesUp(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "closed.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	if err := rec.Record(context.Background(), genEvent(rng)); err != nil {
		t.Fatalf("record on an open store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = rec.Record(ctx, genEvent(rng))
	if !errors.Is(err, recorder.ErrJournalClosed) {
		t.Fatalf("record on a closed store: %v, want ErrJournalClosed", err)
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatalf("close the recorder: %v", err)
	}
}
