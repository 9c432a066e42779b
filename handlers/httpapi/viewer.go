package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/export"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

// The log viewer: one server-rendered page, no script. Logging in posts a
// token (a property's or the operator's) and starts a session whose
// opaque id is kept in an HttpOnly, SameSite=Strict cookie (sessions.go);
// everything after that is GET forms and links, and logging out is a POST
// carrying a form token derived from the session.

// SessionCookie is the viewer's session cookie.
const SessionCookie = "cw_session"

// ViewerPageSize is the default number of entries per viewer page.
const ViewerPageSize = 50

// contentSecurityPolicy allows the page's own stylesheet and forms and
// nothing else: no script at all, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// widgetSecurityPolicy is the login page's policy when Telegram's Login
// Widget is configured: its script from telegram.org and its frame from
// oauth.telegram.org, nothing else.
const widgetSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; script-src https://telegram.org; frame-src https://oauth.telegram.org; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var (
	//go:embed viewer/viewer.html
	viewerHTML string
	//go:embed viewer/viewer.css
	viewerCSS string

	// The log page shares the other pages' templates ("entry").
	viewerTmpl = template.Must(template.Must(template.New("viewer").Funcs(pageFuncs).Parse(viewerHTML)).Parse(pagesHTML))
)

// viewerPage is what the template shows.
type viewerPage struct {
	LoggedIn   bool
	Notice     string // after login failures and expired sessions
	Error      string // bad filters
	Operator   bool
	Property   string // shown property (path form), "" when the operator has chosen none
	Properties []option
	Lang       string
	Types      []option
	User       string
	Channel    string
	Since      string
	Until      string
	Limit      int
	Items      []listItem // entries, runs of joins folded
	OlderURL   string
	NewerURL   string
	CSVURL     string
	NDJSONURL  string
	CSRF       string
	Nav        []navLink // the other pages, for a chosen property
	// Names as recorded: the community's, the user filter's suggestions
	// (name, id) and what a name typed there was taken for.
	Community   string
	Suggestions []option
	UserNote    string
	Who         string // the moderator a login link let in
	zoneForm
	// The login page's optional logins (login_oauth.go).
	DiscordLogin                 bool
	TelegramBot, TelegramAuthURL string
}

type option struct {
	Value, Label string
	Selected     bool
}

// render is the one place log entries are rendered for the viewer: the
// log channels' format and locale.
func render(e *audit.Event, locale string) logentry.Entry { return logentry.Render(e, locale) }

func (s *Server) viewerHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

func (s *Server) show(w http.ResponseWriter, code int, page *viewerPage) {
	s.viewerHeaders(w)
	if !page.LoggedIn {
		s.loginOptions(page)
		if page.TelegramBot != "" { // the login page runs Telegram's widget, and nothing else
			w.Header().Set("Content-Security-Policy", widgetSecurityPolicy)
		}
	}
	w.WriteHeader(code)
	if err := viewerTmpl.Execute(w, page); err != nil {
		s.log.Error().Err(err).Msg("viewer template")
	}
}

// session returns the principal of the session cookie and the
// session's id; ok is false when there is no cookie. A cookie that names
// no live session (unknown, expired, logged out, or its token revoked)
// is counted as a failed authentication and cleared.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (p principal, id string, ok bool, err error) {
	c, cerr := r.Cookie(SessionCookie)
	if cerr != nil || c.Value == "" {
		return p, "", false, nil
	}
	id = c.Value
	if raw, derr := base64.RawURLEncoding.DecodeString(id); !strings.HasPrefix(id, sessionPrefix) && derr == nil {
		id = string(raw) // a link session's cookie from before ids were set as they are
	}
	if strings.HasPrefix(id, sessionPrefix) {
		if p, ok, err = s.linkSession(r.Context(), id); err != nil {
			var ended *endedError
			if !errors.As(err, &ended) || ended.final {
				s.clearSession(w, r)
			}
			return p, "", false, err
		}
		if ok {
			return p, id, true, nil
		}
		if err := s.endLinkSession(id); err != nil { // its token was revoked
			return p, "", false, err
		}
	}
	s.authFailed(r, SurfaceCookie, ReasonUnknownSession, nil, nil)
	s.clearSession(w, r)
	return principal{}, "", false, nil
}

// sessionFailed answers a request whose session could not be read: the
// login page with a sentence when a link session's moderator lost (or
// could not be checked for) their permissions, else an error.
func (s *Server) sessionFailed(w http.ResponseWriter, r *http.Request, err error) {
	var ended *endedError
	if !errors.As(err, &ended) {
		s.fail(w, r, err)
		return
	}
	code := http.StatusForbidden
	if !ended.final {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "30")
	}
	s.show(w, code, &viewerPage{Notice: ended.Error()})
}

// csrf is the logout form's token: a MAC of the session's token under a
// key that lives as long as the process.
func (s *Server) csrf(token string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("logout\x00" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// sameOrigin rejects cross-site form posts. Browsers send Sec-Fetch-Site
// (which pages cannot forge) with every request; older ones send Origin
// with every POST. Clients that send neither (curl, tests) are not
// browsers a forged form could drive.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// handleLogin checks the posted token and starts a session.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "cross-site form posts are refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		s.show(w, http.StatusBadRequest, &viewerPage{Notice: "The form could not be read."})
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	p, reason, err := s.authenticate(r.Context(), token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if reason != "" {
		s.authFailed(r, SurfaceLogin, reason, nil, nil)
		s.show(w, http.StatusUnauthorized, &viewerPage{Notice: "That token is not valid. Ask an admin for a new one (/config api-token on Discord, /apitoken on Telegram)."})
		return
	}
	id, err := s.startTokenSession(p, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setSession(w, r, id)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleLogout ends the session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "cross-site form posts are refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	_, token, ok, err := s.session(w, r)
	var ended *endedError
	if errors.As(err, &ended) { // logging out needs no permission
		s.clearSession(w, r)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ok {
		if r.ParseForm() != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf(token))) {
			writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "the logout form is stale: reload the page")
			return
		}
	}
	if err := s.endLinkSession(token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearSession(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleCSS serves the stylesheet.
func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write([]byte(viewerCSS))
}

// viewerSearch reads the viewer's filter form: property (operator only),
// type, user, channel, since, until, limit and page.
// Times typed without a zone are taken in loc, the session's.
func (s *Server) viewerSearch(v url.Values, p principal, page *viewerPage, loc *time.Location) (Property, *search, error) {
	prop := p.property()
	if p.operator {
		if v.Get("property") == "" {
			return prop, nil, nil
		}
		var err error
		if prop, err = ParseProperty(v.Get("property")); err != nil {
			return prop, nil, badParam("property", "%v", err)
		}
	}
	page.Property = prop.String()
	page.User, page.Channel = v.Get("user"), v.Get("channel")
	page.Since, page.Until = v.Get("since"), v.Get("until")
	srch := &search{max: ViewerPageSize}
	srch.q.Platform, srch.q.Property = prop.Platform, prop.ID
	if prop.All {
		srch.q.Platform, srch.q.Property = 0, ""
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 200 {
			return prop, nil, badParam("limit", "must be a number from 1 to 200")
		}
		srch.max = n
	}
	page.Limit = srch.max
	types, err := parseTypeList("type", v["type"], true)
	if err != nil {
		return prop, nil, err
	}
	if len(types) < len(audit.EventTypes()) {
		srch.q.Types = types
	}
	for _, f := range []struct{ param, val string }{{"user", page.User}, {"channel", page.Channel}} {
		if len(f.val) > audit.MaxIDLen {
			return prop, nil, badParam(f.param, "longer than %d bytes", audit.MaxIDLen)
		}
	}
	srch.q.User, srch.q.Channel = strings.TrimSpace(page.User), strings.TrimSpace(page.Channel)
	now := s.now()
	if srch.q.Since, err = viewerTime("since", page.Since, now, loc); err != nil {
		return prop, nil, err
	}
	if srch.q.Until, err = viewerTime("until", page.Until, now, loc); err != nil {
		return prop, nil, err
	}
	if !srch.q.Since.IsZero() && !srch.q.Until.IsZero() && !srch.q.Since.Before(srch.q.Until) {
		return prop, nil, badParam("since", "must be before until")
	}
	srch.q.Cursor = v.Get("page")
	return prop, srch, nil
}

// viewerTime reads what people type: 24h or 7d ago, a date, RFC 3339, or
// the browser's datetime-local form (taken in loc, the session's zone).
func viewerTime(param, s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02T15:04", s, loc); err == nil {
		return t.UTC(), nil
	}
	t, err := command.ParseTime(s, now)
	if err != nil {
		return t, badParam(param, "%v", err)
	}
	return t.UTC(), nil
}

// handleViewer shows the login form, or the log page of the session.
func (s *Server) handleViewer(w http.ResponseWriter, r *http.Request) {
	p, token, ok, err := s.session(w, r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return
	}
	if !ok {
		s.show(w, http.StatusOK, &viewerPage{})
		return
	}
	v := r.URL.Query()
	loc, zone := sessionZone(p)
	page := &viewerPage{LoggedIn: true, Operator: p.operator, CSRF: s.csrf(token), Lang: s.opts.DefaultLocale, Limit: ViewerPageSize,
		Who: p.viewerName(), zoneForm: newZoneForm(r, p, zone)}
	prop, srch, err := s.viewerSearch(v, p, page, loc)
	page.Types = typeOptions(v.Get("type"))
	if p.operator {
		page.Properties = s.propertyOptions(r.Context(), page.Property)
	}
	if err != nil {
		page.Error = err.Error()
		s.show(w, http.StatusBadRequest, page)
		return
	}
	if srch == nil {
		s.show(w, http.StatusOK, page) // the operator has not chosen a property yet
		return
	}
	locale := s.opts.DefaultLocale
	if !prop.All {
		if set, err := s.store.Settings(r.Context(), prop.Platform, prop.ID); err == nil && set.Locale != "" {
			locale = set.Locale
		}
	}
	page.Lang = locale
	page.Nav = viewerNav(p, prop, locale, "log")
	if err := s.viewerNames(r.Context(), prop, srch, page); err != nil {
		s.fail(w, r, err)
		return
	}
	q := srch.q
	q.Limit = srch.max
	res, err := s.store.Query(r.Context(), q)
	if err != nil {
		if errors.Is(err, store.ErrBadCursor) || errors.Is(err, store.ErrBadQuery) {
			page.Error = queryError(err).Error()
			if errors.Is(err, store.ErrBadCursor) {
				page.Error = "page: this link belongs to other filters; start again from the newest entries"
			}
			s.show(w, http.StatusBadRequest, page)
			return
		}
		s.fail(w, r, err)
		return
	}
	entries := make([]pageEntry, len(res.Events))
	for i, e := range res.Events {
		esc := &scope{p: p, prop: Property{Platform: e.Platform, ID: e.PropertyID}, locale: locale, loc: loc}
		entries[i] = esc.entry(e)
	}
	page.Items = foldJoins(res.Events, entries, locale)
	link := func(extra url.Values) string {
		out := url.Values{}
		for _, k := range []string{"property", "type", "user", "channel", "since", "until", "limit"} {
			if val := v.Get(k); val != "" && (k != "property" || p.operator) {
				out.Set(k, val)
			}
		}
		for k, vals := range extra {
			out[k] = vals
		}
		return "?" + out.Encode()
	}
	if res.Older != "" {
		page.OlderURL = "/" + link(url.Values{"page": {res.Older}})
	}
	if res.Newer != "" {
		page.NewerURL = "/" + link(url.Values{"page": {res.Newer}})
	}
	page.CSVURL = "/export" + link(url.Values{"format": {"csv"}})
	page.NDJSONURL = "/export" + link(url.Values{"format": {"ndjson"}})
	s.show(w, http.StatusOK, page)
}

// handleViewerExport downloads everything the viewer's filters match.
func (s *Server) handleViewerExport(w http.ResponseWriter, r *http.Request) {
	p, _, ok, err := s.session(w, r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return
	}
	if !ok {
		unauthorized(w, ReasonMissingToken)
		return
	}
	v := r.URL.Query()
	var page viewerPage
	loc, _ := sessionZone(p)
	prop, srch, err := s.viewerSearch(v, p, &page, loc)
	if err == nil && srch == nil {
		err = badParam("property", "choose a property")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.viewerNames(r.Context(), prop, srch, &page); err != nil {
		s.fail(w, r, err)
		return
	}
	srch.q.Cursor = ""
	if _, err := export.ParseFormat(v.Get("format")); err != nil {
		s.fail(w, r, badParam("format", "%v", err))
		return
	}
	if err := s.recordExport(r, p, prop, v); err != nil {
		s.fail(w, r, err)
		return
	}
	s.stream(w, r, prop, srch, v.Get("format"))
}

// exportFilters are the viewer's filter parameters an export record keeps.
var exportFilters = []string{"type", "user", "channel", "since", "until"}

// recordExport records a viewer download before it starts, as a
// SECURITY_EVENT of kind VIEWER_EXPORT: who (the moderator of a link
// session, else the token used), from where, in which format and with
// which filters. An export the log cannot record is not served. The
// operator's exports of every property at once concern no one property:
// they are logged only.
func (s *Server) recordExport(r *http.Request, p principal, prop Property, v url.Values) error {
	filters := url.Values{}
	for _, k := range exportFilters {
		if val := strings.TrimSpace(v.Get(k)); val != "" {
			filters.Set(k, val)
		}
	}
	f, _ := export.ParseFormat(v.Get("format"))
	format := string(f)
	if prop.All {
		s.log.Info().Str("remote", clientIP(r)).Str("format", format).Str("filters", filters.Encode()).
			Msg("the operator exported every property from the viewer")
		return nil
	}
	e := &audit.Event{Platform: prop.Platform, PropertyID: prop.ID, Type: audit.SecurityEvent, PlatformType: "http_api",
		Function: audit.FuncCommand, ActorType: audit.ActorAdmin}
	switch {
	case p.operator:
		e.ActorType, e.ActorName = audit.ActorSystem, "operator"
	case p.token.ID == "link":
		e.ActorID, e.ActorName = p.token.CreatedBy, p.token.CreatedByName
	default:
		e.ActorID, e.ActorName = p.token.CreatedBy, p.token.CreatedByName
		e.Params.Set(ParamTokenID, p.token.ID)
	}
	e.Params.Set(audit.ParamKind, KindViewerExport)
	e.Params.Set(ParamRemoteAddr, clientIP(r))
	e.Params.Set(ParamFormat, format)
	e.Params.Set(ParamFilters, audit.Cut(filters.Encode(), 512))
	if err := s.rec.Record(r.Context(), e); err != nil {
		return fmt.Errorf("record a viewer export: %w", err)
	}
	return nil
}

// typeOptions lists the type filter's choices.
func typeOptions(selected string) []option {
	out := []option{{Value: "", Label: "all types"}}
	for _, c := range audit.PresetNames()[1:] {
		out = append(out, option{Value: c, Label: "preset: " + c})
	}
	for _, t := range audit.EventTypes() {
		out = append(out, option{Value: t.String(), Label: t.String()})
	}
	for i := range out {
		out[i].Selected = strings.EqualFold(out[i].Value, selected)
	}
	return out
}

// propertyOptions lists the properties the operator may choose.
func (s *Server) propertyOptions(ctx context.Context, selected string) []option {
	out := []option{{Value: AllProperties, Label: "all properties", Selected: selected == AllProperties}}
	for _, p := range s.store.Properties() {
		prop := Property{Platform: p.Platform, ID: p.ID}
		v, label := prop.String(), prop.String()
		if name, err := s.communityName(ctx, prop); err == nil && name != "" {
			label = name + " · " + v
		}
		out = append(out, option{Value: v, Label: label + " (" + strconv.FormatUint(p.Count, 10) + " records)", Selected: v == selected})
	}
	return out
}
