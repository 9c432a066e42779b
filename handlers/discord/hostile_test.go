package discord

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// hostileNames are names that try to ping, inject markup or forge the
// shape of a log entry.
var hostileNames = []string{
	"@everyone", "@here", "<@&123>", "<@!400000000000000001>", "<#200000000000000002>",
	"<script>alert(1)</script>", "**bold**\n\nFAKE ENTRY", "</b><a href=\"https://evil.example\">x</a>",
	"[click](https://evil.example)", "`code`\r\nReason: forged", "\u202eevil\u202c", "\u200b\u200d\u2060",
}

// hostileContents are message texts of 4,000 characters meant to break a
// renderer: combining marks, zero-width runs and right-to-left overrides,
// alone or around mentions.
var hostileContents = map[string]string{
	"combining marks":   "a" + strings.Repeat("\u0301\u0308\u0323", 1333),
	"zero-width run":    strings.Repeat("\u200b\u200c\u200d\u2060", 1000),
	"rtl overrides":     strings.Repeat("\u202e@everyone\u202c", 400),
	"mentions":          strings.Repeat("<@&123> @here ", 300),
	"fake entry lines":  strings.Repeat("\n**Moderator:** Admin\n> quoted", 150),
	"markdown nesting":  strings.Repeat("**__~~||", 500),
	"emoji and escapes": strings.Repeat("\U0001F600\\", 2000),
}

// TestHostileMessagesInLogPosts renders every hostile name as actor,
// target and parameter value, with every hostile content, through the
// embed and through Post: within Discord's limits, no mention left to
// parse, allowed_mentions empty, no line that is neither the summary nor
// quoted content.
func TestHostileMessagesInLogPosts(t *testing.T) {
	b, c := postingBot(t)
	for cname, content := range hostileContents {
		for _, name := range hostileNames {
			for _, typ := range []audit.EventType{audit.ChatMessage, audit.UserBan, audit.SecurityEvent, audit.ChatMessageEdit} {
				e := hostileEvent(uint8(typ), "en", name, "400000000000000003", name, "400000000000000004",
					"reason", name, content, 0)
				em := b.embed(e)
				checkEmbed(t, em)
				if _, err := b.Post(context.Background(), "200000000000000002", []*audit.Event{e}); err != nil {
					t.Fatal(err)
				}
				var msg struct {
					Embeds          []*discordgo.MessageEmbed         `json:"embeds"`
					AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
				}
				if err := json.Unmarshal(c.last(), &msg); err != nil {
					t.Fatal(err)
				}
				if am := msg.AllowedMentions; am == nil || len(am.Parse)+len(am.Roles)+len(am.Users) != 0 || am.RepliedUser {
					t.Fatalf("%s / %q: allowed_mentions %+v", cname, name, am)
				}
				if len(msg.Embeds) != 1 {
					t.Fatalf("%s / %q: %d embeds", cname, name, len(msg.Embeds))
				}
				checkEmbed(t, msg.Embeds[0])
			}
		}
	}
}
