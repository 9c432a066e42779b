package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// retainedBytes is the memory Append keeps from one batch to the next:
// its queued writes, their sort order, the arena and the seal buffers.
func retainedBytes(s *Store) int {
	w := s.writer
	n := cap(w.order) * int(unsafe.Sizeof(sortKey{}))
	for _, p := range w.pending {
		n += cap(p) * int(unsafe.Sizeof(kv{}))
	}
	for _, c := range w.arena.chunks {
		n += cap(c)
	}
	return n + s.seals.bytes
}

// What the store keeps between Appends does not grow with the events it
// has taken: after a burst far above the limits, and after twice as many
// events, it stays under the documented bounds, and its caches hold one
// entry per community, member and channel seen, not per event.
func TestAppendKeepsBoundedMemory(t *testing.T) {
	const keep = 1 << 15 // appendTx.reset
	bound := nQueued*keep*int(unsafe.Sizeof(kv{})) + keep*int(unsafe.Sizeof(sortKey{})) + 16*arenaChunk + sealBufsBytes
	s := openTest(t)
	rng := rand.New(rand.NewPCG(20, 2))
	const props, users, channels = 30, 400, 5
	seq := 0
	batch := func(n int) {
		b := &recorder.Batch{Routes: make([][]recorder.Route, n)}
		for i := range n {
			seq++
			e := &audit.Event{Platform: audit.Discord, PropertyID: fmt.Sprint("g", rng.IntN(props)), Type: audit.ChatMessage,
				PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: fmt.Sprint("u", rng.IntN(users)), ActorName: "member", ChannelID: fmt.Sprint("c", rng.IntN(channels)),
				MessageID: fmt.Sprint(seq), Content: "a message of an ordinary length, like most", Time: testBase}
			e.Normalize(testBase)
			b.Events = append(b.Events, e)
			b.Sealed = append(b.Sealed, s.Seal(e))
			b.Routes[i] = []recorder.Route{{Sink: "discord", Target: "log"}}
		}
		must(t, s.Append(context.Background(), b))
	}
	round := func() int {
		for range 10 {
			batch(1 + rng.IntN(2000))
		}
		return retainedBytes(s)
	}
	batch(keep + 100) // a burst: the queues above their limit
	batch(10)
	w := s.writer
	for q, p := range w.pending {
		if cap(p) > keep {
			t.Errorf("after a burst: queue %d keeps room for %d writes, limit %d", q, cap(p), keep)
		}
	}
	if cap(w.order) > keep || len(w.arena.chunks) > 16 || s.seals.bytes > sealBufsBytes {
		t.Errorf("after a burst: order %d, %d arena chunks, %d bytes of seals", cap(w.order), len(w.arena.chunks), s.seals.bytes)
	}
	if r := retainedBytes(s); r > bound {
		t.Fatalf("after a burst of %d events: %d bytes kept, bound %d", keep+100, r, bound)
	}
	first := round()
	for i := range 2 {
		if r := round(); r > bound || r > first+first/2 {
			t.Fatalf("round %d: %d bytes kept, %d after the first round (bound %d)", i+2, r, first, bound)
		}
	}
	if n := len(s.dict); n > users+props*channels {
		t.Fatalf("%d dictionary entries for %d members and %d channels, after %d events", n, users, props*channels, seq)
	}
	if n := len(s.propByID); n != props {
		t.Fatalf("%d property states for %d properties", n, props)
	}
	t.Logf("%d events: %d bytes kept between Appends (bound %d), %d dictionary entries", seq, retainedBytes(s), bound, len(s.dict))
}
