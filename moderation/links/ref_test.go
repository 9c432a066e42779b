package links

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"mvdan.cc/xurls/v2"
)

// refHost is one host xurls.Relaxed finds that Find must find too.
type refHost struct {
	match string // the xurls match, in the NFKC text
	host  string // canonical host
}

var (
	relaxedNoBareV6Once sync.Once
	relaxedNoBareV6     *regexp.Regexp
)

// relaxedWithoutBareIPv6 is xurls.Relaxed without its last alternative,
// the bare IPv6 address. Find does not let a bare IPv6 fragment swallow the
// start of what follows (xurls reads "::evil.com" as "::e" and "vil.com"),
// so the reference for hosts is this expression plus stand-alone IPv6
// addresses.
func relaxedWithoutBareIPv6() *regexp.Regexp {
	relaxedNoBareV6Once.Do(func() {
		p := xurls.Relaxed().String()
		depth, last := 0, -1
		for i := 0; i < len(p); i++ {
			switch p[i] {
			case '\\':
				i++
			case '[':
				for i++; i < len(p) && p[i] != ']'; i++ {
					if p[i] == '\\' {
						i++
					}
				}
			case '(':
				depth++
			case ')':
				depth--
			case '|':
				if depth == 0 {
					last = i
				}
			}
		}
		relaxedNoBareV6 = regexp.MustCompile(p[:last])
		relaxedNoBareV6.Longest()
	})
	return relaxedNoBareV6
}

// reference runs xurls.Relaxed (full, or without the bare IPv6 branch) on
// the NFKC form of text and returns the hosts of its matches, less the
// exclusions documented on the package.
func reference(text string, full bool) []refHost {
	n := norm.NFKC.String(strings.ToValidUTF8(text, "\uFFFD"))
	re := xurls.Relaxed()
	if !full {
		re = relaxedWithoutBareIPv6()
		out := referenceOn(n, re)
		for _, v6 := range standaloneIPv6(n) {
			out = append(out, refHost{v6, canonV6(v6)})
		}
		return out
	}
	return referenceOn(n, re)
}

func canonV6(s string) string {
	h, _ := canonHost("[" + s + "]")
	return h
}

// standaloneIPv6 lists the maximal runs of [0-9a-fA-F:.] delimited by
// non-word characters that are IPv6 addresses of at least three groups.
func standaloneIPv6(n string) []string {
	var out []string
	for i := 0; i < len(n); {
		if !isV6Byte(n[i]) {
			i++
			continue
		}
		j := i
		for j < len(n) && isV6Byte(n[j]) {
			j++
		}
		e := j
		for e > i && n[e-1] == '.' {
			e--
		}
		if (i == 0 || !isWordByte(n[i-1])) && (e == len(n) || !isWordByte(n[e])) && e-i <= 45 {
			if g, ok := validIPv6(n[i:e]); ok && g >= 3 {
				out = append(out, n[i:e])
			}
		}
		i = j
	}
	return out
}

func referenceOn(n string, re *regexp.Regexp) []refHost {
	email := re.SubexpIndex("relaxedEmail")
	var out []refHost
	for _, ix := range re.FindAllStringSubmatchIndex(n, -1) {
		a, b := ix[0], ix[1]
		m := n[a:b]
		var hostText string
		isDomain := false
		switch {
		case ix[2*email] >= 0:
			hostText = m[strings.IndexByte(m, '@')+1:]
		case strings.Contains(m, "://") && isSchemeMatch(m):
			c := strings.Index(m, "://")
			hs, he := authorityHost(m, c+3, len(m))
			hostText = m[hs:he]
		case noAuthScheme(m) != "":
			switch noAuthScheme(m) {
			case "mailto", "xmpp": // found as e-mail addresses
				rest := m[len(noAuthScheme(m))+1:]
				at := strings.IndexByte(rest, '@')
				if at < 0 {
					continue
				}
				h := rest[at+1:]
				if e := strings.IndexAny(h, "?/#"); e >= 0 {
					h = h[:e]
				}
				// only when it is an e-mail address by xurls' own rules
				if le := anchoredDomainEnd(h, 0); le != len(h) {
					continue
				}
				hostText = h
			default:
				continue // hostless URI: documented exclusion
			}
		case m[0] == '[':
			hostText = m[:strings.IndexByte(m, ']')+1]
		case isBareV6(m) && validV6(m):
			// bare IPv6: only stand-alone ones with >= 3 groups are links
			if !isBareV6(m) || (a > 0 && (isWordByte(n[a-1]) || isV6Byte(n[a-1]))) || (b < len(n) && (isWordByte(n[b]) || isV6Byte(n[b]))) {
				continue
			}
			if g, ok := validIPv6(m); !ok || g < 3 {
				continue
			}
			hostText = "[" + m + "]"
		default:
			e := strings.IndexAny(m, ":/")
			if e < 0 {
				e = len(m)
				isDomain = true
			}
			hostText = m[:e]
		}
		host, _ := canonHost(hostText)
		if !validHost(host) {
			continue // documented: not resolvable
		}
		if isDomain && isFileName(host) && !strings.HasPrefix(strings.ToLower(m), "www.") && !strings.Contains(m, "@") {
			continue // documented file-name rule
		}
		out = append(out, refHost{m, host})
	}
	return out
}

func isSchemeMatch(m string) bool {
	c := strings.Index(m, "://")
	for a := 0; a < c; a++ {
		if schemes[strings.ToLower(m[a:c])] {
			return a == 0
		}
	}
	return false
}

func noAuthScheme(m string) string {
	c := strings.IndexByte(m, ':')
	if c < 0 {
		return ""
	}
	s := strings.ToLower(m[:c])
	for _, n := range xurls.SchemesNoAuthority {
		if s == n {
			return n
		}
	}
	return ""
}

func validV6(m string) bool {
	_, ok := validIPv6(m)
	return ok
}

func isBareV6(m string) bool {
	if !strings.Contains(m, ":") {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isV6Byte(m[i]) {
			return false
		}
	}
	return true
}

// TestCharClassesMatchXurls checks the path character classes against the
// classes inside xurls' own expression.
func TestCharClassesMatchXurls(t *testing.T) {
	re, err := syntax.Parse(xurls.Strict().String(), syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	in := func(class []rune, r rune) bool {
		for i := 0; i < len(class); i += 2 {
			if class[i] <= r && r <= class[i+1] {
				return true
			}
		}
		return false
	}
	var mid, end []rune
	var walk func(*syntax.Regexp)
	walk = func(n *syntax.Regexp) {
		if n.Op == syntax.OpCharClass {
			switch {
			case in(n.Rune, '?') && in(n.Rune, '@') && !in(n.Rune, '('):
				mid = n.Rune
			case in(n.Rune, '/') && in(n.Rune, '=') && !in(n.Rune, '?') && !in(n.Rune, '('):
				end = n.Rune
			}
		}
		for _, s := range n.Sub {
			walk(s)
		}
	}
	walk(re)
	if mid == nil || end == nil {
		t.Fatal("classes not found in the xurls expression")
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		var m, e bool
		if r < utf8.RuneSelf {
			m, e = ascii[r]&cMid != 0, ascii[r]&cEnd != 0
		} else {
			m, e = isMidUcs(r), isEndUcs(r)
		}
		if m != in(mid, r) || e != in(end, r) {
			t.Fatalf("U+%04X: mid %v end %v, xurls mid %v end %v", r, m, e, in(mid, r), in(end, r))
		}
	}
}
