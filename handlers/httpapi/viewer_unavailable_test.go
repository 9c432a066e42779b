package httpapi

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
)

// TestRecordPageContentUnavailable: an edit whose new text Discord
// withheld (no Message Content intent) shows the earlier text and a
// sentence saying why the new one is missing, never a diff to nothing.
func TestRecordPageContentUnavailable(t *testing.T) {
	e := newEnv(t)
	edit := ev(50, audit.ChatMessageEdit, func(x *audit.Event) {
		x.MessageID, x.ActorID, x.ActorName = "m9", "dave", "Dave"
		x.Params.Set(audit.ParamOldContent, "hello bot")
		x.Params.Set(audit.ParamContentUnavailable, "true")
	})
	e.record(edit)
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	resp, page := b.do("GET", "/record?id="+edit.ID.String(), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("record page: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, `class="before"`) || strings.Contains(page, "<del>") {
		t.Errorf("a diff to withheld text:\n%s", page)
	}
	for _, want := range []string{"hello bot", "content not available: the bot lacks the Message Content intent"} {
		if !strings.Contains(page, want) {
			t.Errorf("missing %q:\n%s", want, page)
		}
	}
}
