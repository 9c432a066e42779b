// Package enginetest runs the moderation and verification engines for the
// platform adapters' end-to-end tests, wired as bot.Run wires them: they
// record through the harness's recorder, which feeds them what it commits
// and routes log entries through the moderation engine's raid filter. Both engines run on fake clocks, so raids end
// and deadlines pass when a test says so, and they can be restarted on the
// same store.
package enginetest

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/moderation/moderationtest"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

// Config tunes the engines' defaults.
type Config struct {
	Mod func(*moderation.Defaults)
	Ver func(*verification.Defaults)
}

// StopTimeout bounds closing and flushing the engines: a hang fails the
// test with the goroutines' stacks instead of waiting for the test
// binary's timeout.
const StopTimeout = 15 * time.Second

// Set is a harness's two engines and its API tokens.
type Set struct {
	ModClock, VerClock *moderationtest.Clock
	Tokens             *command.Tokens
	// Joins counts the USER_JOIN records handed to the engines.
	Joins atomic.Int64

	t   testing.TB
	s   *store.Store
	rec *recorder.Recorder
	log zerolog.Logger
	cfg Config

	mu  sync.Mutex
	mod *moderation.Engine
	ver *verification.Engine
}

// New starts the engines on s, recording through rec, and adds them to
// rec: its subscriber feeds them, and its log routing goes through the
// raid filter of whichever moderation engine runs, then router.
func New(t testing.TB, s *store.Store, rec *recorder.Recorder, router recorder.Router, log zerolog.Logger, cfg Config) *Set {
	now := time.Now()
	e := &Set{ModClock: moderationtest.NewClock(now), VerClock: moderationtest.NewClock(now),
		t: t, s: s, rec: rec, log: log, cfg: cfg}
	e.Tokens = command.NewTokens(s, rec)
	e.Start()
	rec.AddRouter(e.raidFilter(router))
	rec.Subscribe(e.committed)
	return e
}

// Start makes new engines (after Close, for a restart).
func (e *Set) Start() {
	e.t.Helper()
	md := moderation.BuiltinDefaults()
	if e.cfg.Mod != nil {
		e.cfg.Mod(&md)
	}
	vd := verification.BuiltinDefaults()
	if e.cfg.Ver != nil {
		e.cfg.Ver(&vd)
	}
	mod, err := moderation.New(moderation.Options{Settings: e.s, Recorder: e.rec, KV: e.s, Defaults: md,
		Clock: e.ModClock, Logger: e.log, ActionTimeout: 10 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	ver, err := verification.New(context.Background(), verification.Options{KV: e.s, Settings: e.s,
		Recorder: e.rec, Defaults: vd, Clock: e.VerClock, Logger: e.log, ActionTimeout: 10 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.mod, e.ver = mod, ver
	e.mu.Unlock()
}

// Engines returns the engines running now.
func (e *Set) Engines() (*moderation.Engine, *verification.Engine) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mod, e.ver
}

// committed is the recorder's subscriber: rec.Subscribe(mod.Committed)
// and rec.Subscribe(ver.Committed) of whichever engines run.
func (e *Set) committed(evs []*audit.Event) {
	mod, ver := e.Engines()
	mod.Committed(evs)
	ver.Committed(evs)
	for _, ev := range evs {
		if ev.Type == audit.UserJoin {
			e.Joins.Add(1)
		}
	}
}

// raidFilter is mod.RaidFilter(router) of whichever engine runs.
func (e *Set) raidFilter(router recorder.Router) recorder.Router {
	return recorder.RouterFunc(func(ev *audit.Event) []recorder.Route {
		mod, _ := e.Engines()
		return mod.RaidFilter(router).Route(ev)
	})
}

// Flush waits for the engines' queued work.
func (e *Set) Flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	mod, ver := e.Engines()
	if err := mod.Flush(ctx); err != nil {
		e.t.Fatalf("flush the moderation engine: %v\n%s", err, Stacks())
	}
	if err := ver.Flush(ctx); err != nil {
		e.t.Fatalf("flush the verification engine: %v\n%s", err, Stacks())
	}
}

// Close stops the engines, letting them finish their work.
func (e *Set) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	mod, ver := e.Engines()
	if err := mod.Close(ctx); err != nil {
		e.t.Errorf("close the moderation engine: %v\n%s", err, Stacks())
	}
	if err := ver.Close(ctx); err != nil {
		e.t.Errorf("close the verification engine: %v\n%s", err, Stacks())
	}
}

// Restart closes the engines, lets both clocks run on by idle (time
// passing while the process is down) and starts new engines.
func (e *Set) Restart(idle time.Duration) {
	e.t.Helper()
	e.Close()
	e.VerClock.Advance(idle)
	e.ModClock.Advance(idle)
	e.Start()
}

// Stacks returns every goroutine's stack, for a test that hangs.
func Stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
