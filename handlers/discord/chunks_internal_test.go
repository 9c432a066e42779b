package discord

import (
	"testing"
	"time"
)

// The member-request queue: a guild queued twice is asked for once, and
// never again within chunkGuildInterval; a rate-limited guild waits.
func TestChunkerSpacesRequests(t *testing.T) {
	c := newChunker()
	now := time.Now()
	c.enqueue("a", time.Time{})
	c.enqueue("b", time.Time{})
	c.enqueue("a", time.Time{})
	var got []string
	for {
		g, _ := c.next(now)
		if g == "" {
			break
		}
		got = append(got, g)
		c.sent(g, "nonce-"+g, now)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("requests %v, want [a b]", got)
	}

	// Asked again at once (a reconnect's GUILD_CREATE): due 30 s later.
	c.enqueue("a", time.Time{})
	if g, wait := c.next(now.Add(time.Second)); g != "" || wait != chunkGuildInterval-time.Second {
		t.Fatalf("next = %q, %s; want nothing for %s", g, wait, chunkGuildInterval-time.Second)
	}
	if g, _ := c.next(now.Add(chunkGuildInterval)); g != "a" {
		t.Fatalf("next after the interval = %q, want a", g)
	}

	// Chunks complete a request; others' chunks are ignored.
	if w := c.received("nonce-b", 2, 1); w != nil {
		t.Fatal("complete after one chunk of two")
	}
	if w := c.received("nonce-b", 2, 1); w == nil || w.guild != "b" || w.kept != 2 {
		t.Fatalf("after the last chunk: %+v", w)
	}
	if w := c.received("someone-else", 1, 0); w != nil {
		t.Fatalf("a chunk the bot did not ask for completed %+v", w)
	}

	// A rate-limited request goes back for the time Discord says.
	later := now.Add(time.Hour)
	c.sent("b", "nonce-b2", later)
	if g := c.drop("nonce-b2"); g != "b" {
		t.Fatalf("drop = %q", g)
	}
	c.enqueue("b", later.Add(40*time.Second))
	if g, _ := c.next(later.Add(35 * time.Second)); g != "" {
		t.Fatalf("rate-limited guild asked again early: %q", g)
	}
	if g, _ := c.next(later.Add(40 * time.Second)); g != "b" {
		t.Fatalf("rate-limited guild not asked again: %q", g)
	}
}
