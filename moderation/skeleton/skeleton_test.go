package skeleton

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestConfusable(t *testing.T) {
	tests := []struct {
		name, protected string
		want            bool
	}{
		// Latin vs Cyrillic
		{"\u0410dmin", "Admin", true},                       // Cyrillic А
		{"\u0440\u0430\u0443\u0440\u0430l", "paypal", true}, // раураl
		{"\u0421\u0435\u0440\u0435\u0433\u0430", "Cepera", true},
		// Greek
		{"\u0391dmin", "Admin", true},                      // Greek Alpha
		{"R\u03bfbert", "Robert", true},                    // omicron
		{"\u0392\u039f\u0392", "BOB", true},                // Greek capitals
		{"\u0412\u041e\u0412", "Bob", true},                // Cyrillic ВОВ
		{"\u041d\u0415LL\u041e", "HELLO", true},            // Cyrillic Н, Е, О
		{"\u041d\u0415\u041b\u041b\u041e", "HELLO", false}, // Л does not look like L
		// full-width, mathematical, circled
		{"\uff21\uff44\uff4d\uff49\uff4e", "Admin", true},
		{"\U0001d400\U0001d41d\U0001d426\U0001d422\U0001d427", "Admin", true},
		{"\u24b6\u24d3\u24dc\u24d8\u24dd", "Admin", true},
		// invisible characters inside
		{"Ad\u200dmin", "Admin", true},
		{"A\u200bd\u00admi\u2060n\ufe0f", "Admin", true},
		{"\u202eAdmin", "Admin", true},
		// case
		{"ADMIN", "Admin", true},
		{"admin", "ADMIN", true},
		// rn vs m: confusables.txt maps m to rn
		{"adrnin", "admin", true},
		{"Rn", "M", true},
		// digits and letters
		{"B0B", "BOB", true},
		{"b0b", "bob", true},
		{"Pau1", "Paul", true},
		{"Pau|", "Paul", true},
		{"AIice", "Alice", true}, // capital I looks like l
		{"PauI", "Paul", true},
		{"Iris", "lris", true},
		// accents and combining marks
		{"Admi\u0301n", "Admín", true},
		// white space
		{"  Ad   min ", "Ad min", true},
		{"Ad min", "Admin", true}, // skeletons differ by one inserted space
		{"A d m i n", "Admin", false},
		// one edit away, long names only
		{"Admins", "Admin", true},
		{"Adnin", "Admin", true}, // adnin vs adrnin: one edit
		{"Moderator", "Moderat0r", true},
		{"Bob", "Rob", false},
		{"Rob", "Bob", false},
		{"Adam", "Admin", false},
		{"Alice", "Bob", false},
		{"Administrator", "Admin", false},
		// empty skeletons never match
		{"", "", false},
		{"\u200b\u200d", "", false},
		{"\u200b", "\u200c", false},
		{"x", "", false},
	}
	for _, tt := range tests {
		got, ns, ps := Confusable(tt.name, tt.protected)
		if got != tt.want {
			t.Errorf("Confusable(%q, %q) = %v (skeletons %q, %q), want %v", tt.name, tt.protected, got, ns, ps, tt.want)
		}
	}
}

func TestSkeleton(t *testing.T) {
	for in, want := range map[string]string{
		"Admin":        "adrnin",
		"ADMIN":        "adrnin",
		"0":            "o",
		"O":            "o",
		"1":            "l",
		"l":            "l",
		"|":            "l",
		"I":            "i",
		" a \t b  ":    "a b",
		"\u200b":       "",
		"\xff":         "\ufffd",
		"ﬁ":            "fi",
		"\u2163":       "iv", // Roman numeral four
		"\u0430\u0435": "ae",
	} {
		if got := Skeleton(in); got != want {
			t.Errorf("Skeleton(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSkeletonIdempotent checks Skeleton(Skeleton(x)) == Skeleton(x) for
// every source and target of confusables.txt, alone and in context.
func TestSkeletonIdempotent(t *testing.T) {
	check := func(s string) {
		k := Skeleton(s)
		if k2 := Skeleton(k); k2 != k {
			t.Errorf("Skeleton(%q) = %q, but Skeleton(%q) = %q", s, k, k, k2)
		}
	}
	for i, src := range confSources {
		tgt := confTargets[i]
		check(string(rune(src)))
		check(confData[tgt>>8 : tgt>>8+tgt&0xFF])
		check("A" + string(rune(src)) + "e")
	}
}

// TestTablesUpToDate checks that tables.go was generated from the
// confusables.txt beside it: the checksum, and every mapping.
func TestTablesUpToDate(t *testing.T) {
	data, err := os.ReadFile("confusables.txt")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != confusablesSHA256 {
		t.Fatalf("confusables.txt has SHA-256 %s, tables.go was made from %s: run go generate", got, confusablesSHA256)
	}
	if !strings.Contains(string(data), "# Version: "+confusablesVersion+"\n") {
		t.Errorf("confusables.txt is not version %s", confusablesVersion)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Split(line, ";")
		if len(f) < 3 {
			continue
		}
		src, err := strconv.ParseUint(strings.TrimSpace(f[0]), 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		var want []rune
		for _, h := range strings.Fields(f[1]) {
			r, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, rune(r))
		}
		if got, ok := prototype(rune(src)); !ok || got != string(want) {
			t.Errorf("U+%04X maps to %q, want %q", src, got, string(want))
		}
		n++
	}
	if n != len(confSources) {
		t.Errorf("confusables.txt has %d mappings, tables.go %d", n, len(confSources))
	}
}

// TestDefaultIgnorable checks the generated Default_Ignorable_Code_Point
// table against the size of the property in Unicode 17.0 and against its
// derivation (Other_Default_Ignorable_Code_Point + Cf + Variation_Selector
// - White_Space - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark)
// over the Go unicode tables, which may be of an older version.
func TestDefaultIgnorable(t *testing.T) {
	n := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		in := unicode.Is(DefaultIgnorable, r)
		if in {
			n++
		}
		assigned := unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
		derived := (unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
			unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Cf, r)) &&
			!unicode.Is(unicode.White_Space, r) && !(r >= 0xFFF9 && r <= 0xFFFB) &&
			!(r >= 0x13430 && r <= 0x1343F) && !unicode.Is(unicode.Prepended_Concatenation_Mark, r)
		if derived && !in {
			t.Errorf("U+%04X is default-ignorable but not in the table", r)
		}
		if in && !derived && assigned {
			t.Errorf("U+%04X is in the table but not default-ignorable", r)
		}
	}
	if n != 4174 {
		t.Errorf("%d default-ignorable code points, Unicode 17.0 has 4174", n)
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"admin", "adrnin", 2}, {"пример", "прнмер", 1}, {"ab", "ba", 2},
		{"aab", "ab", 1}, {"abc", "abd", 1}, {"abc", "xabc", 1}, {"日本語", "日本", 1},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
		if got := Distance(tt.b, tt.a); got != tt.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.d)
		}
		if got := Within1(tt.a, tt.b); got != (tt.d <= 1) {
			t.Errorf("Within1(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func BenchmarkSkeleton(b *testing.B) {
	names := []string{"Admin", "\u0410dmin", "𝐀𝐝𝐦𝐢𝐧", "Ad\u200dmin", "Модератор", "小明", "Jean-François", "xX_Sniper_Xx 🔥"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Skeleton(names[i%len(names)])
	}
}

func BenchmarkConfusable(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Confusable("\u0410dm\u0131n", "Admin")
	}
}

// FuzzSkeleton checks, for inputs up to 4 KiB: no panic, valid UTF-8 out,
// idempotence, a name confusable with itself whenever its skeleton is not
// empty, and Within1 agreeing with Distance.
func FuzzSkeleton(f *testing.F) {
	for _, s := range []string{"Admin", "\u0410dmin", "ADMIN", "adrnin", "B0B", "Ad\u200dmin", "𝐀𝐝𝐦𝐢𝐧", "\xff", " a  b ", "ﬃ", "\u0345\u0301"} {
		f.Add(s, "Admin")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4<<10 || len(b) > 4<<10 {
			t.Skip()
		}
		k := Skeleton(a)
		if !utf8.ValidString(k) {
			t.Fatalf("Skeleton(%q) = %q, not UTF-8", a, k)
		}
		if k2 := Skeleton(k); k2 != k {
			t.Fatalf("Skeleton(%q) = %q, Skeleton of that = %q", a, k, k2)
		}
		if m, _, _ := Confusable(a, a); m != (k != "") {
			t.Fatalf("Confusable(%q, itself) = %v", a, m)
		}
		if len(a) <= 256 && len(b) <= 256 {
			if Within1(a, b) != (Distance(a, b) <= 1) {
				t.Fatalf("Within1(%q, %q) = %v, Distance = %d", a, b, Within1(a, b), Distance(a, b))
			}
		}
	})
}
