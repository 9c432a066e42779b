package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
)

// Optional logins besides the chat's links, when configured: "Log in
// with Discord" (OAuth2 authorization code grant, scopes identify and
// guilds) and Telegram's Login Widget. Both prove who the person is, then
// offer every community they may read: Discord servers where they have
// View Audit Log (or own it, or are an administrator) and the bot is
// present (botPresent); Telegram groups the bot knows where the platform
// says they are an administrator (Options.ViewerAccess). Choosing one takes a one-time
// code as a login link does (POST /login/link): the same session, the
// same VIEWER_LOGIN record, with param login saying how.

// Logins (the login param of VIEWER_LOGIN).
const (
	LoginLink           = "LINK"
	LoginDiscordOAuth   = "DISCORD_OAUTH"
	LoginTelegramWidget = "TELEGRAM_WIDGET"
	// ParamLogin says how a VIEWER_LOGIN logged in.
	ParamLogin = "login"
	// oauthStateCookie binds a Discord authorization to the browser that
	// started it. SameSite=Lax: Discord's redirect back is a cross-site
	// top-level navigation, which does not carry Strict cookies.
	oauthStateCookie = "cw_oauth_state"
	// WidgetMaxAge is how old a Login Widget's auth_date may be.
	WidgetMaxAge = 5 * time.Minute
)

// DiscordOAuth configures "Log in with Discord"; empty ClientID turns it off.
type DiscordOAuth struct {
	ClientID, ClientSecret string
	// RedirectURL is registered with the application; it ends in
	// /login/discord/callback.
	RedirectURL string
	// AuthorizeURL is https://discord.com/oauth2/authorize; APIURL the
	// REST base (https://discord.com/api/v9) for /oauth2/token and
	// /users/@me.
	AuthorizeURL, APIURL string
	// Client makes the requests to Discord (default: 10s timeout).
	Client *http.Client
}

// TelegramLogin configures Telegram's Login Widget; empty BotUsername
// turns it off.
type TelegramLogin struct {
	BotUsername string // the bot's @username, without the @
	BotToken    string // checks the widget's hash
	// AuthURL is where the widget sends the browser back: the public
	// viewer's /login/telegram.
	AuthURL string
}

func (d DiscordOAuth) enabled() bool  { return d.ClientID != "" }
func (t TelegramLogin) enabled() bool { return t.BotUsername != "" && t.BotToken != "" }

// loginProblem shows the login page with a sentence.
func (s *Server) loginProblem(w http.ResponseWriter, code int, msg string) {
	page := &viewerPage{Notice: msg}
	s.loginOptions(page)
	s.show(w, code, page)
}

// loginOptions fills the login page's optional logins.
func (s *Server) loginOptions(page *viewerPage) {
	page.DiscordLogin = s.opts.DiscordOAuth.enabled()
	if t := s.opts.TelegramLogin; t.enabled() {
		page.TelegramBot, page.TelegramAuthURL = t.BotUsername, t.AuthURL
	}
}

// handleDiscordLogin starts the authorization: a fresh state, kept in a
// cookie, and the redirect to Discord.
func (s *Server) handleDiscordLogin(w http.ResponseWriter, r *http.Request) {
	d := s.opts.DiscordOAuth
	if !d.enabled() {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "", "Log in with Discord is not configured")
		return
	}
	state, err := newSecret("st_")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthStateCookie, Value: state, Path: "/login/discord", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.viaTLS(r), MaxAge: 600})
	q := url.Values{"response_type": {"code"}, "client_id": {d.ClientID}, "scope": {"identify guilds"},
		"state": {state}, "redirect_uri": {d.RedirectURL}, "prompt": {"none"}}
	http.Redirect(w, r, d.AuthorizeURL+"?"+strings.ReplaceAll(q.Encode(), "+", "%20"), http.StatusSeeOther)
}

// discordGuild is one of GET /users/@me/guilds.
type discordGuild struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Owner       bool   `json:"owner"`
	Permissions string `json:"permissions"`
}

// Discord permission bits the viewer's Discord login reads.
const (
	discordAdministrator = 1 << 3
	discordViewAuditLog  = 1 << 7
)

// handleDiscordCallback checks the state, exchanges the code and offers
// the servers the person may read.
func (s *Server) handleDiscordCallback(w http.ResponseWriter, r *http.Request) {
	d := s.opts.DiscordOAuth
	if !d.enabled() {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "", "Log in with Discord is not configured")
		return
	}
	q := r.URL.Query()
	c, cerr := r.Cookie(oauthStateCookie)
	http.SetCookie(w, &http.Cookie{Name: oauthStateCookie, Value: "", Path: "/login/discord", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.viaTLS(r), MaxAge: -1})
	if cerr != nil || c.Value == "" || q.Get("state") == "" || !hmac.Equal([]byte(c.Value), []byte(q.Get("state"))) {
		s.log.Warn().Str("remote", clientIP(r)).Msg("Discord login refused: the state does not match this browser's")
		s.loginProblem(w, http.StatusBadRequest, "This Discord login was not started from this browser, or took too long. Start again with Log in with Discord.")
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		s.loginProblem(w, http.StatusUnauthorized, "Discord did not confirm the login (it was cancelled or refused). Start again with Log in with Discord.")
		return
	}
	user, guilds, err := s.discordIdentity(r.Context(), q.Get("code"))
	if err != nil {
		s.log.Warn().Err(err).Str("remote", clientIP(r)).Msg("Discord login failed")
		s.loginProblem(w, http.StatusBadGateway, "Discord could not confirm who you are just now; try again in a moment.")
		return
	}
	var props []string
	for _, g := range guilds {
		perms, _ := strconv.ParseInt(g.Permissions, 10, 64)
		if (g.Owner || perms&(discordAdministrator|discordViewAuditLog) != 0) && s.botPresent(Property{Platform: audit.Discord, ID: g.ID}) {
			props = append(props, g.ID)
		}
	}
	s.offerCommunities(w, r, audit.Discord, props, user, LoginDiscordOAuth,
		"None of your Discord servers where you have View Audit Log has chatwarden in it.")
}

// botPresent reports whether chatwarden is in a community: it has seen
// its name (store.PropertyName, from GUILD_CREATE or a group's updates)
// or holds records of it.
func (s *Server) botPresent(p Property) bool {
	if name, err := s.store.PropertyName(p.Platform, p.ID); err == nil && name != "" {
		return true
	}
	return s.knownProperty(p)
}

// discordIdentity exchanges an authorization code for the person and
// their servers.
func (s *Server) discordIdentity(ctx context.Context, code string) (command.Admin, []discordGuild, error) {
	d := s.opts.DiscordOAuth
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {d.RedirectURL}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.APIURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return command.Admin{}, nil, fmt.Errorf("discord token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(d.ClientID), url.QueryEscape(d.ClientSecret))
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	if err := doJSON(client, req, &tok); err != nil {
		return command.Admin{}, nil, fmt.Errorf("discord token: %w", err)
	}
	if tok.AccessToken == "" {
		return command.Admin{}, nil, fmt.Errorf("discord token: no access token (%s)", tok.Error)
	}
	get := func(path string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.APIURL+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return doJSON(client, req, v)
	}
	var me struct {
		ID         string `json:"id"`
		Username   string `json:"username"`
		GlobalName string `json:"global_name"`
	}
	if err := get("/users/@me", &me); err != nil || me.ID == "" {
		return command.Admin{}, nil, fmt.Errorf("discord users/@me: %v", err)
	}
	var guilds []discordGuild
	if err := get("/users/@me/guilds", &guilds); err != nil {
		return command.Admin{}, nil, fmt.Errorf("discord users/@me/guilds: %w", err)
	}
	name := me.GlobalName
	if name == "" {
		name = me.Username
	}
	return command.Admin{ID: me.ID, Name: name}, guilds, nil
}

// doJSON runs req and decodes a 2xx JSON answer (at most 1 MiB) into v.
func doJSON(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	return json.Unmarshal(body, v)
}

// handleTelegramLogin checks what the Login Widget sent back (its hash,
// as Telegram documents: HMAC-SHA256 of the data-check-string under the
// SHA-256 of the bot token; auth_date recent) and offers the groups the
// person administers.
func (s *Server) handleTelegramLogin(w http.ResponseWriter, r *http.Request) {
	t := s.opts.TelegramLogin
	if !t.enabled() {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "", "the Telegram login is not configured")
		return
	}
	user, err := checkWidget(r.URL.Query(), t.BotToken, s.now())
	if err != nil {
		s.log.Warn().Err(err).Str("remote", clientIP(r)).Msg("Telegram login refused")
		s.loginProblem(w, http.StatusUnauthorized, "Telegram's confirmation of this login is not valid or has expired. Log in with Telegram again.")
		return
	}
	var props []string
	if check := s.opts.ViewerAccess; check != nil {
		for _, p := range s.store.Properties() {
			if p.Platform != audit.Telegram {
				continue
			}
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			ok, err := check(ctx, audit.Telegram, p.ID, user.ID)
			cancel()
			if err != nil {
				s.log.Info().Err(err).Str("chat", p.ID).Msg("Telegram login: the person's rights could not be checked")
				continue
			}
			if ok {
				props = append(props, p.ID)
			}
			if len(props) >= 50 {
				break
			}
		}
	}
	s.offerCommunities(w, r, audit.Telegram, props, user, LoginTelegramWidget,
		"You are not an administrator of any Telegram group whose log chatwarden keeps.")
}

// checkWidget verifies the Login Widget's fields and returns who logged in.
func checkWidget(v url.Values, botToken string, now time.Time) (command.Admin, error) {
	hash := v.Get("hash")
	if hash == "" || v.Get("id") == "" || v.Get("auth_date") == "" {
		return command.Admin{}, fmt.Errorf("telegram widget: id, auth_date and hash are required")
	}
	var lines []string
	for k, vals := range v {
		if k == "hash" || len(vals) != 1 {
			if k != "hash" {
				return command.Admin{}, fmt.Errorf("telegram widget: field %q given %d times", k, len(vals))
			}
			continue
		}
		lines = append(lines, k+"="+vals[0])
	}
	sort.Strings(lines)
	key := sha256.Sum256([]byte(botToken))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(strings.Join(lines, "\n")))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(strings.ToLower(hash)), []byte(want)) {
		return command.Admin{}, fmt.Errorf("telegram widget: the hash does not match")
	}
	sec, err := strconv.ParseInt(v.Get("auth_date"), 10, 64)
	if err != nil {
		return command.Admin{}, fmt.Errorf("telegram widget: auth_date: %w", err)
	}
	at := time.Unix(sec, 0)
	if now.Sub(at) > WidgetMaxAge || at.Sub(now) > time.Minute {
		return command.Admin{}, fmt.Errorf("telegram widget: auth_date %s is not within %s of now", at.UTC().Format(time.RFC3339), WidgetMaxAge)
	}
	if _, err := strconv.ParseInt(v.Get("id"), 10, 64); err != nil {
		return command.Admin{}, fmt.Errorf("telegram widget: id %q is not a number", v.Get("id"))
	}
	name := strings.TrimSpace(v.Get("first_name") + " " + v.Get("last_name"))
	if name == "" {
		name = v.Get("username")
	}
	return command.Admin{ID: v.Get("id"), Name: name}, nil
}

// choice is one community offered after a Discord or Telegram login.
type choice struct {
	Code, Name string
}

type choosePage struct {
	basePage
	Choices []choice
}

// offerCommunities mints a one-time code per community the person may
// read and shows them to choose (even one: a login never lands in a
// community the person did not pick).
func (s *Server) offerCommunities(w http.ResponseWriter, r *http.Request, p audit.Platform, props []string, user command.Admin, method, none string) {
	if len(props) == 0 {
		s.loginProblem(w, http.StatusForbidden, none)
		return
	}
	if err := s.sweep(nsLoginLinks); err != nil {
		s.fail(w, r, err)
		return
	}
	page := &choosePage{basePage: basePage{Lang: s.opts.DefaultLocale, Title: pageLabel(s.opts.DefaultLocale, "choose_community")}}
	slices.Sort(props)
	for _, id := range props {
		code, err := s.mintCode(p, id, user, method)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		prop := Property{Platform: p, ID: id}
		name := prop.String()
		if n, err := s.communityName(r.Context(), prop); err == nil && n != "" {
			name = n + " (" + prop.String() + ")"
		}
		page.Choices = append(page.Choices, choice{Code: code, Name: name})
	}
	page.Who = user.Name
	s.showPage(w, http.StatusOK, "choose", page)
}
