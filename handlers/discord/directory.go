package discord

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/verification"
)

// The Bot is the engines' directory of Discord: who the bot is, who the
// staff are, a member's roles and names, the guild's own invites.
var (
	_ moderation.Directory    = (*Bot)(nil)
	_ moderation.RoleLister   = (*Bot)(nil)
	_ moderation.InviteLister = (*Bot)(nil)
	_ moderation.NameLister   = (*Bot)(nil)
	_ verification.Directory  = (*Bot)(nil)
)

// adminPerms make a member an administrator for the engines (IsAdmin);
// staffPerms (gateway.go) make a member staff, protected from
// impersonation.
const adminPerms = discordgo.PermissionAdministrator | discordgo.PermissionManageGuild

// memberTTL is how long a member read over REST is reused.
const memberTTL = 30 * time.Second

// memberCache keeps members read over REST for a short while, so that a
// flood of checks about members the state does not hold (Discord sends
// members on request only) does not become a flood of requests.
type memberCache struct {
	mu sync.Mutex
	m  map[string]cachedMember
}

type cachedMember struct {
	m       *discordgo.Member
	expires time.Time
}

func (c *memberCache) get(key string) (*discordgo.Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e.m, true
}

func (c *memberCache) put(key string, m *discordgo.Member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedMember)
	}
	now := time.Now()
	if len(c.m) > 10000 {
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
	}
	c.m[key] = cachedMember{m: m, expires: now.Add(memberTTL)}
}

func (c *memberCache) forget(guild, user string) {
	c.mu.Lock()
	delete(c.m, guild+"/"+user)
	c.mu.Unlock()
}

// Self implements moderation.Directory.
func (b *Bot) Self() (id, name string) {
	if u := b.self; u != nil {
		return u.ID, u.Username
	}
	return "", ""
}

// member returns a guild member from the state, else over REST (cached
// briefly). A member who is not in the guild is an error wrapping
// platform.ErrNotFound.
func (b *Bot) member(ctx context.Context, guild, user string) (*discordgo.Member, error) {
	if m := b.stateMember(guild, user); m != nil && m.User != nil {
		return m, nil
	}
	key := guild + "/" + user
	if m, ok := b.members.get(key); ok {
		return m, nil
	}
	m, err := b.s.GuildMember(guild, user, discordgo.WithContext(ctx))
	if err != nil {
		return nil, restErr("read member", err)
	}
	if m == nil || m.User == nil {
		return nil, fmt.Errorf("discord read member %s of %s: empty answer", user, guild)
	}
	m.GuildID = guild
	b.members.put(key, m)
	return m, nil
}

// knownMember is a member from the state, else over REST (cached), for
// naming: Discord's GUILD_CREATE lists only the bot and the members in
// voice channels to a session without GUILD_PRESENCES, which chatwarden
// does not ask for, so the state lacks most members until they act. It
// returns nil when the member cannot be read (left, or REST failing).
func (b *Bot) knownMember(guild, user string) *discordgo.Member {
	if m := b.stateMember(guild, user); m != nil && m.User != nil {
		return m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := b.member(ctx, guild, user)
	if err != nil {
		b.log.Debug().Err(err).Str("guild", guild).Str("user", user).Msg("discord: read a member to name them")
		return nil
	}
	return m
}

// guild returns the state's copy of a guild.
func (b *Bot) guild(id string) (*discordgo.Guild, error) {
	g, err := b.s.State.Guild(id)
	if err != nil {
		return nil, fmt.Errorf("discord guild %s: not in the state: %w", id, err)
	}
	b.s.State.RLock() // GUILD_CREATE fills the stub in place
	unavailable := g.Unavailable
	b.s.State.RUnlock()
	if unavailable {
		// READY lists guilds as stubs (no owner, no roles) until their
		// GUILD_CREATE, and an outage makes them unavailable again: what
		// they would answer (no one may do anything) is not known.
		return nil, fmt.Errorf("discord guild %s: unavailable (not yet created or in an outage)", id)
	}
	return g, nil
}

// permsOf computes a member's guild-wide permissions from the state's
// roles: the owner has all; Administrator implies all. The caller holds
// the state's read lock.
func permsOf(g *discordgo.Guild, m *discordgo.Member) int64 {
	if m == nil || m.User == nil {
		return 0
	}
	if g.OwnerID == m.User.ID {
		return discordgo.PermissionAll
	}
	var perms int64
	for _, r := range g.Roles {
		if r.ID == g.ID || slices.Contains(m.Roles, r.ID) {
			perms |= r.Permissions
		}
	}
	if perms&discordgo.PermissionAdministrator != 0 {
		return discordgo.PermissionAll
	}
	return perms
}

// namesOf lists the names a member shows: username, global name and
// server nickname.
func namesOf(m *discordgo.Member) []string {
	var out []string
	for _, n := range []string{m.User.Username, m.User.GlobalName, m.Nick} {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Staff implements moderation.Directory: the owner, the members whose
// roles grant Administrator, Manage Server, Ban Members or Kick Members,
// and the bot. Members come from the state (what GUILD_CREATE and member
// chunks delivered); the owner is read over REST if the state lacks them.
func (b *Bot) Staff(ctx context.Context, guild string) ([]moderation.Member, error) {
	g, err := b.guild(guild)
	if err != nil {
		return nil, err
	}
	var out []moderation.Member
	seen := map[string]bool{}
	add := func(m *discordgo.Member) {
		if m == nil || m.User == nil || seen[m.User.ID] {
			return
		}
		seen[m.User.ID] = true
		out = append(out, moderation.Member{ID: m.User.ID, Names: namesOf(m)})
	}
	b.s.State.RLock()
	owner := g.OwnerID
	for _, m := range g.Members {
		if m != nil && m.User != nil && (m.User.ID == owner || permsOf(g, m)&staffPerms != 0) {
			add(m)
		}
	}
	b.s.State.RUnlock()
	if owner != "" && !seen[owner] {
		m, err := b.member(ctx, guild, owner)
		if err != nil {
			return out, fmt.Errorf("staff of %s: the owner: %w", guild, err)
		}
		b.s.State.RLock()
		add(m)
		b.s.State.RUnlock()
	}
	if u := b.self; u != nil && !seen[u.ID] {
		m, err := b.member(ctx, guild, u.ID)
		if err != nil {
			m = &discordgo.Member{User: u}
		}
		b.s.State.RLock()
		add(m)
		b.s.State.RUnlock()
	}
	return out, nil
}

// IsAdmin implements moderation.Directory: the owner, or a member whose
// roles grant Administrator or Manage Server.
func (b *Bot) IsAdmin(ctx context.Context, guild, user string) (bool, error) {
	g, err := b.guild(guild)
	if err != nil {
		return false, err
	}
	b.s.State.RLock()
	owner := g.OwnerID
	b.s.State.RUnlock()
	if owner == user {
		return true, nil
	}
	m, err := b.member(ctx, guild, user)
	if err != nil {
		return false, fmt.Errorf("is %s an admin of %s: %w", user, guild, err)
	}
	b.s.State.RLock()
	defer b.s.State.RUnlock()
	return permsOf(g, m)&adminPerms != 0, nil
}

// MemberRoles implements moderation.RoleLister.
func (b *Bot) MemberRoles(ctx context.Context, guild, user string) ([]string, error) {
	m, err := b.member(ctx, guild, user)
	if err != nil {
		return nil, fmt.Errorf("roles of %s in %s: %w", user, guild, err)
	}
	b.s.State.RLock()
	defer b.s.State.RUnlock()
	return slices.Clone(m.Roles), nil
}

// MemberNames implements moderation.NameLister.
func (b *Bot) MemberNames(ctx context.Context, guild, user string) ([]string, error) {
	m, err := b.member(ctx, guild, user)
	if err != nil {
		return nil, fmt.Errorf("names of %s in %s: %w", user, guild, err)
	}
	b.s.State.RLock()
	defer b.s.State.RUnlock()
	return namesOf(m), nil
}

// Invites implements moderation.InviteLister: the codes of the guild's own
// invites (GET /guilds/{id}/invites, which needs Manage Server) and its
// vanity code.
func (b *Bot) Invites(ctx context.Context, guild string) ([]string, error) {
	invs, err := b.s.GuildInvites(guild, discordgo.WithContext(ctx))
	if err != nil {
		return nil, restErr("list invites", err)
	}
	var out []string
	for _, inv := range invs {
		if inv != nil && inv.Code != "" {
			out = append(out, inv.Code)
		}
	}
	if g, err := b.guild(guild); err == nil {
		b.s.State.RLock()
		vanity := g.VanityURLCode
		b.s.State.RUnlock()
		if vanity != "" && !slices.Contains(out, vanity) {
			out = append(out, vanity)
		}
	}
	return out, nil
}
