package links

import "testing"

// FuzzFind checks, for any input up to 64 KiB: no panic, every host
// non-empty lower-case ASCII, Has agreeing with Find, and Find's hosts a
// superset of those xurls.Relaxed finds in the NFKC form of the input (less
// the exclusions documented on the package).
func FuzzFind(f *testing.F) {
	for i, cl := range corpus() {
		if cl.host != "" || i%500 == 0 {
			f.Add(cl.text)
		}
		if i > 3000 {
			break
		}
	}
	for _, s := range []string{
		"evil[.]com", "hxxps[:]//evil(dot)com/x", "ｅｖｉｌ．ｃｏｍ", "evil。com", "e\u200bvil.com", "evil dot co dot uk",
		"[x](https://a.b/c_(d))", "<https://x.com>", "2001:db8::1", "[::1]:80/x", "bob@пример.рф", "xn--p1ai.xn--p1ai",
		"\xff\xfe.com", "a\u0308.com", "1.2.3.4.5", "::evil.com", "std::vector",
		"我买了iPhone。公司发的", "freenitro3 dot me", "a dot in.", "hypesquad.ml", "x。\u200bcom", "3.0.0.Final",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64<<10 {
			t.Skip("input too long for the reference matcher's time")
		}
		checkAgainstReference(t, s)
	})
}
