package discordtest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// The audit-log route filters and orders as Discord documents it.
func TestAuditLogFilters(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	g := "100"
	var ids []string
	for i, a := range []discordgo.AuditLogAction{discordgo.AuditLogActionMemberKick, discordgo.AuditLogActionMemberBanAdd,
		discordgo.AuditLogActionMemberKick, discordgo.AuditLogActionMemberKick} {
		actor := "1"
		if i == 3 {
			actor = "2"
		}
		ids = append(ids, s.storeEntry(g, actor, a, "9", "", nil).ID)
	}
	get := func(query string) []string {
		t.Helper()
		req, _ := http.NewRequest("GET", s.APIURL()+"/guilds/"+g+"/audit-logs?"+query, nil)
		req.Header.Set("Authorization", "Bot test-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return []string{resp.Status}
		}
		var log discordgo.GuildAuditLog
		if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range log.AuditLogEntries {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{ids[3], ids[2], ids[1], ids[0]}},
		{"action_type=20", []string{ids[3], ids[2], ids[0]}},
		{"action_type=20&user_id=1", []string{ids[2], ids[0]}},
		{"action_type=20&limit=1", []string{ids[3]}},
		{"before=" + ids[2], []string{ids[1], ids[0]}},
		{"after=" + ids[0], []string{ids[1], ids[2], ids[3]}},
		{"limit=0", []string{"400 Bad Request"}},
	} {
		if got := get(c.query); len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) || got[len(got)-1] != c.want[len(c.want)-1] {
			t.Errorf("%q: %v, want %v", c.query, got, c.want)
		}
	}
}

// Dispatches reach only the sessions that asked for their intent.
func TestDispatchesFollowIntents(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.AddGuild(&discordgo.Guild{ID: "100", Name: "g"})
	without := gatewayClient(t, s, discordgo.IntentsGuilds|discordgo.IntentGuildModeration)
	with := gatewayClient(t, s, discordgo.IntentsGuilds|discordgo.IntentGuildVoiceStates|discordgo.IntentAutoModerationExecution)
	s.VoiceJoin("100", "5", "6")
	s.AutomodBlock("100", "5", "6", "7", "bad", "bad word", "bad")
	s.AuditEntry("100", "1", discordgo.AuditLogActionMemberKick, "6", "", nil)
	if f := readUntil(t, with, "VOICE_STATE_UPDATE"); f.T != "VOICE_STATE_UPDATE" {
		t.Fatal(f.T)
	}
	readUntil(t, with, "AUTO_MODERATION_ACTION_EXECUTION")
	// The session without the intents sees the audit entry, sent last,
	// and nothing before it.
	for {
		var f frame
		if err := without.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		if f.T == "VOICE_STATE_UPDATE" || f.T == "AUTO_MODERATION_ACTION_EXECUTION" {
			t.Fatalf("%s reached a session without its intent", f.T)
		}
		if f.T == "GUILD_AUDIT_LOG_ENTRY_CREATE" {
			break
		}
	}
}
