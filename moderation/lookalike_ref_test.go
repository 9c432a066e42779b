package moderation

// A copy of the look-alike rule as it was before it was made fast
// (commit c10d3cd), kept as the reference the fast one must agree with:
// TestLookalikeAgreesWithReference.

import (
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/chatwarden/chatwarden/moderation/skeleton"
)

type refLookalike struct {
	brands   []refBrand
	official []string // protected and official domains, canonical
	bait     []string // bait words' skeletons
}

type refBrand struct {
	domain string // as protected, canonical: "discord.com"
	raw    string // the label left of the public suffix, as written: "discord"
	skel   string // skeleton of the domain, label by label: "discord.corn"
	name   string // skeleton of the label left of the public suffix: "discord"
	suffix string // skeleton of the public suffix: "corn"
	fuzzy  bool   // the domain has MinFuzzyLen or more characters
	fuzzyN bool   // the name has MinFuzzyLen or more characters
}

// refNewLookalike returns the rule for the built-in brands plus protected,
// with DefaultBaitWords plus bait as the bait words. Entries that are not
// domains are ignored.
func refNewLookalike(protected, bait []string) *refLookalike {
	bait = append(slices.Clone(DefaultBaitWords), bait...)
	l := &refLookalike{}
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
		b := refBrand{domain: d, raw: name, skel: refHostSkeleton(d), name: refLabelSkeleton(name), suffix: refHostSkeleton(suffix)}
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
			l.bait = append(l.bait, refLabelSkeleton(w))
		}
	}
	return l
}

// Match returns the protected domain host is made to look like, or "".
// host is in the form links reports it (lower case, punycode).
func (l *refLookalike) Match(host string) string {
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
	pre := refSplitLabels(host[:len(host)-len(suffix)-1], buf[:0])
	skels := make([]string, len(pre))
	for i, p := range pre {
		skels[i] = refLabelSkeleton(p)
	}
	sufSkel := refHostSkeleton(suffix)
	last := skels[len(skels)-1]
	reg := last + "." + sufSkel
	// The label left of a private suffix (name.github.io): a homoglyph of
	// a refBrand's name there is a look-alike, the plain name is not.
	privIdx := -1
	if private != "" {
		privIdx = len(pre) - 1 - strings.Count(private[:len(private)-len(suffix)-1], ".") - 1
	}
	for bi := range l.brands {
		b := &l.brands[bi]
		// registrable domain like the refBrand's
		if reg == b.skel || b.fuzzy && refOneEdit(reg, b.skel) {
			return b.domain
		}
		// The skeleton turns m into rn, so that stemcommunity is two
		// edits from the refBrand's skeleton; it is one from the refBrand.
		if b.fuzzy && suffix == b.domain[len(b.raw)+1:] && refOneEdit(pre[len(pre)-1], b.raw) {
			return b.domain
		}
		if b.fuzzyN {
			// registrable label like the refBrand's name, any suffix
			if privIdx < 0 && (last == b.name || refOneEdit(last, b.name)) {
				return b.domain
			}
			if privIdx >= 0 && skels[privIdx] == b.name && pre[privIdx] != b.name {
				return b.domain
			}
		}
		// the refBrand's domain followed by another domain
		for i := range skels {
			if !(skels[i] == b.name || b.fuzzyN && refOneEdit(skels[i], b.name)) {
				continue
			}
			if refFollowedBy(skels[i+1:], sufSkel, b.suffix) {
				return b.domain
			}
		}
	}
	// a refBrand's name with bait words
	return l.baited(pre, skels)
}

// refFollowedBy reports whether the labels rest, then suffix, start with the
// refBrand suffix bs followed by "." or "-" (com.example.ru, com-trade.ru).
func refFollowedBy(rest []string, suffix, bs string) bool {
	tail := suffix
	if len(rest) > 0 {
		tail = strings.Join(rest, ".") + "." + suffix
	}
	return len(tail) > len(bs) && strings.HasPrefix(tail, bs) && (tail[len(bs)] == '.' || tail[len(bs)] == '-')
}

// baited returns the refBrand whose name is in skels next to a bait word,
// or spelt with look-alike letters (dіscord-s.com, with a Cyrillic і:
// nobody writes that by accident). pre are the labels as written.
func (l *refLookalike) baited(pre, skels []string) string {
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
				case part == b.name || b.fuzzyN && refOneEdit(part, b.name):
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

func (l *refLookalike) isBait(s string) bool {
	for _, w := range l.bait {
		if s == w || len(s) == len(w)+1 && s[len(s)-1] == 's' && strings.HasPrefix(s, w) {
			return true
		}
	}
	return false
}

// baitWords reports whether s is one or more bait words run together.
func (l *refLookalike) baitWords(s string) bool {
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

func refSplitLabels(s string, out []string) []string {
	for {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// refLabelSkeleton returns the skeleton of one label of a canonical host:
// punycode decoded, then UTS #39 (skeleton.Skeleton), with a fast path for
// plain ASCII labels.
func refLabelSkeleton(label string) string {
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

// refHostSkeleton returns the skeleton of a host, label by label.
func refHostSkeleton(host string) string {
	var buf [8]string
	labels := refSplitLabels(host, buf[:0])
	for i, l := range labels {
		labels[i] = refLabelSkeleton(l)
	}
	return strings.Join(labels, ".")
}

// refOneEdit reports whether a and b are one edit apart or equal: an
// insertion, deletion, substitution or transposition of adjacent runes.
// It does not allocate: it is run for every refBrand on every link.
func refOneEdit(a, b string) bool {
	if d := len(a) - len(b); d > utf8.UTFMax || d < -utf8.UTFMax {
		return false
	}
	// One edit leaves the first or the last rune alone (strings of three
	// runes or more): the common case, a name unlike the refBrand, ends here.
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
