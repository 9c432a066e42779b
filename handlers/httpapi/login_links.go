package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/store"
)

// One-time login links: a chat command (run by a moderator who may read
// the community's log) asks LoginLink for a link; opening it shows a
// confirmation form (so that link previews in chats, which fetch pages,
// do not use it up), and posting that form starts a viewer session for
// that community and that person. A link works once and for a few
// minutes; each login through one is recorded as a SECURITY_EVENT of
// kind VIEWER_LOGIN with the moderator as actor and their address.

const (
	// LoginLinkTTL is how long a login link works.
	LoginLinkTTL = 5 * time.Minute
	// LinkSessionTTL is how long a session started by a link lasts (the
	// session cookie's lifetime).
	LinkSessionTTL = 12 * time.Hour
	// KindViewerLogin is the SECURITY_EVENT kind of a login by link.
	KindViewerLogin = "VIEWER_LOGIN"
	// KindViewerExport is the SECURITY_EVENT kind of a download from the
	// viewer (CSV or NDJSON), with ParamFormat and ParamFilters.
	KindViewerExport = "VIEWER_EXPORT"
	// ParamFormat is a viewer export's format (csv, ndjson).
	ParamFormat = "format"
	// ParamFilters are a viewer export's filters, as a query string
	// (type, user, channel, since, until).
	ParamFilters = "filters"

	nsLoginLinks   = "httpapi/login_links"
	nsLinkSessions = "httpapi/link_sessions"
	linkPrefix     = "cwl_"
	sessionPrefix  = "cwv_"
)

// ErrNoPublicURL is returned by LoginLink without a base URL.
var ErrNoPublicURL = errors.New("the viewer's public URL is not configured (api.public_url)")

// linkGrant is what a link, then its session, grants: one person's view
// of one property until Expires.
type linkGrant struct {
	Platform audit.Platform `json:"platform,omitempty"` // none for the operator
	Property string         `json:"property"`
	UserID   string         `json:"user_id"`
	UserName string         `json:"user_name,omitempty"`
	Expires  time.Time      `json:"expires"`
	// A session started with a token (sessions.go): the token's SHA-256
	// in hex, and whether it is the operator's.
	TokenHash string `json:"token_hash,omitempty"`
	Operator  bool   `json:"operator,omitempty"`
	// Checked is when the moderator's permissions were last confirmed
	// (Options.ViewerAccess): at the link's making, then every
	// Options.AccessRecheck during the session.
	Checked time.Time `json:"checked,omitzero"`
	// TZ is the IANA time zone the moderator chose for the pages.
	TZ string `json:"tz,omitempty"`
	// Method is how the person logged in (LoginLink, LoginDiscordOAuth,
	// LoginTelegramWidget); empty for links made before it was kept.
	Method string `json:"method,omitempty"`
}

// linkMu makes taking a link (read, check, delete) one step.
var linkMu sync.Mutex

func secretKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("login link: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// LoginLink returns a one-time link to the viewer of one property for
// user, valid LoginLinkTTL, and when it expires. base is where the viewer
// is reachable (api.public_url). The caller has checked that user may read
// the property's log.
func (s *Server) LoginLink(ctx context.Context, base string, p audit.Platform, property string, user command.Admin) (string, time.Time, error) {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if base == "" {
		return "", time.Time{}, ErrNoPublicURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", time.Time{}, fmt.Errorf("login link: api.public_url %q is not an http(s) URL", base)
	}
	if err := s.sweep(nsLoginLinks); err != nil {
		return "", time.Time{}, err
	}
	code, err := s.mintCode(p, property, user, LoginLink)
	if err != nil {
		return "", time.Time{}, err
	}
	return base + "/login/link?code=" + url.QueryEscape(code), s.now().Add(LoginLinkTTL), nil
}

// mintCode stores a one-time login code for user and property, valid
// LoginLinkTTL; method is how the person proved who they are.
func (s *Server) mintCode(p audit.Platform, property string, user command.Admin, method string) (string, error) {
	code, err := newSecret(linkPrefix)
	if err != nil {
		return "", err
	}
	now := s.now()
	g := linkGrant{Platform: p, Property: property, UserID: user.ID, UserName: user.Name, Expires: now.Add(LoginLinkTTL),
		Checked: now, Method: method}
	v, _ := json.Marshal(g)
	if err := s.store.Put(nsLoginLinks, secretKey(code), v); err != nil {
		return "", fmt.Errorf("login link: %w", err)
	}
	return code, nil
}

// grant reads (and with take, removes) a link's or session's grant; ok is
// false when there is none or it has expired (then it is removed).
func (s *Server) grant(ns, secret string, take bool) (g linkGrant, ok bool, err error) {
	linkMu.Lock()
	defer linkMu.Unlock()
	key := secretKey(secret)
	v, err := s.store.GetKV(ns, key)
	if errors.Is(err, store.ErrNotFound) || err == nil && v == nil {
		return g, false, nil
	}
	if err != nil {
		return g, false, fmt.Errorf("read %s: %w", ns, err)
	}
	if err := json.Unmarshal(v, &g); err != nil {
		return g, false, fmt.Errorf("read %s: %w", ns, err)
	}
	expired := !s.now().Before(g.Expires)
	if take || expired {
		if err := s.store.DeleteKV(ns, key); err != nil {
			return g, false, fmt.Errorf("delete from %s: %w", ns, err)
		}
	}
	return g, !expired, nil
}

// linkSession returns the principal of a session a link started; ok is
// false for an unknown or expired one. When the moderator's permissions
// are due for a check (Options.ViewerAccess, every AccessRecheck) it asks
// the platform: a moderator who lost them has their session ended and
// gets an *endedError; a check that fails leaves the session for the next
// request but serves nothing (a *endedError too, not final).
func (s *Server) linkSession(ctx context.Context, token string) (principal, bool, error) {
	g, ok, err := s.grant(nsLinkSessions, token, false)
	if err != nil || !ok {
		return principal{}, false, err
	}
	if g.TokenHash != "" {
		return s.tokenSession(g)
	}
	if check := s.opts.ViewerAccess; check != nil && s.now().Sub(g.Checked) >= s.opts.AccessRecheck {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		allowed, err := check(cctx, g.Platform, g.Property, g.UserID)
		cancel()
		prop := Property{Platform: g.Platform, ID: g.Property}.String()
		switch {
		case err != nil:
			s.log.Warn().Err(err).Str("property", prop).Str("user", g.UserID).
				Msg("viewer session: the moderator's permissions could not be checked")
			return principal{}, false, &endedError{final: false}
		case !allowed:
			s.log.Info().Str("property", prop).Str("user", g.UserID).
				Msg("viewer session ended: the moderator lost the permission to read the log")
			if _, _, err := s.grant(nsLinkSessions, token, true); err != nil {
				return principal{}, false, err
			}
			return principal{}, false, &endedError{final: true}
		}
		if err := s.updateSession(token, func(g *linkGrant) { g.Checked = s.now() }); err != nil {
			return principal{}, false, err
		}
	}
	return principal{token: command.TokenInfo{ID: "link", Platform: g.Platform, Property: g.Property,
		CreatedBy: g.UserID, CreatedByName: g.UserName, Label: "login link"}, tz: g.TZ}, true, nil
}

// putSession stores (or rewrites) a link session's grant.
func (s *Server) putSession(token string, g linkGrant) error {
	v, _ := json.Marshal(g)
	linkMu.Lock()
	defer linkMu.Unlock()
	if err := s.store.Put(nsLinkSessions, secretKey(token), v); err != nil {
		return fmt.Errorf("write a link session: %w", err)
	}
	return nil
}

// updateSession changes a stored link session with fn; a session ended
// meanwhile (logged out, expired) stays ended.
func (s *Server) updateSession(token string, fn func(g *linkGrant)) error {
	linkMu.Lock()
	defer linkMu.Unlock()
	key := secretKey(token)
	v, err := s.store.GetKV(nsLinkSessions, key)
	if errors.Is(err, store.ErrNotFound) || err == nil && v == nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read a link session: %w", err)
	}
	var g linkGrant
	if err := json.Unmarshal(v, &g); err != nil {
		return fmt.Errorf("read a link session: %w", err)
	}
	fn(&g)
	v, _ = json.Marshal(g)
	if err := s.store.Put(nsLinkSessions, key, v); err != nil {
		return fmt.Errorf("write a link session: %w", err)
	}
	return nil
}

// endedError is a link session refused because its moderator's
// permissions were withdrawn (final: the session is gone) or could not be
// checked (the next request asks again).
type endedError struct{ final bool }

func (e *endedError) Error() string {
	if e.final {
		return "You no longer have the permission to read this community's log, so your viewer session has ended. Ask for a new link if that changes."
	}
	return "Your permissions in this community could not be checked just now; reload the page in a moment."
}

// endLinkSession forgets a link session (at logout).
func (s *Server) endLinkSession(token string) error {
	if !strings.HasPrefix(token, sessionPrefix) {
		return nil
	}
	if _, _, err := s.grant(nsLinkSessions, token, true); err != nil {
		return err
	}
	return nil
}

type linkPage struct {
	basePage
	Code      string
	Community string
	User      string
}

// handleLinkForm shows the confirmation form of a login link.
func (s *Server) handleLinkForm(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	page := &linkPage{basePage: basePage{Lang: s.opts.DefaultLocale, Title: pageLabel(s.opts.DefaultLocale, "login_link")}, Code: code}
	g, ok, err := s.grant(nsLoginLinks, code, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !strings.HasPrefix(code, linkPrefix) || !ok {
		page.Error = pageLabel(page.Lang, "link_gone")
		s.showPage(w, http.StatusGone, "link", page)
		return
	}
	prop := Property{Platform: g.Platform, ID: g.Property}
	page.Community = prop.String()
	if name, err := s.communityName(r.Context(), prop); err == nil && name != "" {
		page.Community = name + " (" + prop.String() + ")"
	}
	page.User = g.UserName
	if page.User == "" {
		page.User = g.UserID
	}
	s.showPage(w, http.StatusOK, "link", page)
}

// handleLinkLogin takes a login link and starts its session.
func (s *Server) handleLinkLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "cross-site form posts are refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "code", "the form could not be read")
		return
	}
	code := r.PostForm.Get("code")
	page := &linkPage{basePage: basePage{Lang: s.opts.DefaultLocale, Title: pageLabel(s.opts.DefaultLocale, "login_link")}}
	g, ok, err := s.grant(nsLoginLinks, code, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !strings.HasPrefix(code, linkPrefix) || !ok {
		s.authFailed(r, SurfaceLink, ReasonUnknownLink, nil, nil)
		page.Error = pageLabel(page.Lang, "link_gone")
		s.showPage(w, http.StatusGone, "link", page)
		return
	}
	if err := s.sweep(nsLinkSessions); err != nil {
		s.fail(w, r, err)
		return
	}
	token, err := newSecret(sessionPrefix)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sess := g
	sess.Expires = s.now().Add(LinkSessionTTL)
	if err := s.putSession(token, sess); err != nil {
		s.fail(w, r, fmt.Errorf("start a link session: %w", err))
		return
	}
	e := &audit.Event{Platform: g.Platform, PropertyID: g.Property, Type: audit.SecurityEvent, PlatformType: "http_api",
		Function: audit.FuncCommand, ActorType: audit.ActorAdmin, ActorID: g.UserID, ActorName: g.UserName}
	e.Params.Set(audit.ParamKind, KindViewerLogin)
	e.Params.Set(ParamRemoteAddr, clientIP(r))
	method := g.Method
	if method == "" {
		method = LoginLink
	}
	e.Params.Set(ParamLogin, method)
	if err := s.rec.Record(r.Context(), e); err != nil {
		s.store.DeleteKV(nsLinkSessions, secretKey(token))
		s.fail(w, r, fmt.Errorf("record a viewer login: %w", err))
		return
	}
	s.setSession(w, r, token)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// viewerName is who a session started by a login link belongs to, for
// the page header; "" for token sessions, which name no one.
func (p principal) viewerName() string {
	if p.operator || p.token.ID != "link" {
		return ""
	}
	if p.token.CreatedByName != "" {
		return p.token.CreatedByName
	}
	return p.token.CreatedBy
}

// sweep forgets the expired links or sessions of ns, so that links never
// opened and sessions never ended do not pile up.
func (s *Server) sweep(ns string) error { return s.sweepKeeping(ns, "", 0) }

// sweepKeeping is sweep that also ends, in the same scan, the oldest
// sessions started with the token of tokenHash beyond keep.
func (s *Server) sweepKeeping(ns, tokenHash string, keep int) error {
	type session struct {
		key     []byte
		expires time.Time
	}
	now := s.now()
	var expired [][]byte
	var open []session
	err := s.store.ScanKV(ns, nil, func(k, v []byte) error {
		var g linkGrant
		switch {
		case json.Unmarshal(v, &g) != nil || !now.Before(g.Expires):
			expired = append(expired, bytes.Clone(k))
		case tokenHash != "" && g.TokenHash == tokenHash:
			open = append(open, session{bytes.Clone(k), g.Expires})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep %s: %w", ns, err)
	}
	if len(open) > keep {
		// Every session lives LinkSessionTTL: the first to expire is the oldest.
		slices.SortFunc(open, func(a, b session) int { return a.expires.Compare(b.expires) })
		for _, o := range open[:len(open)-keep] {
			expired = append(expired, o.key)
		}
	}
	for _, k := range expired {
		if err := s.store.DeleteKV(ns, k); err != nil {
			return fmt.Errorf("sweep %s: %w", ns, err)
		}
	}
	return nil
}
