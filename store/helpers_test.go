package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type propID struct {
	p  audit.Platform
	id string
}

var testProps = []propID{
	{audit.Discord, "100000000000000001"}, {audit.Discord, "100000000000000002"},
	{audit.Discord, "100000000000000003"}, {audit.Telegram, "-1001000000001"},
	{audit.Telegram, "-1001000000002"},
}

var testBase = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// genEvent makes a random but plausible event. Times are whole seconds
// over 30 days so that ties (same time, different records) are common.
func genEvent(rng *rand.Rand) *audit.Event {
	pr := testProps[rng.IntN(len(testProps))]
	types := audit.EventTypes()
	e := &audit.Event{
		Time:         testBase.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second),
		Platform:     pr.p,
		PropertyID:   pr.id,
		Type:         types[rng.IntN(len(types))],
		PlatformType: []string{"MESSAGE_CREATE", "chat_member", "custom_thing"}[rng.IntN(3)],
		Function:     audit.Function(1 + rng.IntN(9)),
		ActorType:    audit.ActorType(1 + rng.IntN(4)),
		ActorID:      fmt.Sprintf("u%d", rng.IntN(40)),
		ActorName:    fmt.Sprintf("user %d", rng.IntN(40)),
	}
	for range rng.IntN(4) {
		e.TargetIDs = append(e.TargetIDs, fmt.Sprintf("u%d", rng.IntN(40)))
	}
	if rng.IntN(5) > 0 {
		e.ChannelID = fmt.Sprintf("c%d", rng.IntN(10))
	}
	if rng.IntN(2) == 0 {
		e.MessageID = fmt.Sprintf("m%d", rng.IntN(1000))
		e.Content = strings.Repeat("hello world ", rng.IntN(10))
	}
	if rng.IntN(3) == 0 {
		e.Params = audit.Params{audit.ParamReason: "spam", audit.ParamKind: audit.KindJoinRaid}
	}
	if rng.IntN(10) == 0 {
		e.Attachments = []audit.Attachment{{Name: "a.png", URL: "https://cdn/a.png", Size: 1234, Hash: "abc"}}
	}
	return e
}

// genEvents makes n events with genEvent.
func genEvents(rng *rand.Rand, n int) []*audit.Event {
	evs := make([]*audit.Event, n)
	for i := range evs {
		evs[i] = genEvent(rng)
	}
	return evs
}

func appendAll(t testing.TB, s *Store, evs []*audit.Event, batch int) {
	t.Helper()
	for i := 0; i < len(evs); i += batch {
		j := min(i+batch, len(evs))
		if err := s.Append(context.Background(), &recorder.Batch{Events: evs[i:j]}); err != nil {
			t.Fatal(err)
		}
	}
}

// brute filters and orders evs the way Query promises.
func brute(evs []*audit.Event, q Query) []audit.ID {
	var out []audit.ID
	for _, e := range evs {
		if q.Property != "" && (e.Platform != q.Platform || e.PropertyID != q.Property) {
			continue
		}
		if q.Property == "" && q.Platform != 0 && e.Platform != q.Platform {
			continue
		}
		if q.match(e) {
			out = append(out, e.ID)
		}
	}
	slices.SortFunc(out, func(a, b audit.ID) int { return -strings.Compare(string(a[:]), string(b[:])) })
	return out
}

func randQuery(rng *rand.Rand) Query {
	var q Query
	if rng.IntN(8) > 0 {
		pr := testProps[rng.IntN(len(testProps))]
		q.Platform, q.Property = pr.p, pr.id
	} else if rng.IntN(2) == 0 {
		q.Platform = audit.Telegram
	}
	for range rng.IntN(3) {
		q.Types = append(q.Types, audit.EventTypes()[rng.IntN(len(audit.EventTypes()))])
	}
	switch rng.IntN(5) {
	case 0:
		q.Actor = fmt.Sprintf("u%d", rng.IntN(45))
	case 1:
		q.Target = fmt.Sprintf("u%d", rng.IntN(45))
	case 2:
		q.User = fmt.Sprintf("u%d", rng.IntN(45))
	}
	if rng.IntN(3) == 0 {
		q.Channel = fmt.Sprintf("c%d", rng.IntN(11))
	}
	if rng.IntN(3) == 0 {
		q.Since = testBase.Add(time.Duration(rng.IntN(20*24)) * time.Hour)
	}
	if rng.IntN(3) == 0 {
		q.Until = testBase.Add(time.Duration(10*24+rng.IntN(21*24)) * time.Hour)
		if !q.Since.IsZero() && !q.Since.Before(q.Until) {
			q.Since = time.Time{}
		}
	}
	q.Limit = []int{1, 7, 50, 1000}[rng.IntN(4)]
	return q
}
