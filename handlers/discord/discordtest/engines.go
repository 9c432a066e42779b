package discordtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/bwmarrin/discordgo"
)

// What the moderation and verification engines need of the fake beyond
// the core routes: subcommand groups and autocomplete interactions,
// integration audit entries, and the guild's invite list.

// SlashGroup runs a slash command's subcommand within a subcommand group
// (/config api-token create).
func (s *Server) SlashGroup(guild string, u *discordgo.User, name, group, sub string, opts ...Option) *Interaction {
	data := map[string]any{"id": s.Snowflake(), "name": name, "type": discordgo.ChatApplicationCommand,
		"options": []Option{{Name: group, Type: discordgo.ApplicationCommandOptionSubCommandGroup,
			Options: []Option{{Name: sub, Type: discordgo.ApplicationCommandOptionSubCommand, Options: opts}}}}}
	return s.interact(guild, u, discordgo.InteractionApplicationCommand, data)
}

// Autocomplete sends the autocomplete interaction of a subcommand whose
// string option focused holds typed.
func (s *Server) Autocomplete(guild string, u *discordgo.User, name, sub, focused, typed string) *Interaction {
	opt := map[string]any{"name": focused, "type": discordgo.ApplicationCommandOptionString, "value": typed, "focused": true}
	data := map[string]any{"id": s.Snowflake(), "name": name, "type": discordgo.ChatApplicationCommand,
		"options": []any{map[string]any{"name": sub, "type": discordgo.ApplicationCommandOptionSubCommand, "options": []any{opt}}}}
	return s.interact(guild, u, discordgo.InteractionApplicationCommandAutocomplete, data)
}

// AuditEntryChanges stores an audit-log entry with changes and dispatches
// GUILD_AUDIT_LOG_ENTRY_CREATE.
func (s *Server) AuditEntryChanges(guild, actor string, action discordgo.AuditLogAction, target string, changes map[string]any) {
	a := action
	e := &discordgo.AuditLogEntry{ID: s.Snowflake(), UserID: actor, ActionType: &a, TargetID: target}
	for k, v := range changes {
		key := discordgo.AuditLogChangeKey(k)
		e.Changes = append(e.Changes, &discordgo.AuditLogChange{Key: &key, NewValue: v})
	}
	s.mu.Lock()
	s.auditLogs[guild] = append(s.auditLogs[guild], e)
	s.mu.Unlock()
	s.Dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE", struct {
		*discordgo.AuditLogEntry
		GuildID string `json:"guild_id"`
	}{e, guild})
}

// CreateWebhook creates a webhook in a channel as actor does: Discord
// sends the WEBHOOK_CREATE audit entry (and WEBHOOKS_UPDATE, which
// chatwarden does not read). It returns the webhook's id.
func (s *Server) CreateWebhook(guild, actor, channel, name string) string {
	id := s.Snowflake()
	s.AuditEntryChanges(guild, actor, discordgo.AuditLogActionWebhookCreate, id,
		map[string]any{"name": name, "channel_id": channel, "type": 1})
	return id
}

// AddBot adds a bot account to a guild as actor does: GUILD_MEMBER_ADD
// of the bot user, then the BOT_ADD audit entry.
func (s *Server) AddBot(guild, actor string, u *discordgo.User) {
	u.Bot = true
	s.Join(guild, u)
	s.AuditEntryChanges(guild, actor, discordgo.AuditLogActionBotAdd, u.ID, nil)
}

// extras is the state of the routes served by Transport, per server.
type extras struct {
	mu      sync.Mutex
	invites map[string][]string // guild -> codes
}

var extraState sync.Map // *Server -> *extras

func (s *Server) extras() *extras {
	v, _ := extraState.LoadOrStore(s, &extras{invites: map[string][]string{}})
	return v.(*extras)
}

// AddInvite adds an invite code to a guild's invite list (GET
// /guilds/{id}/invites through Transport).
func (s *Server) AddInvite(guild, code string) {
	x := s.extras()
	x.mu.Lock()
	x.invites[guild] = append(x.invites[guild], code)
	x.mu.Unlock()
}

// Transport serves the routes of this file (GET /guilds/{id}/invites)
// from the fake's state and passes every other request to next (nil:
// http.DefaultTransport). Give the bot an http.Client with it.
func (s *Server) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		path := r.URL.Path
		if rest, ok := strings.CutPrefix(path, "/api/v"); ok && r.Method == http.MethodGet {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				parts := strings.Split(strings.Trim(rest[i:], "/"), "/")
				if len(parts) == 3 && parts[0] == "guilds" && parts[2] == "invites" {
					return s.serveInvites(r, parts[1]), nil
				}
			}
		}
		return next.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (s *Server) serveInvites(r *http.Request, guild string) *http.Response {
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: "/guilds/" + guild + "/invites"})
	_, known := s.guilds[guild]
	s.mu.Unlock()
	status, body := http.StatusOK, []byte("[]")
	token, _ := s.credentials()
	switch {
	case r.Header.Get("Authorization") != "Bot "+token:
		status, body = http.StatusUnauthorized, []byte(`{"message":"401: Unauthorized","code":0}`)
	case !known:
		status, body = http.StatusNotFound, []byte(`{"message":"Unknown Guild","code":10004}`)
	default:
		x := s.extras()
		x.mu.Lock()
		var out []map[string]any
		for _, c := range x.invites[guild] {
			out = append(out, map[string]any{"code": c, "guild": map[string]any{"id": guild}, "uses": 0})
		}
		x.mu.Unlock()
		if out != nil {
			body, _ = json.Marshal(out)
		}
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": []string{"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}
}

// SetRoles changes a member's roles as moderator does: GUILD_MEMBER_UPDATE,
// then the MEMBER_ROLE_UPDATE audit entry naming the moderator.
func (s *Server) SetRoles(guild, moderator, user string, roles ...string) {
	s.mu.Lock()
	m := s.findMemberLocked(guild, user)
	if m == nil {
		s.mu.Unlock()
		return
	}
	m.Roles = append([]string{}, roles...)
	cp := *m
	s.mu.Unlock()
	s.Dispatch("GUILD_MEMBER_UPDATE", &cp)
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMemberRoleUpdate, user, "", nil)
}
