package httpapi

import (
	"strings"
	"testing"
)

func showDiff(parts []diffPart) string {
	var b strings.Builder
	for _, p := range parts {
		switch p.Op {
		case '-':
			b.WriteString("[-" + p.Text + "-]")
		case '+':
			b.WriteString("{+" + p.Text + "+}")
		default:
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func TestWordDiff(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"hello all here", "hello everyone here", "hello [-all-]{+everyone+} here"},
		{"same", "same", "same"},
		{"", "new text", "{+new text+}"},
		{"old text", "", "[-old text-]"},
		{"a b c", "a c", "a [-b -]c"},
		{"नमस्ते दुनिया", "नमस्ते सबको", "नमस्ते [-दुनिया-]{+सबको+}"},
		{"one  two", "one two", "one[-  -]{+ +}two"},
	} {
		if got := showDiff(wordDiff(c.a, c.b)); got != c.want {
			t.Errorf("wordDiff(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
	// Each side put back together is its text.
	a, b := "the quick brown fox jumps", "a quick red fox jumped over"
	before, after := sides(wordDiff(a, b))
	join := func(ps []diffPart) (s string) {
		for _, p := range ps {
			s += p.Text
		}
		return s
	}
	if join(before) != a || join(after) != b {
		t.Errorf("sides %q / %q", join(before), join(after))
	}
	// Long texts: all removed, all added.
	long := strings.Repeat("x ", maxDiffTokens)
	if got := wordDiff(long, long+"y"); len(got) != 2 || got[0].Op != '-' || got[1].Op != '+' {
		t.Errorf("long texts: %d parts", len(got))
	}
}
