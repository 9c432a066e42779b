package telegram

import (
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
)

// TestHostileMessagesInLogEntries renders names that try to inject HTML,
// mentions, Markdown or lines, with 4,000-character contents of combining
// marks, zero-width runs and right-to-left overrides: every entry stays
// within Telegram's 4096, uses only the sink's own tags, and keeps its
// field structure.
func TestHostileMessagesInLogEntries(t *testing.T) {
	names := []string{
		"@everyone", "<@&123>", "<script>alert(1)</script>", "**bold**\n\nFAKE ENTRY",
		"</b><a href=\"tg://user?id=1\">x</a>", "&amp;&lt;b&gt;", "\u202eevil\u202c", "\u200b\u200d",
		"<blockquote>Reason: forged</blockquote>", "Bob\r\n<i>Moderator:</i> Admin",
	}
	contents := []string{
		"a" + strings.Repeat("\u0301\u0308\u0323", 1333),
		strings.Repeat("\u200b\u200c\u200d\u2060", 1000),
		strings.Repeat("\u202e<b>x</b>\u202c", 400),
		strings.Repeat("\n</blockquote><b>Actor:</b> Admin", 130),
	}
	b := renderingBot()
	for _, content := range contents {
		for _, name := range names {
			for _, typ := range []audit.EventType{audit.ChatMessage, audit.UserBan, audit.ModerationLink, audit.ChatMessageEdit} {
				e := hostileRecord(uint8(typ), "en", name, "42", name, "43", "reason", name, content, 0)
				checkEntryHTML(t, e, b.entryHTML(e, maxText))
			}
		}
	}
}
