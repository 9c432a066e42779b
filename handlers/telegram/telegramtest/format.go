package telegramtest

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on text sizes, in UTF-16 code units after entity parsing.
const (
	MaxTextLength    = 4096
	MaxCaptionLength = 1024
)

// parseError is a formatting error; its message follows "can't parse
// entities: " in the API description.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func perr(format string, args ...any) error { return &parseError{msg: fmt.Sprintf(format, args...)} }

// UTF16Len returns the length of s in UTF-16 code units, the unit of
// Telegram's entity offsets and length limits.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// textBuilder accumulates parsed text and tracks its UTF-16 length.
type textBuilder struct {
	b   strings.Builder
	u16 int
}

func (t *textBuilder) writeRune(r rune) {
	t.b.WriteRune(r)
	if r >= 0x10000 {
		t.u16 += 2
	} else {
		t.u16++
	}
}

func (t *textBuilder) writeString(s string) {
	t.b.WriteString(s)
	t.u16 += UTF16Len(s)
}

// formatText parses text according to parseMode (or takes explicit
// entities), trims it like Telegram and adds auto-detected entities. It
// returns an API error for invalid markup.
func (s *Server) formatText(text, parseMode, entitiesJSON string) (string, []MessageEntity, *apiError) {
	var ents []MessageEntity
	var err error
	plain := text
	switch {
	case strings.TrimSpace(entitiesJSON) != "" && entitiesJSON != "null":
		var given []MessageEntity
		if jerr := decodeJSON(entitiesJSON, &given); jerr != nil {
			return "", nil, badRequest("can't parse entities JSON object")
		}
		n := UTF16Len(text)
		for _, e := range given {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
				continue
			}
			ents = append(ents, e)
		}
	default:
		switch strings.ToLower(parseMode) {
		case "":
		case "html":
			plain, ents, err = parseHTML(text, s.opts.LenientHTML, s.users)
		case "markdownv2":
			plain, ents, err = parseMarkdownV2(text)
		case "markdown":
			plain, ents, err = parseMarkdown(text)
		default:
			return "", nil, badRequest("unsupported parse_mode")
		}
	}
	if err != nil {
		return "", nil, badRequest("can't parse entities: %s", err.Error())
	}
	plain, ents = trimParsed(plain, ents)
	ents = detectEntities(plain, ents)
	return plain, ents, nil
}

// trimParsed strips leading and trailing white space as Telegram does and
// shifts and clips the entities accordingly.
func trimParsed(text string, ents []MessageEntity) (string, []MessageEntity) {
	trimmedLeft := strings.TrimLeftFunc(text, unicode.IsSpace)
	lead := UTF16Len(text[:len(text)-len(trimmedLeft)])
	trimmed := strings.TrimRightFunc(trimmedLeft, unicode.IsSpace)
	n := UTF16Len(trimmed)
	out := ents[:0:0]
	for _, e := range ents {
		start, end := e.Offset-lead, e.Offset+e.Length-lead
		start = max(start, 0)
		end = min(end, n)
		if end <= start {
			continue
		}
		e.Offset, e.Length = start, end-start
		out = append(out, e)
	}
	return trimmed, out
}

func sortEntities(ents []MessageEntity) {
	sort.SliceStable(ents, func(i, j int) bool {
		if ents[i].Offset != ents[j].Offset {
			return ents[i].Offset < ents[j].Offset
		}
		return ents[i].Length > ents[j].Length
	})
}

// ---------------------------------------------------------------------------
// Automatic entities (what Telegram detects in any text)

var (
	reEmail   = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	reURL     = regexp.MustCompile(`(?i)(?:https?://[^\s<>"']+|www\.[^\s<>"']+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|me|ru|de|uk|dev|app|gg|ly|co|info|xyz|tv|be|to)\b(?:/[^\s<>"']*)?)`)
	reCommand = regexp.MustCompile(`(?:^|\s)(/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)`)
	reMention = regexp.MustCompile(`(?:^|[^A-Za-z0-9_@/.])(@[A-Za-z0-9_]{4,32})`)
	reHashtag = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_#])(#[\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*)`)
)

// detectEntities adds url, email, bot_command, mention and hashtag entities
// Telegram would detect in text, skipping ranges covered by code, pre,
// links or earlier detections.
func detectEntities(text string, ents []MessageEntity) []MessageEntity {
	if text == "" {
		sortEntities(ents)
		return ents
	}
	u16 := make([]int, len(text)+1)
	n := 0
	for i, r := range text {
		u16[i] = n
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		for k := i + 1; k < i+utf8.RuneLen(r) && k < len(text); k++ {
			u16[k] = n
		}
	}
	u16[len(text)] = n

	type span struct{ a, b int }
	var taken []span
	blocking := map[string]bool{"code": true, "pre": true, "text_link": true, "text_mention": true,
		"url": true, "email": true, "mention": true, "bot_command": true, "hashtag": true, "custom_emoji": true}
	for _, e := range ents {
		if blocking[e.Type] {
			taken = append(taken, span{e.Offset, e.Offset + e.Length})
		}
	}
	free := func(a, b int) bool {
		for _, t := range taken {
			if a < t.b && t.a < b {
				return false
			}
		}
		return true
	}
	add := func(typ string, a, b int) {
		oa, ob := u16[a], u16[b]
		if ob <= oa || !free(oa, ob) {
			return
		}
		taken = append(taken, span{oa, ob})
		ents = append(ents, MessageEntity{Type: typ, Offset: oa, Length: ob - oa})
	}
	for _, m := range reEmail.FindAllStringIndex(text, -1) {
		add("email", m[0], m[1])
	}
	for _, m := range reURL.FindAllStringIndex(text, -1) {
		a, b := m[0], m[1]
		for b > a && strings.ContainsRune(".,;:!?)]}'\"", rune(text[b-1])) {
			b--
		}
		add("url", a, b)
	}
	for _, m := range reCommand.FindAllStringSubmatchIndex(text, -1) {
		add("bot_command", m[2], m[3])
	}
	for _, m := range reMention.FindAllStringSubmatchIndex(text, -1) {
		add("mention", m[2], m[3])
	}
	for _, m := range reHashtag.FindAllStringSubmatchIndex(text, -1) {
		add("hashtag", m[2], m[3])
	}
	sortEntities(ents)
	return ents
}

// normalizeURL validates a link target like Telegram: http(s) URLs get a
// scheme and a path, tg:// and ton:// links pass, anything else is dropped.
func normalizeURL(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false
	}
	lower := strings.ToLower(raw)
	if strings.HasPrefix(lower, "tg://") || strings.HasPrefix(lower, "ton://") {
		return raw, true
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, " <>") {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ftp":
	default:
		return "", false
	}
	if u.Path == "" && u.RawQuery == "" && u.Fragment == "" {
		u.Path = "/"
	}
	return u.String(), true
}

// linkEntity makes a text_link (or text_mention for tg://user?id=N) entity.
func linkEntity(target string, offset, length int, users map[int64]User) (MessageEntity, bool) {
	if rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(target)), "tg://user?id="); ok {
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return MessageEntity{}, false
		}
		u, known := users[id]
		if !known {
			return MessageEntity{}, false
		}
		return MessageEntity{Type: "text_mention", Offset: offset, Length: length, User: &u}, true
	}
	norm, ok := normalizeURL(target)
	if !ok {
		return MessageEntity{}, false
	}
	return MessageEntity{Type: "text_link", Offset: offset, Length: length, URL: norm}, true
}

// ---------------------------------------------------------------------------
// HTML

var htmlTags = map[string]bool{
	"a": true, "b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true, "tg-emoji": true,
	"code": true, "pre": true, "blockquote": true,
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isNameTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// decodeHTMLEntity decodes the entity at the start of s ("&lt;", "&#65;",
// "&#x1F600;"). Only the named entities Telegram supports are known.
func decodeHTMLEntity(s string) (rune, int, bool) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 12 {
		return 0, 0, false
	}
	body := s[1:end]
	switch body {
	case "lt":
		return '<', end + 1, true
	case "gt":
		return '>', end + 1, true
	case "amp":
		return '&', end + 1, true
	case "quot":
		return '"', end + 1, true
	}
	if body[0] != '#' || len(body) < 2 {
		return 0, 0, false
	}
	num, base := body[1:], 10
	if num[0] == 'x' || num[0] == 'X' {
		num, base = num[1:], 16
	}
	if num == "" {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(num, base, 32)
	if err != nil || v == 0 || v >= 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, 0, false
	}
	return rune(v), end + 1, true
}

type openTag struct {
	name     string
	arg      string
	u16Start int
	bytePos  int
}

// parseHTML parses Telegram's HTML subset into plain text and entities.
func parseHTML(src string, lenientAmp bool, users map[int64]User) (string, []MessageEntity, error) {
	var out textBuilder
	var stack []openTag
	var ents []MessageEntity
	i := 0
	for i < len(src) {
		c := src[i]
		if c == '&' {
			if r, n, ok := decodeHTMLEntity(src[i:]); ok {
				out.writeRune(r)
				i += n
				continue
			}
			if !lenientAmp {
				return "", nil, perr("Character '&' at byte offset %d does not start an HTML entity; it must be escaped as \"&amp;\"", i)
			}
			out.writeString("&")
			i++
			continue
		}
		if c != '<' {
			_, size := utf8.DecodeRuneInString(src[i:])
			out.writeString(src[i : i+size])
			i += size
			continue
		}
		begin := i
		i++
		if i < len(src) && src[i] == '/' {
			i++
			if len(stack) == 0 {
				return "", nil, perr("Unexpected end tag at byte offset %d", begin)
			}
			j := i
			for j < len(src) && !isHTMLSpace(src[j]) && src[j] != '>' {
				j++
			}
			name := strings.ToLower(src[i:j])
			for j < len(src) && isHTMLSpace(src[j]) {
				j++
			}
			if j >= len(src) || src[j] != '>' {
				return "", nil, perr("Unclosed end tag at byte offset %d", begin)
			}
			top := stack[len(stack)-1]
			if name != "" && name != top.name {
				return "", nil, perr("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, name)
			}
			stack = stack[:len(stack)-1]
			i = j + 1
			var perrv error
			ents, perrv = closeHTMLTag(ents, top, &out, users)
			if perrv != nil {
				return "", nil, perrv
			}
			continue
		}
		j := i
		for j < len(src) && !isHTMLSpace(src[j]) && src[j] != '>' {
			j++
		}
		if j >= len(src) {
			return "", nil, perr("Unclosed start tag at byte offset %d", begin)
		}
		name := strings.ToLower(src[i:j])
		if !htmlTags[name] {
			return "", nil, perr("Unsupported start tag \"%s\" at byte offset %d", name, begin)
		}
		tag := openTag{name: name, u16Start: out.u16, bytePos: begin}
		spanClass := ""
		for {
			for j < len(src) && isHTMLSpace(src[j]) {
				j++
			}
			if j >= len(src) {
				return "", nil, perr("Unclosed start tag at byte offset %d", begin)
			}
			if src[j] == '>' {
				j++
				break
			}
			k := j
			for k < len(src) && !isHTMLSpace(src[k]) && !strings.ContainsRune("=>/\"'", rune(src[k])) {
				k++
			}
			if k == j {
				return "", nil, perr("Empty attribute name in the tag \"%s\" at byte offset %d", name, begin)
			}
			attr := strings.ToLower(src[j:k])
			j = k
			for j < len(src) && isHTMLSpace(src[j]) {
				j++
			}
			if j >= len(src) {
				return "", nil, perr("Unclosed start tag at byte offset %d", begin)
			}
			if src[j] != '=' {
				if name == "blockquote" && attr == "expandable" {
					tag.arg = "expandable"
				}
				continue
			}
			j++
			for j < len(src) && isHTMLSpace(src[j]) {
				j++
			}
			if j >= len(src) {
				return "", nil, perr("Unclosed start tag at byte offset %d", begin)
			}
			var val string
			if q := src[j]; q == '"' || q == '\'' {
				j++
				var vb strings.Builder
				for j < len(src) && src[j] != q {
					if src[j] == '&' {
						if r, n, ok := decodeHTMLEntity(src[j:]); ok {
							vb.WriteRune(r)
							j += n
							continue
						}
					}
					vb.WriteByte(src[j])
					j++
				}
				if j >= len(src) {
					return "", nil, perr("Unclosed start tag at byte offset %d", begin)
				}
				j++
				val = vb.String()
			} else {
				k := j
				for k < len(src) && isNameTokenByte(src[k]) {
					k++
				}
				if k >= len(src) {
					return "", nil, perr("Unclosed start tag at byte offset %d", begin)
				}
				if !isHTMLSpace(src[k]) && src[k] != '>' {
					return "", nil, perr("Unexpected end of name token at byte offset %d", k)
				}
				val = strings.ToLower(src[j:k])
				j = k
			}
			switch {
			case name == "a" && attr == "href":
				tag.arg = val
			case name == "code" && attr == "class" && strings.HasPrefix(val, "language-"):
				tag.arg = strings.TrimPrefix(val, "language-")
			case name == "span" && attr == "class":
				spanClass = val
			case name == "tg-emoji" && attr == "emoji-id":
				tag.arg = val
			}
		}
		if name == "span" && spanClass != "tg-spoiler" {
			return "", nil, perr("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
		}
		stack = append(stack, tag)
		i = j
	}
	if len(stack) > 0 {
		return "", nil, perr("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].name)
	}
	for k := range ents {
		if ents[k].Type == "code" {
			ents[k].Language = ""
		}
	}
	sortEntities(ents)
	return out.b.String(), ents, nil
}

// closeHTMLTag turns a closed tag into an entity.
func closeHTMLTag(ents []MessageEntity, t openTag, out *textBuilder, users map[int64]User) ([]MessageEntity, error) {
	off, n := t.u16Start, out.u16-t.u16Start
	if t.name == "tg-emoji" {
		if _, err := strconv.ParseInt(t.arg, 10, 64); err != nil {
			return nil, perr("Invalid custom emoji identifier specified")
		}
	}
	if n <= 0 {
		return ents, nil
	}
	e := MessageEntity{Offset: off, Length: n}
	switch t.name {
	case "b", "strong":
		e.Type = "bold"
	case "i", "em":
		e.Type = "italic"
	case "u", "ins":
		e.Type = "underline"
	case "s", "strike", "del":
		e.Type = "strikethrough"
	case "span", "tg-spoiler":
		e.Type = "spoiler"
	case "blockquote":
		e.Type = "blockquote"
		if t.arg == "expandable" {
			e.Type = "expandable_blockquote"
		}
	case "tg-emoji":
		e.Type, e.CustomEmojiID = "custom_emoji", t.arg
	case "a":
		target := t.arg
		if target == "" {
			target = textSinceU16(out.b.String(), off)
		}
		le, ok := linkEntity(target, off, n, users)
		if !ok {
			return ents, nil
		}
		e = le
	case "code":
		e.Type, e.Language = "code", t.arg
		if k := len(ents) - 1; k >= 0 && ents[k].Type == "pre" && ents[k].Offset == off && ents[k].Length == n {
			ents[k].Language = t.arg
			return ents, nil
		}
	case "pre":
		e.Type = "pre"
		if k := len(ents) - 1; k >= 0 && ents[k].Type == "code" && ents[k].Offset == off && ents[k].Length == n {
			ents[k].Type = "pre"
			return ents, nil
		}
	}
	return append(ents, e), nil
}

// textSinceU16 returns the suffix of s starting at UTF-16 offset off.
func textSinceU16(s string, off int) string {
	n := 0
	for i, r := range s {
		if n >= off {
			return s[i:]
		}
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// MarkdownV2

var mdv2Names = map[string]string{
	"bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
	"spoiler": "Spoiler", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}

type mdOpen struct {
	typ      string
	u16Start int
	bytePos  int
}

// parseMarkdownV2 parses Telegram's MarkdownV2 into plain text and entities.
func parseMarkdownV2(src string) (string, []MessageEntity, error) {
	var out textBuilder
	var stack []mdOpen
	var ents []MessageEntity
	quoteStart, quoteOpen, quoteExpandable := 0, false, false
	closeQuote := func() {
		if quoteOpen && out.u16 > quoteStart {
			typ := "blockquote"
			if quoteExpandable {
				typ = "expandable_blockquote"
			}
			ents = append(ents, MessageEntity{Type: typ, Offset: quoteStart, Length: out.u16 - quoteStart})
		}
		quoteOpen, quoteExpandable = false, false
	}
	toggle := func(typ string, pos int) {
		if n := len(stack); n > 0 && stack[n-1].typ == typ {
			top := stack[n-1]
			stack = stack[:n-1]
			if out.u16 > top.u16Start {
				ents = append(ents, MessageEntity{Type: typ, Offset: top.u16Start, Length: out.u16 - top.u16Start})
			}
			return
		}
		stack = append(stack, mdOpen{typ: typ, u16Start: out.u16, bytePos: pos})
	}
	lineStart := true
	i := 0
	for i < len(src) {
		c := src[i]
		if lineStart {
			lineStart = false
			switch {
			case strings.HasPrefix(src[i:], "**>"):
				closeQuote()
				quoteOpen, quoteExpandable, quoteStart = true, true, out.u16
				i += 3
				continue
			case c == '>':
				if !quoteOpen {
					quoteOpen, quoteStart = true, out.u16
				}
				i++
				continue
			default:
				closeQuote()
			}
		}
		if c == '\\' && i+1 < len(src) && src[i+1] >= 1 && src[i+1] <= 126 {
			out.writeString(src[i+1 : i+2])
			i += 2
			continue
		}
		switch c {
		case '\n':
			if quoteOpen && !(i+1 < len(src) && src[i+1] == '>') {
				closeQuote()
			}
			out.writeString("\n")
			i++
			lineStart = true
		case '`':
			if strings.HasPrefix(src[i:], "```") {
				body, n, ok := scanCode(src[i+3:], "```")
				if !ok {
					return "", nil, perr("Can't find end of Pre entity at byte offset %d", i)
				}
				lang := ""
				if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], " \t") {
					lang, body = body[:nl], body[nl+1:]
				}
				start := out.u16
				out.writeString(body)
				if out.u16 > start {
					ents = append(ents, MessageEntity{Type: "pre", Offset: start, Length: out.u16 - start, Language: lang})
				}
				i += 3 + n
				continue
			}
			body, n, ok := scanCode(src[i+1:], "`")
			if !ok {
				return "", nil, perr("Can't find end of Code entity at byte offset %d", i)
			}
			start := out.u16
			out.writeString(body)
			if out.u16 > start {
				ents = append(ents, MessageEntity{Type: "code", Offset: start, Length: out.u16 - start})
			}
			i += 1 + n
		case '*':
			toggle("bold", i)
			i++
		case '~':
			toggle("strikethrough", i)
			i++
		case '_':
			top := ""
			if len(stack) > 0 {
				top = stack[len(stack)-1].typ
			}
			// "__" is underline, except that inside italic "___" first
			// closes the italic (as in "___x___").
			double := i+1 < len(src) && src[i+1] == '_'
			triple := double && i+2 < len(src) && src[i+2] == '_'
			if double && !(top == "italic" && triple) {
				toggle("underline", i)
				i += 2
			} else {
				toggle("italic", i)
				i++
			}
		case '|':
			if i+1 < len(src) && src[i+1] == '|' {
				if quoteOpen && quoteExpandable && (i+2 == len(src) || src[i+2] == '\n') {
					i += 2
					closeQuote()
					continue
				}
				toggle("spoiler", i)
				i += 2
				continue
			}
			return "", nil, perr("Character '|' is reserved and must be escaped with the preceding '\\'")
		case '!':
			if i+1 < len(src) && src[i+1] == '[' {
				stack = append(stack, mdOpen{typ: "custom_emoji", u16Start: out.u16, bytePos: i})
				i += 2
				continue
			}
			return "", nil, perr("Character '!' is reserved and must be escaped with the preceding '\\'")
		case '[':
			stack = append(stack, mdOpen{typ: "text_link", u16Start: out.u16, bytePos: i})
			i++
		case ']':
			n := len(stack)
			if n == 0 || (stack[n-1].typ != "text_link" && stack[n-1].typ != "custom_emoji") {
				return "", nil, perr("Character ']' is reserved and must be escaped with the preceding '\\'")
			}
			top := stack[n-1]
			stack = stack[:n-1]
			if i+1 >= len(src) || src[i+1] != '(' {
				return "", nil, perr("Can't find end of %s entity at byte offset %d", mdv2Names[top.typ], top.bytePos)
			}
			target, used, ok := scanCode(src[i+2:], ")")
			if !ok {
				return "", nil, perr("Can't find end of %s entity at byte offset %d", mdv2Names[top.typ], top.bytePos)
			}
			i += 2 + used
			length := out.u16 - top.u16Start
			if length <= 0 {
				continue
			}
			if top.typ == "custom_emoji" {
				id, found := strings.CutPrefix(target, "tg://emoji?id=")
				if _, err := strconv.ParseInt(id, 10, 64); !found || err != nil {
					return "", nil, perr("Invalid custom emoji identifier specified")
				}
				ents = append(ents, MessageEntity{Type: "custom_emoji", Offset: top.u16Start, Length: length, CustomEmojiID: id})
				continue
			}
			if e, ok := linkEntity(target, top.u16Start, length, nil); ok {
				ents = append(ents, e)
			}
		case '(', ')', '>', '#', '+', '-', '=', '{', '}', '.':
			return "", nil, perr("Character '%c' is reserved and must be escaped with the preceding '\\'", c)
		default:
			_, size := utf8.DecodeRuneInString(src[i:])
			out.writeString(src[i : i+size])
			i += size
		}
	}
	closeQuote()
	if n := len(stack); n > 0 {
		top := stack[n-1]
		return "", nil, perr("Can't find end of %s entity at byte offset %d", mdv2Names[top.typ], top.bytePos)
	}
	sortEntities(ents)
	return out.b.String(), ents, nil
}

// scanCode reads up to the closing delimiter, honouring backslash escapes,
// and returns the unescaped body and the bytes consumed (delimiter included).
func scanCode(s, delim string) (string, int, bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] >= 1 && s[i+1] <= 126 {
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		if strings.HasPrefix(s[i:], delim) {
			return b.String(), i + len(delim), true
		}
		b.WriteByte(s[i])
		i++
	}
	return "", 0, false
}

// ---------------------------------------------------------------------------
// Legacy Markdown

// parseMarkdown parses the legacy "Markdown" mode: *bold*, _italic_,
// `code`, ```pre``` and [text](url), without nesting.
func parseMarkdown(src string) (string, []MessageEntity, error) {
	var out textBuilder
	var ents []MessageEntity
	i := 0
	for i < len(src) {
		c := src[i]
		if c == '\\' && i+1 < len(src) && strings.IndexByte("_*`[", src[i+1]) >= 0 {
			out.writeString(src[i+1 : i+2])
			i += 2
			continue
		}
		var typ, end string
		switch c {
		case '*':
			typ, end = "bold", "*"
		case '_':
			typ, end = "italic", "_"
		case '`':
			typ, end = "code", "`"
			if strings.HasPrefix(src[i:], "```") {
				typ, end = "pre", "```"
			}
		case '[':
			typ, end = "text_link", "]"
		default:
			_, size := utf8.DecodeRuneInString(src[i:])
			out.writeString(src[i : i+size])
			i += size
			continue
		}
		begin := i
		i += len(end)
		if typ == "pre" {
			i = begin + 3
		}
		j := strings.Index(src[i:], end)
		if j < 0 {
			return "", nil, perr("Can't find end of the entity starting at byte offset %d", begin)
		}
		body := src[i : i+j]
		i += j + len(end)
		lang := ""
		if typ == "pre" {
			if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], " \t") {
				lang, body = body[:nl], body[nl+1:]
			}
		}
		target := ""
		if typ == "text_link" {
			if i >= len(src) || src[i] != '(' {
				return "", nil, perr("Can't find end of the entity starting at byte offset %d", begin)
			}
			k := strings.IndexByte(src[i:], ')')
			if k < 0 {
				return "", nil, perr("Can't find end of the entity starting at byte offset %d", begin)
			}
			target = src[i+1 : i+k]
			i += k + 1
		}
		start := out.u16
		out.writeString(body)
		if out.u16 == start {
			continue
		}
		e := MessageEntity{Type: typ, Offset: start, Length: out.u16 - start, Language: lang}
		if typ == "text_link" {
			le, ok := linkEntity(target, start, out.u16-start, nil)
			if !ok {
				continue
			}
			e = le
		}
		ents = append(ents, e)
	}
	sortEntities(ents)
	return out.b.String(), ents, nil
}
