package discordtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// gatewayClient identifies a raw websocket client with intents.
func gatewayClient(t *testing.T, s *Server, intents discordgo.Intent) *websocket.Conn {
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
	id := map[string]any{"op": 2, "d": map[string]any{"token": "Bot test-token", "intents": intents}}
	if err := c.WriteJSON(id); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, "GUILD_CREATE")
	return c
}

// readUntil reads dispatches until one named name.
func readUntil(t *testing.T, c *websocket.Conn, name string) frame {
	t.Helper()
	for {
		var f frame
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		if f.T == name {
			return f
		}
	}
}

func TestRequestGuildMembers(t *testing.T) {
	s := New(Options{LargeGuilds: true})
	defer s.Close()
	const guild, role = "110000000000000001", "310000000000000001"
	g := &discordgo.Guild{ID: guild, Name: "Big", Roles: []*discordgo.Role{{ID: guild, Name: "@everyone"}, {ID: role, Name: "mods"}}}
	for i := range 2500 {
		m := &discordgo.Member{User: &discordgo.User{ID: fmt.Sprintf("4200000000%08d", i), Username: fmt.Sprintf("member%04d", i)}, Roles: []string{}}
		if i == 1500 {
			m.Roles = []string{role}
		}
		g.Members = append(g.Members, m)
	}
	s.AddGuild(g)
	op8 := func(nonce string) map[string]any {
		return map[string]any{"op": 8, "d": map[string]any{"guild_id": guild, "query": "", "limit": 0, "nonce": nonce}}
	}

	// Without GUILD_MEMBERS the whole list is refused: close 4013.
	c := gatewayClient(t, s, discordgo.IntentsGuilds)
	if err := c.WriteJSON(op8("a")); err != nil {
		t.Fatal(err)
	}
	var f frame
	err := c.ReadJSON(&f)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4013 {
		t.Fatalf("op 8 without GUILD_MEMBERS: %v, want close 4013", err)
	}

	// With it: three chunks of at most 1000, the nonce echoed, roles as
	// string snowflakes.
	c = gatewayClient(t, s, discordgo.IntentsGuilds|discordgo.IntentsGuildMembers)
	if err := c.WriteJSON(op8("n1")); err != nil {
		t.Fatal(err)
	}
	seen, withRole := 0, 0
	for i := range 3 {
		f := readUntil(t, c, "GUILD_MEMBERS_CHUNK")
		var ch struct {
			GuildID    string `json:"guild_id"`
			ChunkIndex int    `json:"chunk_index"`
			ChunkCount int    `json:"chunk_count"`
			Nonce      string `json:"nonce"`
			Members    []struct {
				User  struct{ ID string } `json:"user"`
				Roles []json.RawMessage   `json:"roles"`
			} `json:"members"`
		}
		if err := json.Unmarshal(f.D, &ch); err != nil {
			t.Fatal(err)
		}
		if ch.GuildID != guild || ch.ChunkIndex != i || ch.ChunkCount != 3 || ch.Nonce != "n1" || len(ch.Members) > 1000 {
			t.Fatalf("chunk %d: guild %s index %d count %d nonce %q, %d members", i, ch.GuildID, ch.ChunkIndex, ch.ChunkCount, ch.Nonce, len(ch.Members))
		}
		for _, m := range ch.Members {
			seen++
			for _, r := range m.Roles {
				if string(r) != `"`+role+`"` {
					t.Fatalf("role %s: want a string snowflake", r)
				}
				withRole++
			}
		}
	}
	if seen != 2500 || withRole != 1 {
		t.Fatalf("%d members (%d roles) in the chunks, want 2500 (1)", seen, withRole)
	}

	// A second whole-list request within 30 s is rate limited.
	if err := c.WriteJSON(op8("n2")); err != nil {
		t.Fatal(err)
	}
	var rl struct {
		Opcode     int     `json:"opcode"`
		RetryAfter float64 `json:"retry_after"`
		Meta       struct {
			GuildID string `json:"guild_id"`
			Nonce   string `json:"nonce"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(readUntil(t, c, "RATE_LIMITED").D, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Opcode != 8 || rl.RetryAfter <= 0 || rl.RetryAfter > 30 || rl.Meta.GuildID != guild || rl.Meta.Nonce != "n2" {
		t.Fatalf("RATE_LIMITED %+v", rl)
	}

	reqs := s.MemberRequests()
	if len(reqs) != 3 || reqs[0].Answered || !reqs[1].Answered || reqs[2].Answered || reqs[1].Nonce != "n1" {
		t.Fatalf("recorded requests %+v", reqs)
	}
}

// TestRequestGuildMembersByIDAndPrefix: op 8 with user_ids answers the
// members found in one chunk and lists the others in not_found; a query
// prefix returns at most 100 members; neither needs GUILD_MEMBERS nor is
// limited to one request per 30 seconds.
func TestRequestGuildMembersByIDAndPrefix(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	const guild = "110000000000000001"
	g := &discordgo.Guild{ID: guild, Name: "G", Roles: []*discordgo.Role{{ID: guild, Name: "@everyone"}}}
	for i := range 300 {
		g.Members = append(g.Members, &discordgo.Member{User: &discordgo.User{ID: fmt.Sprintf("4200000000%08d", i), Username: fmt.Sprintf("member%04d", i)}, Roles: []string{}})
	}
	s.AddGuild(g)
	c := gatewayClient(t, s, discordgo.IntentsGuilds)
	type chunk struct {
		ChunkIndex int      `json:"chunk_index"`
		ChunkCount int      `json:"chunk_count"`
		NotFound   []string `json:"not_found"`
		Nonce      string   `json:"nonce"`
		Members    []struct {
			User struct{ ID string } `json:"user"`
		} `json:"members"`
	}
	ask := func(d map[string]any) chunk {
		t.Helper()
		d["guild_id"] = guild
		if err := c.WriteJSON(map[string]any{"op": 8, "d": d}); err != nil {
			t.Fatal(err)
		}
		var ch chunk
		if err := json.Unmarshal(readUntil(t, c, "GUILD_MEMBERS_CHUNK").D, &ch); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	const unknown = "429999999999999999"
	for range 2 { // twice: no rate limit
		ch := ask(map[string]any{"user_ids": []string{"420000000000000007", unknown, "420000000000000250"}, "nonce": "ids"})
		var ids []string
		for _, m := range ch.Members {
			ids = append(ids, m.User.ID)
		}
		if want := []string{"420000000000000007", "420000000000000250"}; !slices.Equal(ids, want) || !slices.Equal(ch.NotFound, []string{unknown}) ||
			ch.ChunkIndex != 0 || ch.ChunkCount != 1 || ch.Nonce != "ids" {
			t.Fatalf("by user_ids: %+v, want members %v, not_found [%s], chunk 0 of 1, nonce ids", ch, want, unknown)
		}
	}
	if ch := ask(map[string]any{"query": "member0", "limit": 0, "nonce": "q"}); len(ch.Members) != 100 || ch.ChunkCount != 1 {
		t.Fatalf("by prefix: %d members in %d chunks, want 100 in 1", len(ch.Members), ch.ChunkCount)
	}
}
