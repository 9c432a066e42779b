package telegramtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func entStr(ents []MessageEntity) string {
	var parts []string
	for _, e := range ents {
		s := fmt.Sprintf("%s@%d+%d", e.Type, e.Offset, e.Length)
		if e.URL != "" {
			s += "=" + e.URL
		}
		if e.Language != "" {
			s += ":" + e.Language
		}
		if e.CustomEmojiID != "" {
			s += "#" + e.CustomEmojiID
		}
		if e.User != nil {
			s += fmt.Sprintf("~%d", e.User.ID)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// parseCase is a formatted text and what parsing it gives: the plain
// text and its entities (entStr), or Telegram's error.
type parseCase struct{ in, text, ents, err string }

// checkParses runs each case through parse.
func checkParses(t *testing.T, cases []parseCase, parse func(string) (string, []MessageEntity, error)) {
	t.Helper()
	for _, c := range cases {
		text, ents, err := parse(c.in)
		if err == nil {
			text, ents = trimParsed(text, ents)
		}
		switch {
		case c.err != "":
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: err = %v, want %q", c.in, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: unexpected error %v", c.in, err)
		case text != c.text || entStr(ents) != c.ents:
			t.Errorf("%q: got %q [%s], want %q [%s]", c.in, text, entStr(ents), c.text, c.ents)
		}
	}
}

func TestParseHTML(t *testing.T) {
	users := map[int64]User{42: {ID: 42, FirstName: "Ann"}}
	cases := []parseCase{
		{in: "<b>bold</b>", text: "bold", ents: "bold@0+4"},
		{in: "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><strike>e</strike><s>f</s><u>g</u><i>h</i>",
			text: "abcdefgh", ents: "bold@0+1 italic@1+1 underline@2+1 strikethrough@3+1 strikethrough@4+1 strikethrough@5+1 underline@6+1 italic@7+1"},
		{in: "<b>a<i>b</i></b>", text: "ab", ents: "bold@0+2 italic@1+1"},
		{in: "😀<b>x</b>", text: "😀x", ents: "bold@2+1"},
		{in: `<pre><code class="language-go">x := 1</code></pre>`, text: "x := 1", ents: "pre@0+6:go"},
		{in: `<code class="language-go">x</code>`, text: "x", ents: "code@0+1"},
		{in: "<pre>p</pre>", text: "p", ents: "pre@0+1"},
		{in: `<a href="example.com">x</a>`, text: "x", ents: "text_link@0+1=http://example.com/"},
		{in: `<a href='https://e.com/a?b=1&amp;c=2'>x</a>`, text: "x", ents: "text_link@0+1=https://e.com/a?b=1&c=2"},
		{in: `<a href="javascript:alert(1)">x</a>`, text: "x", ents: ""},
		{in: `<a href="tg://user?id=42">Ann</a>`, text: "Ann", ents: "text_mention@0+3~42"},
		{in: `<a href="tg://user?id=7">Bob</a>`, text: "Bob", ents: ""},
		{in: `<span class=tg-spoiler>s</span><tg-spoiler>t</tg-spoiler>`, text: "st", ents: "spoiler@0+1 spoiler@1+1"},
		{in: `<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`, text: "👍", ents: "custom_emoji@0+2#5368324170671202286"},
		{in: `<blockquote>q</blockquote><blockquote expandable>r</blockquote>`, text: "qr", ents: "blockquote@0+1 expandable_blockquote@1+1"},
		{in: "&lt;b&gt; &quot;x&quot; &#128512; &#x1F600;", text: `<b> "x" 😀 😀`, ents: ""},
		{in: "  <b> x </b>  ", text: "x", ents: "bold@0+1"},
		{in: "a > b", text: "a > b", ents: ""},
		{in: "<B>x</B>", text: "x", ents: "bold@0+1"},
		{in: "<b>x</>", text: "x", ents: "bold@0+1"},

		{in: "<foo>", err: `Unsupported start tag "foo" at byte offset 0`},
		{in: "x<br/>", err: `Unsupported start tag "br/" at byte offset 1`},
		{in: "a <", err: "Unclosed start tag at byte offset 2"},
		{in: "<b", err: "Unclosed start tag at byte offset 0"},
		{in: `<a href="x>t</a>`, err: "Unclosed start tag at byte offset 0"},
		{in: "</b>", err: "Unexpected end tag at byte offset 0"},
		{in: "<b>a</b", err: "Unclosed end tag at byte offset 4"},
		{in: "<b>a</i>", err: `Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`},
		{in: "<i><b>a</b>", err: `Can't find end tag corresponding to start tag "i"`},
		{in: `<span class="x">a</span>`, err: `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{in: `<tg-emoji emoji-id="abc">x</tg-emoji>`, err: "Invalid custom emoji identifier specified"},
		{in: `<a =x>t</a>`, err: `Empty attribute name in the tag "a" at byte offset 0`},
		{in: `<a href=x"y>t</a>`, err: "Unexpected end of name token at byte offset 9"},
		{in: "AT&T", err: `Character '&' at byte offset 2 does not start an HTML entity; it must be escaped as "&amp;"`},
		{in: "&nbsp;", err: `Character '&' at byte offset 0 does not start an HTML entity; it must be escaped as "&amp;"`},
	}
	checkParses(t, cases, func(in string) (string, []MessageEntity, error) { return parseHTML(in, false, users) })
	if text, _, err := parseHTML("AT&T &nbsp;", true, nil); err != nil || text != "AT&T &nbsp;" {
		t.Errorf("lenient: %q %v", text, err)
	}
}

func TestParseMarkdownV2(t *testing.T) {
	cases := []parseCase{
		{in: "*b* _i_ __u__ ~s~ ||sp||", text: "b i u s sp", ents: "bold@0+1 italic@2+1 underline@4+1 strikethrough@6+1 spoiler@8+2"},
		{in: "*bold _italic bold ~strike~ __under___ bold*", text: "bold italic bold strike under bold",
			ents: "bold@0+34 italic@5+24 strikethrough@17+6 underline@24+5"},
		{in: `[link](http://example.com/a\)b)`, text: "link", ents: "text_link@0+4=http://example.com/a)b"},
		{in: "```go\nfmt.Println()\n```", text: "fmt.Println()", ents: "pre@0+13:go"},
		{in: "`a\\`b`", text: "a`b", ents: "code@0+3"},
		{in: ">quote\n>line2\nafter", text: "quote\nline2\nafter", ents: "blockquote@0+11"},
		{in: "**>hidden\n>more||\ntail", text: "hidden\nmore\ntail", ents: "expandable_blockquote@0+11"},
		{in: "![👍](tg://emoji?id=5368324170671202286)", text: "👍", ents: "custom_emoji@0+2#5368324170671202286"},
		{in: `1\. a\-b \(c\) \#d \! \{e\} \= \+ \| \> \~ \` + "`", text: "1. a-b (c) #d ! {e} = + | > ~ `", ents: ""},

		{in: "*unclosed", err: "Can't find end of Bold entity at byte offset 0"},
		{in: "a_b", err: "Can't find end of Italic entity at byte offset 1"},
		{in: "___x___", text: "x", ents: "italic@0+1 underline@0+1"},
		{in: "x = 1", err: `Character '=' is reserved and must be escaped with the preceding '\'`},
		{in: "v1.2", err: `Character '.' is reserved and must be escaped with the preceding '\'`},
		{in: "a > b", err: `Character '>' is reserved and must be escaped with the preceding '\'`},
		{in: "[x]", err: "Can't find end of TextUrl entity at byte offset 0"},
		{in: "`code", err: "Can't find end of Code entity at byte offset 0"},
		{in: "```pre", err: "Can't find end of Pre entity at byte offset 0"},
		{in: "a|b", err: `Character '|' is reserved and must be escaped with the preceding '\'`},
	}
	checkParses(t, cases, parseMarkdownV2)
}

func TestParseLegacyMarkdown(t *testing.T) {
	text, ents, err := parseMarkdown("*bold* _it_ `c` [t](e.com) ```\nx\n``` a.b-c")
	if err != nil || text != "bold it c t x\n a.b-c" ||
		entStr(ents) != "bold@0+4 italic@5+2 code@8+1 text_link@10+1=http://e.com/ pre@12+2" {
		t.Fatalf("got %q [%s] %v", text, entStr(ents), err)
	}
	if _, _, err := parseMarkdown("x *y"); err == nil || err.Error() != "Can't find end of the entity starting at byte offset 2" {
		t.Fatalf("unclosed: %v", err)
	}
	if text, _, err := parseMarkdown(`a\_b`); err != nil || text != "a_b" {
		t.Fatalf("escape: %q %v", text, err)
	}
}

func TestDetectEntities(t *testing.T) {
	text := "/ban@chatwarden_bot 5 see https://example.com/x, mail a.b@example.org #spam @someone 😀 www.test.io"
	ents := detectEntities(text, nil)
	got := entStr(ents)
	want := "bot_command@0+19 url@26+21 email@54+15 hashtag@70+5 mention@76+8 url@88+11"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Code spans are left alone.
	ents = detectEntities("`/notacommand`", []MessageEntity{{Type: "code", Offset: 0, Length: 14}})
	if entStr(ents) != "code@0+14" {
		t.Fatalf("inside code: %s", entStr(ents))
	}
	if n := UTF16Len("a😀é"); n != 4 {
		t.Fatalf("UTF16Len = %d", n)
	}
}

func TestChatMemberJSONShapes(t *testing.T) {
	u := User{ID: 1, FirstName: "A"}
	r := FullAdminRights()
	shape := func(m ChatMember) map[string]any {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	ch := shape(ChatMember{Status: StatusAdministrator, User: u, Rights: r, chatType: ChatChannel})
	if _, ok := ch["can_post_messages"]; !ok {
		t.Fatalf("channel admin lacks can_post_messages: %v", ch)
	}
	if _, ok := ch["can_pin_messages"]; ok {
		t.Fatalf("channel admin has can_pin_messages: %v", ch)
	}
	sg := shape(ChatMember{Status: StatusAdministrator, User: u, Rights: r, chatType: ChatSupergroup})
	for _, k := range []string{"can_manage_topics", "can_pin_messages", "can_manage_video_chats", "can_post_stories", "can_be_edited", "is_anonymous"} {
		if _, ok := sg[k]; !ok {
			t.Errorf("supergroup admin lacks %s", k)
		}
	}
	if _, ok := sg["can_post_messages"]; ok {
		t.Error("supergroup admin has can_post_messages")
	}
	left := shape(ChatMember{Status: StatusLeft, User: u})
	if len(left) != 2 {
		t.Errorf("left member: %v", left)
	}
	kicked := shape(ChatMember{Status: StatusKicked, User: u})
	if _, ok := kicked["until_date"]; !ok || len(kicked) != 3 {
		t.Errorf("kicked member: %v", kicked)
	}
	var back ChatMember
	b, _ := json.Marshal(ChatMember{Status: StatusRestricted, User: u, IsMember: true, Permissions: ChatPermissions{CanSendPolls: true}, UntilDate: 9})
	if err := json.Unmarshal(b, &back); err != nil || !back.Permissions.CanSendPolls || !back.IsMember || back.UntilDate != 9 {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

func TestParsePermissionsImplications(t *testing.T) {
	p, e := parsePermissions(`{"can_send_other_messages":true}`, false)
	if e != nil || !p.CanSendMessages || !p.CanSendPhotos || !p.CanSendOtherMessages {
		t.Fatalf("dependent: %+v %v", p, e)
	}
	p, _ = parsePermissions(`{"can_send_other_messages":true}`, true)
	if p.CanSendMessages || p.CanSendPhotos {
		t.Fatalf("independent: %+v", p)
	}
	p, _ = parsePermissions(`{"can_send_media_messages":true}`, false)
	if !p.CanSendMessages || !p.CanSendVoiceNotes || p.CanSendPolls {
		t.Fatalf("legacy media: %+v", p)
	}
	if _, e := parsePermissions(`{"can_send_messages":"yes"}`, false); e == nil {
		t.Fatal("non-boolean accepted")
	}
	if _, e := parsePermissions(`[]`, false); e == nil {
		t.Fatal("array accepted")
	}
}

func TestUpdateJSONRoundTripWithExtra(t *testing.T) {
	u := Update{UpdateID: 5, Extra: map[string]json.RawMessage{"message_reaction": json.RawMessage(`{"chat":{"id":1,"type":"group"}}`)}}
	b, err := json.Marshal(u)
	if err != nil || !strings.Contains(string(b), `"message_reaction"`) || !strings.Contains(string(b), `"update_id":5`) {
		t.Fatalf("marshal: %s %v", b, err)
	}
	var back Update
	if err := json.Unmarshal(b, &back); err != nil || back.Kind() != "message_reaction" || back.UpdateID != 5 {
		t.Fatalf("unmarshal: %+v %v", back, err)
	}
}
