package httpapi

import (
	_ "embed"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
)

// The viewer's pages besides the log: the moderation view, member pages,
// record permalinks and the summary. They share the log page's session
// and headers (no script, strict CSP) and are scoped to one property: a
// property token's own, or the one the operator names with ?property=.

var (
	//go:embed viewer/pages.html
	pagesHTML string

	pagesTmpl = template.Must(template.New("pages").Funcs(pageFuncs).Parse(pagesHTML))

	pageFuncs = template.FuncMap{
		"label": pageLabel,
		"rows": func(lang string, rows []modRow) any {
			return struct {
				Lang string
				Rows []modRow
			}{lang, rows}
		},
	}
)

// viewerRoutes adds the viewer's pages to m.
func (s *Server) viewerRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /moderation", s.handleModeration)
	m.HandleFunc("GET /record", s.handleRecord)
	m.HandleFunc("GET /member", s.handleMember)
	m.HandleFunc("GET /summary", s.handleSummary)
	m.HandleFunc("GET /role", s.handleRole)
	m.HandleFunc("GET /login/link", s.handleLinkForm)
	m.HandleFunc("POST /login/link", s.handleLinkLogin)
	m.HandleFunc("POST /timezone", s.handleTimezone)
	m.HandleFunc("GET /login/discord", s.handleDiscordLogin)
	m.HandleFunc("GET /login/discord/callback", s.handleDiscordCallback)
	m.HandleFunc("GET /login/telegram", s.handleTelegramLogin)
}

// basePage is what every page's header needs.
type basePage struct {
	Lang      string
	Title     string
	Scope     string // the property, path form
	Community string // its name as recorded
	Who       string // the moderator a login link let in
	CSRF      string
	Nav       []navLink
	Error     string
	zoneForm
}

type navLink struct {
	Href, Label string
	Current     bool
}

// scope is a page request's session and property.
type scope struct {
	p      principal
	prop   Property
	locale string
	loc    *time.Location // the session's time zone
	base   basePage
}

// href returns path with the query kv (pairs, empty values left out),
// keeping the operator's property.
func (sc *scope) href(path string, kv ...string) string {
	v := url.Values{}
	if sc.p.operator {
		v.Set("property", sc.prop.String())
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// memberURL links to a member's page; "" for no one.
func (sc *scope) memberURL(id string) string {
	if id == "" {
		return ""
	}
	return sc.href("/member", "user", id)
}

// recordURL is a record's permalink.
func (sc *scope) recordURL(id audit.ID) string { return sc.href("/record", "id", id.String()) }

// viewerScope reads the session and the property of a page request. When
// it returns false it has answered: the login page for no session, an
// error page when the operator has not named one property.
func (s *Server) viewerScope(w http.ResponseWriter, r *http.Request, page string) (*scope, bool) {
	p, token, ok, err := s.session(w, r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return nil, false
	}
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil, false
	}
	loc, zone := sessionZone(p)
	sc := &scope{p: p, prop: p.property(), locale: s.opts.DefaultLocale, loc: loc}
	sc.base = basePage{Lang: sc.locale, CSRF: s.csrf(token), Title: pageLabel(sc.locale, page), Who: p.viewerName(),
		zoneForm: newZoneForm(r, p, zone)}
	if p.operator {
		raw := r.URL.Query().Get("property")
		prop, perr := ParseProperty(raw)
		if raw == "" || perr != nil || prop.All {
			sc.base.Nav = []navLink{{Href: "/", Label: pageLabel(sc.locale, "log")}}
			sc.base.Error = pageLabel(sc.locale, "choose_property")
			s.showPage(w, http.StatusBadRequest, "error", &sc.base)
			return nil, false
		}
		sc.prop = prop
	}
	if set, err := s.store.Settings(r.Context(), sc.prop.Platform, sc.prop.ID); err == nil && set.Locale != "" {
		sc.locale = set.Locale
	}
	sc.base.Lang = sc.locale
	sc.base.Scope = sc.prop.String()
	if sc.base.Community, err = s.communityName(r.Context(), sc.prop); err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	sc.base.Title = pageLabel(sc.locale, page)
	sc.base.Nav = viewerNav(p, sc.prop, sc.locale, page)
	return sc, true
}

// viewerNav links a property's pages; current is the page shown.
func viewerNav(p principal, prop Property, locale, current string) []navLink {
	if prop.All {
		return nil
	}
	sc := &scope{p: p, prop: prop}
	var out []navLink
	for _, n := range []struct{ key, path string }{{"log", "/"}, {"moderation", "/moderation"}, {"summary", "/summary"}} {
		out = append(out, navLink{Href: sc.href(n.path), Label: pageLabel(locale, n.key), Current: n.key == current})
	}
	return out
}

// showPage renders one of pages.html's templates.
func (s *Server) showPage(w http.ResponseWriter, code int, name string, data any) {
	s.viewerHeaders(w)
	w.WriteHeader(code)
	if err := pagesTmpl.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error().Err(err).Str("page", name).Msg("viewer template")
	}
}

// timeText is how pages show a time: in the session's time zone.
func (sc *scope) timeText(t time.Time) string {
	loc := sc.loc
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// person is someone shown on a page: the name as recorded, the id as a
// detail, a link to their member page.
type person struct {
	ID, Name, URL string
}

func (sc *scope) person(id, name string) person {
	return person{ID: id, Name: logentry.OneLine(name, 0), URL: sc.memberURL(id)}
}
