package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// TestTrimHistoryBoundsMessages: the messages the fake keeps for REST
// reads are trimmed with the rest of its history, so that a soak test's
// heap stays flat (each channel kept up to 1,000 of them, about 1.5 KiB
// each, and 200 channels outgrew the soak's heap bound in three minutes).
// The newest keep messages of each channel stay readable; older ones
// answer 404 Unknown Message.
func TestTrimHistoryBoundsMessages(t *testing.T) {
	const guild, keep, said = "110000000000000001", 10, 30
	channels := []string{"210000000000000001", "210000000000000002"}
	ann := &discordgo.User{ID: "400000000000000003", Username: "Ann"}
	s := New(Options{AppFlags: FlagMessageContent})
	defer s.Close()
	s.AddGuild(&discordgo.Guild{ID: guild, Name: "G", Channels: []*discordgo.Channel{
		{ID: channels[0], Name: "general"}, {ID: channels[1], Name: "random"}}})
	msgs := map[string][]*discordgo.Message{}
	for i := range said {
		for _, ch := range channels {
			msgs[ch] = append(msgs[ch], s.Say(guild, ch, ann, fmt.Sprintf("%s message %d", ch, i)))
		}
	}
	s.TrimHistory(keep, keep)

	get := func(path string, out any) int {
		t.Helper()
		req, err := http.NewRequest("GET", s.APIURL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bot test-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode
	}
	for _, ch := range channels {
		var list []*discordgo.Message
		if code := get("/channels/"+ch+"/messages?limit=100", &list); code != http.StatusOK {
			t.Fatalf("%s: list answered %d", ch, code)
		}
		if len(list) != keep {
			t.Errorf("%s: %d messages listed after TrimHistory(%d, %d), want %d", ch, len(list), keep, keep, keep)
		}
		for i, m := range list { // newest first
			if want := msgs[ch][said-1-i]; m.ID != want.ID || m.Content != want.Content {
				t.Errorf("%s: listed #%d is %s %q, want %s %q", ch, i, m.ID, m.Content, want.ID, want.Content)
			}
		}
		var m discordgo.Message
		if code := get("/channels/"+ch+"/messages/"+msgs[ch][said-keep-1].ID, &m); code != http.StatusNotFound {
			t.Errorf("%s: a trimmed message answered %d, want 404", ch, code)
		}
		if code := get("/channels/"+ch+"/messages/"+msgs[ch][said-keep].ID, &m); code != http.StatusOK {
			t.Errorf("%s: the oldest kept message answered %d, want 200", ch, code)
		}
	}
	// What the fake holds, not only what it serves.
	l := s.messageLog()
	l.mu.Lock()
	held := len(l.byID)
	l.mu.Unlock()
	if want := keep * len(channels); held != want {
		t.Errorf("the fake holds %d messages after TrimHistory(%d, %d), want %d", held, keep, keep, want)
	}
}
