package skeleton

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileNames are 4,000-character names built to be slow or to hide a
// protected name: combining marks, zero-width runs, right-to-left
// overrides, and mixes of them around "Admin".
var hostileNames = map[string]string{
	"combining marks":  "Admin" + strings.Repeat("\u0301\u0308\u0323", 1333),
	"zero-width run":   "A" + strings.Repeat("\u200b\u200c\u200d\u2060\ufeff", 800) + "dmin",
	"rtl overrides":    strings.Repeat("\u202e\u2066", 2000) + "Admin",
	"marks only":       strings.Repeat("\u0345\u0301", 2000),
	"spaces":           strings.Repeat(" \u3000\t", 1333) + "Admin",
	"expanding ligs":   strings.Repeat("ﬃ", 4000),
	"mathematical":     strings.Repeat("𝐀𝐝𝐦𝐢𝐧", 800),
	"mentions as name": strings.Repeat("@everyone<@&123>", 250),
}

// TestHostileNames checks that every hostile name finishes (the test
// binary's timeout is the bound, not a timed assertion), gives a valid,
// idempotent skeleton no longer than a small multiple of the input, and
// that names hiding "Admin" behind invisible characters still match it
// (combining marks are kept by design: an accented name is another name).
func TestHostileNames(t *testing.T) {
	for label, name := range hostileNames {
		k := Skeleton(name)
		if !utf8.ValidString(k) {
			t.Errorf("%s: skeleton not UTF-8", label)
		}
		if Skeleton(k) != k {
			t.Errorf("%s: skeleton not idempotent", label)
		}
		if len(k) > 4*len(name) {
			t.Errorf("%s: skeleton of %d bytes from %d", label, len(k), len(name))
		}
		m, _, _ := Confusable(name, "Admin")
		if want := label == "zero-width run" || label == "rtl overrides" || label == "spaces"; want && !m {
			t.Errorf("%s: hides Admin from Confusable (skeleton %.40q)", label, k)
		}
	}
}

// BenchmarkHostileNames measures the skeleton and the comparison of the
// hostile names, for `go test -bench Hostile` by hand.
func BenchmarkHostileNames(b *testing.B) {
	for label, name := range hostileNames {
		b.Run(strings.ReplaceAll(label, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				Confusable(name, "Admin")
			}
		})
	}
}
