package logentry

import (
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
)

// TestWithheldContent: a message whose text Discord withheld (no Message
// Content intent) says so in every locale, without a field of its own;
// an empty message that was not withheld stays empty, and text the
// record has is shown as it is.
func TestWithheldContent(t *testing.T) {
	want := map[string]string{"en": "Message Content intent", "fr": "intent Message Content", "hi": "Message Content इंटेंट"}
	for _, typ := range []audit.EventType{audit.ChatMessage, audit.ChatMessageEdit, audit.ChatMessageDelete} {
		for _, loc := range Locales() {
			e := sample(typ)
			e.Content = ""
			e.Params.Set(audit.ParamContentUnavailable, "true")
			en := Render(e, loc)
			if !strings.Contains(en.Content, want[loc]) || !strings.HasPrefix(en.Content, "(") {
				t.Errorf("%s %s: content %q, want the sentence naming the intent", typ, loc, en.Content)
			}
			for _, f := range en.Fields {
				if f.Key == audit.ParamContentUnavailable {
					t.Errorf("%s %s: the marker is shown as a field %q", typ, loc, f.Label)
				}
			}
			e.Content = "said later, mentioning the bot"
			if en := Render(e, loc); en.Content != e.Content {
				t.Errorf("%s %s: content %q, want the record's", typ, loc, en.Content)
			}
			e.Content = ""
			delete(e.Params, audit.ParamContentUnavailable)
			if en := Render(e, loc); en.Content != "" {
				t.Errorf("%s %s: an empty message not withheld renders %q", typ, loc, en.Content)
			}
		}
	}
}
