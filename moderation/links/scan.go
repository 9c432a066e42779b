package links

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"mvdan.cc/xurls/v2"
)

// This file holds a hand-written matcher that finds the same URLs as
// xurls.Relaxed() (leftmost-longest, the same character classes, schemes and
// TLD list) without running its regular expression, which costs 10-20 µs per
// short token. The structure follows the Relaxed expression branch by branch:
//
//	strict:    scheme "://" pathCont           (scheme from xurls.Schemes, case-insensitive)
//	domainURL: (label ".")+ tld port? ("/" pathCont | "/")?
//	ipv4URL:   \b ipv4 \b port? path?
//	ipv6URL:   "[" ipv6 "]" port? path?
//	email:     [a-zA-Z0-9._%+-]+ "@" (label ".")+ tld
//
// Deliberate differences, all documented on Find: a strict match with an
// empty host (file:///x) is not a match, so the other branches look inside
// it; the scheme-without-authority forms (mailto:, tel:, magnet:, ...) are not
// matched (their hosts, if any, are found by the email branch); a bare IPv6
// address counts only when it stands alone and has at least three groups.
// The test suite checks the equivalence against xurls itself.

type kind uint8

const (
	kindStrict kind = iota + 1
	kindDomain
	kindIPv4
	kindIPv6
	kindEmail
	nKinds
	kindBareIPv6 // found by bareIPv6, outside the leftmost-longest scan
)

type match struct {
	start, end         int
	hostStart, hostEnd int
	kind               kind
}

// Character classes for ASCII bytes.
const (
	cLMN    = 1 << iota // \p{L}\p{M}\p{N}: letters and digits
	cWord               // regexp \b word character [0-9A-Za-z_]
	cMid                // may appear inside a path
	cEnd                // may end a path
	cLocal              // email local part [a-zA-Z0-9._%+-]
	cScheme             // scheme character [a-zA-Z0-9+.-]
	cHex
)

var ascii [128]uint8

func init() {
	set := func(chars string, f uint8) {
		for i := 0; i < len(chars); i++ {
			ascii[chars[i]] |= f
		}
	}
	const (
		lower  = "abcdefghijklmnopqrstuvwxyz"
		upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		digits = "0123456789"
		alnum  = lower + upper + digits
	)
	set(alnum, cLMN|cWord|cMid|cEnd|cLocal|cScheme)
	set("_", cWord)
	// RFC 3987 iunreserved / sub-delims / ":" "@" plus the separators,
	// split the way xurls splits them: punctuation may not end a URL.
	set(`-._~%!$&'*+,;=:@/?#\`, cMid)
	set(`-_~%$&+=/#`, cEnd)
	set(`._%+-`, cLocal)
	set(`+.-`, cScheme)
	set(digits+"abcdefABCDEF", cHex)
}

func isWordByte(c byte) bool { return c < utf8.RuneSelf && ascii[c]&cWord != 0 }

// isLMN reports whether r is a letter, mark or number (xurls' iri character).
func isLMN(r rune) bool {
	if r < utf8.RuneSelf {
		return ascii[r]&cLMN != 0
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// ucschar (RFC 3987) without Unicode white space, plus iprivate: the
// non-ASCII characters xurls accepts inside a path.
func isMidUcs(r rune) bool {
	switch {
	case r < 0xA1:
		return false
	case r <= 0xD7FF:
		switch {
		case r == 0x1680, r >= 0x2000 && r <= 0x200A, r == 0x2028, r == 0x2029,
			r == 0x202F, r == 0x205F, r == 0x3000:
			return false
		}
		return true
	case r >= 0xE000 && r <= 0xF8FF: // private use
		return true
	case r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFEF:
		return true
	case r >= 0x10000 && r < 0xE0000:
		return r&0xFFFF <= 0xFFFD
	case r >= 0xE1000 && r <= 0xEFFFD:
		return true
	case r >= 0xF0000:
		return r&0xFFFF <= 0xFFFD // supplementary private use
	}
	return false
}

// isEndUcs: as isMidUcs, minus other punctuation (\p{Po}).
func isEndUcs(r rune) bool {
	return isMidUcs(r) && !unicode.Is(unicode.Po, r)
}

// Scheme and TLD sets, built once from xurls' exported lists.
var (
	schemes       = map[string]bool{}
	maxSchemeLen  int
	asciiTLDs     = map[string]bool{}
	maxASCIITLD   int
	unicodeTLDs   = map[rune][]string{} // by first rune (lower case); longest first
	unicodeTLDMax int
)

func init() {
	for _, list := range [][]string{xurls.Schemes, xurls.SchemesUnofficial} {
		for _, s := range list {
			s = strings.ToLower(s)
			schemes[s] = true
			maxSchemeLen = max(maxSchemeLen, len(s))
		}
	}
	add := func(t string) {
		t = strings.ToLower(t)
		if t[0] < utf8.RuneSelf {
			asciiTLDs[t] = true
			maxASCIITLD = max(maxASCIITLD, len(t))
			return
		}
		r, _ := utf8.DecodeRuneInString(t)
		unicodeTLDs[r] = append(unicodeTLDs[r], t)
		unicodeTLDMax = max(unicodeTLDMax, len(t))
	}
	for _, t := range xurls.TLDs {
		add(t)
	}
	for _, t := range xurls.PseudoTLDs {
		add(t)
	}
	for r, l := range unicodeTLDs {
		// longest first, so the first hit is the longest
		for i := 1; i < len(l); i++ {
			for j := i; j > 0 && len(l[j]) > len(l[j-1]); j-- {
				l[j], l[j-1] = l[j-1], l[j]
			}
		}
		unicodeTLDs[r] = l
	}
}

func isASCIITLD(b []byte) bool {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return asciiTLDs[string(b)]
}

// scanner finds xurls-style matches in s from left to right. Each branch keeps
// its next match cached: a branch's leftmost match at or after pos does not
// change while pos stays at or before its start, so every branch scans the
// text once however many matches the other branches produce.
type scanner struct {
	s     string
	cache [nKinds]struct {
		m      match
		ok     bool
		filled bool
	}
}

// next returns the leftmost-longest match starting at or after pos.
func (sc *scanner) next(pos int) (match, bool) {
	var best match
	found := false
	for k := kindStrict; k < nKinds; k++ {
		c := &sc.cache[k]
		if !c.filled || (c.ok && c.m.start < pos) {
			c.m, c.ok = sc.nextOf(k, pos)
			c.filled = true
		}
		if !c.ok {
			continue
		}
		if !found || c.m.start < best.start || (c.m.start == best.start && c.m.end > best.end) {
			best, found = c.m, true
		}
	}
	return best, found
}

func (sc *scanner) nextOf(k kind, pos int) (match, bool) {
	switch k {
	case kindStrict:
		return sc.nextStrict(pos)
	case kindDomain:
		return sc.nextDomain(pos)
	case kindIPv4:
		return sc.nextIPv4(pos)
	case kindIPv6:
		return sc.nextIPv6(pos)
	case kindEmail:
		return sc.nextEmail(pos)
	}
	return match{}, false
}

// lastRune decodes the rune ending at s[:i] (i > 0).
func lastRune(s string, i int) (rune, int) {
	if c := s[i-1]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeLastRuneInString(s[:i])
}

func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// labelEnd returns the end of the run of letters, marks, numbers and hyphens
// starting at i.
func labelEnd(s string, i int) int {
	for i < len(s) {
		r, n := runeAt(s, i)
		if r != '-' && !isLMN(r) {
			break
		}
		i += n
	}
	return i
}

// validLabel reports whether s[a:b] is an iri label: letters, marks,
// numbers and inner hyphens, starting and ending with a non-hyphen.
// s[a:b] is known to hold only those characters.
func validLabel(s string, a, b int) bool {
	return b > a && s[a] != '-' && s[b-1] != '-'
}

// tldEnd returns the end of the longest TLD that starts at i (right after a
// dot), or -1. ASCII TLDs must be followed by a word boundary; punycode
// (xn--...) and Unicode TLDs need not be, exactly as in xurls.
func tldEnd(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	best := -1
	if c := s[i]; c < utf8.RuneSelf {
		if ascii[c]&cLMN == 0 || c <= '9' {
			return -1 // TLDs start with a letter
		}
		w := i
		for w < len(s) && isWordByte(s[w]) {
			w++
		}
		if n := w - i; n >= 2 && n <= maxASCIITLD {
			var buf [32]byte
			if isASCIITLD(append(buf[:0], s[i:w]...)) {
				best = w
			}
		}
		if len(s)-i > 4 && (c == 'x' || c == 'X') && (s[i+1] == 'n' || s[i+1] == 'N') && s[i+2] == '-' && s[i+3] == '-' {
			p := i + 4
			for p < len(s) && s[p] < utf8.RuneSelf && (ascii[s[p]]&cLMN != 0 || s[p] == '-') {
				p++
			}
			if p > i+4 && p > best {
				best = p
			}
		}
		return best
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	for f := r; ; {
		for _, t := range unicodeTLDs[unicode.ToLower(f)] {
			if n := prefixFold(s[i:], t); n > 0 {
				if i+n > best {
					best = i + n
				}
				break
			}
		}
		f = unicode.SimpleFold(f)
		if f == r {
			break
		}
	}
	return best
}

// prefixFold returns the length of the prefix of s that equals t under
// simple case folding, or 0.
func prefixFold(s, t string) int {
	n := 0
	for _, tr := range t {
		if n >= len(s) {
			return 0
		}
		sr, size := utf8.DecodeRuneInString(s[n:])
		if sr != tr && !equalFoldRune(sr, tr) {
			return 0
		}
		n += size
	}
	return n
}

func equalFoldRune(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// portPath extends a host ending at e with an optional :port and path.
func portPath(s string, e int) int {
	if e < len(s) && s[e] == ':' {
		p := e + 1
		for p < len(s) && '0' <= s[p] && s[p] <= '9' {
			p++
		}
		if p > e+1 {
			e = p
		}
	}
	if e < len(s) && s[e] == '/' {
		if p := pathCont(s, e+1); p > e+1 {
			return p
		}
		return e + 1
	}
	return e
}

// pathCont returns the end of the longest run of path characters starting
// at i that ends in a character allowed at the end of a URL or in a
// balanced bracket group (i when there is none).
func pathCont(s string, i int) int {
	last := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case ascii[c]&cEnd != 0:
				i++
				last = i
			case ascii[c]&cMid != 0:
				i++
			case c == '(' || c == '[' || c == '{':
				j := wellGroup(s, i)
				if j < 0 {
					return last
				}
				i, last = j, j
			default:
				return last
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isMidUcs(r) {
			return last
		}
		i += n
		if isEndUcs(r) {
			last = i
		}
	}
	return last
}

func isMidAt(s string, i int) (bool, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return ascii[c]&cMid != 0, 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return isMidUcs(r), n
}

// wellGroup matches a balanced (...), [...] or {...} group at s[i], whose
// content is path characters and at most one more level of the same
// bracket; it returns the end or -1.
func wellGroup(s string, i int) int {
	open := s[i]
	close := byte(')')
	switch open {
	case '[':
		close = ']'
	case '{':
		close = '}'
	}
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case close:
			return j + 1
		case open:
			k := j + 1
			for k < len(s) {
				ok, n := isMidAt(s, k)
				if !ok {
					break
				}
				k += n
			}
			if k < len(s) && s[k] == close {
				j = k + 1
				continue
			}
			return -1
		}
		ok, n := isMidAt(s, j)
		if !ok {
			return -1
		}
		j += n
	}
	return -1
}

// nextStrict finds scheme://... with a known scheme and a non-empty host.
func (sc *scanner) nextStrict(pos int) (match, bool) {
	s := sc.s
	for i := pos; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			return match{}, false
		}
		c := i + j
		i = c + 1
		// leftmost start = longest suffix of the scheme characters before
		// "://" that is a known scheme.
		lo := c
		for lo > pos && c-lo < maxSchemeLen && s[lo-1] < utf8.RuneSelf && ascii[s[lo-1]]&cScheme != 0 {
			lo--
		}
		start := -1
		var buf [64]byte
		for a := lo; a < c; a++ {
			b := append(buf[:0], s[a:c]...)
			for k, ch := range b {
				if 'A' <= ch && ch <= 'Z' {
					b[k] = ch + 'a' - 'A'
				}
			}
			if schemes[string(b)] {
				start = a
				break
			}
		}
		if start < 0 {
			continue
		}
		end := pathCont(s, c+3)
		if end == c+3 {
			continue
		}
		hs, he := authorityHost(s, c+3, end)
		if he <= hs {
			continue
		}
		return match{start: start, end: end, hostStart: hs, hostEnd: he, kind: kindStrict}, true
	}
}

// authorityHost returns the host span of the authority starting at a in a
// URL ending at end: after any userinfo, before any port.
func authorityHost(s string, a, end int) (int, int) {
	ae := a
	for ae < end && s[ae] != '/' && s[ae] != '?' && s[ae] != '#' && s[ae] != '\\' &&
		!strings.HasPrefix(s[ae:end], "\uFF1F") { // ？ stands for "?" (see harmless)
		ae++
	}
	hs := a
	if at := strings.LastIndexByte(s[a:ae], '@'); at >= 0 {
		hs = a + at + 1
	}
	if hs < ae && s[hs] == '[' {
		if k := strings.IndexByte(s[hs:ae], ']'); k >= 0 {
			return hs, hs + k + 1
		}
		return hs, ae
	}
	he := hs
	for he < ae && s[he] != ':' {
		he++
	}
	return hs, he
}

// nextDomain finds (label ".")+ tld, leftmost and longest.
func (sc *scanner) nextDomain(pos int) (match, bool) {
	s := sc.s
	for i := pos; ; {
		j := strings.IndexByte(s[i:], '.')
		if j < 0 {
			return match{}, false
		}
		d := i + j
		i = d + 1
		te := tldEnd(s, d+1)
		if te < 0 {
			continue
		}
		start := chainStart(s, pos, d)
		if start < 0 {
			continue
		}
		// Longest: go on through fully valid labels to the last TLD.
		domEnd := te
		for cur := d + 1; ; {
			le := labelEnd(s, cur)
			if le >= len(s) || s[le] != '.' || !validLabel(s, cur, le) {
				break
			}
			if t := tldEnd(s, le+1); t >= 0 {
				domEnd = t
			}
			cur = le + 1
		}
		return match{start: start, end: portPath(s, domEnd), hostStart: start, hostEnd: domEnd, kind: kindDomain}, true
	}
}

// chainStart returns the leftmost position >= pos from which (label ".")+
// reaches the dot at d, or -1.
func chainStart(s string, pos, d int) int {
	e := d
	if e <= pos {
		return -1
	}
	if r, _ := lastRune(s, e); !isLMN(r) {
		return -1
	}
	for {
		b, first := e, -1
		for b > pos {
			r, n := lastRune(s, b)
			if r == '-' {
				b -= n
				continue
			}
			if !isLMN(r) {
				break
			}
			b -= n
			first = b
		}
		// s[b:e] is a label; it can be passed through to the left only if it
		// starts with a letter/number and a startable label precedes its dot.
		if first == b && b-1 > pos && s[b-1] == '.' {
			if r, _ := lastRune(s, b-1); isLMN(r) {
				e = b - 1
				continue
			}
		}
		return first
	}
}

// anchoredDomainEnd matches (label ".")+ tld starting exactly at i and
// returns its end (longest), or -1.
func anchoredDomainEnd(s string, i int) int {
	end := -1
	for cur := i; ; {
		le := labelEnd(s, cur)
		if le >= len(s) || s[le] != '.' || !validLabel(s, cur, le) {
			return end
		}
		if t := tldEnd(s, le+1); t >= 0 {
			end = t
		}
		cur = le + 1
	}
}

func (sc *scanner) nextEmail(pos int) (match, bool) {
	s := sc.s
	for i := pos; ; {
		j := strings.IndexByte(s[i:], '@')
		if j < 0 {
			return match{}, false
		}
		at := i + j
		i = at + 1
		ls := at
		for ls > pos && s[ls-1] < utf8.RuneSelf && ascii[s[ls-1]]&cLocal != 0 {
			ls--
		}
		if ls == at {
			continue
		}
		de := anchoredDomainEnd(s, at+1)
		if de < 0 {
			continue
		}
		return match{start: ls, end: de, hostStart: at + 1, hostEnd: de, kind: kindEmail}, true
	}
}

// octet parses a decimal octet without leading zeros.
func octet(s string) bool {
	switch len(s) {
	case 1:
		return true
	case 2:
		return s[0] != '0'
	case 3:
		return s[0] == '1' || s[0] == '2' && (s[1] < '5' || s[1] == '5' && s[2] <= '5')
	}
	return false
}

func digitsFrom(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// nextIPv4 finds \b a.b.c.d \b with a port and path as for domains.
func (sc *scanner) nextIPv4(pos int) (match, bool) {
	s := sc.s
	for i := pos; ; {
		j := strings.IndexByte(s[i:], '.')
		if j < 0 {
			return match{}, false
		}
		d := i + j
		i = d + 1
		p := d
		for p > pos && '0' <= s[p-1] && s[p-1] <= '9' {
			p--
		}
		if p == d || (p > 0 && isWordByte(s[p-1])) || !octet(s[p:d]) {
			continue
		}
		e, ok := d, true
		for k := 0; k < 3 && ok; k++ {
			if e >= len(s) || s[e] != '.' {
				ok = false
				break
			}
			f := digitsFrom(s, e+1)
			ok = f > e+1 && octet(s[e+1:f])
			e = f
		}
		if !ok || (e < len(s) && isWordByte(s[e])) {
			continue
		}
		return match{start: p, end: portPath(s, e), hostStart: p, hostEnd: e, kind: kindIPv4}, true
	}
}

// validIPv6 checks the RFC 4291 text form (no zone) and returns the number
// of explicit 16-bit groups (an embedded IPv4 address counts two).
func validIPv6(s string) (groups int, ok bool) {
	if len(s) < 2 {
		return 0, false
	}
	elided := false
	i := 0
	if strings.HasPrefix(s, "::") {
		elided = true
		i = 2
		if i == len(s) {
			return 0, true
		}
	} else if s[0] == ':' {
		return 0, false
	}
	for i < len(s) {
		// one group: up to 4 hex digits, or a final IPv4 address
		j := i
		for j < len(s) && j-i < 5 && s[j] < utf8.RuneSelf && ascii[s[j]]&cHex != 0 {
			j++
		}
		if j < len(s) && s[j] == '.' {
			if !isIPv4(s[i:]) {
				return 0, false
			}
			groups += 2
			i = len(s)
			break
		}
		if j == i || j-i > 4 {
			return 0, false
		}
		groups++
		i = j
		if i == len(s) {
			break
		}
		if s[i] != ':' {
			return 0, false
		}
		i++
		if i < len(s) && s[i] == ':' {
			if elided {
				return 0, false
			}
			elided = true
			i++
			if i == len(s) {
				break
			}
		} else if i == len(s) {
			return 0, false
		}
	}
	if elided {
		return groups, groups <= 7
	}
	return groups, groups == 8
}

func isIPv4(s string) bool {
	e := 0
	for k := 0; k < 4; k++ {
		if k > 0 {
			if e >= len(s) || s[e] != '.' {
				return false
			}
			e++
		}
		f := digitsFrom(s, e)
		if f == e || !octet(s[e:f]) {
			return false
		}
		e = f
	}
	return e == len(s)
}

func (sc *scanner) nextIPv6(pos int) (match, bool) {
	s := sc.s
	for i := pos; ; {
		j := strings.IndexByte(s[i:], '[')
		if j < 0 {
			return match{}, false
		}
		b := i + j
		i = b + 1
		k := strings.IndexByte(s[b+1:min(len(s), b+48)], ']')
		if k < 0 {
			continue
		}
		e := b + 1 + k
		if _, ok := validIPv6(s[b+1 : e]); !ok {
			continue
		}
		return match{start: b, end: portPath(s, e+1), hostStart: b, hostEnd: e + 1, kind: kindIPv6}, true
	}
}

func isV6Byte(c byte) bool {
	return c == ':' || c == '.' || c < utf8.RuneSelf && ascii[c]&cHex != 0
}

// bareIPv6 calls fn for each stand-alone IPv6 address of at least three
// groups: a maximal run of hex digits, colons and dots, not touching a word
// character, less trailing dots. It runs apart from the scanner, so such a
// run never hides the matches xurls finds inside it (xurls also matches
// fragments such as "d::" in "std::vector" and then reads "::evil.com" as
// "::e" and "vil.com").
func bareIPv6(s string, fn func(match)) {
	for i := strings.IndexByte(s, ':'); i >= 0 && i < len(s); {
		a := i
		for a > 0 && isV6Byte(s[a-1]) {
			a--
		}
		e := i
		for e < len(s) && isV6Byte(s[e]) {
			e++
		}
		next := e
		for e > a && s[e-1] == '.' {
			e--
		}
		if (a == 0 || !isWordByte(s[a-1])) && (e == len(s) || !isWordByte(s[e])) && e-a <= 45 {
			if g, ok := validIPv6(s[a:e]); ok && g >= 3 {
				fn(match{start: a, end: e, hostStart: a, hostEnd: e, kind: kindBareIPv6})
			}
		}
		j := strings.IndexByte(s[next:], ':')
		if j < 0 {
			return
		}
		i = next + j
	}
}
