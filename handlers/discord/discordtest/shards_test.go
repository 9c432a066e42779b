package discordtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// TestShardsGetTheirGuilds: sessions identified as shards 0 and 1 of 2
// each get the READY stubs, GUILD_CREATEs and events of their guilds only,
// by (guild_id >> 22) % num_shards; a DM goes to shard 0; a session
// without a shard gets everything; a shard outside 0..num_shards-1 is
// closed with 4010.
func TestShardsGetTheirGuilds(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	// Guild ids whose timestamps (the bits above 22) are even and odd.
	even, odd := strconv.FormatUint(1000<<22|5, 10), strconv.FormatUint(1001<<22|5, 10)
	for _, g := range []string{even, odd} {
		s.AddGuild(&discordgo.Guild{ID: g, Name: g, Channels: []*discordgo.Channel{{ID: g + "1", Name: "general"}}})
	}
	const intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages | discordgo.IntentMessageContent
	ident := func(shard any) map[string]any {
		p := map[string]any{"token": "Bot test-token", "intents": intents}
		if shard != nil {
			p["shard"] = shard
		}
		return p
	}
	type conn struct {
		name   string
		guilds []string // READY's stubs and GUILD_CREATEs
		events []string // the guilds of the MESSAGE_CREATEs that follow, "dm" for a DM
	}
	want := []conn{
		{"shard 0", []string{even}, []string{even, "dm"}},
		{"shard 1", []string{odd}, []string{odd}},
		{"no shard", []string{even, odd}, []string{even, odd, "dm"}},
	}
	var readies []frame
	var cs []*websocket.Conn
	for i, sh := range []any{[2]int{0, 2}, [2]int{1, 2}, nil} {
		c, code, ready := identifyWith(t, s, ident(sh))
		if code != 0 {
			t.Fatalf("%s: closed with %d", want[i].name, code)
		}
		readies = append(readies, ready)
		cs = append(cs, c)
	}
	for i, ready := range readies {
		var d struct {
			Guilds []struct{ ID string } `json:"guilds"`
		}
		if err := json.Unmarshal(ready.D, &d); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range d.Guilds {
			ids = append(ids, g.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want[i].guilds) {
			t.Errorf("%s: READY's guilds %v, want %v", want[i].name, ids, want[i].guilds)
		}
	}
	ann := &discordgo.User{ID: "400000000000000003", Username: "Ann"}
	s.Say(even, even+"1", ann, "in the even guild")
	s.Say(odd, odd+"1", ann, "in the odd guild")
	s.Dispatch("MESSAGE_CREATE", map[string]any{"id": "2", "channel_id": "9", "author": ann, "content": "in a DM"})
	// The marker received() stops at, once per shard.
	s.Dispatch("INTERACTION_CREATE", map[string]any{"id": "9", "guild_id": even})
	s.Dispatch("INTERACTION_CREATE", map[string]any{"id": "10", "guild_id": odd})
	for i, c := range cs {
		var created, events []string
		for _, f := range received(t, c) {
			var p struct {
				ID      string `json:"id"`
				GuildID string `json:"guild_id"`
			}
			json.Unmarshal(f.D, &p)
			switch f.T {
			case "GUILD_CREATE":
				created = append(created, p.ID)
			case "MESSAGE_CREATE":
				if p.GuildID == "" {
					p.GuildID = "dm"
				}
				events = append(events, p.GuildID)
			}
		}
		slices.Sort(created)
		if !slices.Equal(created, want[i].guilds) || !slices.Equal(events, want[i].events) {
			t.Errorf("%s: GUILD_CREATEs %v and messages %v, want %v and %v", want[i].name, created, events, want[i].guilds, want[i].events)
		}
	}
	for _, sh := range []any{[2]int{2, 2}, [2]int{-1, 2}, [2]int{0, 0}} {
		if _, code, _ := identifyWith(t, s, ident(sh)); code != 4010 {
			t.Errorf("shard %v: close code %d, want 4010 (Invalid shard)", sh, code)
		}
	}
}
