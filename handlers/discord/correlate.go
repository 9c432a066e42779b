package discord

import (
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// correlator pairs gateway events with the audit-log entries that name
// their moderator and reason. Discord sends the two separately and in no
// fixed order, so an event that may have an entry waits up to the window
// for it; an entry that comes first is kept for the window.
type correlator struct {
	window time.Duration
	emit   func(...*audit.Event)

	mu      sync.Mutex
	waiting map[corrKey]*pending
	entries map[corrKey]auditEntry
}

type corrKey struct {
	guild  string
	action discordgo.AuditLogAction
	target string
}

type auditEntry struct {
	actor, reason string
	at            time.Time
}

type pending struct {
	events []*audit.Event // one, or the records one entry completes together
	timer  *time.Timer
	// apply fills an event from an entry (actor, reason, removal kind).
	apply func(e *audit.Event, a auditEntry)
}

// applyAll fills every event of p from an entry.
func (p *pending) applyAll(a auditEntry) {
	for _, e := range p.events {
		p.apply(e, a)
	}
}

func newCorrelator(window time.Duration, emit func(...*audit.Event)) *correlator {
	return &correlator{window: window, emit: emit,
		waiting: make(map[corrKey]*pending), entries: make(map[corrKey]auditEntry)}
}

// await records e once its audit entry (any of keys) arrives or the window
// ends. apply is called with the entry when there is one.
func (c *correlator) await(e *audit.Event, apply func(*audit.Event, auditEntry), keys ...corrKey) {
	c.awaitAll([]*audit.Event{e}, apply, keys...)
}

// awaitAll is await for events that one audit entry completes together,
// such as the records of a bulk delete: apply is called for each.
func (c *correlator) awaitAll(events []*audit.Event, apply func(*audit.Event, auditEntry), keys ...corrKey) {
	if len(events) == 0 {
		return
	}
	p := &pending{events: events, apply: apply}
	c.mu.Lock()
	now := time.Now()
	for _, k := range keys {
		if a, ok := c.entries[k]; ok && now.Sub(a.at) <= c.window {
			delete(c.entries, k)
			c.mu.Unlock()
			p.applyAll(a)
			c.emit(events...)
			return
		}
	}
	var released []*audit.Event
	for _, k := range keys {
		// A second event for the same key: record the first as it is.
		if old, ok := c.waiting[k]; ok && c.dropLocked(old) {
			released = append(released, old.events...)
		}
		c.waiting[k] = p
	}
	p.timer = time.AfterFunc(c.window, func() {
		c.mu.Lock()
		for _, k := range keys {
			if c.waiting[k] == p {
				delete(c.waiting, k)
			}
		}
		c.mu.Unlock()
		c.emit(p.events...)
	})
	c.mu.Unlock()
	c.emit(released...)
}

// dropLocked stops p's timer and forgets p; false when the timer already
// fired (the event is being recorded as it is).
func (c *correlator) dropLocked(p *pending) bool {
	if !p.timer.Stop() {
		return false
	}
	for key, q := range c.waiting {
		if q == p {
			delete(c.waiting, key)
		}
	}
	return true
}

// entry delivers an audit-log entry: it completes a waiting event, or is
// kept for one that comes later. It reports whether it completed one.
func (c *correlator) entry(k corrKey, a auditEntry) bool {
	c.mu.Lock()
	p, ok := c.waiting[k]
	if ok && c.dropLocked(p) {
		c.mu.Unlock()
		p.applyAll(a)
		c.emit(p.events...)
		return true
	}
	c.entries[k] = a
	// Forget stale entries now and then.
	if len(c.entries) > 1024 {
		for key, e := range c.entries {
			if time.Since(e.at) > c.window {
				delete(c.entries, key)
			}
		}
	}
	c.mu.Unlock()
	return false
}

// suppress drops a waiting event (for example the member removal implied
// by a ban). It reports whether one was dropped.
func (c *correlator) suppress(k corrKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.waiting[k]
	return ok && c.dropLocked(p)
}

// flush records every waiting event now (at shutdown).
func (c *correlator) flush() {
	c.mu.Lock()
	var out []*audit.Event
	seen := map[*pending]bool{}
	for _, p := range c.waiting {
		if !seen[p] && c.dropLocked(p) {
			seen[p] = true
			out = append(out, p.events...)
		}
	}
	c.mu.Unlock()
	c.emit(out...)
}
