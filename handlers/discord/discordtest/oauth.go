package discordtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// OAuth2 as Discord documents it (topics/oauth2, resources/user): the
// authorization code grant. A test registers an application with
// OAuthApp, has a user approve it with Authorize (what the browser does
// at /oauth2/authorize), and the program under test exchanges the code at
// POST /oauth2/token (form-encoded only; client credentials by HTTP Basic
// or in the form) and reads GET /users/@me (scope identify) and
// GET /users/@me/guilds (scope guilds, each guild with the user's
// permissions as a string and whether they own it) with the Bearer token.
// A code works once, for its redirect_uri.

type oauthApp struct {
	secret, redirect string
}

type oauthGrant struct {
	clientID, redirect string
	user               User
	scopes             []string
}

type oauthState struct {
	mu     sync.Mutex
	apps   map[string]oauthApp
	codes  map[string]oauthGrant
	tokens map[string]oauthGrant
}

func (s *Server) oauth() *oauthState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauthSt == nil {
		s.oauthSt = &oauthState{apps: map[string]oauthApp{}, codes: map[string]oauthGrant{}, tokens: map[string]oauthGrant{}}
	}
	return s.oauthSt
}

// OAuthApp registers an OAuth2 application with its secret and redirect URI.
func (s *Server) OAuthApp(clientID, secret, redirectURI string) {
	o := s.oauth()
	o.mu.Lock()
	o.apps[clientID] = oauthApp{secret: secret, redirect: redirectURI}
	o.mu.Unlock()
}

// Authorize is a user approving an application at the authorization URL:
// it returns the code Discord appends to the redirect URI ("" when the
// application or redirect URI is unknown, where Discord shows an error).
func (s *Server) Authorize(u *User, clientID, redirectURI string, scopes ...string) string {
	o := s.oauth()
	o.mu.Lock()
	defer o.mu.Unlock()
	app, ok := o.apps[clientID]
	if !ok || app.redirect != redirectURI {
		return ""
	}
	code := randomToken()
	o.codes[code] = oauthGrant{clientID: clientID, redirect: redirectURI, user: *u, scopes: scopes}
	return code
}

func randomToken() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthError answers as RFC 6749 section 5.2 says.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// oauthToken serves POST /oauth2/token.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the token URL only accepts application/x-www-form-urlencoded")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	o := s.oauth()
	o.mu.Lock()
	defer o.mu.Unlock()
	app, ok := o.apps[id]
	if !ok || app.secret != secret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client")
		return
	}
	if form.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type")
		return
	}
	g, ok := o.codes[form.Get("code")]
	delete(o.codes, form.Get("code")) // a code is used once, even when refused
	if !ok || g.clientID != id || g.redirect != form.Get("redirect_uri") {
		oauthError(w, http.StatusBadRequest, "invalid_grant", `Invalid "code" in request.`)
		return
	}
	token := randomToken()
	o.tokens[token] = g
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 604800,
		"refresh_token": randomToken(), "scope": strings.Join(g.scopes, " ")})
}

// bearerGrant returns the grant of the request's Bearer token.
func (s *Server) bearerGrant(r *http.Request) (oauthGrant, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return oauthGrant{}, false
	}
	o := s.oauth()
	o.mu.Lock()
	defer o.mu.Unlock()
	g, ok := o.tokens[tok]
	return g, ok
}

// oauthRoute serves the routes a Bearer token reads; false when path is
// not one of them.
func (s *Server) oauthRoute(w http.ResponseWriter, r *http.Request, path string, body []byte) bool {
	switch {
	case r.Method == http.MethodPost && path == "/oauth2/token":
		s.oauthToken(w, r, body)
		return true
	case r.Method == http.MethodGet && (path == "/users/@me" || path == "/users/@me/guilds"):
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bot ") {
			return false // the bot's own user, served as before
		}
	default:
		return false
	}
	g, ok := s.bearerGrant(r)
	if !ok {
		writeErr(w, http.StatusUnauthorized, 0, "401: Unauthorized")
		return true
	}
	need := "identify"
	if path == "/users/@me/guilds" {
		need = "guilds"
	}
	if !slices.Contains(g.scopes, need) {
		writeErr(w, http.StatusUnauthorized, 0, "401: Unauthorized")
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if path == "/users/@me" {
		u := g.user
		writeJSON(w, map[string]any{"id": u.ID, "username": u.Username, "global_name": nilIfEmpty(u.GlobalName),
			"discriminator": "0", "avatar": nil})
		return true
	}
	out := []map[string]any{}
	for _, gd := range s.guilds {
		if s.findMemberLocked(gd.ID, g.user.ID) == nil {
			continue
		}
		out = append(out, map[string]any{"id": gd.ID, "name": gd.Name, "icon": nil, "banner": nil,
			"owner": gd.OwnerID == g.user.ID, "permissions": strconv.FormatInt(s.permissionsLocked(gd, g.user.ID), 10),
			"features": []string{}})
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return cmpID(a["id"].(string), b["id"].(string)) })
	writeJSON(w, out)
	return true
}
