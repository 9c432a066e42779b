package store

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// sealedBatch seals n chat messages of property "g" the way the Recorder
// does, on the caller's side.
func sealedBatch(s *Store, from, n int) *recorder.Batch {
	b := &recorder.Batch{}
	for i := from; i < from+n; i++ {
		e := &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.ChatMessage, Function: audit.FuncGateway,
			ActorType: audit.ActorNonAdmin, ActorID: "u", ActorName: "member", ChannelID: "c", MessageID: fmt.Sprint(1000 + i),
			Content: fmt.Sprintf("message number %d", i), Time: testBase.Add(time.Duration(i) * time.Second)}
		e.Normalize(testBase)
		b.Events = append(b.Events, e)
		b.Sealed = append(b.Sealed, s.Seal(e))
	}
	return b
}

// Seal reuses the buffers of committed batches: a steady stream of events
// seals without allocating, and what was committed is unchanged by the
// reuse.
func TestSealReusesCommittedBuffers(t *testing.T) {
	s := openTest(t)
	first := sealedBatch(s, 0, 50)
	old := map[uintptr]bool{}
	for _, b := range first.Sealed {
		old[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = true
	}
	must(t, s.Append(context.Background(), first))
	second := sealedBatch(s, 50, 50)
	reused := 0
	for _, b := range second.Sealed {
		if old[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] {
			reused++
		}
	}
	if reused != 50 {
		t.Fatalf("%d of 50 seals reused a committed batch's buffer", reused)
	}
	must(t, s.Append(context.Background(), second))

	e := sealedBatch(s, 100, 1).Events[0]
	if n := testing.AllocsPerRun(100, func() {
		s.seals.put([][]byte{s.Seal(e)})
	}); n != 0 {
		t.Errorf("Seal with a buffer back from a commit: %.1f allocations, want 0", n)
	}

	// Every record reads back as it was sealed, and the chain verifies.
	for i, ev := range append(first.Events, second.Events...) {
		got, err := s.Get(context.Background(), audit.Discord, "g", ev.ID)
		must(t, err)
		if want := fmt.Sprintf("message number %d", i); got.Content != want || got.ActorName != "member" {
			t.Fatalf("record %d: content %q, name %q; want %q", i, got.Content, got.ActorName, want)
		}
	}
	v, err := s.Verify(context.Background(), audit.Discord, "g")
	must(t, err)
	if !v.OK || v.Records != 100 {
		t.Fatalf("verify: %+v", v)
	}
}

// A batch that fails keeps its seals: the Recorder retries it with them.
func TestFailedAppendKeepsSeals(t *testing.T) {
	s := openTest(t)
	b := sealedBatch(s, 0, 3)
	b.Routes = [][]recorder.Route{nil} // wrong length: refused
	if err := s.Append(context.Background(), b); err == nil {
		t.Fatal("a batch with 1 route list for 3 events was accepted")
	}
	if n := len(s.seals.free); n != 0 {
		t.Fatalf("%d seals of a refused batch taken back", n)
	}
	b.Routes = nil
	must(t, s.Append(context.Background(), b))
	if n := len(s.seals.free); n != 3 {
		t.Fatalf("%d seals taken back after the commit, want 3", n)
	}
	for i, sealed := range b.Sealed {
		if sealed != nil {
			t.Fatalf("the committed batch still refers to seal %d, which the store may hand out again", i)
		}
	}
	got, err := s.Get(context.Background(), audit.Discord, "g", b.Events[2].ID)
	must(t, err)
	if got.Content != "message number 2" {
		t.Fatalf("content %q", got.Content)
	}
}
