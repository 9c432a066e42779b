package moderation

import (
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/chatwarden/chatwarden/moderation/skeleton"
)

// RuleLookalike is the link filter's rule for a host made to be taken for
// a protected brand's (see Lookalike).
const RuleLookalike = "LOOKALIKE"

// BuiltinProtectedDomains are the brands the look-alike rule protects
// whatever the settings: the platforms' own domains and Steam's, the
// usual targets of phishing in chat.
var BuiltinProtectedDomains = []string{
	"discord.com", "discord.gg", "discordapp.com", "discord.gift", "discord.media", "discordapp.net",
	"steamcommunity.com", "steampowered.com", "telegram.org", "t.me",
}

// officialDomains are domains the brands themselves run that sit one edit
// from a brand or carry its name with another suffix; like the protected
// domains and their subdomains, they are never matched.
var officialDomains = []string{
	"telegra.ph", "telegram.me", "telegram.dog", "telesco.pe", "discordstatus.com", "discord.dev",
	"discord.new", "discord.co", "discord.design", "discord.store", "discordmerch.com",
	"discord.tools", "steamstatic.com", "steamusercontent.com", "steamgames.com",
	"steamcontent.com", "steamserver.net", "steamdeck.com", "steamchina.com",
}

// DefaultBaitWords are the words that, next to a brand's name in a host
// (discord-nitro-gift.com, free-steamcommunity.ru), make it a look-alike.
var DefaultBaitWords = []string{"gift", "nitro", "free", "promo", "login", "verify", "airdrop", "drop", "claim"}

// Lookalike finds hosts made to be taken for a protected brand's domain.
// A host that is a protected domain, an official domain of the brands or
// a subdomain of either is never matched. Any other host matches a brand
// when, comparing UTS #39 skeletons label by label (IDN labels decoded
// first, so dіscord with a Cyrillic і is discord):
//
//   - its registrable domain (Public Suffix List, ICANN section) equals
//     the brand's, or is one edit (insertion, deletion, substitution,
//     transposition) from it when the brand has 5 or more characters:
//     dlscord.com, discorcl.com, steamcommunlty.com;
//   - the label left of its public suffix equals the brand's name, or is
//     one edit from it when the name has 5 or more characters, whatever the
//     suffix: discord.ru, dicsord.net, dіscord.pages.dev. A label that is
//     the name itself in plain ASCII under a private suffix (discord.js.org)
//     is the project's, not a look-alike, and is left alone;
//   - the brand's name (or a one-edit variant) is a whole label or a
//     hyphen-separated part of one, or starts or ends a label, together
//     with a bait word: discord-nitro.com, free.steamcommunity-login.ru,
//     discordgift.xyz;
//   - the brand's name spelt with look-alike letters is a hyphen-separated
//     part of a label: dіscord-s.com;
//   - the brand's domain is followed by another domain: discord.com.ru,
//     discord.com.example.ru, steamcommunity.com-trade.ru.
//
// A Lookalike is safe for concurrent use.
type Lookalike struct {
	brands      []brand
	official    []string // protected and official domains, canonical
	officialSet map[string]struct{}
	bait        []string      // bait words' skeletons
	baitBy      [256][]string // bait words by first byte
	baitEmpty   bool          // a bait word's skeleton is empty
	// Candidate brands, as bit sets over brands: by the first and last
	// byte of the domain's and of the name's skeleton, and, for fuzzy
	// brands, by the public suffix as written.
	skelIdx, nameIdx, rawIdx byteIndex
	bySuffix                 []suffixBrands
}

type brand struct {
	domain string // as protected, canonical: "discord.com"
	raw    string // the label left of the public suffix, as written: "discord"
	skel   string // skeleton of the domain, label by label: "discord.corn"
	name   string // skeleton of the label left of the public suffix: "discord"
	suffix string // skeleton of the public suffix: "corn"
	fuzzy  bool   // the domain has MinFuzzyLen or more characters
	fuzzyN bool   // the name has MinFuzzyLen or more characters
}

// NewLookalike returns the rule for the built-in brands plus protected,
// with DefaultBaitWords plus bait as the bait words. Entries that are not
// domains are ignored.
func NewLookalike(protected, bait []string) *Lookalike {
	bait = append(slices.Clone(DefaultBaitWords), bait...)
	l := &Lookalike{}
	seen := map[string]bool{}
	for _, d := range append(append([]string{}, BuiltinProtectedDomains...), protected...) {
		d = CanonicalDomain(d)
		if d == "" || seen[d] || strings.IndexByte(d, '.') < 0 {
			continue
		}
		seen[d] = true
		l.official = append(l.official, d)
		suffix, _ := publicsuffix.PublicSuffix(d)
		if suffix == d {
			continue // a public suffix itself: nothing registrable to imitate
		}
		name := d[:len(d)-len(suffix)-1]
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		b := brand{domain: d, raw: name, skel: hostSkeleton(d), name: labelSkeleton(name), suffix: hostSkeleton(suffix)}
		b.fuzzy = utf8.RuneCountInString(d) >= skeleton.MinFuzzyLen
		b.fuzzyN = utf8.RuneCountInString(b.name) >= skeleton.MinFuzzyLen
		l.brands = append(l.brands, b)
	}
	for _, d := range officialDomains {
		if !seen[d] {
			l.official = append(l.official, d)
		}
	}
	l.officialSet = make(map[string]struct{}, len(l.official))
	for _, d := range l.official {
		l.officialSet[d] = struct{}{}
	}
	for _, w := range bait {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			w = labelSkeleton(w)
			l.bait = append(l.bait, w)
			if w != "" {
				l.baitBy[w[0]] = append(l.baitBy[w[0]], w)
			} else {
				l.baitEmpty = true
			}
		}
	}
	n := len(l.brands)
	l.skelIdx, l.nameIdx, l.rawIdx = newByteIndex(n), newByteIndex(n), newByteIndex(n)
	for i, b := range l.brands {
		// Compared by oneEdit only when fuzzy: 5 runes or more.
		l.skelIdx.add(i, b.skel, true)
		l.nameIdx.add(i, b.name, true)
		l.rawIdx.add(i, b.raw, false)
		if b.fuzzy {
			s := b.domain[len(b.raw)+1:]
			j := slices.IndexFunc(l.bySuffix, func(x suffixBrands) bool { return x.suffix == s })
			if j < 0 {
				j = len(l.bySuffix)
				l.bySuffix = append(l.bySuffix, suffixBrands{suffix: s, brands: make([]uint64, l.skelIdx.words)})
			}
			l.bySuffix[j].brands[i/64] |= 1 << (i % 64)
		}
	}
	return l
}

// suffixBrands are the fuzzy brands whose public suffix is suffix, as
// written: there are few distinct ones, so a slice beats a map.
type suffixBrands struct {
	suffix string
	brands []uint64
}

// byteIndex names, for a string, the brands whose indexed string (a
// skeleton) starts with the string's first byte or ends with its last
// byte, as a bit set over the brands (bit i of word i/64: brands[i]).
//
// Every test of the look-alike rule implies it: equal strings, a prefix
// or a suffix share the first or the last byte, and strings one edit
// apart (oneEdit) share the first or the last rune, so byte, unless both
// have fewer than three runes, which the fuzzy brands (MinFuzzyLen) do
// not. Brands with an empty string, or with fewer than three runes
// where a short one may be compared by oneEdit, are always candidates.
type byteIndex struct {
	words       int
	first, last []uint64 // 256 × words
	always      []uint64
	all         []uint64 // every brand
}

func newByteIndex(n int) byteIndex {
	w := max(1, (n+63)/64)
	return byteIndex{words: w, first: make([]uint64, 256*w), last: make([]uint64, 256*w),
		always: make([]uint64, w), all: make([]uint64, w)}
}

// add indexes brands[i] by s; long says s is compared by oneEdit only
// when it has MinFuzzyLen runes or more.
func (x *byteIndex) add(i int, s string, long bool) {
	bit := uint64(1) << (i % 64)
	x.all[i/64] |= bit
	if s == "" || !long && utf8.RuneCountInString(s) < 3 {
		x.always[i/64] |= bit
		return
	}
	x.first[int(s[0])*x.words+i/64] |= bit
	x.last[int(s[len(s)-1])*x.words+i/64] |= bit
}

// word returns word w of the candidates for s.
func (x *byteIndex) word(s string, w int) uint64 {
	if s == "" {
		return x.all[w]
	}
	return x.always[w] | x.first[int(s[0])*x.words+w] | x.last[int(s[len(s)-1])*x.words+w]
}

var (
	lookalikeMu    sync.Mutex
	lookalikeCache = map[string]*Lookalike{}
)

// cachedLookalike returns NewLookalike(protected, bait), built once per
// distinct settings (the policy is built per message).
func cachedLookalike(protected, bait []string) *Lookalike {
	key := strings.Join(protected, "\x00") + "\x01" + strings.Join(bait, "\x00")
	lookalikeMu.Lock()
	defer lookalikeMu.Unlock()
	if l, ok := lookalikeCache[key]; ok {
		return l
	}
	if len(lookalikeCache) >= 1024 {
		clear(lookalikeCache) // settings churn: start over rather than grow
	}
	l := NewLookalike(protected, bait)
	lookalikeCache[key] = l
	return l
}

// Match returns the protected domain host is made to look like, or "".
// host is in the form links reports it (lower case, punycode).
//
// It is run on every link found, so it avoids work: the skeletons of
// ASCII labels are written into a buffer on the stack (only IDN labels
// go through skeleton.Skeleton), and only the brands the byte indexes
// name as candidates are compared; an ASCII host that matches nothing
// allocates nothing but what the Public Suffix List lookup allocates.
func (l *Lookalike) Match(host string) string {
	if l == nil || host == "" || strings.IndexByte(host, ':') >= 0 || strings.IndexByte(host, '.') < 0 {
		return ""
	}
	if c := host[len(host)-1]; c >= '0' && c <= '9' {
		return "" // an IPv4 address (TLDs start with a letter)
	}
	// Official hosts are never matched; as most hosts match nothing, that
	// is checked only of a match.
	if b := l.match(host); b != "" && !l.isOfficial(host) {
		return b
	}
	return ""
}

// isOfficial reports whether host is a protected or official domain or
// a subdomain of one.
func (l *Lookalike) isOfficial(host string) bool {
	for s := host; ; {
		if _, ok := l.officialSet[s]; ok {
			return true
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
}

// match is Match without the official domains' exemption.
func (l *Lookalike) match(host string) string {
	suffix, icann := publicsuffix.PublicSuffix(host)
	private := ""
	for !icann {
		i := strings.IndexByte(suffix, '.')
		if i < 0 {
			break
		}
		if private == "" {
			private = suffix
		}
		suffix, icann = publicsuffix.PublicSuffix(suffix[i+1:])
	}
	if len(suffix) >= len(host) {
		return ""
	}
	var prebuf [8]string
	pre := splitLabels(host[:len(host)-len(suffix)-1], prebuf[:0])
	// The skeleton of the whole host, label by label, in one buffer on
	// the stack: sk.label(i) is the skeleton of pre[i], sk.after(i) what
	// follows it after the dot (the skeletons of the next labels and of
	// the suffix), so that the registrable domain and what follows a
	// brand's name are substrings rather than new strings. (Kept as
	// offsets, not a slice of strings, so that the buffer stays on the
	// stack.)
	var arr [256]byte
	var endbuf [8]int
	buf, ends := arr[:0], endbuf[:0]
	for _, p := range pre {
		buf = appendLabelSkeleton(buf, p)
		ends = append(ends, len(buf))
		buf = append(buf, '.')
	}
	sufStart := len(buf)
	for s := suffix; ; {
		j := strings.IndexByte(s, '.')
		if j < 0 {
			buf = appendLabelSkeleton(buf, s)
			break
		}
		buf = appendLabelSkeleton(buf, s[:j])
		buf = append(buf, '.')
		s = s[j+1:]
	}
	sk := hostSkel{all: bufString(buf), ends: ends}
	sufSkel := sk.all[sufStart:]
	last := sk.label(len(ends) - 1)
	reg := sk.all[len(sk.all)-len(sufSkel)-1-len(last):]
	// The label left of a private suffix (name.github.io): a homoglyph of
	// a brand's name there is a look-alike, the plain name is not.
	privIdx := -1
	if private != "" {
		privIdx = len(pre) - 1 - strings.Count(private[:len(private)-len(suffix)-1], ".") - 1
	}
	// The brands that may match, word by word of the bit sets: those
	// whose domain's skeleton shares the first or last byte of the
	// registrable domain's, those whose name's shares the first or last
	// byte of a label's, and those whose suffix is the host's and whose
	// name as written shares the first or last byte of the registrable
	// label. A brand fails each test below that its index leaves it out
	// of (see byteIndex), so the test is skipped.
	var sufMask []uint64
	for _, x := range l.bySuffix {
		if x.suffix == suffix {
			sufMask = x.brands
			break
		}
	}
	lastRaw := pre[len(pre)-1]
	for w := 0; w < l.skelIdx.words; w++ {
		mReg := l.skelIdx.word(reg, w)
		mRaw := uint64(0)
		if sufMask != nil {
			mRaw = sufMask[w] & l.rawIdx.word(lastRaw, w)
		}
		mLab := uint64(0)
		for i := range ends {
			mLab |= l.nameIdx.word(sk.label(i), w)
		}
		mLast := l.nameIdx.word(last, w)
		for m := mReg | mRaw | mLab; m != 0; m &= m - 1 {
			bit := m & -m
			b := &l.brands[w*64+bits.TrailingZeros64(m)]
			// registrable domain like the brand's
			if mReg&bit != 0 && (reg == b.skel || b.fuzzy && oneEdit(reg, b.skel)) {
				return b.domain
			}
			// The skeleton turns m into rn, so that stemcommunity is two
			// edits from the brand's skeleton; it is one from the brand.
			if mRaw&bit != 0 && b.fuzzy && suffix == b.domain[len(b.raw)+1:] && oneEdit(lastRaw, b.raw) {
				return b.domain
			}
			if mLab&bit == 0 {
				continue
			}
			if b.fuzzyN {
				// registrable label like the brand's name, any suffix
				if privIdx < 0 && mLast&bit != 0 && (last == b.name || oneEdit(last, b.name)) {
					return b.domain
				}
				if privIdx >= 0 && sk.label(privIdx) == b.name && pre[privIdx] != b.name {
					return b.domain
				}
			}
			// the brand's domain followed by another domain
			for i := range ends {
				if s := sk.label(i); !(s == b.name || b.fuzzyN && oneEdit(s, b.name)) {
					continue
				}
				if followedBy(sk.after(i), b.suffix) {
					return b.domain
				}
			}
		}
	}
	// a brand's name with bait words
	return l.baited(pre, &sk)
}

// hostSkel is the skeleton of a host's labels left of the public suffix,
// then of the suffix, in one string; ends[i] is where label i's ends.
type hostSkel struct {
	all  string
	ends []int
}

func (h *hostSkel) label(i int) string {
	start := 0
	if i > 0 {
		start = h.ends[i-1] + 1
	}
	return h.all[start:h.ends[i]]
}

// after returns what follows label i and its dot.
func (h *hostSkel) after(i int) string { return h.all[h.ends[i]+1:] }

// bufString returns the bytes of b as a string without copying them. The
// string must not outlive Match's buffer or be kept: Match only compares
// it, and returns brand domains, never a part of it.
func bufString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// followedBy reports whether tail (the labels after a brand's name, then
// the suffix) starts with the brand suffix bs followed by "." or "-"
// (com.example.ru, com-trade.ru).
func followedBy(tail, bs string) bool {
	return len(tail) > len(bs) && strings.HasPrefix(tail, bs) && (tail[len(bs)] == '.' || tail[len(bs)] == '-')
}

// baited returns the brand whose name is in a label's skeleton next to a
// bait word, or spelt with look-alike letters (dіscord-s.com, with a
// Cyrillic і: nobody writes that by accident). pre are the labels as
// written.
func (l *Lookalike) baited(pre []string, sk *hostSkel) string {
	brandAt, bait := "", false
	for i := range sk.ends {
		s := sk.label(i)
		idn := strings.HasPrefix(pre[i], "xn--")
		for s != "" {
			part := s
			if j := strings.IndexByte(s, '-'); j >= 0 {
				part, s = s[:j], s[j+1:]
			} else {
				s = ""
			}
			if part == "" {
				continue
			}
			if l.isBait(part) {
				bait = true
				continue
			}
		brands:
			for w := 0; w < l.nameIdx.words; w++ {
				for m := l.nameIdx.word(part, w); m != 0; m &= m - 1 {
					b := &l.brands[w*64+bits.TrailingZeros64(m)]
					if len(b.name) < 4 {
						continue // "t" of t.me is in too many names
					}
					switch {
					case part == b.name || b.fuzzyN && oneEdit(part, b.name):
					case strings.HasPrefix(part, b.name) && l.baitWords(part[len(b.name):]),
						strings.HasSuffix(part, b.name) && l.baitWords(part[:len(part)-len(b.name)]):
						return b.domain // discordnitro, freediscord
					default:
						continue
					}
					if idn && part == b.name && !strings.Contains(pre[i], b.name) {
						return b.domain
					}
					if brandAt == "" {
						brandAt = b.domain
					}
					break brands
				}
			}
		}
	}
	if bait {
		return brandAt
	}
	return ""
}

func (l *Lookalike) isBait(s string) bool {
	if s == "" || l.baitEmpty && s == "s" {
		return l.baitEmpty
	}
	for _, w := range l.baitBy[s[0]] {
		if s == w || len(s) == len(w)+1 && s[len(s)-1] == 's' && strings.HasPrefix(s, w) {
			return true
		}
	}
	return false
}

// baitWords reports whether s is one or more bait words run together.
func (l *Lookalike) baitWords(s string) bool {
	if s == "" {
		return false
	}
	if l.isBait(s) {
		return true
	}
	for _, w := range l.bait {
		if len(s) > len(w) && strings.HasPrefix(s, w) && l.baitWords(s[len(w):]) {
			return true
		}
	}
	return false
}

func splitLabels(s string, out []string) []string {
	for {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// asciiSkel is the skeleton of each ASCII byte that may be in a host
// ("" when it is its own); TestASCIISkeleton checks it against
// skeleton.Skeleton.
var asciiSkel = func() (t [128]string) {
	for c := byte(0); c < 128; c++ {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			if s := skeleton.Skeleton(string(c)); s != string(c) {
				t[c] = s
			}
		}
	}
	return t
}()

// labelSkeleton returns the skeleton of one label of a canonical host:
// punycode decoded, then UTS #39 (skeleton.Skeleton), with a fast path for
// plain ASCII labels.
func labelSkeleton(label string) string {
	if strings.HasPrefix(label, "xn--") {
		u, err := idna.Punycode.ToUnicode(label)
		if err != nil {
			return label
		}
		return skeleton.Skeleton(u)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if c >= utf8.RuneSelf {
			return skeleton.Skeleton(label)
		}
		if asciiSkel[c] == "" {
			continue
		}
		b := make([]byte, 0, len(label)+4)
		b = append(b, label[:i]...)
		for ; i < len(label); i++ {
			c := label[i]
			if c < 128 && asciiSkel[c] != "" {
				b = append(b, asciiSkel[c]...)
			} else {
				b = append(b, c)
			}
		}
		return string(b)
	}
	return label
}

// appendLabelSkeleton appends labelSkeleton(label) to dst; it allocates
// only for IDN labels.
func appendLabelSkeleton(dst []byte, label string) []byte {
	if strings.HasPrefix(label, "xn--") {
		return append(dst, labelSkeleton(label)...)
	}
	start := len(dst)
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch byteSkel[c] {
		case 0:
			dst = append(dst, c)
		case 1:
			dst = append(dst, asciiSkel[c]...)
		default:
			return append(dst[:start], labelSkeleton(label)...)
		}
	}
	return dst
}

// byteSkel says of each byte of a label: 0, its own skeleton; 1, its
// skeleton is asciiSkel's; 2, not ASCII.
var byteSkel = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = 2
		case asciiSkel[c] != "":
			t[c] = 1
		}
	}
	return t
}()

// hostSkeleton returns the skeleton of a host, label by label.
func hostSkeleton(host string) string {
	var buf [8]string
	labels := splitLabels(host, buf[:0])
	for i, l := range labels {
		labels[i] = labelSkeleton(l)
	}
	return strings.Join(labels, ".")
}

// oneEdit reports whether a and b are one edit apart or equal: an
// insertion, deletion, substitution or transposition of adjacent runes.
// It does not allocate, and compares bytes where it can: it is run for
// every candidate brand on every link.
func oneEdit(a, b string) bool {
	if d := len(a) - len(b); d > utf8.UTFMax || d < -utf8.UTFMax {
		return false
	}
	// One edit leaves the first or the last rune alone (strings of three
	// runes or more): the common case, a name unlike the brand, ends here.
	if len(a) > 2*utf8.UTFMax && len(b) > 2*utf8.UTFMax && a[0] != b[0] && a[len(a)-1] != b[len(b)-1] {
		return false
	}
	// When both start with two ASCII bytes and the first differ, the edit
	// is at the start: past the first two runes, the shorter is the
	// longer's end. Likewise at the end.
	if len(a) >= 2 && len(b) >= 2 {
		m := min(len(a), len(b)) - 2
		if a[0] != b[0] && a[0]|a[1]|b[0]|b[1] < utf8.RuneSelf && m > 0 && a[len(a)-m] != b[len(b)-m] {
			return false
		}
		la, lb := len(a), len(b)
		if a[la-1] != b[lb-1] && a[la-1]|a[la-2]|b[lb-1]|b[lb-2] < utf8.RuneSelf && m > 0 && a[m-1] != b[m-1] {
			return false
		}
	}
	// Drop the common prefix and suffix, in whole runes: equal runes are
	// equal bytes, so compare bytes, then step back to a rune's start.
	i, n := 0, min(len(a), len(b))
	for i < n && a[i] == b[i] {
		i++
	}
	for i > 0 && (i < len(a) && !utf8.RuneStart(a[i]) || i < len(b) && !utf8.RuneStart(b[i])) {
		i--
	}
	a, b = a[i:], b[i:]
	j, n := 0, min(len(a), len(b))
	for j < n && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	for j > 0 && !utf8.RuneStart(a[len(a)-j]) {
		j--
	}
	a, b = a[:len(a)-j], b[:len(b)-j]
	if len(a) <= 1 && len(b) <= 1 {
		return true
	}
	if len(a) > 2*utf8.UTFMax || len(b) > 2*utf8.UTFMax {
		return false // more than two runes differ
	}
	ca, cb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	if ca <= 1 && cb <= 1 {
		return true
	}
	if ca != 2 || cb != 2 {
		return false
	}
	a0, n0 := utf8.DecodeRuneInString(a)
	a1, _ := utf8.DecodeRuneInString(a[n0:])
	b0, n1 := utf8.DecodeRuneInString(b)
	b1, _ := utf8.DecodeRuneInString(b[n1:])
	return a0 == b1 && a1 == b0
}
