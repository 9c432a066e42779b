package store

import "testing"

func TestIDEncodingRoundTrip(t *testing.T) {
	for _, s := range []string{"", "0", "1", "007", "-0", "-1001234567890", "123456789012345678",
		"18446744073709551615", "18446744073709551616", "-", "abc", "12a", "+5", " 5", "-007"} {
		b := appendID(nil, s)
		r := reader{b: b}
		var d decoder
		var got string
		d.id(&r, &got)
		d.finish()
		if got != s || r.err != nil || len(r.b) != 0 {
			t.Errorf("id %q: decoded %q (err %v, %d left)", s, got, r.err, len(r.b))
		}
	}
	if n := len(appendID(nil, "123456789012345678")); n > 10 {
		t.Errorf("a snowflake takes %d bytes, want at most 10", n)
	}
}
