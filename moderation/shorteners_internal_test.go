package moderation

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/clock"
)

// Only http(s) URLs on a known shortener, on the default port and
// without user info, are requested.
func TestFollowable(t *testing.T) {
	for u, want := range map[string]bool{
		"http://bit.ly/x": true, "https://bit.ly/x": true, "https://www.bit.ly/x": true, "https://BIT.LY/x": true,
		"https://bit.ly./x": true, "http://bit.ly:80/x": true, "https://t.co:443/x": true,
		"https://bit.ly:8080/x": false, "http://bit.ly:443/x": false, "https://user@bit.ly/x": false,
		"ftp://bit.ly/x": false, "https://bit.ly.evil.com/x": false, "https://evilbit.ly/x": false,
		"http://127.0.0.1/x": false, "http://[::1]/x": false, "https://example.com/bit.ly": false,
		"javascript:alert(1)": false,
	} {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := followable(p); got != want {
			t.Errorf("followable(%s) = %v, want %v", u, got, want)
		}
	}
}

// The cache holds CacheSize resolutions at most, dropping expired ones
// first.
func TestResolverCacheBounded(t *testing.T) {
	r := newResolver(ShortenerOptions{CacheSize: 3}, clock.System)
	now := time.Now()
	r.remember("old", resolved{expires: now.Add(-time.Second)})
	for i := range 10 {
		r.remember("u"+strconv.Itoa(i), resolved{expires: now.Add(time.Hour)})
		if len(r.cache) > 3 {
			t.Fatalf("%d entries after %d, want 3 at most", len(r.cache), i+1)
		}
		if _, ok := r.cache["old"]; ok && i >= 2 { // the cache was full at u2
			t.Fatal("an expired entry kept while live ones were dropped")
		}
	}
	if _, ok := r.cache["u9"]; !ok {
		t.Error("the newest entry was not kept")
	}
}
