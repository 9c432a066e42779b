package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// Params of the records this package writes (SECURITY_EVENT kind
// API_AUTH_FAILURE, and SETTINGS_CHANGE for tokens).
const (
	ParamRemoteAddr = "remote_addr" // the client's IP address
	ParamTokenID    = command.ParamTokenID
	ParamSuppressed = "suppressed" // failures from the same address not recorded since the last record
	ParamPath       = "path"       // the URL path requested
	ParamMethod     = "method"
)

// Reasons of an authentication failure (the reason param).
const (
	ReasonMissingToken  = "MISSING_TOKEN"  // no bearer token
	ReasonUnknownToken  = "UNKNOWN_TOKEN"  // not a token of this bot, or revoked
	ReasonWrongProperty = "WRONG_PROPERTY" // a valid token of another property
	ReasonOperatorOnly  = "OPERATOR_ONLY"  // a property token where only the operator may go
)

// principal is who a request authenticated as.
type principal struct {
	operator bool
	token    command.TokenInfo // a property token's description
	tz       string            // the time zone a link session's moderator chose
}

// may reports whether p may read prop.
func (p principal) may(prop Property) bool {
	if p.operator {
		return true
	}
	return !prop.All && p.token.Platform == prop.Platform && p.token.Property == prop.ID
}

// property returns the property p is scoped to (zero for the operator).
func (p principal) property() Property {
	if p.operator {
		return Property{}
	}
	return Property{Platform: p.token.Platform, ID: p.token.Property}
}

// bearer returns the request's bearer token, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// authenticate checks a token. reason is set when it is not valid; err
// only for a failure to check (the store).
func (s *Server) authenticate(ctx context.Context, token string) (p principal, reason string, err error) {
	if token == "" {
		return p, ReasonMissingToken, nil
	}
	if op := s.opts.OperatorToken; op != "" && subtle.ConstantTimeCompare([]byte(token), []byte(op)) == 1 {
		return principal{operator: true}, "", nil
	}
	info, err := s.tokens.Lookup(ctx, token)
	if errors.Is(err, command.ErrTokenNotFound) {
		return p, ReasonUnknownToken, nil
	}
	if err != nil {
		return p, "", err
	}
	return principal{token: info}, "", nil
}

// authorize authenticates an API request and checks that it may read the
// property in its path. When it returns false it has answered: 401 for no
// or a bad token, 400 for a malformed property, 403 for a property the
// token does not cover (whether or not that property exists).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (Property, principal, bool) {
	p, reason, err := s.authenticate(r.Context(), bearer(r))
	prop, perr := ParseProperty(r.PathValue("property"))
	if err != nil {
		s.fail(w, r, err)
		return prop, p, false
	}
	if reason != "" {
		var attacked *Property
		if perr == nil {
			attacked = &prop
		}
		s.authFailed(r, reason, attacked, nil)
		unauthorized(w, reason)
		return prop, p, false
	}
	if perr != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "property", "property: %v", perr)
		return prop, p, false
	}
	if !p.may(prop) {
		s.authFailed(r, ReasonWrongProperty, &prop, &p.token)
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "this token may not read %s", prop)
		return prop, p, false
	}
	return prop, p, true
}

func unauthorized(w http.ResponseWriter, reason string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="chatwarden"`)
	msg := "a valid bearer token is required (Authorization: Bearer cw_...)"
	if reason == ReasonUnknownToken {
		msg = "the bearer token is not valid (revoked, mistyped, or of another bot)"
	}
	writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "", "%s", msg)
}

// authFailed counts, logs and (rate-limited per address) records an
// authentication failure. The record goes to the property that was asked
// for if the store knows it, else to the property of the token that was
// used; a failure that concerns no known property is only logged.
func (s *Server) authFailed(r *http.Request, reason string, attacked *Property, used *command.TokenInfo) {
	ip := clientIP(r)
	s.metrics.authFailure(reason)
	ev := s.log.Warn().Str("remote", ip).Str("reason", reason).Str("method", r.Method).Str("path", r.URL.Path)
	if used != nil {
		ev = ev.Str("token_id", used.ID)
	}
	ev.Msg("API authentication failed")

	var target *Property
	switch {
	case attacked != nil && !attacked.All && s.knownProperty(*attacked):
		target = attacked
	case used != nil:
		target = &Property{Platform: used.Platform, ID: used.Property}
	default:
		return
	}
	ok, suppressed := s.limiter.allow(ip, s.now())
	if !ok {
		return
	}
	e := &audit.Event{Platform: target.Platform, PropertyID: target.ID, Type: audit.SecurityEvent,
		PlatformType: "http_api", Function: audit.FuncCommand, ActorType: audit.ActorSystem}
	e.Params.Set(audit.ParamKind, audit.KindAPIAuthFailure)
	e.Params.Set(audit.ParamReason, reason)
	e.Params.Set(ParamRemoteAddr, ip)
	e.Params.Set(ParamMethod, r.Method)
	e.Params.Set(ParamPath, audit.Cut(r.URL.Path, 256))
	if used != nil {
		e.Params.Set(ParamTokenID, used.ID)
	}
	if suppressed > 0 {
		e.Params.Set(ParamSuppressed, strconv.Itoa(suppressed))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.rec.Record(ctx, e); err != nil {
		s.log.Error().Err(err).Msg("record API authentication failure")
	}
}

// knownProperty reports whether the store has records of p, so that
// failures against made-up properties do not create properties.
func (s *Server) knownProperty(p Property) bool {
	for _, sp := range s.store.Properties() {
		if sp.Platform == p.Platform && sp.ID == p.ID {
			return true
		}
	}
	return false
}

// failureLimiter lets one failure record per address and interval through
// and counts the others.
type failureLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	last     map[string]*limitEntry
}

type limitEntry struct {
	at         time.Time
	suppressed int
}

// maxLimiterEntries bounds the addresses remembered; past it, addresses
// quiet for ten intervals are forgotten.
const maxLimiterEntries = 10000

func newFailureLimiter(interval time.Duration) *failureLimiter {
	return &failureLimiter{interval: interval, last: make(map[string]*limitEntry)}
}

// allow reports whether a failure from ip may be recorded now, and how many
// were held back since the last one that was.
func (l *failureLimiter) allow(ip string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.last[ip]; e != nil {
		if now.Sub(e.at) < l.interval {
			e.suppressed++
			return false, 0
		}
		n := e.suppressed
		e.at, e.suppressed = now, 0
		return true, n
	}
	if len(l.last) >= maxLimiterEntries {
		for k, e := range l.last {
			if now.Sub(e.at) > 10*l.interval {
				delete(l.last, k)
			}
		}
	}
	l.last[ip] = &limitEntry{at: now}
	return true, 0
}
