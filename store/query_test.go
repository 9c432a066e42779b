package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// pageAll follows Older cursors to the end and returns every id.
func pageAll(t *testing.T, s *Store, q Query) []audit.ID {
	t.Helper()
	var ids []audit.ID
	for pages := 0; ; pages++ {
		page, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		limit, _ := q.Validate()
		if len(page.Events) > limit {
			t.Fatalf("page of %d over limit %d", len(page.Events), limit)
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.Older == "" {
			return ids
		}
		if pages > 20000 {
			t.Fatal("paging does not end")
		}
		q.Cursor = page.Older
	}
}

func TestQueryMatchesBruteForce(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(1, 2))
	evs := genEvents(rng, 6000)
	appendAll(t, s, evs, 500)
	for i := 0; i < 400; i++ {
		q := randQuery(rng)
		want := brute(evs, q)
		got := pageAll(t, s, q)
		if !slices.Equal(got, want) {
			t.Fatalf("query %d %+v: got %d records, want %d", i, q, len(got), len(want))
		}
	}
}

// TestQueryPagesHoldWholeRecords checks every field of every event a page
// returns against the event appended: a page's events share their text
// (see decoder), and records decoded but not matched are dropped from it.
func TestQueryPagesHoldWholeRecords(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(7, 8))
	evs := make([]*audit.Event, 3000)
	byID := make(map[audit.ID]*audit.Event)
	for i := range evs {
		e := genEvent(rng)
		switch i % 3 { // numeric ids, as platforms send, are stored as varints
		case 0:
			e.ActorID = fmt.Sprint(100000000000000000 + rng.IntN(40))
			e.TargetIDs = []string{fmt.Sprint(-1001000000000 - rng.IntN(5)), "0", e.ActorID}
			e.ChannelID = fmt.Sprint(rng.IntN(10))
		case 1:
			e.ActorName, e.Content = "", ""
		}
		evs[i] = e
	}
	appendAll(t, s, evs, 300)
	for _, e := range evs {
		byID[e.ID] = e
	}
	for i := 0; i < 300; i++ {
		q := randQuery(rng)
		if i%2 == 0 && len(evs[i].TargetIDs) > 0 { // user and channel: records read, then refused
			q.User, q.Channel = evs[i].TargetIDs[0], fmt.Sprint(rng.IntN(10))
		}
		page, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range page.Events {
			want := byID[got.ID]
			if want == nil || !q.match(got) {
				t.Fatalf("query %+v returned %s, which it should not", q, got.ID)
			}
			g := *got
			if !g.Time.Equal(want.Time) {
				t.Fatalf("record %s: time %v, want %v", got.ID, g.Time, want.Time)
			}
			g.Time = want.Time
			if !reflect.DeepEqual(&g, want) {
				t.Fatalf("record %s:\n got %+v\nwant %+v", got.ID, &g, want)
			}
		}
	}
}

func TestQueryNewerPagesWalkBack(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(3, 4))
	evs := genEvents(rng, 2000)
	appendAll(t, s, evs, 2000)
	for i := 0; i < 50; i++ {
		q := randQuery(rng)
		q.Limit = 5
		var pages [][]audit.ID
		cur := q
		for {
			page, err := s.Query(context.Background(), cur)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, ids(page.Events))
			if page.Older == "" {
				break
			}
			// Walk one page forward and back: the same page comes back.
			next := cur
			next.Cursor = page.Older
			older, err := s.Query(context.Background(), next)
			if err != nil {
				t.Fatal(err)
			}
			back := cur
			back.Cursor = older.Newer
			again, err := s.Query(context.Background(), back)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(again.Events), ids(page.Events)) {
				t.Fatalf("query %+v: Newer from the next page gives %v, want %v", q, ids(again.Events), ids(page.Events))
			}
			cur.Cursor = page.Older
		}
		if got := slices.Concat(pages...); !slices.Equal(got, brute(evs, q)) {
			t.Fatalf("query %+v: pages differ from brute force", q)
		}
	}
}

func ids(evs []*audit.Event) []audit.ID {
	out := make([]audit.ID, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestPaginationStableUnderConcurrentInserts(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(5, 6))
	evs := genEvents(rng, 3000)
	appendAll(t, s, evs, 1000)
	done := make(chan struct{})
	writerErr := make(chan error, 1)
	go func() {
		wrng := rand.New(rand.NewPCG(7, 8))
		for {
			select {
			case <-done:
				writerErr <- nil
				return
			default:
			}
			batch := make([]*audit.Event, 20)
			for i := range batch {
				batch[i] = genEvent(wrng)
				if i%2 == 0 { // half of them newer than everything
					batch[i].Time = time.Now()
				}
			}
			if err := s.Append(context.Background(), &recorder.Batch{Events: batch}); err != nil {
				writerErr <- err
				return
			}
		}
	}()
	for i := 0; i < 40; i++ {
		q := randQuery(rng)
		q.Limit = 13
		want := brute(evs, q) // what existed before paging began
		got := pageAll(t, s, q)
		seen := make(map[audit.ID]bool, len(got))
		for _, id := range got {
			if seen[id] {
				t.Fatalf("query %+v: %s returned twice", q, id)
			}
			seen[id] = true
		}
		for _, id := range want {
			if !seen[id] {
				t.Fatalf("query %+v: %s skipped while inserts ran", q, id)
			}
		}
		if !slices.IsSortedFunc(got, func(a, b audit.ID) int { return -compareID(a, b) }) {
			t.Fatalf("query %+v: results not newest first", q)
		}
	}
	close(done)
	if err := <-writerErr; err != nil {
		t.Fatal(err)
	}
}

func compareID(a, b audit.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func TestCursorRejections(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(9, 9))
	evs := make([]*audit.Event, 200)
	for i := range evs {
		evs[i] = genEvent(rng)
		evs[i].Platform, evs[i].PropertyID = testProps[0].p, testProps[0].id
	}
	appendAll(t, s, evs, 200)
	q := Query{Platform: testProps[0].p, Property: testProps[0].id, Limit: 10}
	page, err := s.Query(context.Background(), q)
	if err != nil || page.Older == "" {
		t.Fatalf("first page: %v %q", err, page.Older)
	}
	other := Query{Platform: testProps[1].p, Property: testProps[1].id, Limit: 10, Cursor: page.Older}
	if _, err := s.Query(context.Background(), other); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("cursor used on another property: err %v, want ErrBadCursor", err)
	}
	filtered := q
	filtered.Types = []audit.EventType{audit.UserJoin}
	filtered.Cursor = page.Older
	if _, err := s.Query(context.Background(), filtered); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("cursor used with other filters: err %v", err)
	}
	raw := []byte(page.Older)
	raw[5] ^= 1
	tampered := q
	tampered.Cursor = string(raw)
	if _, err := s.Query(context.Background(), tampered); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("tampered cursor: err %v", err)
	}
	for _, c := range []string{"x", "", "!!!!", string(make([]byte, 300))} {
		bad := q
		bad.Cursor = c
		if c == "" {
			continue
		}
		if _, err := s.Query(context.Background(), bad); !errors.Is(err, ErrBadCursor) {
			t.Fatalf("cursor %q: err %v", c, err)
		}
	}
	for _, lim := range []int{-1, 1001} {
		bad := q
		bad.Limit = lim
		if _, err := s.Query(context.Background(), bad); !errors.Is(err, ErrBadQuery) {
			t.Fatalf("limit %d: err %v", lim, err)
		}
	}
}

func TestCountsMatchBruteForce(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(11, 12))
	evs := genEvents(rng, 3000)
	appendAll(t, s, evs, 3000)
	since, until := testBase.Add(5*24*time.Hour), testBase.Add(20*24*time.Hour)
	for _, pr := range testProps {
		got, err := s.Counts(context.Background(), pr.p, pr.id, since, until)
		if err != nil {
			t.Fatal(err)
		}
		want := map[audit.EventType]int{}
		for _, e := range evs {
			if e.Platform == pr.p && e.PropertyID == pr.id && !e.Time.Before(since) && e.Time.Before(until) {
				want[e.Type]++
			}
		}
		for _, typ := range audit.EventTypes() {
			if got[typ] != want[typ] {
				t.Fatalf("%v %s: count %d, want %d", pr, typ, got[typ], want[typ])
			}
		}
	}
}

func TestRoundTripAndFindMessage(t *testing.T) {
	s := openTest(t)
	when := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	msg := &audit.Event{Time: when, Platform: audit.Discord, PropertyID: "g1", Type: audit.ChatMessage,
		PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: "u1", ActorName: "Ann", ChannelID: "c1", MessageID: "m1", Content: "first",
		Attachments: []audit.Attachment{{Name: "x.png", URL: "https://cdn/x.png", Size: 10}},
		Params:      audit.Params{audit.ParamAttachmentStatus: audit.HasAttachment}}
	edit := &audit.Event{Time: when.Add(time.Minute), Platform: audit.Discord, PropertyID: "g1", Type: audit.ChatMessageEdit,
		PlatformType: "a platform type nobody interned", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: "u1", ChannelID: "c1", MessageID: "m1", Content: "second"}
	appendAll(t, s, []*audit.Event{msg, edit}, 2)
	got, err := s.Get(context.Background(), audit.Discord, "g1", msg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(when) || got.Content != "first" || got.ActorName != "Ann" || got.Attachments[0].URL != "https://cdn/x.png" ||
		got.Params[audit.ParamAttachmentStatus] != audit.HasAttachment || got.Seq != msg.Seq || string(got.Hash) != string(msg.Hash) {
		t.Fatalf("round trip: got %+v", got)
	}
	found, err := s.FindMessage(context.Background(), audit.Discord, "g1", "m1")
	if err != nil || found.Content != "second" || found.PlatformType != edit.PlatformType {
		t.Fatalf("FindMessage: %+v %v", found, err)
	}
	if _, err := s.FindMessage(context.Background(), audit.Discord, "g1", "m2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindMessage of unknown message: %v", err)
	}
	if _, err := s.FindMessage(context.Background(), audit.Discord, "g2", "m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindMessage in another guild: %v", err)
	}
}
