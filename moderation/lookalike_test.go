package moderation

import (
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/moderation/links"
	"github.com/chatwarden/chatwarden/moderation/skeleton"
)

// The fast path for ASCII labels gives what skeleton.Skeleton gives.
func TestASCIISkeleton(t *testing.T) {
	for _, l := range []string{"discord", "steamcommunity", "rn0l1-m_", "0123456789", "abcdefghijklmnopqrstuvwxyz", "x-y"} {
		if got, want := labelSkeleton(l), skeleton.Skeleton(l); got != want {
			t.Errorf("labelSkeleton(%q) = %q, skeleton %q", l, got, want)
		}
	}
}

func TestLookalike(t *testing.T) {
	l := NewLookalike([]string{"example-brand.org"}, nil)
	host := func(s string) string {
		found := links.Find("https://" + s + "/")
		if len(found) != 1 {
			t.Fatalf("no host in %q", s)
		}
		return found[0].Host
	}
	for in, want := range map[string]string{
		"dіscord.com":                 "discord.com", // Cyrillic і
		"dіscord-s.com":               "discord.com", // the example: look-alike letters
		"discord-s.com":               "",
		"dlscord.com":                 "discord.com",
		"dicsord.com":                 "discord.com",
		"discordd.gg":                 "discord.com",
		"discord.ru":                  "discord.com",
		"discord.gq":                  "discord.com",
		"dlscord.net":                 "discord.com",
		"discorb.gift":                "discord.com",
		"steamcommunlty.com":          "steamcommunity.com",
		"stearncommunity.com":         "steamcommunity.com",
		"steamcommunity.com-trade.ru": "steamcommunity.com",
		"discord.com.example.ru":      "discord.com",
		"discord.com.ru":              "discord.com",
		"t.me.join-chat.ru":           "t.me",
		"discord-nitro.com":           "discord.com",
		"free-discord-nitro.xyz":      "discord.com",
		"discordnitro.ru":             "discord.com",
		"discordgift.site":            "discord.com",
		"nitro.discord-app.ru":        "discordapp.com",
		"gift.discord.example.ru":     "discord.com",
		"telegram-login.xyz":          "telegram.org",
		"teiegram.org":                "telegram.org",
		"dіscord.pages.dev":           "discord.com",
		"exarnple-brand.org":          "example-brand.org",
		"t.rne":                       "t.me",
		// never matched
		"discord.com": "", "cdn.discordapp.com": "", "media.discordapp.net": "", "ptb.discord.com": "",
		"t.me": "", "telegra.ph": "", "store.steampowered.com": "", "example-brand.org": "",
		"discord.js.org": "", "discordpy.readthedocs.io": "", "t.co": "", "discogs.com": "",
		"telegraph.co.uk": "", "google.com": "", "steamdb.info": "", "nitro.gift": "", "disboard.org": "",
		"free-gift.com": "", "telegraf.io": "", "1.2.3.4": "", "github.com": "", "top.gg": "",
	} {
		if got := l.Match(host(in)); got != want {
			t.Errorf("Match(%s = %s) = %q, want %q", in, host(in), got, want)
		}
	}
}

func TestOneEdit(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"discord", "discord", true}, {"dicsord", "discord", true}, {"discrd", "discord", true},
		{"disccord", "discord", true}, {"dixcord", "discord", true}, {"idscrod", "discord", false},
		{"дiscord", "discord", true}, {"ab", "ba", true}, {"abc", "cba", false},
	} {
		if got := oneEdit(c.a, c.b); got != c.want {
			t.Errorf("oneEdit(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// BenchmarkLookalike is the look-alike check of one found link, over the
// hosts of the benign set and the typosquat set (what a message yields
// after links.Find).
func BenchmarkLookalike(b *testing.B) {
	var hosts []string
	for _, set := range []string{"testdata/benign_domains.txt", typosquatFile} {
		t := &testing.T{}
		for _, l := range readLines(t, set) {
			if _, h, ok := strings.Cut(l, " "); ok {
				l = h
			}
			if found := links.Find("https://" + l + "/"); len(found) == 1 {
				hosts = append(hosts, found[0].Host)
			}
		}
	}
	l := NewLookalike(nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Match(hosts[i%len(hosts)])
	}
}
