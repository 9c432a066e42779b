package telegramtest

import (
	"math"
	"time"
)

// Limits are Telegram-like pacing limits applied to sendMessage-class
// methods (sendMessage, sendDocument, forwardMessage, copyMessage). A
// request over a limit gets 429 "Too Many Requests: retry after N" and is
// recorded in RateLimitViolations. Zero fields take the defaults; a negative
// field disables that one limit.
type Limits struct {
	// Disabled turns all pacing off.
	Disabled bool
	// PerChatInterval is the sustained rate in one chat: one message per
	// interval (default 1 s), with bursts of up to PerChatBurst (default 3).
	PerChatInterval time.Duration
	PerChatBurst    int
	// GroupMessages per GroupWindow is the cap for one group, supergroup or
	// channel (default 20 per minute).
	GroupMessages int
	GroupWindow   time.Duration
	// GlobalMessages per GlobalWindow is the cap across all chats (default 30
	// per second).
	GlobalMessages int
	GlobalWindow   time.Duration
	// UseFakeClock measures the windows with the server's fake clock instead
	// of real time.
	UseFakeClock bool
}

// Pacing scopes reported in RateLimitViolation.Limit.
const (
	LimitPerChat = "per-chat"
	LimitGroup   = "per-group"
	LimitGlobal  = "global"
)

// RateLimitViolation records a request rejected by the pacing limits.
type RateLimitViolation struct {
	Method     string
	ChatID     int64
	Limit      string // LimitPerChat, LimitGroup or LimitGlobal
	RetryAfter int    // seconds, as sent in parameters.retry_after
	Time       time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

type pacer struct {
	l      Limits
	chats  map[int64]*bucket
	groups map[int64][]time.Time
	global []time.Time
}

func newPacer(l Limits) pacer {
	if l.PerChatInterval == 0 {
		l.PerChatInterval = time.Second
	}
	if l.PerChatBurst == 0 {
		l.PerChatBurst = 3
	}
	if l.GroupMessages == 0 {
		l.GroupMessages = 20
	}
	if l.GroupWindow == 0 {
		l.GroupWindow = time.Minute
	}
	if l.GlobalMessages == 0 {
		l.GlobalMessages = 30
	}
	if l.GlobalWindow == 0 {
		l.GlobalWindow = time.Second
	}
	return pacer{l: l, chats: map[int64]*bucket{}, groups: map[int64][]time.Time{}}
}

var pacedMethods = map[string]bool{
	"sendMessage": true, "sendDocument": true, "forwardMessage": true, "copyMessage": true,
}

// check returns the violated limit and the wait, or "" if the message may go.
func (p *pacer) check(chatID int64, isGroup bool, now time.Time) (string, time.Duration) {
	if p.l.Disabled {
		return "", 0
	}
	if p.l.PerChatInterval > 0 && p.l.PerChatBurst > 0 {
		b := p.chats[chatID]
		if b == nil {
			b = &bucket{tokens: float64(p.l.PerChatBurst), last: now}
			p.chats[chatID] = b
		}
		if el := now.Sub(b.last); el > 0 {
			b.tokens = math.Min(float64(p.l.PerChatBurst), b.tokens+float64(el)/float64(p.l.PerChatInterval))
			b.last = now
		}
		if b.tokens < 1 {
			return LimitPerChat, time.Duration((1 - b.tokens) * float64(p.l.PerChatInterval))
		}
	}
	if isGroup && p.l.GroupMessages > 0 && p.l.GroupWindow > 0 {
		ts := prune(p.groups[chatID], now, p.l.GroupWindow)
		p.groups[chatID] = ts
		if len(ts) >= p.l.GroupMessages {
			return LimitGroup, ts[0].Add(p.l.GroupWindow).Sub(now)
		}
	}
	if p.l.GlobalMessages > 0 && p.l.GlobalWindow > 0 {
		p.global = prune(p.global, now, p.l.GlobalWindow)
		if len(p.global) >= p.l.GlobalMessages {
			return LimitGlobal, p.global[0].Add(p.l.GlobalWindow).Sub(now)
		}
	}
	return "", 0
}

// commit counts one sent message.
func (p *pacer) commit(chatID int64, isGroup bool, now time.Time) {
	if p.l.Disabled {
		return
	}
	if b := p.chats[chatID]; b != nil {
		b.tokens--
	}
	if isGroup {
		p.groups[chatID] = append(p.groups[chatID], now)
	}
	p.global = append(p.global, now)
}

func prune(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-window)) {
		i++
	}
	return ts[i:]
}

func retrySeconds(d time.Duration) int {
	n := int(math.Ceil(d.Seconds()))
	if n < 1 {
		n = 1
	}
	return n
}

// paceLocked applies the pacing limits to a message about to be sent to c.
func (s *Server) paceLocked(method string, c *chatState) *apiError {
	if !pacedMethods[method] {
		return nil
	}
	now := time.Now()
	if s.pace.l.UseFakeClock {
		now = s.nowLocked()
	}
	isGroup := c.chat.Type != ChatPrivate
	limit, wait := s.pace.check(c.chat.ID, isGroup, now)
	if limit != "" {
		retry := retrySeconds(wait)
		s.violations = append(s.violations, RateLimitViolation{Method: method, ChatID: c.chat.ID,
			Limit: limit, RetryAfter: retry, Time: time.Now()})
		return tooManyRequests(retry)
	}
	s.pace.commit(c.chat.ID, isGroup, now)
	return nil
}

// RateLimitViolations returns every request rejected by the pacing limits.
// A well-behaved bot leaves this empty.
func (s *Server) RateLimitViolations() []RateLimitViolation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RateLimitViolation(nil), s.violations...)
}
