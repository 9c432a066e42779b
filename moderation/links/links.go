// Package links finds links in chat messages written to get links past a
// filter: the moderation engine's link filter asks it which URLs, hosts and
// invites a message carries. It is pure and fast: a message without
// anything link-like costs one pass over its bytes.
//
// # What counts as a link
//
// Plain text is matched like xurls.Relaxed (the reference): URLs with a
// scheme from xurls.Schemes (http://, https://, ftp://, hxxp://, ...), bare
// domains ending in a real TLD (xurls.TLDs and xurls.PseudoTLDs), IPv4 and
// bracketed IPv6 hosts, with ports and paths, and e-mail addresses (reported
// as mailto: URLs). Masked Markdown links [text](https://target) yield the
// target and, when it is a link itself, the text; <https://x> (Discord's
// embed suppression) yields https://x.
//
// Differences from xurls.Relaxed, on purpose:
//
//   - File names. A bare name whose last label is a real TLD that is also a
//     common file extension (md, py, sh, zip, mov, rs, pl, ps, pm, so, ml,
//     mk, gd, tf) is a file name, not a link, unless it has a scheme, a port,
//     a path ("/"), a "www." prefix, or was obfuscated: README.md, setup.py
//     and deploy.sh are not links; www.setup.py, setup.py/x and
//     http://setup.py are. Names whose extension is not a TLD (main.go,
//     index.html, photo.jpg) never matched in the first place, nor do v1.2.3,
//     e.g., a.m., 3.14 or Mr.Smith. FindAll reports these names too, with
//     FileName set, for callers that catch listed ones (hypesquad.ml).
//   - No host, no link: URIs without a network host (tel:, magnet:,
//     bitcoin:, file:///x, ...) are not reported; mailto: and xmpp:
//     addresses are found as e-mail addresses.
//   - Unresolvable hosts: a host over 253 bytes or with a label over 63
//     bytes is not reported.
//   - A bare IPv6 address (without brackets or scheme) counts only when it
//     stands alone and has at least three groups (2001:db8::1), so that
//     std::vector or 12:30:: are not links.
//
// # Evasions undone
//
// Before matching, text is put in NFKC (full-width ｅｖｉｌ．ｃｏｍ, math
// letters, circled letters ...). A second pass, for messages that hold one
// of the markers, removes every Default_Ignorable_Code_Point (zero-width
// spaces and joiners, soft hyphens, bidi controls, variation selectors, tag
// characters) and rewrites separators:
//
//   - [.] (.) {.} [dot] (dot) {dot} → "." and [:] (:) {:} → ":", with
//     blanks around them dropped: evil [.] com, hxxps[:]//evil(dot)com;
//   - the ideographic full stop 。 (and ｡ ︒, which NFKC maps to it) → "."
//     when an ASCII letter or digit is on both sides: evil。com, but not
//     我买了iPhone。公司发的 (Chinese prose ends sentences with it);
//   - " dot " and a full stop with a blank before it ("evil . com",
//     "evil .com") → "." in a chain ending in a TLD of the Public Suffix
//     List: always for a short list of popular TLDs (com, net, org, io,
//     gg, xyz, ru, ...; see weakTLDs), and for the others (me, to, in,
//     is, ...) only when the chain does not read like prose (see
//     proseSafe): "freenitro3 dot me" is a link, "connect the dot to the
//     line" is not;
//   - hxxp:// and hxxps:// become http:// and https://; percent-encoded
//     hosts are decoded.
//
// Links found only that way, or whose text differs from their matched form,
// have Obfuscated set.
package links

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Link is one link found in a message.
type Link struct {
	// Raw is the text as it appeared in the message (for logs; invalid
	// UTF-8 replaced by U+FFFD).
	Raw string
	// URL is the normalised link: a scheme added when absent ("http://",
	// "mailto:" for e-mail addresses), evasions undone, the host in
	// canonical form. Paths are kept as written.
	URL string
	// Host is lower-case ASCII: punycode for IDN, no port, no trailing dot,
	// IPv6 without brackets.
	Host string
	// Invite is set for Discord and Telegram invite links.
	Invite *Invite
	// Obfuscated is set when the link was found only after undoing an
	// evasion (see the package documentation).
	Obfuscated bool
	// Bare is set for a name written as it is, with nothing else that
	// makes it a link: no scheme, no "www.", no port or path, not
	// obfuscated (user.name, ctx.app, example.com). Code and prose are
	// full of such names; a caller may want more than that before acting.
	Bare bool
	// FileName is set for a bare name whose TLD is also a file extension
	// (README.md, deploy.pl, hypesquad.ml). Only FindAll reports these.
	FileName bool
}

// Invite is a chat invite carried by a link: discord.gg/CODE,
// discord.com/invite/CODE, discordapp.com/invite/CODE, t.me/+CODE,
// t.me/joinchat/CODE (and telegram.me, telegram.dog).
type Invite struct {
	Platform string // "discord" or "telegram"
	Code     string
}

// Find returns the links in text, in order of appearance, without two of
// the same URL.
func Find(text string) []Link { return find(text, false, false) }

// FindAll is Find plus the bare names that look like file names (see the
// package documentation), reported with FileName set, so that a caller
// can still catch those it has listed (hypesquad.ml on a deny list).
func FindAll(text string) []Link { return find(text, false, true) }

// Has reports whether text holds any link; it stops at the first.
func Has(text string) bool { return len(find(text, true, false)) > 0 }

// HasAll reports whether FindAll would find anything; it stops at the
// first.
func HasAll(text string) bool { return len(find(text, true, true)) > 0 }

func find(text string, first, files bool) []Link {
	raw := text
	if !utf8.ValidString(raw) {
		raw = strings.ToValidUTF8(raw, "\uFFFD")
	}
	f := prescan(raw)
	t := mtext{s: raw}
	if f.needNorm {
		t = nfkc(raw)
		f = prescan(t.s)
	}
	// Every link has a dot or a colon; removing default-ignorables does
	// not make either.
	anchor := strings.IndexByte(t.s, '.') >= 0 || strings.IndexByte(t.s, ':') >= 0
	if !f.marker && !anchor {
		return nil
	}
	evasion := f.marker || f.di && anchor
	c := collector{raw: raw, first: first, files: files}
	c.scan(&t)
	if evasion && !(first && len(c.links) > 0) {
		if u, ok := deobfuscate(&t); ok {
			c.scan(&u)
		}
	}
	return c.finish()
}

type collector struct {
	raw    string
	first  bool
	files  bool // report file-name-like names (FindAll)
	links  []Link
	pos    []int // raw offset of each link
	seen   map[string]bool
	sorted bool
}

func (c *collector) scan(t *mtext) {
	sc := scanner{s: t.s}
	for pos := 0; pos < len(t.s); {
		m, ok := sc.next(pos)
		if !ok {
			break
		}
		pos = m.end
		c.add(t, m)
		if c.first && len(c.links) > 0 {
			return
		}
	}
	if strings.Contains(t.s, "::") || strings.Count(t.s, ":") >= 7 {
		bareIPv6(t.s, func(m match) {
			// not again when bracketed, as in http://[2001:db8::1]/
			if m.start > 0 && t.s[m.start-1] == '[' && m.end < len(t.s) && t.s[m.end] == ']' {
				return
			}
			c.add(t, m)
		})
	}
}

func (c *collector) add(t *mtext, m match) {
	s := t.s
	text := s[m.start:m.end]
	ra, rb := t.rawRange(m.start, m.end)
	l := Link{Raw: c.raw[ra:rb]}
	l.Obfuscated = l.Raw != text
	hostText := s[m.hostStart:m.hostEnd]
	if m.kind == kindBareIPv6 {
		hostText = "[" + hostText + "]"
	}
	host, evasive := canonHost(hostText)
	if !validHost(host) {
		return
	}
	l.Host = host
	l.Obfuscated = l.Obfuscated || evasive
	bracketed := host
	if strings.IndexByte(host, ':') >= 0 {
		bracketed = "[" + host + "]"
	}
	rest := s[m.hostEnd:m.end]
	switch m.kind {
	case kindStrict:
		i := strings.Index(text, "://")
		scheme := strings.ToLower(text[:i])
		switch scheme {
		case "hxxp":
			scheme, l.Obfuscated = "http", true
		case "hxxps":
			scheme, l.Obfuscated = "https", true
		}
		l.URL = scheme + "://" + s[m.start+i+3:m.hostStart] + bracketed + rest
	case kindEmail:
		l.URL = "mailto:" + s[m.start:m.hostStart] + host
	default:
		www := len(text) > 4 && strings.EqualFold(text[:4], "www.")
		l.Bare = (m.kind == kindDomain || m.kind == kindIPv4) && rest == "" && !l.Obfuscated && !www
		if m.kind == kindDomain && l.Bare && isFileName(host) {
			if !c.files {
				return
			}
			l.FileName = true
		}
		l.URL = "http://" + bracketed + rest
	}
	if m.kind != kindEmail {
		if p := strings.IndexByte(rest, ':'); p == 0 {
			rest = rest[1+len(digitsPrefix(rest[1:])):]
		}
		l.Invite = invite(host, rest)
	}
	if c.dup(l.URL) {
		return
	}
	if n := len(c.pos); n > 0 && c.pos[n-1] > ra {
		c.sorted = false
	} else if n == 0 {
		c.sorted = true
	}
	c.links = append(c.links, l)
	c.pos = append(c.pos, ra)
}

// dup reports whether url was seen before, remembering it.
func (c *collector) dup(url string) bool {
	if c.seen == nil && len(c.links) < 8 {
		for i := range c.links {
			if c.links[i].URL == url {
				return true
			}
		}
		return false
	}
	if c.seen == nil {
		c.seen = make(map[string]bool, 2*len(c.links))
		for i := range c.links {
			c.seen[c.links[i].URL] = true
		}
	}
	if c.seen[url] {
		return true
	}
	c.seen[url] = true
	return false
}

func digitsPrefix(s string) string {
	return s[:digitsFrom(s, 0)]
}

func (c *collector) finish() []Link {
	if !c.sorted && len(c.links) > 1 {
		sort.Stable(byPos{c})
	}
	return c.links
}

type byPos struct{ c *collector }

func (b byPos) Len() int           { return len(b.c.links) }
func (b byPos) Less(i, j int) bool { return b.c.pos[i] < b.c.pos[j] }
func (b byPos) Swap(i, j int) {
	b.c.links[i], b.c.links[j] = b.c.links[j], b.c.links[i]
	b.c.pos[i], b.c.pos[j] = b.c.pos[j], b.c.pos[i]
}
