package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// sseEvent is one event of a stream.
type sseEvent struct {
	id, event string
	data      Activity
}

// sseStream reads a watch stream in the background.
type sseStream struct {
	resp     *http.Response
	events   chan sseEvent
	comments chan string
	done     chan struct{} // closed when the stream ends
	cancel   context.CancelFunc
}

// watch opens activities:watch; lastID "" starts live.
func (e *env) watch(prop, token, query, lastID string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/properties/"+prop+"/activities:watch?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		resp.Body.Close()
		e.t.Fatalf("watch: %d", resp.StatusCode)
	}
	if err := e.spec.checkResponse("GET", "/v1/properties/"+prop+"/activities:watch", 200, resp.Header.Get("Content-Type"), nil); err != nil {
		e.t.Error(err)
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 100000), comments: make(chan string, 1000),
		done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var cur sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					if err := json.Unmarshal([]byte(data), &cur.data); err != nil {
						panic(err)
					}
					if errs := e.spec.validate(map[string]any{"$ref": "#/components/schemas/Activity"}, mustDecode(data), "data"); len(errs) > 0 {
						panic(fmt.Sprint(errs))
					}
					s.events <- cur
				}
				cur, data = sseEvent{}, ""
			case strings.HasPrefix(line, ":"):
				select {
				case s.comments <- line:
				default:
				}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}()
	e.t.Cleanup(s.close)
	return s
}

func mustDecode(s string) any {
	v, err := decodeJSON([]byte(s))
	if err != nil {
		panic(err)
	}
	return v
}

func (s *sseStream) close() {
	s.cancel()
	<-s.done
}

// next returns the next n events, failing after a timeout.
func (s *sseStream) next(t testing.TB, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev := <-s.events:
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

// quiet checks that nothing more arrives for a moment.
func (s *sseStream) quiet(t testing.TB) {
	t.Helper()
	select {
	case ev := <-s.events:
		t.Errorf("unexpected event %s %s", ev.id, ev.data.EventType)
	case <-time.After(150 * time.Millisecond):
	}
}

func eventIDs(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.id
	}
	return out
}

// waitClients waits until the server has n streams open.
func (e *env) waitClients(n int) {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); e.srv.hub.clients() != n; {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d streams open, want %d", e.srv.hub.clients(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestWatchLive: new records arrive in commit order, filtered and scoped.
func TestWatchLive(t *testing.T) {
	e := newEnv(t)
	e.record(ev(0, audit.UserJoin)) // before the stream: not sent
	s := e.watch(pathA, e.tokA, "", "")
	bans := e.watch(pathA, e.tokA, "eventType=moderation&filters=reason%3D%3Dspam", "")
	all := e.watch(AllProperties, testOperator, "", "")
	e.waitClients(3)
	var want, wantBans []*audit.Event
	for i := range 20 {
		x := ev(i+1, []audit.EventType{audit.ChatMessage, audit.UserBan}[i%2], withParams("reason", []string{"spam", "x"}[i/2%2]))
		e.record(x, ev(i, audit.UserJoin, inProp(audit.Telegram, propB)))
		want = append(want, x)
		if x.Type == audit.UserBan && x.Params["reason"] == "spam" {
			wantBans = append(wantBans, x)
		}
	}
	got := s.next(t, 20)
	if !slices.Equal(eventIDs(got), idsOf(want)) {
		t.Errorf("live ids\n got %v\nwant %v", eventIDs(got), idsOf(want))
	}
	for i, g := range got {
		if g.event != "activity" || g.data.ID.UniqueQualifier != g.id || g.data.EventType != want[i].Type.String() {
			t.Errorf("event %d: %+v", i, g)
		}
	}
	s.quiet(t)
	if got := bans.next(t, len(wantBans)); !slices.Equal(eventIDs(got), idsOf(wantBans)) {
		t.Errorf("filtered stream: %v, want %v", eventIDs(got), idsOf(wantBans))
	}
	bans.quiet(t)
	if got := all.next(t, 40); len(got) != 40 {
		t.Errorf("operator stream of all properties: %d", len(got))
	}
	// The server's shutdown ends the streams.
	e.srv.Close()
	for _, st := range []*sseStream{s, bans, all} {
		select {
		case <-st.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the stream outlived Close")
		}
	}
}

// TestWatchResume: Last-Event-ID replays exactly what was missed, then
// goes live, while records keep arriving.
func TestWatchResume(t *testing.T) {
	e := newEnv(t)
	s := e.watch(pathA, e.tokA, "", "")
	e.waitClients(1)
	var committed []*audit.Event
	for i := range 5 {
		x := ev(i, audit.ChatMessage)
		e.record(x)
		committed = append(committed, x)
	}
	got := s.next(t, 5)
	s.close()
	e.waitClients(0)
	last := got[2].id // the client saw 0..2 only, say

	// Missed while away: newer records, and a late one whose time is
	// older than the last seen record's (delivered after a reconnect).
	late := ev(1, audit.UserJoin, func(x *audit.Event) { x.Time = x.Time.Add(-30 * time.Second) })
	missed := []*audit.Event{ev(10, audit.UserBan), late, ev(11, audit.UserJoin, inProp(audit.Telegram, propB))}
	e.record(missed...)
	committed = append(committed, missed...)

	r := e.watch(pathA, e.tokA, "", last)
	want := append(idsOf(committed[3:5]), missed[0].ID.String(), late.ID.String()) // commit order, propA only
	if got := r.next(t, 4); !slices.Equal(eventIDs(got), want) {
		t.Errorf("replay\n got %v\nwant %v", eventIDs(got), want)
	}
	x := ev(20, audit.ChatMessage)
	e.record(x)
	if got := r.next(t, 1); got[0].id != x.ID.String() {
		t.Errorf("live after replay: %s, want %s", got[0].id, x.ID)
	}
	r.quiet(t)
	r.close()

	// The same through the lastEventId parameter, with a filter.
	q := e.watch(pathA, e.tokA, "eventName=USER_JOIN&lastEventId="+last, "")
	if got := q.next(t, 1); got[0].id != late.ID.String() {
		t.Errorf("filtered replay: %v", eventIDs(got))
	}
	q.quiet(t)
	q.close()

	// Resuming from the newest record replays nothing.
	n := e.watch(pathA, e.tokA, "", x.ID.String())
	n.quiet(t)
}

// TestWatchResumeUnderLoad: a client that reconnects again and again
// while records stream in sees every record exactly once, in commit order.
func TestWatchResumeUnderLoad(t *testing.T) {
	e := newEnv(t)
	const total = 600
	var (
		mu        sync.Mutex
		committed []string
	)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	s := e.watch(pathA, e.tokA, "", "")
	e.waitClients(1)
	go func() {
		defer close(writerDone)
		for i := range total {
			x := ev(i, audit.ChatMessage)
			if i%7 == 3 {
				x.Time = x.Time.Add(-2 * time.Minute) // out of time order
			}
			if err := e.rec.Record(context.Background(), x); err != nil {
				panic(err)
			}
			mu.Lock()
			committed = append(committed, x.ID.String())
			mu.Unlock()
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	var seen []string
	for len(seen) < total {
		n := min(37, total-len(seen))
		got := s.next(t, n)
		seen = append(seen, eventIDs(got)...)
		s.close()
		s = e.watch(pathA, e.tokA, "", seen[len(seen)-1])
	}
	close(stop)
	<-writerDone
	s.quiet(t)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, committed) {
		dups := map[string]int{}
		for _, id := range seen {
			dups[id]++
		}
		n := 0
		for _, c := range dups {
			if c > 1 {
				n++
			}
		}
		t.Errorf("resumed streams: %d events (%d duplicated), committed %d; order differs", len(seen), n, len(committed))
	}
}

// TestWatchSlowClient: a client that falls behind is dropped, never
// blocking the recorder, and resumes without loss.
func TestWatchSlowClient(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Watch.Buffer = 4 })
	s := e.watch(pathA, e.tokA, "", "")
	e.waitClients(1)
	first := ev(0, audit.ChatMessage)
	e.record(first)
	s.next(t, 1)
	var burst []*audit.Event
	for i := range 3000 {
		burst = append(burst, ev(i+1, audit.ChatMessage))
	}
	start := time.Now()
	e.record(burst...) // one commit: far more than the buffer at once
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("recording took %v", d)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow stream was not dropped")
	}
	var got []string
	for {
		select {
		case ev := <-s.events:
			got = append(got, ev.id)
			continue
		default:
		}
		break
	}
	if len(got) >= len(burst) {
		t.Fatalf("the stream received all %d events: not a slow client", len(got))
	}
	if !strings.Contains(e.get("/metrics", "").String(), `chatwarden_api_watch_disconnects_total{reason="slow_client"} 1`) {
		t.Error("the drop was not counted")
	}
	last := first.ID.String()
	if len(got) > 0 {
		last = got[len(got)-1]
	}
	r := e.watch(pathA, e.tokA, "", last)
	rest := r.next(t, len(burst)-len(got))
	if all := append(got, eventIDs(rest)...); !slices.Equal(all, idsOf(burst)) {
		t.Errorf("after resuming: %d events, want %d in order", len(all), len(burst))
	}
}

// TestWatchReplayLimits: a purged Last-Event-ID falls back to time order,
// and too long a replay answers 410.
func TestWatchReplayLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Watch.MaxReplay = 10 })
	var evs []*audit.Event
	for i := range 20 {
		evs = append(evs, ev(i, audit.ChatMessage))
	}
	e.record(evs...)
	// An id the store never had: everything after it in time.
	ghost := audit.MakeID(evs[14].Time.Add(time.Second), 0).String()
	s := e.watch(pathA, e.tokA, "", ghost)
	if got := s.next(t, 5); !slices.Equal(eventIDs(got), idsOf(evs[15:])) {
		t.Errorf("after an unknown id: %v", eventIDs(got))
	}
	s.quiet(t)
	r := e.get("/v1/properties/"+pathA+"/activities:watch", e.tokA, "Last-Event-ID", evs[0].ID.String())
	if r.StatusCode != 410 || r.errorOf().Parameter != "Last-Event-ID" {
		t.Errorf("replay of 19 > 10: %d %s", r.StatusCode, r.body)
	}
	// Auth comes first.
	if r := e.get("/v1/properties/"+pathA+"/activities:watch", e.tokB); r.StatusCode != 403 {
		t.Errorf("watch with another property's token: %d", r.StatusCode)
	}
}

// TestWatchWithoutFeed: a server without a live feed says so.
func TestWatchWithoutFeed(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Recorder = nopRecorder{} })
	r := e.get("/v1/properties/"+pathA+"/activities:watch", e.tokA)
	if r.StatusCode != 503 || r.errorOf().Status != "UNAVAILABLE" {
		t.Errorf("watch without a feed: %d %s", r.StatusCode, r.body)
	}
}
