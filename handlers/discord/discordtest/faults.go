package discordtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway and REST faults beyond a dropped socket (DropConnections): what
// Discord does when it restarts a gateway node, forgets a session, or when
// an operator resets the token or turns an intent off in the developer
// portal while the bot runs.

// credentials are the token the fake accepts and the application flags
// it reports; RevokeToken and DisableIntents change them.
func (s *Server) credentials() (token string, flags int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Token, s.opts.AppFlags
}

// Dials counts the gateway connections the bot opened.
func (s *Server) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// Sessions counts the sessions an accepted IDENTIFY started; events
// dispatched once it has grown reach the new session.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// Reconnect sends op 7 RECONNECT on every live socket, as a gateway node
// about to restart does: the client must reconnect and resume.
func (s *Server) Reconnect() int {
	return s.eachLive(func(c *websocket.Conn, _ *session) {
		c.WriteJSON(frame{Op: 7, D: json.RawMessage("null")})
	})
}

// InvalidateSessions sends op 9 INVALID_SESSION (not resumable) on every
// live socket and forgets the sessions: the client must identify again
// and gets a new READY; what was dispatched to the old sessions is gone.
func (s *Server) InvalidateSessions() int {
	return s.eachLive(func(c *websocket.Conn, sess *session) {
		s.mu.Lock()
		delete(s.sessions, sess.id)
		s.mu.Unlock()
		sess.conn = nil // the socket now belongs to whichever session identifies on it
		c.WriteJSON(frame{Op: 9, D: json.RawMessage("false")})
	})
}

// RevokeToken makes the fake accept only a new token, as resetting it in
// the developer portal does: REST answers 401, identify and resume are
// closed with 4004, and live sockets are closed with 4004.
func (s *Server) RevokeToken() int {
	s.mu.Lock()
	s.opts.Token = "revoked-" + s.opts.Token
	s.mu.Unlock()
	return s.closeLive(4004, "Authentication failed.")
}

// DisableIntents turns the privileged intents off, as unticking them in
// the developer portal does: the application reports no intent flags and
// live sockets are closed with 4014.
func (s *Server) DisableIntents() int {
	s.mu.Lock()
	s.opts.AppFlags &^= FlagGuildMembers | FlagMessageContent
	s.mu.Unlock()
	return s.closeLive(4014, "Disallowed intent(s).")
}

// closeLive sends a close frame with code on every live socket and
// detaches it from its session; the client closes the socket.
func (s *Server) closeLive(code int, text string) int {
	return s.eachLive(func(c *websocket.Conn, sess *session) {
		sess.conn = nil
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
	})
}

// eachLive calls fn for every live socket with its session's write lock
// held, and reports how many there were.
func (s *Server) eachLive(fn func(*websocket.Conn, *session)) int {
	s.mu.Lock()
	live := make(map[*websocket.Conn]*session, len(s.conns))
	for c, sess := range s.conns {
		live[c] = sess
	}
	s.mu.Unlock()
	for c, sess := range live {
		sess.wmu.Lock()
		if sess.conn == c {
			fn(c, sess)
		}
		sess.wmu.Unlock()
	}
	return len(live)
}

// RateLimit makes the next n requests whose path starts with prefix
// answer 429 with retry_after, the way Discord answers a client that
// exhausted a route's bucket. A request on that prefix that arrives before
// the wait is over counts as a violation (RateLimitViolations).
func (s *Server) RateLimit(prefix string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited[prefix] = &injected{left: n, wait: retryAfter}
}

// injected is a 429 injected on a route prefix.
type injected struct {
	left  int
	wait  time.Duration
	until time.Time // the end of the last wait announced
}

// injected429 answers 429 if path is under an injected rate limit; s.mu
// is held.
func (s *Server) injected429(w http.ResponseWriter, path string) bool {
	for prefix, l := range s.limited {
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		now := time.Now()
		if now.Before(l.until) {
			s.violated++
		}
		if l.left == 0 {
			return false
		}
		l.left--
		l.until = now.Add(l.wait)
		tooManyRequests(w, "injected:"+prefix, 1, l.until, l.wait.Seconds())
		return true
	}
	return false
}
