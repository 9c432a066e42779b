package httpapi

import (
	"unicode"
	"unicode/utf8"
)

// A small word diff for the before/after view of edits: both texts are
// split into words and the spaces between them, and the longest common
// subsequence of those tokens is kept; the rest is marked removed (<del>)
// or added (<ins>).

// diffPart is a run of text that is the same, removed or added.
type diffPart struct {
	Op   byte // '=', '-' or '+'
	Text string
}

// maxDiffTokens bounds the table (tokens of each side); longer texts are
// shown as wholly removed and added.
const maxDiffTokens = 1500

// tokens splits s into runs of spaces and runs of other characters.
func tokens(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if i > start {
			prev, _ := utf8.DecodeLastRuneInString(s[:i])
			if unicode.IsSpace(prev) != unicode.IsSpace(r) {
				out = append(out, s[start:i])
				start = i
			}
		}
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// wordDiff returns the parts of before and after, in order: what both
// share ('='), what only before has ('-') and what only after has ('+').
func wordDiff(before, after string) []diffPart {
	a, b := tokens(before), tokens(after)
	if len(a) > maxDiffTokens || len(b) > maxDiffTokens {
		return merge(nil, []diffPart{{'-', before}, {'+', after}})
	}
	// lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffPart
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			out = merge(out, []diffPart{{'=', a[i]}})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = merge(out, []diffPart{{'-', a[i]}})
			i++
		default:
			out = merge(out, []diffPart{{'+', b[j]}})
			j++
		}
	}
	for ; i < len(a); i++ {
		out = merge(out, []diffPart{{'-', a[i]}})
	}
	for ; j < len(b); j++ {
		out = merge(out, []diffPart{{'+', b[j]}})
	}
	return out
}

// merge appends parts, joining a part to the previous one of its kind.
func merge(out, parts []diffPart) []diffPart {
	for _, p := range parts {
		if p.Text == "" {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Op == p.Op {
			out[n-1].Text += p.Text
			continue
		}
		out = append(out, p)
	}
	return out
}

// sides splits a diff into the before side (same and removed) and the
// after side (same and added).
func sides(parts []diffPart) (before, after []diffPart) {
	for _, p := range parts {
		if p.Op != '+' {
			before = append(before, p)
		}
		if p.Op != '-' {
			after = append(after, p)
		}
	}
	return before, after
}

// Del and Ins tell the template how to mark a part.
func (p diffPart) Del() bool { return p.Op == '-' }
func (p diffPart) Ins() bool { return p.Op == '+' }
