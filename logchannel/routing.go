package logchannel

import (
	"context"
	"fmt"
	"sync"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
)

// SettingsSource lists every property's saved settings; *store.Store is one.
type SettingsSource interface {
	EachSettings(ctx context.Context, fn func(p audit.Platform, property string, s settings.Community) error) error
}

// LogRouter routes events to their property's log channels, by type. It
// keeps every property's settings in memory (loaded once, then updated by
// whoever changes them) so that routing, which runs on the recorder's
// committing goroutine, never does I/O. An event is only ever routed to
// channels configured for its own property.
type Router struct {
	defaultLocale string
	mu            sync.RWMutex
	settings      map[routeKey]settings.Community
}

type routeKey struct {
	p  audit.Platform
	id string
}

var _ recorder.Router = (*Router)(nil)

// NewLogRouter loads every property's settings from src.
func NewRouter(ctx context.Context, src SettingsSource, defaultLocale string) (*Router, error) {
	r := &Router{defaultLocale: defaultLocale, settings: make(map[routeKey]settings.Community)}
	if src == nil {
		return r, nil
	}
	err := src.EachSettings(ctx, func(p audit.Platform, property string, s settings.Community) error {
		r.settings[routeKey{p, property}] = s.Clone()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load settings: %w", err)
	}
	return r, nil
}

// Update replaces a property's settings after they changed.
func (r *Router) Update(p audit.Platform, property string, s settings.Community) {
	r.mu.Lock()
	r.settings[routeKey{p, property}] = s.Clone()
	r.mu.Unlock()
}

// Settings returns a copy of a property's settings.
func (r *Router) Settings(p audit.Platform, property string) settings.Community {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.settings[routeKey{p, property}].Clone()
}

// Locale returns the property's locale, or the default.
func (r *Router) Locale(p audit.Platform, property string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if l := r.settings[routeKey{p, property}].Locale; l != "" {
		return l
	}
	return r.defaultLocale
}

// Route implements Router: one route per log channel of the event's
// property that takes its type. Paused channels keep receiving routes so
// that nothing is lost while they are paused. A record marked quiet
// (params.quiet: a detail of another record, or the bot's housekeeping)
// goes to no channel: it is stored, and the record it belongs to is the
// one moderators read.
func (r *Router) Route(e *audit.Event) []recorder.Route {
	if Quiet(e) {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.settings[routeKey{e.Platform, e.PropertyID}]
	if !ok {
		return nil
	}
	var out []recorder.Route
	for i := range s.LogChannels {
		if s.LogChannels[i].Wants(e.Type) {
			out = append(out, recorder.Route{Sink: e.Platform.String(), Target: s.LogChannels[i].ID})
		}
	}
	return out
}

// Quiet reports whether e is stored without being posted to log channels
// (params.quiet is set).
func Quiet(e *audit.Event) bool { return e.Params.Get(audit.ParamQuiet) != "" }

// ContentPolicy returns a RecorderOptions.Prepare function that drops
// message content from events of properties that do not store it: the
// text, the earlier text of an edit, and attachments' links (their names,
// sizes and hashes stay). A property's Settings.StoreContent decides;
// without it, storeByDefault (the operator's storage.store_message_content)
// does. The text moves to Event.Withheld, so the link filter still checks
// it. It reads the router's in-memory settings, so it is cheap and safe
// for concurrent use.
func (r *Router) ContentPolicy(storeByDefault bool) func(*audit.Event) {
	return func(e *audit.Event) {
		r.mu.RLock()
		s := r.settings[routeKey{e.Platform, e.PropertyID}].StoreContent
		r.mu.RUnlock()
		store := storeByDefault
		if s != nil {
			store = *s
		}
		if store {
			return
		}
		e.Withheld, e.Content = e.Content, ""
		for i := range e.Attachments {
			e.Attachments[i].URL = ""
		}
		delete(e.Params, audit.ParamOldContent)
	}
}
