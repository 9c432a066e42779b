package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// hub fans committed events out to the open activities:watch streams. It
// runs on the recorder's subscriber goroutine and never blocks it: each
// stream has a bounded buffer, and a stream whose buffer is full is
// kicked (its client reconnects with Last-Event-ID and replays).
type hub struct {
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	metrics  *Metrics

	slotMu sync.Mutex
	open   map[string]int // streams admitted, by principal
	total  int
}

type watcher struct {
	srch   *search
	ch     chan *audit.Event
	kicked chan struct{}
	once   sync.Once
}

func (w *watcher) kick() { w.once.Do(func() { close(w.kicked) }) }

func newHub(m *Metrics) *hub {
	return &hub{watchers: make(map[*watcher]struct{}), metrics: m, open: make(map[string]int)}
}

// admit takes a stream slot for who, within perKey streams for who and
// total in all. When there is none it returns the sentence to answer.
func (h *hub) admit(who string, perKey, total int) (release func(), refused string) {
	h.slotMu.Lock()
	defer h.slotMu.Unlock()
	switch {
	case h.open[who] >= perKey:
		return nil, fmt.Sprintf("This token already has %d live streams open, the most one token may have. Close one, or reconnect after one has ended.", perKey)
	case h.total >= total:
		return nil, fmt.Sprintf("The server already serves %d live streams, the most it takes. Try again later.", total)
	}
	h.open[who]++
	h.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.slotMu.Lock()
			defer h.slotMu.Unlock()
			if h.open[who]--; h.open[who] <= 0 {
				delete(h.open, who)
			}
			h.total--
		})
	}, ""
}

// publish is the recorder subscription.
func (h *hub) publish(events []*audit.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
	events:
		for _, e := range events {
			if !w.srch.match(e) {
				continue
			}
			select {
			case w.ch <- e:
			default:
				w.kick()
				delete(h.watchers, w)
				h.metrics.watchDisconnect("slow_client")
				break events
			}
		}
	}
}

func (h *hub) add(srch *search, buffer int) *watcher {
	w := &watcher{srch: srch, ch: make(chan *audit.Event, buffer), kicked: make(chan struct{})}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	return w
}

func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// clients counts the open streams; a nil hub has none.
func (h *hub) clients() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// errReplayTooLong ends a replay that would exceed MaxReplay.
var errReplayTooLong = errors.New("too many records to replay")

// replayRef names a record to replay, in commit order.
type replayRef struct {
	seq      uint64
	platform audit.Platform
	property string
	id       audit.ID
}

// handleWatch serves activities:watch: Server-Sent Events, one "activity"
// event per new record matching the filters, with the record id as the
// event id. With Last-Event-ID (the header a reconnecting EventSource
// sends, or the lastEventId parameter) it first replays, in commit order,
// the matching records committed after that record, then goes live;
// records are not repeated across the replay/live boundary.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	prop, p, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if s.hub == nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "", "the live feed is not available in this process")
		return
	}
	release, msg := s.hub.admit(p.key(), s.opts.Watch.MaxPerToken, s.opts.Watch.MaxClients)
	if msg != "" {
		s.metrics.watchDisconnect("refused")
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "", "%s", msg)
		return
	}
	defer release()
	srch, v, err := parseRequest(r, prop, watchParams)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lastParam, lastText := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if lastText == "" {
		lastParam, lastText = "lastEventId", v.Get("lastEventId")
	}
	var last audit.ID
	if lastText != "" {
		if last, err = audit.ParseID(lastText); err != nil {
			s.fail(w, r, badParam(lastParam, "%q is not a record id", lastText))
			return
		}
	}

	// Subscribe before reading the store, so that nothing committed in
	// between is missed; duplicates are dropped below.
	wt := s.hub.add(&srch, s.opts.Watch.Buffer)
	defer s.hub.remove(wt)
	var plan replay
	if lastText != "" {
		if plan, err = s.replayPlan(r.Context(), &srch, last); errors.Is(err, errReplayTooLong) {
			writeError(w, http.StatusGone, "OUT_OF_RANGE", lastParam,
				"%s: more than %d records were committed since %s: page through activities with startTime instead, then watch without Last-Event-ID",
				lastParam, s.opts.Watch.MaxReplay, lastText)
			return
		} else if err != nil {
			s.fail(w, r, queryError(err))
			return
		}
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf bytes.Buffer
	send := func() bool {
		rc.SetWriteDeadline(time.Now().Add(s.opts.Watch.WriteTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		buf.Reset()
		return rc.Flush() == nil
	}
	event := func(e *audit.Event) {
		buf.WriteString("id: ")
		buf.WriteString(e.ID.String())
		buf.WriteString("\nevent: activity\ndata: ")
		b, _ := json.Marshal(NewActivity(e))
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	fmt.Fprintf(&buf, "retry: 2000\n: watching %s\n\n", prop)
	if !send() {
		return
	}

	refs := plan.refs
	seen := make(map[audit.ID]struct{}, len(refs))
	var maxSeq uint64
	for i, ref := range refs {
		e, err := s.store.Get(r.Context(), ref.platform, ref.property, ref.id)
		if errors.Is(err, store.ErrNotFound) {
			continue // purged meanwhile
		}
		if err != nil {
			s.log.Error().Err(err).Msg("watch: replay")
			return
		}
		seen[e.ID] = struct{}{}
		maxSeq = max(maxSeq, e.Seq)
		event(e)
		if buf.Len() > 32<<10 || i == len(refs)-1 {
			if !send() {
				return
			}
		}
	}

	// fresh tells live records the client has not had: not committed
	// before the resume point (a batch committed earlier may reach the
	// feed after this stream subscribed), and not replayed. Live commits
	// come in order, so once past the replay the set is dropped.
	fresh := func(e *audit.Event) bool {
		if lastText != "" && !plan.after(e) {
			return false
		}
		if seen != nil {
			if e.Seq > maxSeq {
				seen = nil
			} else if _, dup := seen[e.ID]; dup {
				return false
			}
		}
		return true
	}
	heartbeat := time.NewTicker(s.opts.Watch.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case e := <-wt.ch:
			if !fresh(e) {
				continue
			}
			event(e)
			// Send what else is already waiting in one write.
			for more := true; more && buf.Len() < 32<<10; {
				select {
				case e := <-wt.ch:
					if fresh(e) {
						event(e)
					}
				default:
					more = false
				}
			}
			if !send() {
				return
			}
		case <-heartbeat.C:
			buf.WriteString(": ping\n\n")
			if !send() {
				return
			}
		case <-wt.kicked:
			buf.WriteString(": the client fell behind; reconnect with Last-Event-ID to resume\n\n")
			send()
			return
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// replay is the plan of a resume: the records to send first, and the
// resume point.
type replay struct {
	refs    []replayRef
	last    audit.ID
	found   bool   // last is stored: resume by commit order
	lastSeq uint64 // its commit sequence
}

// after reports whether e comes after the resume point: committed after
// the last record, or if that record is gone, later in time order.
func (p *replay) after(e *audit.Event) bool {
	if p.found {
		return e.Seq > p.lastSeq
	}
	return bytes.Compare(e.ID[:], p.last[:]) > 0
}

// replayPlan lists, in commit order, the records matching srch that come
// after the record last. It examines records no older than ReplayWindow
// before last's time. If last is no longer stored (purged), it falls back
// to the records after last in time order.
func (s *Server) replayPlan(ctx context.Context, srch *search, last audit.ID) (replay, error) {
	plan := replay{last: last}
	t := last.Time()
	scope := store.Query{Platform: srch.q.Platform, Property: srch.q.Property, Since: t, Until: t.Add(time.Nanosecond)}
	err := s.store.Scan(ctx, scope, func(e *audit.Event) error {
		if e.ID == last {
			plan.lastSeq, plan.found = e.Seq, true
		}
		return nil
	})
	if err != nil || srch.none {
		return plan, err
	}
	q := srch.q
	q.Since = t
	if plan.found {
		q.Since = t.Add(-s.opts.Watch.ReplayWindow)
		if q.Since.Before(time.Unix(0, 0)) {
			q.Since = time.Time{}
		}
	}
	err = s.store.Scan(ctx, q, func(e *audit.Event) error {
		if !plan.after(e) || !matchParams(srch.filters, e) {
			return nil
		}
		if len(plan.refs) >= s.opts.Watch.MaxReplay {
			return errReplayTooLong
		}
		plan.refs = append(plan.refs, replayRef{e.Seq, e.Platform, e.PropertyID, e.ID})
		return nil
	})
	if err != nil {
		return plan, err
	}
	slices.SortFunc(plan.refs, func(a, b replayRef) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return plan, nil
}
