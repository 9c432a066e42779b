package discord_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/export"
	dt "github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// answer is what an interaction's last reply shows.
type answer struct {
	Content string `json:"content"`
	Embeds  []struct {
		Title, Description string
	} `json:"embeds"`
	Components []struct {
		Components []struct {
			Label    string `json:"label"`
			CustomID string `json:"custom_id"`
		} `json:"components"`
	} `json:"components"`
	Data *answer `json:"data"` // callbacks wrap the message in data
}

func last(t *testing.T, in *dt.Interaction, n int) (answer, dt.Reply) {
	t.Helper()
	replies, err := in.Wait(n)
	if err != nil {
		t.Fatal(err)
	}
	r := replies[len(replies)-1]
	var a answer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("reply %s: %v", r.Body, err)
	}
	if a.Data != nil {
		a = *a.Data
	}
	return a, r
}

func button(a answer, label string) string {
	for _, row := range a.Components {
		for _, c := range row.Components {
			if c.Label == label {
				return c.CustomID
			}
		}
	}
	return ""
}

func TestCommandsRegisteredAndGuarded(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(h.fake.Commands("")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no commands registered")
		}
	}
	var names []string
	for _, raw := range h.fake.Commands("") {
		var c struct{ Name string }
		json.Unmarshal(raw, &c)
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "audit,config,Report to moderators" {
		t.Fatalf("registered %s", got)
	}
	// A moderator without Manage Server cannot configure; a member cannot search.
	a, _ := last(t, h.fake.Slash(guildID, mod, "config", "log-channel", dt.ChannelArg("channel", logID)), 1)
	if !strings.Contains(a.Content, "Manage Server") {
		t.Fatalf("config by a moderator: %q", a.Content)
	}
	a, _ = last(t, h.fake.Slash(guildID, member, "audit", "search"), 1)
	if !strings.Contains(a.Content, "View Audit Log") {
		t.Fatalf("search by a member: %q", a.Content)
	}
	a, _ = last(t, h.fake.Slash("", owner, "audit", "search"), 1)
	if !strings.Contains(a.Content, "servers only") {
		t.Fatalf("search in a DM: %q", a.Content)
	}
	if set, _ := h.s.Settings(context.Background(), audit.Discord, guildID); len(set.LogChannels) != 0 {
		t.Fatal("a refused command changed the settings")
	}
}

func TestConfigLogChannelRoutesAndRecords(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := last(t, h.fake.Slash(guildID, owner, "config", "log-channel", dt.ChannelArg("channel", logID), dt.Str("types", "members")), 1)
	if !strings.Contains(a.Content, logID) {
		t.Fatalf("answer %q", a.Content)
	}
	change := h.wait(store.Query{Types: []audit.EventType{audit.SettingsChange}}, 1)[0]
	if change.ActorID != owner.ID || change.ActorType != audit.ActorAdmin || change.Params[audit.ParamOldValue] != "" ||
		!strings.Contains(change.Params[audit.ParamNewValue], "USER_JOIN") || change.Params[audit.ParamLogChannelName] != "#audit-log" {
		t.Fatalf("settings change %+v", change)
	}
	// Its entry names the channel, not only its id.
	if f := logentry.Render(change, "en").Fields; !slices.ContainsFunc(f, func(f logentry.Field) bool {
		return f.Label == "Log channel" && f.Value == "#audit-log"
	}) {
		t.Fatalf("entry fields %+v", f)
	}
	h.fake.Join(guildID, &discordgo.User{ID: "400000000000000020", Username: "newcomer"})
	h.fake.Say(guildID, channelID, member, "not a members event")
	posts := h.waitPosts(1)
	time.Sleep(200 * time.Millisecond)
	posts = decodePosts(t, h.fake.Posts(logID))
	for _, p := range posts {
		for _, e := range p.Embeds {
			if strings.Contains(e.Description, "message") && !strings.Contains(e.Description, "newcomer") {
				t.Fatalf("a messages entry reached a members-only channel: %+v", e)
			}
		}
	}
	a, _ = last(t, h.fake.Slash(guildID, owner, "config", "show"), 1)
	if !strings.Contains(a.Content, "log channel "+logID) {
		t.Fatalf("show: %q", a.Content)
	}
}

func TestAuditSearchPagesOnlyForItsInvoker(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		h.fake.Say(guildID, channelID, member, "message")
	}
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 5)
	in := h.fake.Slash(guildID, owner, "audit", "search", dt.Str("type", "CHAT_MESSAGE"), dt.Int("limit", 2))
	a, _ := last(t, in, 2) // deferral, then the edit
	if len(a.Embeds) != 1 || strings.Count(a.Embeds[0].Description, "\n") != 1 {
		t.Fatalf("first page %+v", a)
	}
	older := button(a, "Older")
	if older == "" || button(a, "Newer") != "" {
		t.Fatalf("buttons %+v", a.Components)
	}
	// Someone else pressing it is refused, with a sentence.
	r, _ := last(t, h.fake.Press(guildID, mod, older), 1)
	if r.Content != "Only the member who searched can page through these results." {
		t.Fatalf("another member paged: %q", r.Content)
	}
	// The same button pressed in another guild is refused.
	h.fake.AddGuild(guild(otherID))
	r, _ = last(t, h.fake.Press(otherID, owner, older), 1)
	if r.Content != "These results belong to another community." {
		t.Fatalf("pressed from another guild: %q", r.Content)
	}
	// A page id the store does not know (tampered with, or its results
	// forgotten) says the results expired, not why the lookup failed.
	rest := strings.TrimPrefix(older, "cw:p:")
	unknown := "cw:p:" + strings.Repeat("A", strings.Index(rest, ":")) + rest[strings.Index(rest, ":"):]
	if unknown == older {
		t.Fatalf("tampered button %q is the genuine one", unknown)
	}
	r, _ = last(t, h.fake.Press(guildID, owner, unknown), 1)
	if r.Content != "These results have expired; run the search again." {
		t.Fatalf("tampered page id: %q", r.Content)
	}
	// The invoker pages.
	press := h.fake.Press(guildID, owner, older)
	a2, _ := last(t, press, 2)
	if len(a2.Embeds) != 1 || a2.Embeds[0].Description == a.Embeds[0].Description || button(a2, "Newer") == "" {
		t.Fatalf("second page %+v", a2)
	}
	// A cursor from another search is refused.
	forged := older[:strings.LastIndex(older, ":")+1] + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	r, _ = last(t, h.fake.Press(guildID, owner, forged), 1)
	if !strings.Contains(r.Content, "does not belong") {
		t.Fatalf("forged cursor: %q", r.Content)
	}
}

// A bad since for /audit stats is told as a sentence.
func TestAuditStatsBadSinceIsASentence(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := last(t, h.fake.Slash(guildID, owner, "audit", "stats", dt.Str("since", "yesterday")), 1)
	if want := `Since: "yesterday" is neither a duration (24h, 7d) nor a time (2026-11-01 or RFC 3339).`; r.Content != want {
		t.Fatalf("reply %q, want %q", r.Content, want)
	}
}

func TestAuditSearchStaysInItsGuild(t *testing.T) {
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.AddGuild(guild(otherID))
	time.Sleep(100 * time.Millisecond)
	h.fake.Say(otherID, channelID, member, "secret of the other guild")
	h.fake.Say(guildID, channelID, member, "ours")
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)
	for _, sub := range []string{"search", "export"} {
		a, r := last(t, h.fake.Slash(guildID, owner, "audit", sub), 2)
		all := a.Content + string(r.Data)
		for _, e := range a.Embeds {
			all += e.Description
		}
		if strings.Contains(all, "secret of the other guild") || strings.Contains(all, otherID) {
			t.Fatalf("%s returned another guild's record", sub)
		}
	}
}

func TestExportAndReport(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), &settings.Community{LogChannels: []settings.LogChannel{{ID: logID, Types: []audit.EventType{audit.MessageReport}}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := h.fake.Say(guildID, channelID, member, "=cmd|' /C calc'!A0")
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage}}, 1)
	_, r := last(t, h.fake.Slash(guildID, owner, "audit", "export", dt.Str("format", "csv")), 2)
	if r.File != "audit.csv" || !strings.Contains(string(r.Data), "'=cmd") {
		t.Fatalf("export file %q:\n%s", r.File, r.Data)
	}
	if header, _, _ := strings.Cut(string(r.Data), "\n"); header != strings.Join(export.CSVHeader, ",") {
		t.Errorf("/audit export's CSV header %q differs from the CLI's and the API's", header)
	}
	a, _ := last(t, h.fake.ReportMessage(guildID, mod, "Report to moderators", msg), 1)
	if !strings.Contains(a.Content, "moderators have been told") {
		t.Fatalf("report answer %q", a.Content)
	}
	rep := h.wait(store.Query{Types: []audit.EventType{audit.MessageReport}}, 1)[0]
	if rep.ActorID != mod.ID || rep.Target() != member.ID || rep.Function != audit.FuncReport || rep.Content != msg.Content ||
		!strings.Contains(rep.Params[audit.ParamLink], msg.ID) {
		t.Fatalf("report %+v", rep)
	}
	posts := h.waitPosts(1)
	if !strings.Contains(posts[0].Embeds[0].Description, "reported a message") {
		t.Fatalf("log entry %+v", posts[0].Embeds[0])
	}
}

func TestUnbanButtonOnBanEntries(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), &settings.Community{LogChannels: []settings.LogChannel{{ID: logID}}})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.BanBy(guildID, mod.ID, member.ID, "raiding")
	ban := h.wait(store.Query{Types: []audit.EventType{audit.UserBan}}, 1)[0]
	if ban.ActorID != mod.ID || ban.Params[audit.ParamReason] != "raiding" {
		t.Fatalf("ban %+v", ban)
	}
	var unban string
	for deadline := time.Now().Add(5 * time.Second); unban == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, body := range h.fake.Posts(logID) {
			var a answer
			json.Unmarshal(body, &a)
			if id := button(a, "Unban"); id != "" {
				unban = id
			}
		}
	}
	if unban == "" || !strings.Contains(unban, ban.ID.String()) {
		t.Fatalf("no Unban button for the ban entry (%q)", unban)
	}
	// A member without Ban Members is refused; the owner lifts the ban.
	a, _ := last(t, h.fake.Press(guildID, &discordgo.User{ID: "400000000000000030", Username: "rando"}, unban), 1)
	if !strings.Contains(a.Content, "permission") {
		t.Fatalf("press without permission: %q", a.Content)
	}
	h.fake.AddGuild(guild(otherID))
	a, _ = last(t, h.fake.Press(otherID, owner, unban), 1)
	if !strings.Contains(a.Content, "not in this server") {
		t.Fatalf("press from another guild: %q", a.Content)
	}
	a, _ = last(t, h.fake.Press(guildID, owner, unban), 1)
	if !strings.Contains(a.Content, "done") {
		t.Fatalf("press by the owner: %q", a.Content)
	}
	lifted := h.wait(store.Query{Types: []audit.EventType{audit.UserBanRemove}}, 1)
	if len(lifted) != 1 || lifted[0].ActorID != owner.ID || lifted[0].ActorType != audit.ActorAdmin || lifted[0].Target() != member.ID {
		t.Fatalf("unban records %+v", lifted)
	}
	found := false
	for _, c := range h.fake.Calls() {
		if c.Method == "DELETE" && c.Path == "/guilds/"+guildID+"/bans/"+member.ID {
			found = true
		}
	}
	if !found {
		t.Fatal("the ban was not lifted on Discord")
	}
}
