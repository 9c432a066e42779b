package telegram

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/moderation"
)

// Admin status is asked with getChatMember and trusted for a short while
// (Options.AdminCacheTTL); every chat_member update replaces the cached
// status of its member at once, so a demoted admin loses the commands as
// soon as Telegram tells the bot.
type memberKey struct{ chat, user int64 }

type cachedMember struct {
	m  tgbotapi.ChatMember
	at time.Time
}

type adminCache struct {
	mu sync.Mutex
	m  map[memberKey]cachedMember
}

// maxCached bounds the cache; it is emptied when full.
const maxCached = 20000

func (c *adminCache) note(chat int64, m tgbotapi.ChatMember, now time.Time) {
	if m.User == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[memberKey{chat, m.User.ID}] = cachedMember{m, now}
}

func (c *adminCache) get(chat, user int64, now time.Time, ttl time.Duration) (tgbotapi.ChatMember, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[memberKey{chat, user}]
	if !ok || now.Sub(v.at) > ttl || now.Before(v.at) {
		return tgbotapi.ChatMember{}, false
	}
	return v.m, true
}

// member returns user's status in chat, cached briefly.
func (b *Bot) member(chat, user int64) (tgbotapi.ChatMember, error) {
	now := time.Now()
	if m, ok := b.admins.get(chat, user, now, b.opts.AdminCacheTTL); ok {
		return m, nil
	}
	return b.freshMember(chat, user)
}

// freshMember asks Telegram for user's status in chat, whatever is
// cached (it guards secrets), and caches the answer.
func (b *Bot) freshMember(chat, user int64) (tgbotapi.ChatMember, error) {
	var m tgbotapi.ChatMember
	err := b.call("getChatMember", tgbotapi.Params{"chat_id": itoa(chat), "user_id": itoa(user)}, &m)
	if err != nil {
		return m, actionErr("getChatMember", err)
	}
	if m.User == nil {
		m.User = &tgbotapi.User{ID: user}
	}
	b.admins.note(chat, m, time.Now())
	return m, nil
}

func isAdminMember(m tgbotapi.ChatMember) bool {
	return m.Status == "creator" || m.Status == "administrator"
}

func canRestrict(m tgbotapi.ChatMember) bool {
	return m.Status == "creator" || m.Status == "administrator" && m.CanRestrictMembers
}

// IsAdmin reports whether user is an administrator of property
// (moderation.Directory and verification.Directory).
func (b *Bot) IsAdmin(ctx context.Context, property, user string) (bool, error) {
	chat, err := parseChat(property)
	if err != nil {
		return false, err
	}
	u, err := parseChat(user)
	if err != nil {
		return false, err
	}
	if u < 0 {
		// A message sent on behalf of the group itself comes from an
		// anonymous admin.
		return u == chat, nil
	}
	m, err := b.member(chat, u)
	if err != nil {
		return false, err
	}
	return isAdminMember(m), nil
}

// Member is a staff account and the names it shows.
type Member struct {
	ID    string
	Names []string
}

// Staff returns the group's creator and administrators (the bot
// included) with their names, for the impersonation guard: adapt it to
// moderation.Directory's Staff.
func (b *Bot) Staff(ctx context.Context, property string) ([]Member, error) {
	var admins []tgbotapi.ChatMember
	if err := b.call("getChatAdministrators", tgbotapi.Params{"chat_id": property}, &admins); err != nil {
		return nil, actionErr("getChatAdministrators", err)
	}
	out := make([]Member, 0, len(admins))
	for _, a := range admins {
		if a.User == nil {
			continue
		}
		// Whole names only: the first name alone is protected only when
		// it is the admin's whole name ("Alice" must not match "Alice
		// Admin").
		var names []string
		for _, n := range []string{userName(a.User), a.User.UserName} {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		out = append(out, Member{ID: userID(a.User), Names: names})
	}
	return out, nil
}

// MemberNames returns the names the handler last saw a member use in a
// group (moderation.NameLister).
func (b *Bot) MemberNames(ctx context.Context, property, user string) ([]string, error) {
	chat, err := parseChat(property)
	if err != nil {
		return nil, err
	}
	u, err := parseChat(user)
	if err != nil {
		return nil, err
	}
	p, ok := b.storedProfile(chat, u)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, n := range []string{strings.TrimSpace(p.FirstName + " " + p.LastName), p.Username} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

// The engines' view of Telegram. The Bot is their platform.Actions; directory
// tells them who the bot is, who the staff of a group are and which names a
// member showed.
type directory struct{ b *Bot }

func (d directory) Self() (id, name string) { return d.b.Self() }

func (d directory) IsAdmin(ctx context.Context, property, user string) (bool, error) {
	return d.b.IsAdmin(ctx, property, user)
}

// Staff adapts Bot.Staff to the moderation engine's members.
func (d directory) Staff(ctx context.Context, property string) ([]moderation.Member, error) {
	staff, err := d.b.Staff(ctx, property)
	if err != nil {
		return nil, fmt.Errorf("telegram staff of %s: %w", property, err)
	}
	out := make([]moderation.Member, len(staff))
	for i, m := range staff {
		out[i] = moderation.Member{ID: m.ID, Names: m.Names}
	}
	return out, nil
}

func (d directory) MemberNames(ctx context.Context, property, user string) ([]string, error) {
	return d.b.MemberNames(ctx, property, user)
}

// JoinMessage returns the join service message of a member, if seen.
func (d directory) JoinMessage(ctx context.Context, property, user string) (string, bool) {
	chat, u, err := ids(property, user)
	if err != nil {
		return "", false
	}
	v, err := d.b.opts.Store.GetKV(nsJoinMsg, []byte(profileKey(chat, u)))
	if err != nil || len(v) == 0 {
		return "", false
	}
	return string(v), true
}
