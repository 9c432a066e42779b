package discordtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// Commands returns the commands registered globally ("") or in a guild.
func (s *Server) Commands(scope string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.commands[scope]...)
}

// Interaction is a handle on an interaction the fake dispatched.
type Interaction struct {
	ID, Token string
	s         *Server
}

// Replies returns the bot's answers so far.
func (i *Interaction) Replies() []Reply {
	i.s.mu.Lock()
	defer i.s.mu.Unlock()
	return append([]Reply(nil), i.s.replies[i.Token]...)
}

// Wait returns the answers once there are at least n, or fails after 5s.
func (i *Interaction) Wait(n int) ([]Reply, error) {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if r := i.Replies(); len(r) >= n {
			return r, nil
		}
		if time.Now().After(deadline) {
			return i.Replies(), fmt.Errorf("discordtest: %d answers to interaction %s, want %d", len(i.Replies()), i.ID, n)
		}
	}
}

// Permissions computes a member's guild permissions the way Discord puts
// them in an interaction: the owner has all; else the union of @everyone's
// and the member's roles, Administrator implying all.
func (s *Server) Permissions(guild, user string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guilds[guild]
	if g == nil {
		return 0
	}
	if g.OwnerID == user {
		return discordgo.PermissionAll
	}
	m := s.findMemberLocked(guild, user)
	var perms int64
	for _, r := range g.Roles {
		if r.ID == guild || (m != nil && slices.Contains(m.Roles, r.ID)) {
			perms |= r.Permissions
		}
	}
	if perms&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll
	}
	return perms
}

func (s *Server) interact(guild string, u *discordgo.User, typ discordgo.InteractionType, data any) *Interaction {
	in := &Interaction{ID: s.Snowflake(), Token: "tok" + strings.Repeat("x", 40) + s.Snowflake(), s: s}
	payload := map[string]any{"id": in.ID, "application_id": s.opts.AppID, "type": typ, "data": data,
		"token": in.Token, "version": 1, "channel_id": "0", "locale": "en-US"}
	if guild != "" {
		mem := discordgo.Member{User: u, Roles: []string{}, JoinedAt: time.Now(), Permissions: s.Permissions(guild, u.ID)}
		if m := s.member(guild, u.ID); m != nil {
			mem.Roles, mem.Nick = m.Roles, m.Nick
		}
		payload["guild_id"], payload["member"] = guild, mem
		// The bot's own permissions there, as Discord sends them.
		payload["app_permissions"] = strconv.FormatInt(s.Permissions(guild, s.opts.AppID), 10)
	} else {
		payload["user"] = u
	}
	s.Dispatch("INTERACTION_CREATE", payload)
	return in
}

// Option is a slash command option.
type Option struct {
	Name    string                                 `json:"name"`
	Type    discordgo.ApplicationCommandOptionType `json:"type"`
	Value   any                                    `json:"value,omitempty"`
	Options []Option                               `json:"options,omitempty"`
}

// Slash runs a slash command with a subcommand, as a member of guild
// ("" for a DM).
func (s *Server) Slash(guild string, u *discordgo.User, name, sub string, opts ...Option) *Interaction {
	data := map[string]any{"id": s.Snowflake(), "name": name, "type": discordgo.ChatApplicationCommand,
		"options": []Option{{Name: sub, Type: discordgo.ApplicationCommandOptionSubCommand, Options: opts}}}
	return s.interact(guild, u, discordgo.InteractionApplicationCommand, data)
}

// Press presses a button with a custom id.
func (s *Server) Press(guild string, u *discordgo.User, customID string) *Interaction {
	return s.interact(guild, u, discordgo.InteractionMessageComponent,
		map[string]any{"custom_id": customID, "component_type": discordgo.ButtonComponent})
}

// ReportMessage runs the "Report to moderators" message command on m.
func (s *Server) ReportMessage(guild string, u *discordgo.User, name string, m *discordgo.Message) *Interaction {
	data := map[string]any{"id": s.Snowflake(), "name": name, "type": discordgo.MessageApplicationCommand,
		"target_id": m.ID, "resolved": map[string]any{"messages": map[string]any{m.ID: m}}}
	return s.interact(guild, u, discordgo.InteractionApplicationCommand, data)
}

// Str, UserArg and ChannelArg build options.
func Str(name, v string) Option {
	return Option{Name: name, Type: discordgo.ApplicationCommandOptionString, Value: v}
}

// UserArg builds a user option.
func UserArg(name, id string) Option {
	return Option{Name: name, Type: discordgo.ApplicationCommandOptionUser, Value: id}
}

// ChannelArg builds a channel option.
func ChannelArg(name, id string) Option {
	return Option{Name: name, Type: discordgo.ApplicationCommandOptionChannel, Value: id}
}

// Int builds an integer option.
func Int(name string, v int) Option {
	return Option{Name: name, Type: discordgo.ApplicationCommandOptionInteger, Value: v}
}
