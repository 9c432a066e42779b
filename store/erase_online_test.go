package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// TestEraseWhileRecording: an erasure of thousands of records in a
// running bot works in bounded transactions and lets recording go on
// between them: records committed in the middle of the erasure are stored
// (and verify), and those of the erased user among them are erased too,
// so that nothing of the user's survives the erasure however it
// interleaves with recording.
func TestEraseWhileRecording(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const n = 3000
	fillForErasure(t, s, n)

	const liveText = "kept-while-erasing"
	chunks, during := 0, 0
	eraseChunkHook = func() {
		chunks++
		// Between two chunks the writer is free: a batch commits at once,
		// one record of someone else and one of the erased user.
		evs := []*audit.Event{
			{Time: time.Now(), Platform: audit.Discord, PropertyID: eraseProp, Type: audit.ChatMessage,
				PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: "556", ActorName: "someone else", ChannelID: "42", MessageID: fmt.Sprint(700000 + chunks),
				Content: fmt.Sprintf("%s %d", liveText, chunks)},
			{Time: time.Now(), Platform: audit.Discord, PropertyID: eraseProp, Type: audit.ChatMessage,
				PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: eraseUser, ActorName: eraseName, ChannelID: "42", MessageID: fmt.Sprint(800000 + chunks),
				Content: fmt.Sprintf("%s during %d", eraseText, chunks)},
		}
		done := make(chan error, 1)
		go func() { done <- s.Append(ctx, &recorder.Batch{Events: evs}) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("append during the erasure: %v", err)
			}
			during++
		case <-time.After(time.Minute):
			t.Fatal("an append between two chunks of an erasure did not commit: the erasure holds the writer")
		}
	}
	t.Cleanup(func() { eraseChunkHook = nil })

	got, err := s.Erase(ctx, audit.Discord, eraseProp, eraseUser)
	if err != nil {
		t.Fatal(err)
	}
	if min := n / eraseChunk; chunks < min {
		t.Fatalf("the erasure of %d records released the writer %d times, want at least %d (one transaction per %d records)", n, chunks, min, eraseChunk)
	}
	if got != n+during {
		t.Errorf("erased %d records, want %d: the %d recorded before and the %d recorded during the erasure", got, n+during, n, during)
	}
	if hits := fileHits(t, s.Path(), eraseText, eraseName); hits != 0 {
		t.Errorf("after the erasure the file holds %d copies of the erased user's text or name", hits)
	}
	if hits := fileHits(t, s.Path(), liveText); hits != during {
		t.Errorf("the file holds %d of the %d messages others sent during the erasure", hits, during)
	}
	v, err := s.Verify(ctx, audit.Discord, eraseProp)
	if err != nil || !v.OK {
		t.Fatalf("verify after an erasure with records committed in between: %+v, %v", v, err)
	}
}
