package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// Params of the records this package writes (SECURITY_EVENT kind
// API_AUTH_FAILURE, and SETTINGS_CHANGE for tokens).
const (
	ParamRemoteAddr = "remote_addr" // the client's IP address
	ParamTokenID    = command.ParamTokenID
	ParamPath       = "path" // the URL path requested
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

// key names p for per-principal limits: the operator, a token's id, or a
// login link's person and property.
func (p principal) key() string {
	switch {
	case p.operator:
		return "operator"
	case p.token.ID == "link":
		return "link:" + p.token.Platform.String() + ":" + p.token.Property + ":" + p.token.CreatedBy
	}
	return p.token.ID
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
	// Compared as digests: equal lengths, constant time.
	if op := s.opts.OperatorToken; op != "" && subtle.ConstantTimeCompare(digest(token), digest(op)) == 1 {
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
		s.authFailed(r, SurfaceAPI, reason, attacked, nil)
		unauthorized(w, reason)
		return prop, p, false
	}
	if perr != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "property", "property: %v", perr)
		return prop, p, false
	}
	if !p.may(prop) {
		s.authFailed(r, SurfaceAPI, ReasonWrongProperty, &prop, &p.token)
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

// authFailed counts one failed authentication on surface, logs it at
// debug level and adds it to its target's aggregate (see authfail.go).
// attacked is the property that was asked for, if any; used the token
// that was presented, if it is a token of this bot. The target is the
// attacked property when the store knows it, else the used token's
// property, else the operator. The same lookups run whatever the answer,
// and nothing here waits for the store to commit, so that the answer
// takes as long for a community that exists as for one that does not.
func (s *Server) authFailed(r *http.Request, surface, reason string, attacked *Property, used *command.TokenInfo) {
	ip := clientIP(r)
	s.metrics.authFailure(surface, reason)
	f := failure{surface: surface, reason: reason, ip: ip, method: logField(r.Method), path: logField(r.URL.Path)}
	if used != nil {
		f.tokenID = used.ID
	}
	if ev := s.log.Debug(); ev.Enabled() {
		ev.Str("remote", ip).Str("surface", surface).Str("reason", reason).Str("method", f.method).
			Str("path", f.path).Str("token_id", f.tokenID).Msg("HTTP authentication failed")
	}
	probe := Property{Platform: audit.Discord, ID: "0"}
	if attacked != nil && !attacked.All {
		probe = *attacked
	}
	known := s.knownProperty(probe)
	switch {
	case attacked != nil && !attacked.All && known:
		f.target = *attacked
	case used != nil:
		f.target = Property{Platform: used.Platform, ID: used.Property}
	}
	s.failures.add(f, s.now())
}

// knownProperty reports whether the store has records of p, so that
// failures against made-up properties do not create properties. It looks
// at every property and compares in constant time, so that its time does
// not depend on whether or where p is found.
func (s *Server) knownProperty(p Property) bool {
	want := []byte(p.String())
	found := 0
	for _, sp := range s.store.Properties() {
		have := []byte(Property{Platform: sp.Platform, ID: sp.ID}.String())
		found |= subtle.ConstantTimeCompare(have, want)
	}
	return found == 1
}

func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
