package moderation

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

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
	brands   []brand
	official []string // protected and official domains, canonical
	bait     []string // bait words' skeletons
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
	for _, w := range bait {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			l.bait = append(l.bait, labelSkeleton(w))
		}
	}
	return l
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
func (l *Lookalike) Match(host string) string {
	if l == nil || host == "" || strings.IndexByte(host, ':') >= 0 || strings.IndexByte(host, '.') < 0 {
		return ""
	}
	if c := host[len(host)-1]; c >= '0' && c <= '9' {
		return "" // an IPv4 address (TLDs start with a letter)
	}
	for _, d := range l.official {
		if host == d || len(host) > len(d) && strings.HasSuffix(host, d) && host[len(host)-len(d)-1] == '.' {
			return ""
		}
	}
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
	var buf [8]string
	pre := splitLabels(host[:len(host)-len(suffix)-1], buf[:0])
	skels := make([]string, len(pre))
	for i, p := range pre {
		skels[i] = labelSkeleton(p)
	}
	sufSkel := hostSkeleton(suffix)
	last := skels[len(skels)-1]
	reg := last + "." + sufSkel
	// The label left of a private suffix (name.github.io): a homoglyph of
	// a brand's name there is a look-alike, the plain name is not.
	privIdx := -1
	if private != "" {
		privIdx = len(pre) - 1 - strings.Count(private[:len(private)-len(suffix)-1], ".") - 1
	}
	for bi := range l.brands {
		b := &l.brands[bi]
		// registrable domain like the brand's
		if reg == b.skel || b.fuzzy && oneEdit(reg, b.skel) {
			return b.domain
		}
		// The skeleton turns m into rn, so that stemcommunity is two
		// edits from the brand's skeleton; it is one from the brand.
		if b.fuzzy && suffix == b.domain[len(b.raw)+1:] && oneEdit(pre[len(pre)-1], b.raw) {
			return b.domain
		}
		if b.fuzzyN {
			// registrable label like the brand's name, any suffix
			if privIdx < 0 && (last == b.name || oneEdit(last, b.name)) {
				return b.domain
			}
			if privIdx >= 0 && skels[privIdx] == b.name && pre[privIdx] != b.name {
				return b.domain
			}
		}
		// the brand's domain followed by another domain
		for i := range skels {
			if !(skels[i] == b.name || b.fuzzyN && oneEdit(skels[i], b.name)) {
				continue
			}
			if followedBy(skels[i+1:], sufSkel, b.suffix) {
				return b.domain
			}
		}
	}
	// a brand's name with bait words
	return l.baited(pre, skels)
}

// followedBy reports whether the labels rest, then suffix, start with the
// brand suffix bs followed by "." or "-" (com.example.ru, com-trade.ru).
func followedBy(rest []string, suffix, bs string) bool {
	tail := suffix
	if len(rest) > 0 {
		tail = strings.Join(rest, ".") + "." + suffix
	}
	return len(tail) > len(bs) && strings.HasPrefix(tail, bs) && (tail[len(bs)] == '.' || tail[len(bs)] == '-')
}

// baited returns the brand whose name is in skels next to a bait word,
// or spelt with look-alike letters (dіscord-s.com, with a Cyrillic і:
// nobody writes that by accident). pre are the labels as written.
func (l *Lookalike) baited(pre, skels []string) string {
	brandAt, bait := "", false
	for i, s := range skels {
		idn := strings.HasPrefix(pre[i], "xn--")
		for part := range strings.SplitSeq(s, "-") {
			if part == "" {
				continue
			}
			if l.isBait(part) {
				bait = true
				continue
			}
			for bi := range l.brands {
				b := &l.brands[bi]
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
				break
			}
		}
	}
	if bait {
		return brandAt
	}
	return ""
}

func (l *Lookalike) isBait(s string) bool {
	for _, w := range l.bait {
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
// It does not allocate: it is run for every brand on every link.
func oneEdit(a, b string) bool {
	if d := len(a) - len(b); d > utf8.UTFMax || d < -utf8.UTFMax {
		return false
	}
	// One edit leaves the first or the last rune alone (strings of three
	// runes or more): the common case, a name unlike the brand, ends here.
	if len(a) > 2*utf8.UTFMax && len(b) > 2*utf8.UTFMax && a[0] != b[0] && a[len(a)-1] != b[len(b)-1] {
		return false
	}
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			break
		}
		a, b = a[na:], b[nb:]
	}
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeLastRuneInString(a)
		rb, nb := utf8.DecodeLastRuneInString(b)
		if ra != rb {
			break
		}
		a, b = a[:len(a)-na], b[:len(b)-nb]
	}
	ca, cb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	if ca <= 1 && cb <= 1 {
		return true
	}
	if ca != 2 || cb != 2 {
		return false
	}
	a0, n := utf8.DecodeRuneInString(a)
	a1, _ := utf8.DecodeRuneInString(a[n:])
	b0, n := utf8.DecodeRuneInString(b)
	b1, _ := utf8.DecodeRuneInString(b[n:])
	return a0 == b1 && a1 == b0
}
