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

	"github.com/chatwarden/chatwarden/bot"
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
	p  bot.Platform
	id string
}

var testProps = []propID{
	{bot.Discord, "100000000000000001"}, {bot.Discord, "100000000000000002"},
	{bot.Discord, "100000000000000003"}, {bot.Telegram, "-1001000000001"},
	{bot.Telegram, "-1001000000002"},
}

var testBase = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// genEvent makes a random but plausible event. Times are whole seconds
// over 30 days so that ties (same time, different records) are common.
func genEvent(rng *rand.Rand) *bot.Event {
	pr := testProps[rng.IntN(len(testProps))]
	types := bot.EventTypes()
	e := &bot.Event{
		Time:         testBase.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second),
		Platform:     pr.p,
		PropertyID:   pr.id,
		Type:         types[rng.IntN(len(types))],
		PlatformType: []string{"MESSAGE_CREATE", "chat_member", "custom_thing"}[rng.IntN(3)],
		Function:     bot.Function(1 + rng.IntN(9)),
		ActorType:    bot.ActorType(1 + rng.IntN(4)),
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
		e.Params = bot.Params{bot.ParamReason: "spam", bot.ParamKind: bot.KindJoinRaid}
	}
	if rng.IntN(10) == 0 {
		e.Attachments = []bot.Attachment{{Name: "a.png", URL: "https://cdn/a.png", Size: 1234, Hash: "abc"}}
	}
	return e
}

func appendAll(t testing.TB, s *Store, evs []*bot.Event, batch int) {
	t.Helper()
	for i := 0; i < len(evs); i += batch {
		j := min(i+batch, len(evs))
		if err := s.Append(context.Background(), &bot.Batch{Events: evs[i:j]}); err != nil {
			t.Fatal(err)
		}
	}
}

// brute filters and orders evs the way Query promises.
func brute(evs []*bot.Event, q Query) []bot.ID {
	var out []bot.ID
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
	slices.SortFunc(out, func(a, b bot.ID) int { return -strings.Compare(string(a[:]), string(b[:])) })
	return out
}

func randQuery(rng *rand.Rand) Query {
	var q Query
	if rng.IntN(8) > 0 {
		pr := testProps[rng.IntN(len(testProps))]
		q.Platform, q.Property = pr.p, pr.id
	} else if rng.IntN(2) == 0 {
		q.Platform = bot.Telegram
	}
	for range rng.IntN(3) {
		q.Types = append(q.Types, bot.EventTypes()[rng.IntN(len(bot.EventTypes()))])
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
