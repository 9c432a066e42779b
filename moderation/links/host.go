package links

import (
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// validHost reports whether a canonical host can be a DNS name or address:
// at most 253 bytes, labels at most 63 bytes.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for len(h) > 0 {
		i := strings.IndexByte(h, '.')
		if i < 0 {
			i = len(h)
		}
		if i > 63 {
			return false
		}
		h = h[min(i+1, len(h)):]
	}
	return true
}

// canonHost returns the lowercase ASCII form of a host as matched (IDN
// labels in punycode, no trailing dot, IPv6 without brackets in canonical
// form), and whether undoing an evasion was needed (percent-encoding,
// default-ignorable characters, ideographic full stops).
func canonHost(h string) (host string, evasive bool) {
	if h == "" {
		return "", false
	}
	if h[0] == '[' {
		inner := strings.TrimSuffix(h[1:], "]")
		if a, err := netip.ParseAddr(inner); err == nil && a.Is6() && a.Zone() == "" {
			return a.String(), false
		}
		h = inner // not an address: treat it as a name
		if h == "" {
			return "", false
		}
	}
	if strings.IndexByte(h, '%') >= 0 {
		if d, err := url.PathUnescape(h); err == nil && utf8.ValidString(d) && d != "" {
			h, evasive = d, true
		}
	}
	if isASCII(h) {
		h = strings.TrimRight(strings.ToLower(h), ".")
		return h, evasive
	}
	// UTS #46-like mapping: drop default-ignorables, map the ideographic full
	// stops to ".", NFKC, lower case; then punycode each non-ASCII label.
	var b strings.Builder
	for _, r := range h {
		switch {
		case isDI(r):
			evasive = true
		case r == ideographicStop || r == 0xFF0E || r == 0xFF61 || r == 0xFE12:
			evasive = true
			b.WriteByte('.')
		default:
			b.WriteRune(r)
		}
	}
	m := norm.NFKC.String(b.String())
	b.Reset()
	for _, r := range m {
		b.WriteRune(unicode.ToLower(r))
	}
	m = strings.TrimRight(norm.NFC.String(b.String()), ".")
	labels := strings.Split(m, ".")
	for i, l := range labels {
		if len(l) > 4*63 {
			return "", evasive // too long for DNS; spare the quadratic encoder
		}
		if !isASCII(l) {
			labels[i] = "xn--" + punycode(l)
		}
	}
	return strings.Join(labels, "."), evasive
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// punycode encodes a label per RFC 3492 (without the "xn--" prefix).
func punycode(label string) string {
	const (
		base        = 36
		tmin        = 1
		tmax        = 26
		skew        = 38
		damp        = 700
		initialBias = 72
		initialN    = 128
	)
	runes := []rune(label)
	out := make([]byte, 0, len(label)+8)
	for _, r := range runes {
		if r < 0x80 {
			out = append(out, byte(r))
		}
	}
	b := len(out)
	h := b
	if b > 0 {
		out = append(out, '-')
	}
	digit := func(d int) byte {
		if d < 26 {
			return byte('a' + d)
		}
		return byte('0' + d - 26)
	}
	adapt := func(delta, numPoints int, first bool) int {
		if first {
			delta /= damp
		} else {
			delta /= 2
		}
		delta += delta / numPoints
		k := 0
		for delta > ((base-tmin)*tmax)/2 {
			delta /= base - tmin
			k += base
		}
		return k + (base-tmin+1)*delta/(delta+skew)
	}
	n, delta, bias := rune(initialN), 0, initialBias
	for h < len(runes) {
		m := rune(utf8.MaxRune + 1)
		for _, r := range runes {
			if r >= n && r < m {
				m = r
			}
		}
		delta += int(m-n) * (h + 1)
		n = m
		for _, r := range runes {
			if r < n {
				delta++
			}
			if r != n {
				continue
			}
			q := delta
			for k := base; ; k += base {
				t := k - bias
				if t < tmin {
					t = tmin
				} else if t > tmax {
					t = tmax
				}
				if q < t {
					break
				}
				out = append(out, digit(t+(q-t)%(base-t)))
				q = (q - t) / (base - t)
			}
			out = append(out, digit(q))
			bias = adapt(delta, h+1, h == b)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return string(out)
}

// HostMatches reports whether host is domain or one of its subdomains, on
// label boundaries: "evil.com" covers "evil.com" and "a.evil.com" but not
// "notevil.com". Both sides are compared in their canonical form (lower
// case, punycode, no trailing dot), and a leading "*." or "." on domain is
// ignored, so list entries may be written either way.
func HostMatches(host, domain string) bool {
	domain = strings.TrimSpace(domain)
	domain = strings.TrimPrefix(domain, "*.")
	domain = strings.TrimPrefix(domain, ".")
	domain, _ = canonHost(domain)
	host, _ = canonHost(strings.TrimSpace(host))
	if domain == "" || host == "" {
		return false
	}
	return host == domain ||
		len(host) > len(domain) && strings.HasSuffix(host, domain) && host[len(host)-len(domain)-1] == '.'
}

// fileExtTLDs are real TLDs that are also common file extensions. A bare
// name.ext with one of these (no scheme, no port, no path, no "www."
// prefix, not obfuscated) is taken for a file name, not a link.
var fileExtTLDs = map[string]bool{
	"md": true, "py": true, "sh": true, "zip": true, "mov": true, "rs": true,
	"pl": true, "ps": true, "pm": true, "so": true, "ml": true, "mk": true,
	"gd": true, "tf": true,
}

func isFileName(host string) bool {
	tld := host[strings.LastIndexByte(host, '.')+1:]
	return fileExtTLDs[tld]
}

// invite recognises Discord and Telegram invite links from a canonical host
// and the rest of the URL after the host and port.
func invite(host, rest string) *Invite {
	host = strings.TrimPrefix(host, "www.")
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if !strings.HasPrefix(rest, "/") {
		return nil
	}
	seg := strings.Split(rest[1:], "/")
	switch host {
	case "discord.gg":
		return code("discord", seg[0])
	case "discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com":
		if len(seg) > 1 && seg[0] == "invite" {
			return code("discord", seg[1])
		}
	case "t.me", "telegram.me", "telegram.dog":
		first := seg[0]
		if strings.HasPrefix(strings.ToLower(first), "%2b") {
			first = "+" + first[3:]
		}
		if strings.HasPrefix(first, "+") {
			return code("telegram", first[1:])
		}
		if first == "joinchat" && len(seg) > 1 {
			return code("telegram", seg[1])
		}
	}
	return nil
}

func code(platform, s string) *Invite {
	n := 0
	for n < len(s) && (isASCIIAlnum(s[n]) || s[n] == '-' || s[n] == '_') {
		n++
	}
	if n == 0 {
		return nil
	}
	return &Invite{Platform: platform, Code: s[:n]}
}
