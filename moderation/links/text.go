package links

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"

	"github.com/chatwarden/chatwarden/moderation/skeleton"
)

// isDI reports whether r is a Default_Ignorable_Code_Point (the table
// the skeletons use).
func isDI(r rune) bool {
	if r < 0xAD {
		return false
	}
	return unicode.Is(skeleton.DefaultIgnorable, r)
}

const ideographicStop = 0x3002 // 。 (U+FF61 ｡ and U+FE12 ︒ become this under NFKC)

// Flags of non-ASCII runes, looked up per rune by the pre-scan. The low
// byte of a table entry is the rune's canonical combining class.
const (
	fUnstable = 1 << (8 + iota) // NFKC changes this rune or joins it to the previous one
	fDI                         // Default_Ignorable_Code_Point
	fStop                       // ideographic full stop
)

// harmless are compatibility characters common in chat that NFKC maps to
// ASCII punctuation playing the same part for the matcher (the same path
// class, never part of a host, scheme, port or e-mail address); text that
// holds them needs no normalisation for it. TestHarmless checks each.
var harmless = map[rune]string{
	0xFF0C: ",", 0xFF01: "!", 0xFF1B: ";", 0xFF07: "'", 0xFF1F: "?", 0x2026: "...",
}

var (
	bmpOnce  sync.Once
	bmpFlags *[0x10000]uint16
)

// bmp returns the flags of every BMP rune, computed on first use (a few ms).
func bmp() *[0x10000]uint16 {
	bmpOnce.Do(func() {
		t := new([0x10000]uint16)
		var buf [utf8.UTFMax]byte
		// Marks that end a canonical decomposition may compose with the
		// character before them (NFC_Quick_Check=Maybe, over-approximated).
		var composes [0x10000]bool
		for r := rune(0xC0); r < 0x30000; r++ {
			if d := norm.NFD.PropertiesString(string(r)).Decomposition(); utf8.RuneCount(d) > 1 {
				if last, _ := utf8.DecodeLastRune(d); last < 0x10000 {
					composes[last] = true
				}
			}
		}
		for r := rune(0x80); r < 0x10000; r++ {
			if r >= 0xD800 && r <= 0xDFFF {
				continue
			}
			n := utf8.EncodeRune(buf[:], r)
			t[r] = runeFlags(r, buf[:n])
			if composes[r] {
				t[r] |= fUnstable
			}
		}
		bmpFlags = t
	})
	return bmpFlags
}

func runeFlags(r rune, b []byte) uint16 {
	p := norm.NFKC.Properties(b)
	f := uint16(p.CCC())
	// A rune is stable when it is NFKC by itself and cannot combine with
	// what precedes it; non-starters are stable too as long as they come in
	// canonical order, which prescan checks with the combining class.
	combines := p.CCC() == 0 && !p.BoundaryBefore()
	if _, ok := harmless[r]; !ok && (combines || !norm.NFKC.IsNormal(b)) {
		f |= fUnstable
	}
	if isDI(r) {
		f |= fDI
	}
	if r == ideographicStop {
		f |= fStop
	}
	return f
}

// ASCII bytes the pre-scan must look at more closely.
var asciiPre = [256]bool{'[': true, '(': true, '{': true, ' ': true, '\t': true}

type scanFlags struct {
	needNorm bool // not in NFKC
	marker   bool // a separator that deobfuscate rewrites
	di       bool // a default-ignorable character
}

// prescan looks at each byte of s once.
func prescan(s string) (f scanFlags) {
	var tbl *[0x10000]uint16
	lastCCC := uint8(0)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			lastCCC = 0
			if asciiPre[c] && i+1 < len(s) && !f.marker {
				switch n := s[i+1]; {
				case n == '.':
					f.marker = true
				case c == ' ' || c == '\t':
					if (n == 'd' || n == 'D') && i+4 < len(s) && strings.EqualFold(s[i+2:i+4], "ot") && isSpaceByte(s[i+4]) {
						f.marker = true
					}
				default: // bracket
					f.marker = n == ':' || n == 'd' || n == 'D' || n == ' '
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		var fl uint16
		if r < 0x10000 {
			if tbl == nil {
				tbl = bmp()
			}
			fl = tbl[r]
		} else {
			fl = runeFlags(r, []byte(s[i:i+n]))
			if uint8(fl) != 0 {
				fl |= fUnstable // rare: supplementary combining marks
			}
		}
		ccc := uint8(fl)
		if fl&fUnstable != 0 || (ccc != 0 && lastCCC > ccc) {
			f.needNorm = true
		}
		lastCCC = ccc
		if fl&fDI != 0 {
			f.di = true
		}
		if fl&fStop != 0 && prevASCIIAlnum(s, i) && nextASCIIAlnum(s, i+n) {
			f.marker = true
		}
		i += n
	}
	return f
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// mtext is a transformed text with, for each of its bytes, the span of the
// raw text it came from, so that matches can be reported as they appeared.
type mtext struct {
	s          string
	start, end []int32 // nil: s is the raw text itself
}

func (t *mtext) rawRange(a, b int) (int, int) {
	if t.start == nil {
		return a, b
	}
	s, e := int(t.start[a]), int(t.end[b-1])
	return s, max(s, e)
}

type mbuilder struct {
	b          []byte
	start, end []int32
}

func newBuilder(n int) mbuilder {
	return mbuilder{b: make([]byte, 0, n), start: make([]int32, 0, n), end: make([]int32, 0, n)}
}

// add appends bytes that all come from raw[rs:re].
func (m *mbuilder) add(s string, rs, re int) {
	m.b = append(m.b, s...)
	for range len(s) {
		m.start = append(m.start, int32(rs))
		m.end = append(m.end, int32(re))
	}
}

// copy appends t.s[i:j] keeping each byte's raw span.
func (m *mbuilder) copy(t *mtext, i, j int) {
	m.b = append(m.b, t.s[i:j]...)
	if t.start == nil {
		for k := i; k < j; k++ {
			m.start = append(m.start, int32(k))
			m.end = append(m.end, int32(k+1))
		}
		return
	}
	m.start = append(m.start, t.start[i:j]...)
	m.end = append(m.end, t.end[i:j]...)
}

// replace appends s standing for t.s[i:j].
func (m *mbuilder) replace(t *mtext, s string, i, j int) {
	if t.start == nil {
		m.add(s, i, j)
		return
	}
	m.add(s, int(t.start[i]), int(t.end[j-1]))
}

func (m *mbuilder) text() mtext {
	return mtext{s: string(m.b), start: m.start, end: m.end}
}

// nfkc normalises raw to NFKC, recording where each output byte came from.
func nfkc(raw string) mtext {
	m := newBuilder(len(raw) + len(raw)/4)
	var it norm.Iter
	it.InitString(norm.NFKC, raw)
	lastA, lastB := 0, 0
	for !it.Done() {
		a := it.Pos()
		seg := it.Next()
		b := it.Pos()
		switch {
		case b > a && string(seg) == raw[a:b]:
			m.b = append(m.b, seg...)
			for k := a; k < b; k++ {
				m.start = append(m.start, int32(k))
				m.end = append(m.end, int32(k+1))
			}
		case b > a:
			m.add(string(seg), a, b)
			lastA, lastB = a, b
		default: // continuation of a long decomposition
			m.add(string(seg), lastA, lastB)
		}
	}
	return m.text()
}

// Separators in "evil dot com" and "evil . com" are accepted before one of
// these TLDs; before any other TLD of the Public Suffix List only when
// the chain does not read like prose (see proseSafe), because " dot " and
// a spaced full stop are common in prose.
var weakTLDs = map[string]bool{}

func init() {
	// Popular and much-abused TLDs that are not everyday words ("to", "me",
	// "live", "link" are left out: "connect the dot to the line").
	for _, t := range strings.Fields(`com net org info biz io gg co xyz ru su uk de fr cn tk ml ga cf gq
		top site online club shop store app dev tv cc ws pw ly gl`) {
		weakTLDs[t] = true
	}
}

// deobfuscate undoes the evasions listed on Find. It returns false when
// nothing changed.
func deobfuscate(t *mtext) (mtext, bool) {
	s := t.s
	m := newBuilder(len(s))
	changed := false
	var seps [][2]int // pending weak separators, replaced by "."
	chainEnd := 0     // no weak chain starts before this
	for i := 0; i < len(s); {
		if len(seps) > 0 && i == seps[0][0] {
			m.replace(t, ".", seps[0][0], seps[0][1])
			i = seps[0][1]
			seps = seps[1:]
			changed = true
			continue
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case isDI(r):
				changed = true
			case r == ideographicStop && lastASCIIAlnum(m.b) && nextASCIIAlnum(s, i+n):
				m.replace(t, ".", i, i+n)
				changed = true
			default:
				m.copy(t, i, i+n)
			}
			i += n
			continue
		}
		switch c {
		case '[', '(', '{':
			if n, rep := bracketSep(s, i); n > 0 {
				j := i + n
				if rep == '.' {
					for len(m.b) > 0 && (m.b[len(m.b)-1] == ' ' || m.b[len(m.b)-1] == '\t') {
						m.b, m.start, m.end = m.b[:len(m.b)-1], m.start[:len(m.start)-1], m.end[:len(m.end)-1]
					}
					for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
						j++
					}
				}
				m.replace(t, string(rep), i, i+n)
				i = j
				changed = true
				continue
			}
		case ' ', '\t':
			if len(seps) == 0 && i >= chainEnd && lastLabelChar(m.b) {
				// A chain without a weak TLD has none in its tail either,
				// so each blank is looked at once.
				if seps, chainEnd = weakChain(s, i); len(seps) > 0 {
					continue
				}
			}
		}
		m.copy(t, i, i+1)
		i++
	}
	if !changed {
		return mtext{}, false
	}
	return m.text(), true
}

func isASCIIAlnum(c byte) bool { return c < utf8.RuneSelf && ascii[c]&cLMN != 0 }

func lastASCIIAlnum(b []byte) bool { return len(b) > 0 && isASCIIAlnum(b[len(b)-1]) }

func lastLabelChar(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRune(b)
	return isLMN(r)
}

// prevASCIIAlnum reports whether the last rune before i that is not
// default-ignorable is an ASCII letter or digit.
func prevASCIIAlnum(s string, i int) bool {
	for i > 0 {
		r, n := lastRune(s, i)
		if !isDI(r) {
			return r < utf8.RuneSelf && isASCIIAlnum(byte(r))
		}
		i -= n
	}
	return false
}

// nextASCIIAlnum reports whether the first rune at or after i that is not
// default-ignorable is an ASCII letter or digit.
func nextASCIIAlnum(s string, i int) bool {
	for i < len(s) {
		r, n := runeAt(s, i)
		if !isDI(r) {
			return r < utf8.RuneSelf && isASCIIAlnum(byte(r))
		}
		i += n
	}
	return false
}

// bracketSep matches [.] (.) {.} [dot] (dot) {dot} [:] (:) {:}, with an
// optional space inside each side, at s[i]; it returns its length and what
// it stands for.
func bracketSep(s string, i int) (int, byte) {
	closer := byte(')')
	switch s[i] {
	case '[':
		closer = ']'
	case '{':
		closer = '}'
	}
	j := i + 1
	if j < len(s) && s[j] == ' ' {
		j++
	}
	var rep byte
	switch {
	case j < len(s) && (s[j] == '.' || s[j] == ':'):
		rep = s[j]
		j++
	case j+3 <= len(s) && strings.EqualFold(s[j:j+3], "dot"):
		rep = '.'
		j += 3
	default:
		return 0, 0
	}
	if j < len(s) && s[j] == ' ' {
		j++
	}
	if j < len(s) && s[j] == closer {
		return j + 1 - i, rep
	}
	return 0, 0
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// weakChain parses, at the blank s[i] that follows a label, a chain of
// " dot label" / " . label" / " .label" ending in a weak TLD, and returns the
// separator spans to replace by "." and where the chain ends.
func weakChain(s string, i int) ([][2]int, int) {
	first := i // the label before the chain
	for first > 0 {
		r, n := lastRune(s, first)
		if r != '-' && !isLMN(r) {
			break
		}
		first -= n
	}
	var seps [][2]int
	keep := 0
	j := i
	for {
		k := skipBlanks(s, j)
		if k == j || k >= len(s) {
			break
		}
		var b int
		switch {
		case s[k] == '.':
			b = skipBlanks(s, k+1)
		case k+4 <= len(s) && strings.EqualFold(s[k:k+3], "dot") && (s[k+3] == ' ' || s[k+3] == '\t'):
			b = skipBlanks(s, k+3)
		default:
			b = -1
		}
		if b < 0 {
			break
		}
		le := labelEnd(s, b)
		if le == b || s[b] == '-' {
			break
		}
		seps = append(seps, [2]int{j, b})
		if (le >= len(s) || !isWordByte(s[le])) && le-b <= 8 {
			var buf [8]byte
			lb := append(buf[:0], s[b:le]...)
			for x, c := range lb {
				if 'A' <= c && c <= 'Z' {
					lb[x] = c + 'a' - 'A'
				}
			}
			if weakTLDs[string(lb)] || isTLD(string(lb)) && proseSafe(s, first, i, le) {
				keep = len(seps)
			}
		}
		j = le
	}
	return seps[:keep], j
}

// isTLD reports whether t is a top-level domain of the Public Suffix
// List's ICANN section.
func isTLD(t string) bool {
	ps, icann := publicsuffix.PublicSuffix(t)
	return icann && ps == t
}

// proseSafe reports whether a " dot " chain whose first label is
// s[a:b] and whose TLD ends at e (a TLD that is also a common word: me,
// to, in, is ...) reads as a link rather than prose: its first label
// holds a digit or a hyphen (freenitro3 dot me), or has four or more
// characters and the TLD ends the text, or is followed by a path or port,
// or by punctuation that ends the text or a sentence ("free-nitro dot me!").
func proseSafe(s string, a, b, e int) bool {
	for k := a; k < b; k++ {
		if c := s[k]; c == '-' || '0' <= c && c <= '9' {
			return true
		}
	}
	if utf8.RuneCountInString(s[a:b]) < 4 {
		return false
	}
	if e >= len(s) || s[e] == '/' || s[e] == ':' {
		return true
	}
	switch s[e] {
	case '.', '!', '?', ',', ')':
		return e+1 >= len(s) || isSpaceByte(s[e+1])
	}
	return s[e] == '\n' || s[e] == '\r' || isSpaceByte(s[e]) && e+1 == len(s)
}
