package discord_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// End-to-end tests of the Discord sources of EVENTS.md not covered by
// e2e_test.go: each drives the fake the way Discord reports a member's or
// a moderator's action and checks the record and its log-channel entry.

// logEmbed is one entry of a log post as the fake received it.
type logEmbed struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Footer      struct {
		Text string `json:"text"`
	} `json:"footer"`
	Fields []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
}

// logPost is a log post as the fake received it.
type logPost struct {
	Embeds          []logEmbed `json:"embeds"`
	AllowedMentions *struct {
		Parse []string `json:"parse"`
		Users []string `json:"users"`
		Roles []string `json:"roles"`
	} `json:"allowed_mentions"`
}

// field returns the value of the embed's field labelled name, unescaped.
func (em logEmbed) field(name string) (string, bool) {
	for _, f := range em.Fields {
		if f.Name == name {
			return unescape(f.Value), true
		}
	}
	return "", false
}

// unescape undoes the sink's Markdown escaping, so that a value can be
// compared with what the record holds.
func unescape(s string) string {
	s = strings.ReplaceAll(s, "\u200b", "")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// logPosts decodes every post the fake accepted in the log channel and
// fails if one could ping: allowed_mentions must be present and empty.
func (h *harness) logPosts() []logPost {
	h.t.Helper()
	var out []logPost
	for _, body := range h.fake.Posts(logID) {
		var p logPost
		if err := json.Unmarshal(body, &p); err != nil {
			h.t.Fatalf("log post %s: %v", body, err)
		}
		if am := p.AllowedMentions; am == nil || len(am.Parse) != 0 || len(am.Users) != 0 || len(am.Roles) != 0 {
			h.t.Fatalf("a log post may ping: %s", body)
		}
		out = append(out, p)
	}
	return out
}

// entry waits for the log-channel entry of a record (its footer starts
// with the record's id) and returns it.
func (h *harness) entry(e *audit.Event) logEmbed {
	h.t.Helper()
	id := e.ID.String()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, p := range h.logPosts() {
			for _, em := range p.Embeds {
				if strings.HasPrefix(em.Footer.Text, id+" · ") {
					return em
				}
			}
		}
	}
	h.t.Fatalf("no log entry for %s %s", e.Type, id)
	return logEmbed{}
}

// check is what a test expects of one record and its entry.
type check struct {
	typ          audit.EventType
	platformType string
	actor        string
	actorType    audit.ActorType
	target       string // first target id; "" when there must be none
	channel      string
	params       map[string]string // params that must hold these values ("" = absent or empty)
	summary      string            // the entry's one-line summary (unescaped)
	fields       map[string]string // entry fields by label, unescaped
}

// verify checks a record against c, then its log-channel entry.
func (h *harness) verify(e *audit.Event, c check) {
	h.t.Helper()
	if e.Type != c.typ || e.PlatformType != c.platformType || e.Function != audit.FuncGateway || e.PropertyID != guildID {
		h.t.Errorf("%s: type %s/%s/%s in %s, want %s/%s/gateway in %s", c.platformType, e.Type, e.PlatformType, e.Function,
			e.PropertyID, c.typ, c.platformType, guildID)
	}
	if e.ActorID != c.actor || e.ActorType != c.actorType {
		h.t.Errorf("%s: actor %s (%s), want %s (%s)", c.platformType, e.ActorID, e.ActorType, c.actor, c.actorType)
	}
	if got := e.Target(); got != c.target || (c.target == "" && len(e.TargetIDs) != 0) {
		h.t.Errorf("%s: targets %v, want %q", c.platformType, e.TargetIDs, c.target)
	}
	if c.channel != "" && e.ChannelID != c.channel {
		h.t.Errorf("%s: channel %s, want %s", c.platformType, e.ChannelID, c.channel)
	}
	for k, want := range c.params {
		if got := e.Params[k]; got != want {
			h.t.Errorf("%s: params[%s] = %q, want %q (params %v)", c.platformType, k, got, want, e.Params)
		}
	}
	em := h.entry(e)
	summary, _, _ := strings.Cut(unescape(em.Description), "\n")
	if summary != c.summary {
		h.t.Errorf("%s: entry summary %q, want %q", c.platformType, summary, c.summary)
	}
	for label, want := range c.fields {
		if got, ok := em.field(label); !ok || got != want {
			h.t.Errorf("%s: entry field %q = %q (present %v), want %q; fields %+v", c.platformType, label, got, ok, want, em.Fields)
		}
	}
}

// logged are the settings that send every type to the log channel.
func logged() *settings.Community {
	return &settings.Community{LogChannels: []settings.LogChannel{{ID: logID}}}
}

func TestMemberUpdateSources(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	updates := func(n int) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{audit.UserUpdate}}, n)[0]
	}
	modActor := "mod (" + mod.ID + ") · admin"

	h.fake.NickBy(guildID, mod.ID, member.ID, "annie", "rude name")
	h.verify(updates(1), check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "nickname", audit.ParamOldValue: "", audit.ParamNewValue: "annie",
			audit.ParamReason: "rude name", audit.ParamTargetName: "annie"},
		summary: "annie's profile was updated.",
		fields:  map[string]string{"Actor": modActor, "Target": "annie (" + member.ID + ")", "Field": "nickname", "New value": "annie", "Reason": "rude name"}})

	// A member's own change names the member; there is no audit entry.
	h.fake.SetAvatar(guildID, member.ID, "a_0123456789abcdef")
	h.verify(updates(2), check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: member.ID, actorType: audit.ActorNonAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "avatar", audit.ParamOldValue: "", audit.ParamNewValue: "a_0123456789abcdef", audit.ParamReason: ""},
		summary: "annie's profile was updated.",
		fields:  map[string]string{"Actor": "annie (" + member.ID + ") · member", "Field": "avatar", "New value": "a_0123456789abcdef"}})

	h.fake.RoleBy(guildID, owner.ID, member.ID, modRole, true, "promoted")
	h.verify(updates(3), check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: owner.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "roles", audit.ParamOldValue: "", audit.ParamNewValue: modRole,
			audit.ParamRolesAdded: modRole, audit.ParamRolesRemoved: "", audit.ParamReason: "promoted"},
		summary: "annie's profile was updated.",
		fields:  map[string]string{"Actor": "owner (" + owner.ID + ") · admin", "Roles added": modRole, "Reason": "promoted"}})

	h.fake.RoleBy(guildID, owner.ID, member.ID, modRole, false, "demoted")
	h.verify(updates(4), check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: owner.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "roles", audit.ParamOldValue: modRole, audit.ParamNewValue: "",
			audit.ParamRolesAdded: "", audit.ParamRolesRemoved: modRole, audit.ParamReason: "demoted"},
		summary: "annie's profile was updated.",
		fields:  map[string]string{"Roles removed": modRole, "Reason": "demoted"}})

	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	stamp := until.Format(time.RFC3339)
	h.fake.TimeoutBy(guildID, mod.ID, member.ID, &until, "cool down")
	h.verify(updates(5), check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "timeout", audit.ParamOldValue: "", audit.ParamNewValue: stamp,
			audit.ParamUntil: stamp, audit.ParamReason: "cool down"},
		summary: "annie's profile was updated.",
		fields:  map[string]string{"Actor": modActor, "Field": "timeout", "Until": stamp, "Reason": "cool down"}})

	h.fake.TimeoutBy(guildID, mod.ID, member.ID, nil, "apologised")
	h.verify(updates(6), check{typ: audit.UserUpdate, platformType: "GUILD_MEMBER_UPDATE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, params: map[string]string{audit.ParamField: "timeout", audit.ParamOldValue: stamp, audit.ParamNewValue: "",
			audit.ParamUntil: "", audit.ParamReason: "apologised"},
		summary: "annie's profile was updated.",
		fields:  map[string]string{"Actor": modActor, "Old value": stamp, "Reason": "apologised"}})
}

func TestBanSources(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.BanBy(guildID, mod.ID, member.ID, "raiding")
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.UserBan}}, 1)[0], check{typ: audit.UserBan, platformType: "GUILD_BAN_ADD",
		actor: mod.ID, actorType: audit.ActorAdmin, target: member.ID,
		params:  map[string]string{audit.ParamReason: "raiding", audit.ParamTargetName: "Ann"},
		summary: "mod banned Ann.", fields: map[string]string{"Target": "Ann (" + member.ID + ")", "Reason": "raiding"}})

	h.fake.UnbanBy(guildID, mod.ID, member, "appeal accepted")
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.UserBanRemove}}, 1)[0], check{typ: audit.UserBanRemove, platformType: "GUILD_BAN_REMOVE",
		actor: mod.ID, actorType: audit.ActorAdmin, target: member.ID,
		params:  map[string]string{audit.ParamReason: "appeal accepted", audit.ParamTargetName: "Ann"},
		summary: "mod lifted the ban on Ann.", fields: map[string]string{"Actor": "mod (" + mod.ID + ") · admin", "Reason": "appeal accepted"}})

	// The ban's member removal is part of the ban, not a story of its own.
	if page, err := h.s.Query(t.Context(), store.Query{Platform: audit.Discord, Property: guildID, Types: []audit.EventType{audit.UserRemove}}); err != nil || len(page.Events) != 0 {
		t.Fatalf("the ban was also recorded as %d removals (%v)", len(page.Events), err)
	}
}

func TestMessageDeleteSources(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"spam one", "spam two", "owner's note"}
	var msgs []*discordgo.Message
	for i, text := range texts {
		author := member
		if i == 2 {
			author = owner
		}
		msgs = append(msgs, h.fake.Say(guildID, channelID, author, text))
	}
	single := h.fake.Say(guildID, channelID, member, "off topic")
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 4)

	// A moderator deletes one message: MESSAGE_DELETE + audit entry 72.
	h.fake.DeleteBy(single, mod.ID, "off-topic")
	del := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessageDelete}}, 1)[0]
	h.verify(del, check{typ: audit.ChatMessageDelete, platformType: "MESSAGE_DELETE", actor: mod.ID, actorType: audit.ActorAdmin,
		target: member.ID, channel: channelID, params: map[string]string{audit.ParamReason: "off-topic", audit.ParamTargetName: "Ann"},
		summary: "mod deleted a message.", fields: map[string]string{"Target": "Ann (" + member.ID + ")", "Message": single.ID}})
	if del.Content != "off topic" || del.MessageID != single.ID {
		t.Fatalf("single delete: the earlier content must come from the store: %+v", del)
	}

	// A purge: MESSAGE_DELETE_BULK + audit entry 73 (target: the channel).
	ids := []string{msgs[0].ID, msgs[1].ID, msgs[2].ID}
	h.fake.BulkDeleteBy(guildID, mod.ID, channelID, ids, "purge")
	dels := h.wait(store.Query{Types: []audit.EventType{audit.ChatMessageDelete}}, 4)
	byID := map[string]*audit.Event{}
	for _, e := range dels {
		if e.PlatformType == "MESSAGE_DELETE_BULK" {
			byID[e.MessageID] = e
		}
	}
	if len(byID) != 3 {
		t.Fatalf("%d bulk delete records for 3 messages: %+v", len(byID), dels)
	}
	for i, m := range msgs {
		e := byID[m.ID]
		if e == nil {
			t.Fatalf("no record for bulk-deleted message %s", m.ID)
		}
		if e.Content != texts[i] {
			t.Errorf("bulk delete of %s: content %q, want %q from the store", m.ID, e.Content, texts[i])
		}
		h.verify(e, check{typ: audit.ChatMessageDelete, platformType: "MESSAGE_DELETE_BULK", actor: mod.ID, actorType: audit.ActorAdmin,
			target: m.Author.ID, channel: channelID, params: map[string]string{audit.ParamReason: "purge", audit.ParamTargetName: displayOf(m.Author)},
			summary: "mod deleted a message.", fields: map[string]string{"Message": m.ID}})
		if em := h.entry(e); !strings.Contains(unescape(em.Description), "> "+texts[i]) {
			t.Errorf("bulk delete entry does not quote the content: %q", em.Description)
		}
	}

	// A bulk delete whose audit entry never comes (Discord writes none
	// for some bots' purges): the author is the target, never the actor.
	last := h.fake.Say(guildID, channelID, member, "purged without a trace")
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 5)
	h.fake.Dispatch("MESSAGE_DELETE_BULK", map[string]any{"ids": []string{last.ID}, "channel_id": channelID, "guild_id": guildID})
	var anon *audit.Event
	for _, e := range h.wait(store.Query{Types: []audit.EventType{audit.ChatMessageDelete}}, 5) {
		if e.MessageID == last.ID {
			anon = e
		}
	}
	if anon == nil {
		t.Fatal("no record of the bulk delete without an audit entry")
	}
	h.verify(anon, check{typ: audit.ChatMessageDelete, platformType: "MESSAGE_DELETE_BULK", actor: "", actorType: audit.ActorAdmin,
		target: member.ID, channel: channelID, params: map[string]string{audit.ParamTargetName: "Ann"},
		summary: "Someone deleted a message.", fields: map[string]string{"Message": last.ID}})
}

// displayOf is the name the bot shows for a test user without a nickname.
func displayOf(u *discordgo.User) string {
	if u.GlobalName != "" {
		return u.GlobalName
	}
	return u.Username
}

func TestChannelAndThreadSources(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	creates := func(n int) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{audit.ChannelCreate}}, n)[0]
	}
	deletes := func(n int) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{audit.ChannelDelete}}, n)[0]
	}
	c := h.fake.CreateChannelBy(guildID, mod.ID, "announcements", discordgo.ChannelTypeGuildText, "")
	h.verify(creates(1), check{typ: audit.ChannelCreate, platformType: "CHANNEL_CREATE", actor: mod.ID, actorType: audit.ActorAdmin,
		channel: c.ID, params: map[string]string{audit.ParamChannelName: "announcements", audit.ParamChannelKind: "TEXT"},
		summary: "mod created a channel.", fields: map[string]string{"Channel": "#announcements (" + c.ID + ")", "Channel type": "TEXT"}})

	h.fake.DeleteChannelBy(c, mod.ID, "unused")
	h.verify(deletes(1), check{typ: audit.ChannelDelete, platformType: "CHANNEL_DELETE", actor: mod.ID, actorType: audit.ActorAdmin,
		channel: c.ID, params: map[string]string{audit.ParamChannelName: "announcements", audit.ParamChannelKind: "TEXT", audit.ParamReason: "unused"},
		summary: "mod deleted a channel.", fields: map[string]string{"Channel": "#announcements (" + c.ID + ")", "Reason": "unused"}})

	th := h.fake.CreateThread(guildID, channelID, member.ID, "help thread")
	h.verify(creates(2), check{typ: audit.ChannelCreate, platformType: "THREAD_CREATE", actor: member.ID, actorType: audit.ActorNonAdmin,
		channel: th.ID, params: map[string]string{audit.ParamChannelName: "help thread", audit.ParamChannelKind: "THREAD", audit.ParamParentID: channelID},
		summary: "Ann created a channel.", fields: map[string]string{"Channel": "#help thread (" + th.ID + ")", "Parent channel": channelID}})

	h.fake.DeleteThreadBy(th, mod.ID, "solved")
	h.verify(deletes(2), check{typ: audit.ChannelDelete, platformType: "THREAD_DELETE", actor: mod.ID, actorType: audit.ActorAdmin,
		channel: th.ID, params: map[string]string{audit.ParamChannelName: "help thread", audit.ParamChannelKind: "THREAD", audit.ParamParentID: channelID,
			audit.ParamReason: "solved"},
		summary: "mod deleted a channel.", fields: map[string]string{"Channel": "#help thread (" + th.ID + ")", "Reason": "solved"}})
}

func TestGuildUpdateSource(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.UpdateGuildBy(guildID, owner.ID, "rebrand", func(g *discordgo.Guild) {
		g.Name, g.VerificationLevel = "Renamed", discordgo.VerificationLevelHigh
	})
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.PropertyUpdate}}, 1)[0], check{typ: audit.PropertyUpdate, platformType: "GUILD_UPDATE",
		actor: owner.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamChanged: "name,verification_level", "old_name": "Test " + guildID, "new_name": "Renamed",
			"old_verification_level": "0", "new_verification_level": "3", audit.ParamReason: "rebrand", "old_icon": "", "new_icon": ""},
		summary: "owner updated the server settings.",
		fields: map[string]string{"Changed": "name,verification_level", "Old value (name)": "Test " + guildID, "New value (name)": "Renamed",
			"Old value (verification_level)": "0", "New value (verification_level)": "3", "Reason": "rebrand"}})

	// A setting the bot's snapshot does not track: the audit entry's
	// changes say what it was and became.
	h.fake.UpdateGuildBy(guildID, owner.ID, "", func(g *discordgo.Guild) { g.MfaLevel = discordgo.MfaLevelElevated })
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.PropertyUpdate}}, 2)[0], check{typ: audit.PropertyUpdate, platformType: "GUILD_UPDATE",
		actor: owner.ID, actorType: audit.ActorAdmin,
		params:  map[string]string{audit.ParamChanged: "mfa_level", "old_mfa_level": "0", "new_mfa_level": "1"},
		summary: "owner updated the server settings.", fields: map[string]string{"New value (mfa_level)": "1"}})
}

func TestInviteSources(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	code := h.fake.CreateInvite(guildID, channelID, member, 3600, 5)
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.PropertyInviteCreate}}, 1)[0], check{typ: audit.PropertyInviteCreate,
		platformType: "INVITE_CREATE", actor: member.ID, actorType: audit.ActorNonAdmin, channel: channelID,
		params:  map[string]string{audit.ParamInviteCode: code, audit.ParamMaxUses: "5", audit.ParamDuration: "1h0m0s"},
		summary: "Ann created an invite.", fields: map[string]string{"Invite code": code, "Max uses": "5", "Channel": "#general (" + channelID + ")"}})

	h.fake.DeleteInviteBy(guildID, channelID, code, mod.ID, "leaked")
	h.verify(h.wait(store.Query{Types: []audit.EventType{audit.PropertyInviteDelete}}, 1)[0], check{typ: audit.PropertyInviteDelete,
		platformType: "INVITE_DELETE", actor: mod.ID, actorType: audit.ActorAdmin, channel: channelID,
		params:  map[string]string{audit.ParamInviteCode: code, audit.ParamReason: "leaked"},
		summary: "mod deleted an invite.", fields: map[string]string{"Invite code": code, "Reason": "leaked"}})
}
