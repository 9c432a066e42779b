package discordtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// identify opens a raw gateway connection and identifies with intents,
// returning it after READY, or the close code the gateway answered with.
func identify(t *testing.T, s *Server, intents discordgo.Intent) (*websocket.Conn, int) {
	t.Helper()
	c, code, _ := identifyWith(t, s, map[string]any{"token": "Bot test-token", "intents": intents})
	return c, code
}

// identifyLarge identifies with a large_threshold (none when 0).
func identifyLarge(t *testing.T, s *Server, intents discordgo.Intent, threshold int) (*websocket.Conn, int) {
	t.Helper()
	d := map[string]any{"token": "Bot test-token", "intents": intents}
	if threshold != 0 {
		d["large_threshold"] = threshold
	}
	c, code, _ := identifyWith(t, s, d)
	return c, code
}

// identifyWith is identify with the IDENTIFY payload given; it also
// returns the READY.
func identifyWith(t *testing.T, s *Server, payload map[string]any) (*websocket.Conn, int, frame) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "http")+"/gateway", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hello frame
	if err := c.ReadJSON(&hello); err != nil || hello.Op != 10 {
		t.Fatalf("hello %+v: %v", hello, err)
	}
	if err := c.WriteJSON(map[string]any{"op": 2, "d": payload}); err != nil {
		t.Fatal(err)
	}
	var f frame
	if err := c.ReadJSON(&f); err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return nil, ce.Code, f
		}
		t.Fatal(err)
	}
	if f.T != "READY" {
		t.Fatalf("first dispatch %q, want READY", f.T)
	}
	return c, 0, f
}

// received reads dispatches up to the marker every session gets and
// returns them in order.
func received(t *testing.T, c *websocket.Conn) []frame {
	t.Helper()
	var out []frame
	for {
		var f frame
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("after %d dispatches: %v", len(out), err)
		}
		if f.T == "INTERACTION_CREATE" { // no intent: the marker
			return out
		}
		out = append(out, f)
	}
}

func names(fs []frame) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.T)
	}
	return out
}

func TestIdentifyIntents(t *testing.T) {
	const base = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages
	for _, tc := range []struct {
		name    string
		flags   int
		intents discordgo.Intent
		code    int
	}{
		{"unknown bit", FlagGuildMembers | FlagMessageContent, base | 1<<30, 4013},
		{"unknown bit 17", FlagGuildMembers | FlagMessageContent, base | 1<<17, 4013},
		{"members not enabled", FlagMessageContent, base | discordgo.IntentGuildMembers, 4014},
		{"presences not enabled", FlagGuildMembers | FlagMessageContent, base | discordgo.IntentGuildPresences, 4014},
		{"content not enabled", FlagGuildMembers, base | discordgo.IntentMessageContent, 4014},
		{"content limited", FlagGuildMembersLimited | FlagMessageContentLimited, base | discordgo.IntentMessageContent | discordgo.IntentGuildMembers, 0},
		{"presences limited", FlagGatewayPresenceLimited, base | discordgo.IntentGuildPresences, 0},
		{"no privileged intent, no flag", 0, base, 0},
		{"polls", 0, base | intentGuildMessagePolls | intentDirectMessagePolls, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{AppFlags: tc.flags})
			defer s.Close()
			if tc.flags == 0 {
				s.opts.AppFlags = 0 // New's default is both flags
			}
			if _, code := identify(t, s, tc.intents); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
}

func TestDispatchNeedsItsIntent(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	const guild, channel, dm = "110000000000000001", "210000000000000001", "210000000000000009"
	s.AddGuild(&discordgo.Guild{ID: guild, Name: "G", Channels: []*discordgo.Channel{{ID: channel, Name: "general"}}})
	guildSide, _ := identify(t, s, discordgo.IntentsGuilds|discordgo.IntentsGuildMessages|discordgo.IntentGuildMessageReactions)
	dmSide, _ := identify(t, s, discordgo.IntentsDirectMessages|discordgo.IntentDirectMessageReactions)
	// Neither has GUILD_MEMBERS, GUILD_PRESENCES or typing.
	ann := &discordgo.User{ID: "400000000000000003", Username: "Ann"}
	readUntil(t, guildSide, "GUILD_CREATE")

	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": "1", "channel_id": channel, "guild_id": guild, "author": ann, "content": "in the guild"})
	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": "2", "channel_id": dm, "author": ann, "content": "in a DM"})
	s.Dispatch("MESSAGE_DELETE", map[string]any{"id": "3", "channel_id": dm, "guild_id": ""}) // an empty guild_id is a DM too
	s.Dispatch("MESSAGE_REACTION_ADD", map[string]any{"user_id": ann.ID, "channel_id": channel, "message_id": "1", "guild_id": guild})
	s.Dispatch("MESSAGE_REACTION_ADD", map[string]any{"user_id": ann.ID, "channel_id": dm, "message_id": "2"})
	s.Dispatch("TYPING_START", map[string]any{"user_id": ann.ID, "channel_id": channel, "guild_id": guild})
	s.Dispatch("PRESENCE_UPDATE", map[string]any{"user": ann, "guild_id": guild, "status": "online"})
	s.Dispatch("GUILD_MEMBER_UPDATE", map[string]any{"guild_id": guild, "user": ann, "roles": []string{}})
	s.Dispatch("GUILD_MEMBER_UPDATE", map[string]any{"guild_id": guild, "user": s.botUser(), "roles": []string{}})
	s.Dispatch("GUILD_CREATE", map[string]any{"id": "110000000000000002", "name": "H"})
	s.Dispatch("INTERACTION_CREATE", map[string]any{"id": "9"})

	got := received(t, guildSide)
	want := []string{"MESSAGE_CREATE", "MESSAGE_REACTION_ADD", "GUILD_MEMBER_UPDATE", "GUILD_CREATE"}
	if !slices.Equal(names(got), want) {
		t.Fatalf("guild session got %v, want %v", names(got), want)
	}
	if !strings.Contains(string(got[0].D), `"in the guild"`) && !strings.Contains(string(got[0].D), `"content":""`) {
		t.Errorf("guild session's message is the DM's: %s", got[0].D)
	}
	if !strings.Contains(string(got[2].D), s.opts.AppID) {
		t.Errorf("the member update without GUILD_MEMBERS is not the bot's own: %s", got[2].D)
	}
	got = received(t, dmSide)
	want = []string{"MESSAGE_CREATE", "MESSAGE_DELETE", "MESSAGE_REACTION_ADD", "GUILD_MEMBER_UPDATE"}
	if !slices.Equal(names(got), want) {
		t.Fatalf("DM session got %v, want %v (no GUILD_CREATE without GUILDS)", names(got), want)
	}
	if !strings.Contains(string(got[0].D), `"in a DM"`) {
		t.Errorf("DM session's message: %s, want the DM with its content", got[0].D)
	}
}

// message is what the content tests read of a MESSAGE_CREATE or _UPDATE.
type message struct {
	ID          string            `json:"id"`
	Content     string            `json:"content"`
	Embeds      []json.RawMessage `json:"embeds"`
	Attachments []json.RawMessage `json:"attachments"`
	Components  []json.RawMessage `json:"components"`
	Poll        json.RawMessage   `json:"poll"`
}

func TestMessageContentIntent(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	const guild, channel = "110000000000000001", "210000000000000001"
	ann := &discordgo.User{ID: "400000000000000003", Username: "Ann"}
	s.AddGuild(&discordgo.Guild{ID: guild, Name: "G", Channels: []*discordgo.Channel{{ID: channel, Name: "general"}},
		Members: []*discordgo.Member{{User: ann, Roles: []string{}}}})
	const intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages
	without, _ := identify(t, s, intents)
	with, _ := identify(t, s, intents|discordgo.IntentMessageContent)

	rich := map[string]any{"id": "5", "channel_id": channel, "guild_id": guild, "author": ann, "content": "see https://x.test",
		"embeds": []any{map[string]any{"url": "https://x.test"}}, "attachments": []any{map[string]any{"id": "7", "filename": "a.png"}},
		"components": []any{map[string]any{"type": 1}}, "poll": map[string]any{"question": map[string]any{"text": "?"}}}
	s.Dispatch("MESSAGE_CREATE", rich)
	plain := s.Say(guild, channel, ann, "hello")
	s.Edit(plain, "hello again")
	mention := s.Say(guild, channel, ann, "hey <@"+s.BotID()+"> look")
	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": "8", "channel_id": "210000000000000009", "author": ann, "content": "a DM"})
	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": "9", "channel_id": channel, "guild_id": guild, "author": s.botUser(), "content": "the bot's own"})
	s.Dispatch("INTERACTION_CREATE", map[string]any{"id": "10"})

	read := func(c *websocket.Conn) []message {
		var out []message
		for _, f := range received(t, c) {
			if f.T != "MESSAGE_CREATE" && f.T != "MESSAGE_UPDATE" {
				continue
			}
			var m message
			if err := json.Unmarshal(f.D, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	full, blank := read(with), read(without)
	if len(full) != 6 || len(blank) != 6 {
		t.Fatalf("%d and %d messages, want 6 each", len(full), len(blank))
	}
	if m := full[0]; m.Content != "see https://x.test" || len(m.Embeds) != 1 || len(m.Attachments) != 1 || len(m.Components) != 1 || m.Poll == nil {
		t.Errorf("with the intent: %+v, want everything", m)
	}
	if m := blank[0]; m.Content != "" || len(m.Embeds) != 0 || len(m.Attachments) != 0 || len(m.Components) != 0 || m.Poll != nil {
		t.Errorf("without the intent: %+v, want content, embeds, attachments, components empty and no poll", m)
	}
	for i, want := range []string{"", "", "hey <@" + s.BotID() + "> look", "a DM", "the bot's own"} {
		if got := blank[i+1].Content; got != want {
			t.Errorf("message %d without the intent: content %q, want %q", i+1, got, want)
		}
		if full[i+1].Content == "" {
			t.Errorf("message %d with the intent has no content", i+1)
		}
	}
	if mention.Mentions == nil || len(mention.Mentions) != 1 || mention.Mentions[0].ID != s.BotID() {
		t.Errorf("Say's mentions %+v, want the bot", mention.Mentions)
	}
}

// TestGuildCreateMembers: GUILD_CREATE's members as Discord documents
// them (Gateway Events, Guild Create and Request Guild Members), by
// default: without GUILD_PRESENCES only the bot's member and those in
// voice; with it, every member of a guild up to large_threshold, above it
// ("large") those with a role, a nickname or in voice; above 75,000
// members only the bot and voice whatever the intents. member_count
// always counts every member.
func TestGuildCreateMembers(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.mu.Lock()
	s.opts.AppFlags |= FlagGatewayPresence
	s.mu.Unlock()
	const small, big, huge, voiceChannel = "110000000000000001", "110000000000000002", "110000000000000003", "210000000000000002"
	const role = "310000000000000001"
	member := func(id, nick string, roles ...string) *discordgo.Member {
		return &discordgo.Member{User: &discordgo.User{ID: id, Username: "u" + id[len(id)-3:]}, Nick: nick, Roles: append([]string{}, roles...)}
	}
	// Every guild: the bot, a member with a role (…3), one in voice (…4),
	// one with a nickname (…5), and plain members from …100 on.
	guild := func(id string, plain, count int) {
		members := []*discordgo.Member{member(s.BotID(), ""), member("400000000000000003", "", role),
			member("400000000000000004", ""), member("400000000000000005", "Nick")}
		for i := range plain {
			members = append(members, member(fmt.Sprintf("4000000000000%05d", 100+i), ""))
		}
		s.AddGuild(&discordgo.Guild{ID: id, Name: "G" + id[len(id)-1:], Members: members, MemberCount: count,
			Roles:    []*discordgo.Role{{ID: role, Name: "r"}},
			Channels: []*discordgo.Channel{{ID: voiceChannel + id[len(id)-1:], Name: "talk", Type: discordgo.ChannelTypeGuildVoice}}})
		s.VoiceJoin(id, voiceChannel+id[len(id)-1:], "400000000000000004")
	}
	guild(small, 1, 0)    // 5 members
	guild(big, 60, 0)     // 64 members: above the default threshold (50), not above 100
	guild(huge, 1, 80000) // member_count 80,000
	type seen struct {
		ids   []string
		count int
		large bool
	}
	read := func(intents discordgo.Intent, threshold int) map[string]seen {
		c, code := identifyLarge(t, s, intents, threshold)
		if code != 0 {
			t.Fatalf("close %d", code)
		}
		out := map[string]seen{}
		for range 3 {
			var g discordgo.Guild
			if err := json.Unmarshal(readUntil(t, c, "GUILD_CREATE").D, &g); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range g.Members {
				ids = append(ids, m.User.ID[len(m.User.ID)-3:])
			}
			slices.Sort(ids)
			if len(ids) > 5 {
				ids = append(ids[:4:4], fmt.Sprintf("+%d", len(ids)-4))
			}
			out[g.ID] = seen{ids, g.MemberCount, g.Large}
		}
		return out
	}
	bot := s.BotID()[len(s.BotID())-3:] // sorts first: "001"
	for _, tc := range []struct {
		name      string
		intents   discordgo.Intent
		threshold int
		want      map[string]seen
	}{
		{"without GUILD_PRESENCES", discordgo.IntentsGuilds | discordgo.IntentsGuildMembers, 0, map[string]seen{
			small: {[]string{bot, "004"}, 5, false}, big: {[]string{bot, "004"}, 64, true}, huge: {[]string{bot, "004"}, 80000, true}}},
		{"without GUILD_PRESENCES, threshold 250", discordgo.IntentsGuilds | discordgo.IntentsGuildMembers, 250, map[string]seen{
			small: {[]string{bot, "004"}, 5, false}, big: {[]string{bot, "004"}, 64, false}, huge: {[]string{bot, "004"}, 80000, true}}},
		{"with GUILD_PRESENCES", discordgo.IntentsGuilds | discordgo.IntentGuildPresences, 0, map[string]seen{
			small: {[]string{bot, "003", "004", "005", "100"}, 5, false}, big: {[]string{bot, "003", "004", "005"}, 64, true},
			huge: {[]string{bot, "004"}, 80000, true}}},
		{"with GUILD_PRESENCES, threshold 100", discordgo.IntentsGuilds | discordgo.IntentGuildPresences, 100, map[string]seen{
			big: {[]string{bot, "003", "004", "005", "+60"}, 64, false}}},
	} {
		got := read(tc.intents, tc.threshold)
		for id, want := range tc.want {
			if g := got[id]; !slices.Equal(g.ids, want.ids) || g.count != want.count || g.large != want.large {
				t.Errorf("%s, guild %s: members %v of %d, large %v; want %v of %d, large %v", tc.name, id, g.ids, g.count, g.large, want.ids, want.count, want.large)
			}
		}
	}
}

// TestRESTMessagesWithoutContentFlag: over REST the application's flag
// decides, not the session's intents: without the Message Content flag a
// fetched message has empty content (unless it mentions the bot); with
// it, the text. Deleted messages are gone; the list is newest first.
func TestRESTMessagesWithoutContentFlag(t *testing.T) {
	const guild, channel = "110000000000000001", "210000000000000001"
	ann := &discordgo.User{ID: "400000000000000003", Username: "Ann"}
	for _, tc := range []struct {
		flags int
		want  []string // newest first
	}{
		{FlagGuildMembers, []string{"<@900000000000000001> hi", "", ""}},
		{FlagGuildMembers | FlagMessageContentLimited, []string{"<@900000000000000001> hi", "edited", "first"}},
	} {
		s := New(Options{AppFlags: tc.flags})
		s.AddGuild(&discordgo.Guild{ID: guild, Name: "G", Channels: []*discordgo.Channel{{ID: channel, Name: "general"}}})
		first := s.Say(guild, channel, ann, "first")
		second := s.Say(guild, channel, ann, "second")
		s.Edit(second, "edited")
		gone := s.Say(guild, channel, ann, "gone")
		s.Delete(gone)
		third := s.Say(guild, channel, ann, "<@"+s.BotID()+"> hi")

		get := func(path string, out any) int {
			req, _ := http.NewRequest("GET", s.APIURL()+path, nil)
			req.Header.Set("Authorization", "Bot test-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == 200 {
				if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
					t.Fatal(err)
				}
			}
			return resp.StatusCode
		}
		var msgs []*discordgo.Message
		get("/channels/"+channel+"/messages?limit=10", &msgs)
		var got []string
		for _, m := range msgs {
			got = append(got, m.Content)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("flags %b: contents %q, want %q", tc.flags, got, tc.want)
		}
		var m discordgo.Message
		if code := get("/channels/"+channel+"/messages/"+first.ID, &m); code != 200 || m.ID != first.ID || m.Content != tc.want[2] {
			t.Errorf("flags %b: message %d %+v", tc.flags, code, m)
		}
		if code := get("/channels/"+channel+"/messages/"+gone.ID, &m); code != 404 {
			t.Errorf("deleted message: %d, want 404", code)
		}
		if msgs = nil; get("/channels/"+channel+"/messages?limit=1&before="+third.ID, &msgs) != 200 || len(msgs) != 1 || msgs[0].ID != second.ID {
			t.Errorf("before the newest: %+v, want the edited one", msgs)
		}
		if msgs = nil; get("/channels/"+channel+"/messages?limit=1&after="+first.ID, &msgs) != 200 || len(msgs) != 1 || msgs[0].ID != second.ID {
			t.Errorf("after the first: %+v, want the second", msgs)
		}
		if get("/channels/"+channel+"/messages?limit=101", &msgs) != 400 {
			t.Error("limit 101 accepted")
		}
		s.Close()
	}
}
