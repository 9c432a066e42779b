package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// FuzzCursor hands Query hostile cursors (real ones from two properties,
// altered by the fuzzer) with a query whose property and filters are also
// fuzzed. Properties: no panic; a cursor is either refused with
// ErrBadCursor (or the query with ErrBadQuery), or it is byte for byte one
// the store issued for a query with the same fingerprint (same platform,
// property and filters); a page read with any cursor holds only records of
// the query's own property (every property, for the operator's query
// without one) that match its filters.
func FuzzCursor(f *testing.F) {
	s := openTest(f)
	ctx := context.Background()
	props := []string{"A", "B"}
	var events []*audit.Event
	for i := range 40 {
		e := &audit.Event{Time: testBase.Add(time.Duration(i) * time.Second), Platform: audit.Discord,
			PropertyID: props[i%2], Type: []audit.EventType{audit.ChatMessage, audit.UserJoin}[i/2%2],
			Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprintf("u%d", i%3),
			ChannelID: "c"}
		e.Normalize(time.Now())
		events = append(events, e)
	}
	if err := s.Append(ctx, &recorder.Batch{Events: events}); err != nil {
		f.Fatal(err)
	}
	// issued remembers every cursor the store hands out, with the
	// fingerprint of the query it was issued for.
	issued := map[string][]byte{}
	for _, p := range props {
		for _, actor := range []string{"", "u1"} {
			q := Query{Platform: audit.Discord, Property: p, Actor: actor, Limit: 3}
			for range 3 {
				page, err := s.Query(ctx, q)
				if err != nil {
					f.Fatal(err)
				}
				for _, c := range []string{page.Older, page.Newer} {
					if c != "" {
						raw, _ := base64.RawURLEncoding.DecodeString(c)
						issued[string(raw)] = q.fingerprint()
						f.Add(c, p, actor, uint8(0), uint8(3))
					}
				}
				if page.Older == "" {
					break
				}
				q.Cursor = page.Older
			}
		}
	}
	f.Add("", "A", "", uint8(audit.ChatMessage), uint8(0))
	f.Add("AQ", "B", "u0", uint8(0), uint8(200))
	f.Add("not a cursor!", "", "", uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, cursor, property, actor string, typ, limit uint8) {
		if len(cursor) > 256 || len(property) > 256 || len(actor) > 256 {
			return
		}
		q := Query{Platform: audit.Discord, Property: property, Actor: actor, Limit: int(limit), Cursor: cursor}
		if typ != 0 {
			q.Types = []audit.EventType{audit.EventType(typ)}
		}
		if cursor != "" {
			if _, err := s.decodeCursor(&q); err != nil {
				if !errors.Is(err, ErrBadCursor) {
					t.Fatalf("cursor %q refused without ErrBadCursor: %v", cursor, err)
				}
			} else {
				raw, _ := base64.RawURLEncoding.DecodeString(cursor)
				fp, ok := issued[string(raw)]
				if !ok {
					t.Fatalf("cursor %q was accepted but never issued: forged", cursor)
				}
				if string(fp) != string(q.fingerprint()) {
					t.Fatalf("cursor %q accepted for property %q, actor %q: issued for another query", cursor, property, actor)
				}
			}
		}
		page, err := s.Query(ctx, q)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) && !errors.Is(err, ErrBadQuery) {
				t.Fatalf("query failed without naming the cursor or the query: %v", err)
			}
			return
		}
		for _, c := range []string{page.Older, page.Newer} {
			if c != "" {
				raw, _ := base64.RawURLEncoding.DecodeString(c)
				issued[string(raw)] = q.fingerprint()
			}
		}
		for _, e := range page.Events {
			if (property != "" && e.PropertyID != property) || !q.match(e) {
				t.Fatalf("query of %q (actor %q) returned a record of %q by %q", property, actor, e.PropertyID, e.ActorID)
			}
		}
	})
}
