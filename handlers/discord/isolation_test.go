package discord_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	dt "github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/store"
)

// Every /audit subcommand and button is scoped to the guild it is used
// in: these tests fill two guilds the bot shares with the same owner and
// members, and check that nothing answered in guild A names a record of
// guild B, however the command or the button's custom_id is made.

// outsider is a member of the other guild only.
var outsider = &discordgo.User{ID: "400000000000000077", Username: "outsider"}

// twoGuilds starts the bot in guildID and otherID, records a few events in
// each, and returns the records of each guild.
func twoGuilds(t *testing.T) (h *harness, ours, theirs []*audit.Event) {
	t.Helper()
	h, err := start(t, discordtestOptions())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.AddGuild(guild(otherID))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := h.b.Session().State.Guild(otherID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second guild never reached the state")
		}
	}
	for i := 0; i < 3; i++ {
		h.fake.Say(otherID, channelID, member, "secret of the other guild "+strconv.Itoa(i))
	}
	h.fake.Join(otherID, outsider)
	h.fake.KickBy(otherID, mod.ID, outsider.ID, "other guild's business")
	h.fake.Say(guildID, channelID, member, "ours")
	h.fake.Join(guildID, &discordgo.User{ID: "400000000000000078", Username: "newcomer"})
	h.wait(store.Query{Types: []audit.EventType{audit.ChatMessage, audit.UserJoin}}, 2)
	theirs = h.records(otherID, 5)
	return h, h.records(guildID, 2), theirs
}

// records waits until a guild has at least n records and returns them all.
func (h *harness) records(guild string, n int) []*audit.Event {
	h.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		page, err := h.s.Query(context.Background(), store.Query{Platform: audit.Discord, Property: guild, Limit: 1000})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(page.Events) >= n {
			return page.Events
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("guild %s: %d records, want %d", guild, len(page.Events), n)
		}
	}
}

// final waits for an interaction's final answer (after a deferral, the
// edit) and returns everything it shows: the JSON of the message and the
// attached file's bytes.
func final(t *testing.T, in *dt.Interaction) string {
	t.Helper()
	replies, err := in.Wait(1)
	if err != nil {
		t.Fatal(err)
	}
	var cb struct {
		Type discordgo.InteractionResponseType `json:"type"`
	}
	if json.Unmarshal(replies[0].Body, &cb) == nil && (cb.Type == discordgo.InteractionResponseDeferredChannelMessageWithSource ||
		cb.Type == discordgo.InteractionResponseDeferredMessageUpdate) {
		if replies, err = in.Wait(2); err != nil {
			t.Fatal(err)
		}
	}
	r := replies[len(replies)-1]
	return string(r.Body) + "\n" + string(r.Data)
}

// assertNoLeak fails when text names a record of the other guild: its id,
// its content, or the other guild's id.
func assertNoLeak(t *testing.T, what, text string, theirs []*audit.Event) {
	t.Helper()
	if strings.Contains(text, otherID) || strings.Contains(text, "secret of the other guild") || strings.Contains(text, outsider.ID) {
		t.Errorf("%s shows the other guild's data:\n%s", what, text)
	}
	for _, e := range theirs {
		if strings.Contains(text, e.ID.String()) {
			t.Errorf("%s shows record %s (%s) of the other guild", what, e.ID, e.Type)
		}
	}
}

func TestAuditUserStaysInItsGuild(t *testing.T) {
	h, ours, theirs := twoGuilds(t)
	text := final(t, h.fake.Slash(guildID, owner, "audit", "user", dt.UserArg("user", member.ID)))
	assertNoLeak(t, "/audit user (a member of both guilds)", text, theirs)
	var mine *audit.Event
	for _, e := range ours {
		if e.ActorID == member.ID {
			mine = e
		}
	}
	if mine == nil || !strings.Contains(text, mine.ID.String()) {
		t.Fatalf("/audit user does not show the member's record %v of this guild:\n%s", mine, text)
	}
	// Someone known only in the other guild has no timeline here.
	text = final(t, h.fake.Slash(guildID, owner, "audit", "user", dt.UserArg("user", outsider.ID)))
	if !strings.Contains(text, "No entries match.") {
		t.Fatalf("/audit user of the other guild's member:\n%s", text)
	}
	assertNoLeak(t, "/audit user (a member of the other guild only)", strings.ReplaceAll(text, outsider.ID, ""), theirs)
}

func TestAuditStatsStaysInItsGuild(t *testing.T) {
	h, _, theirs := twoGuilds(t)
	want, err := h.s.Counts(context.Background(), audit.Discord, guildID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	in := h.fake.Slash(guildID, owner, "audit", "stats")
	text := final(t, in)
	assertNoLeak(t, "/audit stats", text, theirs)
	var edit struct {
		Embeds []struct {
			Fields []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal([]byte(strings.SplitN(text, "\n", 2)[0]), &edit); err != nil || len(edit.Embeds) != 1 {
		t.Fatalf("stats answer %s: %v", text, err)
	}
	got := map[string]string{}
	for _, f := range edit.Embeds[0].Fields {
		got[f.Name] = f.Value
	}
	for typ, n := range want {
		if got[typ.String()] != strconv.Itoa(n) {
			t.Errorf("stats %s = %q, want %d (this guild's count)", typ, got[typ.String()], n)
		}
		delete(got, typ.String())
	}
	if len(got) != 0 {
		t.Errorf("stats count types this guild has no records of: %v", got)
	}
	// The other guild has three messages and a removal; this one, one message.
	if want[audit.ChatMessage] != 1 || want[audit.UserRemove] != 0 {
		t.Fatalf("setup: this guild's counts %v", want)
	}
}

func TestAuditExportStaysInItsGuild(t *testing.T) {
	h, ours, theirs := twoGuilds(t)
	for _, format := range []string{"ndjson", "csv"} {
		in := h.fake.Slash(guildID, owner, "audit", "export", dt.Str("format", format))
		if _, err := in.Wait(2); err != nil {
			t.Fatal(err)
		}
		r := in.Replies()[1]
		if r.File != "audit."+format || len(r.Data) == 0 {
			t.Fatalf("%s export: file %q of %d bytes", format, r.File, len(r.Data))
		}
		assertNoLeak(t, format+" export", string(r.Data), theirs)
		if !strings.Contains(string(r.Data), "ours") {
			t.Errorf("%s export lacks this guild's message:\n%s", format, r.Data)
		}
		if format != "ndjson" {
			continue
		}
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(r.Data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e struct {
				PropertyID string `json:"property_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("export line %s: %v", sc.Bytes(), err)
			}
			if e.PropertyID != guildID {
				t.Errorf("exported a record of property %q: %s", e.PropertyID, sc.Bytes())
			}
			n++
		}
		if n != len(ours) {
			t.Errorf("exported %d records, this guild has %d", n, len(ours))
		}
	}
	// Filtering on the other guild's member finds nothing here.
	in := h.fake.Slash(guildID, owner, "audit", "export", dt.UserArg("user", outsider.ID))
	if _, err := in.Wait(2); err != nil {
		t.Fatal(err)
	}
	if r := in.Replies()[1]; len(bytes.TrimSpace(r.Data)) != 0 || !strings.Contains(string(r.Body), "0 entries") {
		t.Fatalf("export of the other guild's member: %s\n%s", r.Body, r.Data)
	}
}

func TestAuditSearchTamperedButtonsStayInTheirGuild(t *testing.T) {
	h, ours, theirs := twoGuilds(t)
	// One search per guild, a record a page, so each has an Older button.
	searchIn := func(g string) (page, cursor string) {
		t.Helper()
		a, _ := last(t, h.fake.Slash(g, owner, "audit", "search", dt.Int("limit", 1)), 2)
		id := button(a, "Older")
		rest, ok := strings.CutPrefix(id, "cw:p:")
		page, cursor, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || page == "" || cursor == "" {
			t.Fatalf("search in %s: Older button %q", g, id)
		}
		return page, cursor
	}
	pageA, olderA := searchIn(guildID)
	pageB, olderB := searchIn(otherID)

	// The genuine button pages through this guild: the check below can see
	// records.
	text := final(t, h.fake.Press(guildID, owner, "cw:p:"+pageA+":"+olderA))
	assertNoLeak(t, "the genuine Older button", text, theirs)
	shown := 0
	for _, e := range ours {
		if strings.Contains(text, e.ID.String()) {
			shown++
		}
	}
	if shown == 0 {
		t.Fatalf("the genuine Older button shows none of this guild's records:\n%s", text)
	}

	flip := func(s string) string { // change the last character
		last := s[len(s)-1]
		c := byte('A')
		if last == 'A' {
			c = 'B'
		}
		return s[:len(s)-1] + string(c)
	}
	for _, tc := range []struct{ name, id string }{
		{"this search with the other guild's cursor", "cw:p:" + pageA + ":" + olderB},
		{"the other guild's search with this guild's cursor", "cw:p:" + pageB + ":" + olderA},
		{"the other guild's button", "cw:p:" + pageB + ":" + olderB},
		{"an altered page id", "cw:p:" + flip(pageA) + ":" + olderA},
		{"an altered cursor", "cw:p:" + pageA + ":" + flip(olderA)},
		{"a cursor with a suffix", "cw:p:" + pageA + ":" + olderA + ":" + olderB},
		{"no cursor", "cw:p:" + pageA + ":"},
		{"the other guild's page id alone", "cw:p:" + pageB},
	} {
		text := final(t, h.fake.Press(guildID, owner, tc.id))
		assertNoLeak(t, tc.name, text, theirs)
		// Only the missing cursor is a valid press (it shows this search's
		// first page); every other is refused with an explanation.
		refused := strings.Contains(text, `"type":4`) && strings.Contains(text, `"embeds":null`) && !strings.Contains(text, `"content":""`)
		if refused == (tc.name == "no cursor") {
			t.Errorf("%s: refused %v, answer %s", tc.name, refused, text)
		}
	}
}
