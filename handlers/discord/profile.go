package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// Store namespaces of the Discord handler's state.
const (
	nsProfile = "discord/profile" // guild/user -> profile
	nsGuild   = "discord/guild"   // guild -> guild snapshot
)

// profile is what USER_UPDATE diffs: a member's visible attributes.
type profile struct {
	User       string   `json:"u"`
	Username   string   `json:"n,omitempty"`
	GlobalName string   `json:"g,omitempty"`
	Nick       string   `json:"k,omitempty"`
	Avatar     string   `json:"a,omitempty"`
	Roles      []string `json:"r,omitempty"`
	Timeout    string   `json:"t,omitempty"` // RFC 3339, empty when none
}

func profileOf(m *discordgo.Member) profile {
	p := profile{User: m.User.ID, Username: m.User.Username, GlobalName: m.User.GlobalName,
		Nick: m.Nick, Avatar: m.User.Avatar}
	if m.Avatar != "" {
		p.Avatar = m.Avatar
	}
	p.Roles = slices.Clone(m.Roles)
	slices.Sort(p.Roles)
	if m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(time.Now()) {
		p.Timeout = m.CommunicationDisabledUntil.UTC().Format(time.RFC3339)
	}
	return p
}

func (b *Bot) loadProfile(guild, user string) (profile, error) {
	var p profile
	key := guild + "/" + user
	v, ok := b.profiles.get(key)
	if !ok {
		var err error
		if v, err = b.opts.Store.GetKV(nsProfile, []byte(key)); err != nil {
			return p, err
		}
	}
	return p, json.Unmarshal(v, &p)
}

// saveProfile keeps p as what the bot last saw of the member. It is
// written in the recorder's next commit, with the events around it, not
// in a transaction of its own: the gateway's goroutine never waits for
// an fsync. Until then loadProfile reads it from memory.
func (b *Bot) saveProfile(guild string, p profile) {
	b.saveProfiles(guild, []profile{p})
}

// saveProfiles is saveProfile for many members in one submission (a
// member chunk's).
func (b *Bot) saveProfiles(guild string, ps []profile) {
	if len(ps) == 0 {
		return
	}
	state := make([]recorder.State, len(ps))
	for i, p := range ps {
		key := guild + "/" + p.User
		v, _ := json.Marshal(p)
		b.profiles.put(key, v)
		state[i] = recorder.State{NS: nsProfile, Key: []byte(key), Value: v}
	}
	saved := func(err error) {
		if err != nil {
			b.log.Error().Err(err).Str("guild", guild).Int("profiles", len(ps)).Msg("save member profiles")
		}
		for _, st := range state {
			b.profiles.saved(string(st.Key), st.Value)
		}
	}
	if err := b.opts.Recorder.SubmitState(context.Background(), saved, state); err != nil {
		saved(err)
	}
}

// pendingProfiles are the profiles saved but not yet committed.
type pendingProfiles struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (p *pendingProfiles) get(key string) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[key]
	return v, ok
}

func (p *pendingProfiles) put(key string, v []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string][]byte)
	}
	p.m[key] = v
}

// saved forgets key once v is committed (or failed), unless a newer
// value is pending.
func (p *pendingProfiles) saved(key string, v []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.Equal(p.m[key], v) {
		delete(p.m, key)
	}
}

// change is one attribute that differs between two profiles.
type change struct {
	field, old, new string
	audit           discordgo.AuditLogAction
}

func diff(old, now profile) []change {
	var out []change
	add := func(field, o, n string, a discordgo.AuditLogAction) {
		if o != n {
			out = append(out, change{field, o, n, a})
		}
	}
	add("username", old.Username, now.Username, 0)
	add("global_name", old.GlobalName, now.GlobalName, 0)
	add("nickname", old.Nick, now.Nick, auditMemberUpdate)
	add("avatar", old.Avatar, now.Avatar, 0)
	add("roles", strings.Join(old.Roles, ","), strings.Join(now.Roles, ","), auditMemberRoles)
	add("timeout", old.Timeout, now.Timeout, auditMemberUpdate)
	return out
}

func (b *Bot) onMemberUpdate(m *discordgo.Member) {
	if m == nil || m.User == nil || m.GuildID == "" {
		return
	}
	b.members.forget(m.GuildID, m.User.ID) // the gateway's copy is newer than a REST read
	old, err := b.loadProfile(m.GuildID, m.User.ID)
	if err != nil {
		now := profileOf(m)
		b.saveProfile(m.GuildID, now) // first sight: nothing to compare with
		if b.isStaff(m.GuildID, m.User.ID, m) {
			b.forgetStaff(m.GuildID)
		}
		b.firstSightUpdate(m, now)
		return
	}
	now := profileOf(m)
	if staffMayChange(old, now, b.isStaff(m.GuildID, m.User.ID, m)) {
		b.forgetStaff(m.GuildID)
	}
	b.diffProfile(m.GuildID, m, old, now, "GUILD_MEMBER_UPDATE")
}

// firstSightUpdate records what the audit log says of the update of a
// member whose profile the bot has not stored (the update came before
// the guild's member list: chunks.go): a nickname, role or timeout
// change made by a moderator, or a member's own nickname, has a
// MEMBER_UPDATE or MEMBER_ROLE_UPDATE entry with the values before and
// after. Without one (a new username or avatar, which no entry shows)
// nothing is recorded: what changed is not known.
func (b *Bot) firstSightUpdate(m *discordgo.Member, now profile) {
	guild, user := m.GuildID, m.User.ID
	e := b.event(guild, audit.UserUpdate, "GUILD_MEMBER_UPDATE")
	b.setActor(e, m.User, m)
	e.TargetIDs = []string{user}
	e.Params.Set(audit.ParamTargetName, displayName(m.User, m))
	apply := func(e *audit.Event, a auditEntry) {
		b.setModerator(e, a)
		if changeFromEntry(e, now, a.changes) {
			b.unknownUpdates.Delete(e)
		}
	}
	b.unknownUpdates.Store(e, struct{}{}) // until an entry says what changed
	b.corr.awaitLate([]*audit.Event{e}, apply, b.lateLookup,
		corrKey{guild, auditMemberUpdate, user}, corrKey{guild, auditMemberRoles, user})
}

// changeFromEntry sets a USER_UPDATE's field and values from the first
// change of an audit entry it knows: nick, roles ($add, $remove, with
// the roles before worked back from now), communication_disabled_until.
// It reports whether the entry had one.
func changeFromEntry(e *audit.Event, now profile, changes []*discordgo.AuditLogChange) bool {
	var added, removed []string
	for _, c := range changes {
		if c == nil || c.Key == nil {
			continue
		}
		switch *c.Key {
		case discordgo.AuditLogChangeKeyNick:
			e.Params.Set(audit.ParamField, "nickname")
			e.Params.Set(audit.ParamOldValue, changeValue(c.OldValue))
			e.Params.Set(audit.ParamNewValue, changeValue(c.NewValue))
			return true
		case discordgo.AuditLogChangeKeyCommunicationDisabledUntil:
			until := timeoutValue(c.NewValue)
			e.Params.Set(audit.ParamField, "timeout")
			e.Params.Set(audit.ParamOldValue, timeoutValue(c.OldValue))
			e.Params.Set(audit.ParamNewValue, until)
			if until != "" {
				e.Params.Set(audit.ParamUntil, until)
			}
			return true
		case discordgo.AuditLogChangeKeyRoleAdd:
			added = append(added, entryRoles(c.NewValue)...)
		case discordgo.AuditLogChangeKeyRoleRemove:
			removed = append(removed, entryRoles(c.NewValue)...)
		}
	}
	if len(added)+len(removed) == 0 {
		return false // an entry of a kind not read here
	}
	before := append(minus(now.Roles, added), removed...)
	slices.Sort(before)
	e.Params.Set(audit.ParamField, "roles")
	e.Params.Set(audit.ParamOldValue, strings.Join(slices.Compact(before), ","))
	e.Params.Set(audit.ParamNewValue, strings.Join(now.Roles, ","))
	e.Params.Set(audit.ParamRolesAdded, strings.Join(added, ","))
	e.Params.Set(audit.ParamRolesRemoved, strings.Join(removed, ","))
	return true
}

// entryRoles are the role ids of a $add or $remove change's value (an
// array of partial roles).
func entryRoles(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			if id, ok := m["id"].(string); ok && id != "" {
				out = append(out, id)
			}
		}
	}
	return out
}

// timeoutValue is a communication_disabled_until value as profiles keep
// it: RFC 3339 in UTC, "" for none.
func timeoutValue(v any) string {
	s, _ := v.(string)
	if s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339)
}

// staffMayChange reports whether a member's update may change the staff
// list the impersonation guard protects: new roles (a promotion or a
// demotion), or a staff member's new name.
func staffMayChange(old, now profile, staff bool) bool {
	if !slices.Equal(old.Roles, now.Roles) {
		return true
	}
	return staff && (old.Username != now.Username || old.GlobalName != now.GlobalName || old.Nick != now.Nick)
}

// forgetStaff makes the moderation engine read a guild's staff again, so
// that a new moderator's names are protected at once, not after the
// engine's cache expires.
func (b *Bot) forgetStaff(guild string) {
	if b.opts.Moderation != nil {
		b.opts.Moderation.ForgetStaff(audit.Discord, guild)
	}
}

// diffProfile records one USER_UPDATE per changed attribute and stores the
// new profile. Moderator-made changes (nickname, roles, timeout) wait for
// their audit-log entry to name the moderator; a member's own changes name
// the member.
func (b *Bot) diffProfile(guild string, m *discordgo.Member, old, now profile, platformType string) {
	changes := diff(old, now)
	if len(changes) == 0 {
		return
	}
	b.saveProfile(guild, now)
	for _, c := range changes {
		e := b.event(guild, audit.UserUpdate, platformType)
		b.setActor(e, m.User, m)
		e.TargetIDs = []string{m.User.ID}
		e.Params.Set(audit.ParamTargetName, displayName(m.User, m))
		e.Params.Set(audit.ParamField, c.field)
		e.Params.Set(audit.ParamOldValue, c.old)
		e.Params.Set(audit.ParamNewValue, c.new)
		if c.field == "roles" {
			e.Params.Set(audit.ParamRolesAdded, strings.Join(minus(now.Roles, old.Roles), ","))
			e.Params.Set(audit.ParamRolesRemoved, strings.Join(minus(old.Roles, now.Roles), ","))
		}
		if c.field == "timeout" && c.new != "" {
			e.Params.Set(audit.ParamUntil, c.new)
		}
		if c.audit == 0 || b.echo.Take("update", guild, m.User.ID+"/"+c.field) {
			if c.audit != 0 {
				continue // the bot's own timeout or role change: recorded by the action
			}
			b.submit(e)
			continue
		}
		b.corr.await(e, b.setModerator, corrKey{guild, c.audit, m.User.ID})
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// guildState is what PROPERTY_UPDATE diffs.
type guildState struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Icon              string `json:"icon,omitempty"`
	OwnerID           string `json:"owner,omitempty"`
	VerificationLevel int    `json:"verification_level"`
	ContentFilter     int    `json:"content_filter"`
	Banner            string `json:"banner,omitempty"`
	Description       string `json:"description,omitempty"`
	VanityURLCode     string `json:"vanity,omitempty"`
	SystemChannelID   string `json:"system_channel,omitempty"`
	RulesChannelID    string `json:"rules_channel,omitempty"`
}

func guildSnapshot(g *discordgo.Guild) guildState {
	return guildState{ID: g.ID, Name: g.Name, Icon: g.Icon, OwnerID: g.OwnerID,
		VerificationLevel: int(g.VerificationLevel), ContentFilter: int(g.ExplicitContentFilter),
		Banner: g.Banner, Description: g.Description, VanityURLCode: g.VanityURLCode,
		SystemChannelID: g.SystemChannelID, RulesChannelID: g.RulesChannelID}
}

func (b *Bot) loadGuild(id string) (guildState, error) {
	var g guildState
	v, err := b.opts.Store.GetKV(nsGuild, []byte(id))
	if err != nil {
		return g, err
	}
	return g, json.Unmarshal(v, &g)
}

func (b *Bot) saveGuild(g guildState) {
	v, _ := json.Marshal(g)
	if err := b.opts.Store.Put(nsGuild, []byte(g.ID), v); err != nil {
		b.log.Error().Err(err).Str("guild", g.ID).Msg("save guild snapshot")
	}
	if err := b.opts.Store.SetPropertyName(audit.Discord, g.ID, g.Name); err != nil {
		b.log.Error().Err(err).Str("guild", g.ID).Msg("save the guild's name")
	}
}

func (b *Bot) onGuildUpdate(g *discordgo.Guild) {
	if g == nil || g.ID == "" {
		return
	}
	now := guildSnapshot(g)
	old, err := b.loadGuild(g.ID)
	b.saveGuild(now)
	if err != nil {
		return
	}
	var changed []string
	e := b.event(g.ID, audit.PropertyUpdate, "GUILD_UPDATE")
	oldM, newM := fieldsOf(old), fieldsOf(now)
	for _, k := range sortedKeys(newM) {
		if oldM[k] != newM[k] {
			changed = append(changed, k)
			e.Params.Set("old_"+k, oldM[k])
			e.Params.Set("new_"+k, newM[k])
		}
	}
	key := corrKey{g.ID, discordgo.AuditLogActionGuildUpdate, g.ID}
	apply := func(e *audit.Event, a auditEntry) {
		b.setModerator(e, a)
		applyChanges(e, a.changes) // what the snapshot does not track: MFA, AFK channel, notifications...
	}
	if len(changed) == 0 {
		// Nothing the snapshot tracks changed: a boost count, or a setting
		// only the GUILD_UPDATE audit entry names. Recorded only if the
		// entry comes.
		b.corr.awaitLate([]*audit.Event{e}, apply, func(*pending) []*audit.Event { return nil }, key)
		return
	}
	e.Params.Set(audit.ParamChanged, strings.Join(changed, ","))
	b.corr.await(e, apply, key)
}

func fieldsOf(g guildState) map[string]string {
	var m map[string]any
	raw, _ := json.Marshal(g)
	_ = json.Unmarshal(raw, &m)
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != "id" {
			out[k] = strings.Trim(jsonString(v), `"`)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
