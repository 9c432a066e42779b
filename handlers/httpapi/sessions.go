package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/chatwarden/chatwarden/command"
)

// Viewer sessions started with a token. Logging in with a property's or
// the operator's token starts a session like a login link's: the cookie
// holds a random cwv_ id, and the store keeps, under the id's SHA-256
// (namespace httpapi/link_sessions), the property, the expiry and the
// token's SHA-256, never the token. Logging out deletes the session;
// revoking the token (or changing the operator token) ends every session
// it started at their next request; sessions expire after LinkSessionTTL.

// maxTokenSessions bounds the viewer sessions one token keeps open:
// logging in again with it ends the oldest beyond the bound, so that a
// script logging in in a loop cannot fill the store with sessions.
const maxTokenSessions = 20

// startTokenSession starts a session for p, who logged in with token,
// and returns its id.
func (s *Server) startTokenSession(p principal, token string) (string, error) {
	tokenHash := hex.EncodeToString(digest(token))
	if err := s.sweepKeeping(nsLinkSessions, tokenHash, maxTokenSessions-1); err != nil {
		return "", err
	}
	id, err := newSecret(sessionPrefix)
	if err != nil {
		return "", err
	}
	g := linkGrant{Expires: s.now().Add(LinkSessionTTL), TokenHash: tokenHash, Operator: p.operator}
	if !p.operator {
		g.Platform, g.Property = p.token.Platform, p.token.Property
	}
	v, _ := json.Marshal(g)
	if err := s.store.Put(nsLinkSessions, secretKey(id), v); err != nil {
		return "", fmt.Errorf("start a viewer session: %w", err)
	}
	return id, nil
}

// tokenSession returns the principal of a session started with a token;
// ok is false once the token no longer works.
func (s *Server) tokenSession(g linkGrant) (principal, bool, error) {
	hash, err := hex.DecodeString(g.TokenHash)
	if err != nil {
		return principal{}, false, nil
	}
	if g.Operator {
		op := s.opts.OperatorToken
		return principal{operator: true, tz: g.TZ}, op != "" && subtle.ConstantTimeCompare(hash, digest(op)) == 1, nil
	}
	info, err := s.tokens.LookupHash(context.Background(), hash)
	if errors.Is(err, command.ErrTokenNotFound) {
		return principal{}, false, nil
	}
	if err != nil {
		return principal{}, false, err
	}
	return principal{token: info, tz: g.TZ}, true, nil
}

// viaTLS reports whether the request reached us over TLS: directly, or
// through a proxy that says so in the trusted header
// (Options.TrustedProxyHeader: X-Forwarded-Proto's first value, or the
// proto= of Forwarded's first element, is https).
func (s *Server) viaTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	name := s.opts.TrustedProxyHeader
	if name == "" {
		return false
	}
	v := r.Header.Get(name)
	first, _, _ := strings.Cut(v, ",")
	first = strings.TrimSpace(first)
	if strings.EqualFold(name, "Forwarded") {
		for _, pair := range strings.Split(first, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "proto") {
				return strings.EqualFold(strings.Trim(val, `"`), "https")
			}
		}
		return false
	}
	return strings.EqualFold(first, "https")
}

// setSession sets the session cookie to a session's id: HttpOnly,
// SameSite=Strict, and Secure when the request came over TLS.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.viaTLS(r), MaxAge: int(LinkSessionTTL.Seconds())})
}

func (s *Server) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.viaTLS(r), MaxAge: -1})
}
