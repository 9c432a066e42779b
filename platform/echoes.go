package platform

import (
	"strings"
	"sync"
	"time"
)

// Echoes remembers the events the bot is about to cause on a platform (a
// message it deletes, a member it bans), so that when the platform reports
// the event back, its handler knows the bot already recorded the action
// and does not record it a second time. A key is the parts naming the
// event (kind, community, target); each expectation matches once, within
// its time to live.
type Echoes struct {
	ttl  time.Duration
	mu   sync.Mutex
	want map[string]time.Time // key -> expiry
}

// maxEchoes bounds the expectations kept: past it, expired ones are
// dropped before a new one is added.
const maxEchoes = 4096

// NewEchoes returns an empty set whose expectations last ttl.
func NewEchoes(ttl time.Duration) *Echoes {
	return &Echoes{ttl: ttl, want: make(map[string]time.Time)}
}

func echoKey(parts []string) string { return strings.Join(parts, "/") }

// Expect notes that the bot is about to cause the event named by parts.
func (e *Echoes) Expect(parts ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if len(e.want) >= maxEchoes {
		for k, t := range e.want {
			if now.After(t) {
				delete(e.want, k)
			}
		}
	}
	e.want[echoKey(parts)] = now.Add(e.ttl)
}

// Take reports whether the event named by parts was expected and has not
// expired, forgetting the expectation.
func (e *Echoes) Take(parts ...string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := echoKey(parts)
	t, ok := e.want[k]
	delete(e.want, k)
	return ok && time.Now().Before(t)
}

// Forget drops an expectation (the action failed, so no event will come).
func (e *Echoes) Forget(parts ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.want, echoKey(parts))
}
