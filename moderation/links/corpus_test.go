package links

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"
	"mvdan.cc/xurls/v2"
)

// The benchmark corpus: realistic chat lines in English, French, Spanish,
// Hindi, Russian, Chinese and Arabic, with emoji, mentions, numbers, prices,
// times, file names and abbreviations; about 5% carry a link, a third of
// those obfuscated. It is generated from a fixed seed, so every run sees the
// same messages.

type corpusLine struct {
	text string
	host string // host of the planted link, "" for none
}

var templates = [][]string{
	{ // English
		"hey {name}, are we still meeting at {time}?",
		"lol that was amazing {emoji}",
		"the coffee costs ${price} now, crazy",
		"can someone review {file}? I changed {num} lines",
		"{mention} thanks! e.g. the fix in v1.2.3 works {emoji}",
		"I'll be there around {time} a.m. or so",
		"pi is roughly 3.14, i.e. not exactly",
		"Mr.Smith said the deadline is 2024-05-01",
		"ok. Let's go... wait. What?",
		"update: {num} users online, 99.9% uptime",
		"gg wp {mention} that was close {emoji}{emoji}",
		"who broke {file} again?? (asking for a friend)",
		"brb 5 min",
		"U.S. servers are down since {time}, EU is fine",
		"see chapter 3.2 and fig. 4 for details",
	},
	{ // French
		"Salut {name}, on se voit à {time} ?",
		"Ça coûte {price} €, c'est cher !",
		"J'ai modifié {file} hier soir.",
		"Merci {mention} ! C'est-à-dire, vraiment. {emoji}",
		"Réunion demain à {time}, n'oubliez pas.",
		"Bonne nuit tout le monde… à demain",
	},
	{ // Spanish
		"¿Qué tal {name}? Nos vemos a las {time}.",
		"El precio es {price} €, ¡qué barato!",
		"Revisa {file} por favor, gracias.",
		"Jajaja {emoji} buenísimo",
		"Son las {time} y todavía no llega el Sr. Pérez",
	},
	{ // Hindi
		"नमस्ते {name}, आप कैसे हैं?",
		"मीटिंग {time} बजे है, देर मत करना।",
		"इसकी कीमत ₹{price} है।",
		"धन्यवाद {mention} {emoji}",
		"मैंने {file} में बदलाव किया है।",
		"क्या आज शाम को खेलेंगे? {emoji}",
	},
	{ // Russian
		"Привет, {name}! Как дела?",
		"Встреча в {time}, не опаздывайте.",
		"Цена {price} руб., дёшево.",
		"Посмотри {file}, пожалуйста.",
		"Спасибо {mention} {emoji}",
		"т.е. всё работает, см. выше",
	},
	{ // Chinese
		"大家好，今天下午{time}开会，不要迟到！",
		"这个多少钱？{price}元。",
		"谢谢{mention}！{emoji}",
		"我改了{file}，请看一下。",
		"明天见。晚安！",
		"第3.5版已经发布了，大家更新一下。",
	},
	{ // Arabic
		"مرحبا {name}، كيف حالك؟",
		"الاجتماع الساعة {time}.",
		"السعر {price} دولار.",
		"شكرا {mention} {emoji}",
		"راجع {file} من فضلك.",
	},
}

var linkTemplates = []string{
	"check this out {link}",
	"join us: {link} {emoji}",
	"{link} ← free nitro",
	"voir {link} pour les détails",
	"mira {link}",
	"смотри {link}",
	"看这个 {link}",
	"यह देखो {link}",
	"انظر {link}",
	"[click here]({link})",
	"<{link}>",
	"{mention} {link}",
}

type plant struct{ link, host string }

var plainLinks = []plant{
	{"https://example.com/path?q=1", "example.com"},
	{"www.google.com", "www.google.com"},
	{"github.com/chatwarden/chatwarden", "github.com"},
	{"https://discord.gg/abc123", "discord.gg"},
	{"discord.com/invite/xyz789", "discord.com"},
	{"t.me/+AbCdEf123", "t.me"},
	{"https://t.me/joinchat/AAAAbbbb", "t.me"},
	{"пример.рф", "xn--e1afmkfd.xn--p1ai"},
	{"http://münchen.de/", "xn--mnchen-3ya.de"},
	{"bob@example.org", "example.org"},
	{"192.168.1.1:8080", "192.168.1.1"},
	{"https://[2001:db8::1]/x", "2001:db8::1"},
	{"youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
	{"http://free-nitro.xyz", "free-nitro.xyz"},
	{"steamcommunity.com/gift/123", "steamcommunity.com"},
	{"https://en.wikipedia.org/wiki/Go_(programming_language)", "en.wikipedia.org"},
}

var obfuscatedLinks = []plant{
	{"evil[.]com", "evil.com"},
	{"evil dot com", "evil.com"},
	{"ｅｖｉｌ．ｃｏｍ/ｘ", "evil.com"},
	{"evil。com", "evil.com"},
	{"ev\u200bil.com", "evil.com"},
	{"hxxps://evil[.]com/x", "evil.com"},
	{"discord(.)gg/abc", "discord.gg"},
	{"free-nitro . ru", "free-nitro.ru"},
	{"d\u00adiscord.gg/xyz", "discord.gg"},
	{"steam\u200dcommunity(dot)com", "steamcommunity.com"},
}

var fillers = map[string][]string{
	"name":    {"Alice", "Bob", "Chloé", "Raj", "Маша", "小明", "أحمد", "José"},
	"time":    {"10:30", "9:05", "18:45", "12:00", "7:15"},
	"price":   {"3.50", "12.99", "0.75", "1,200", "49.90"},
	"file":    {"README.md", "setup.py", "main.go", "index.html", "photo.jpg", "notes.txt", "deploy.sh", "config.yaml", "v1.2.3", "data.zip"},
	"emoji":   {"😂", "👍🏽", "❤️", "🎉", "🙏", "🔥", "👨‍👩‍👧"},
	"mention": {"@alice", "<@123456789012345678>", "@bob_99", "@everyone"},
	"num":     {"3", "42", "128", "1000", "7"},
}

func fill(rng *rand.Rand, tmpl string, link string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		b.WriteString(tmpl[:i])
		key := tmpl[i+1 : i+j]
		if key == "link" {
			b.WriteString(link)
		} else {
			f := fillers[key]
			b.WriteString(f[rng.IntN(len(f))])
		}
		tmpl = tmpl[i+j+1:]
	}
}

var (
	corpusOnce  sync.Once
	corpusLines []corpusLine
)

func corpus() []corpusLine {
	corpusOnce.Do(func() {
		rng := rand.New(rand.NewPCG(20240501, 7))
		for i := 0; i < 20000; i++ {
			if rng.IntN(100) < 5 {
				p := plainLinks[rng.IntN(len(plainLinks))]
				if rng.IntN(3) == 0 {
					p = obfuscatedLinks[rng.IntN(len(obfuscatedLinks))]
				}
				tmpl := linkTemplates[rng.IntN(len(linkTemplates))]
				corpusLines = append(corpusLines, corpusLine{fill(rng, tmpl, p.link), p.host})
				continue
			}
			lang := templates[rng.IntN(len(templates))]
			corpusLines = append(corpusLines, corpusLine{text: fill(rng, lang[rng.IntN(len(lang))], "")})
		}
	})
	return corpusLines
}

// TestCorpusAgainstXurls proves on the benchmark corpus that Find finds
// every host xurls.Relaxed finds (on the NFKC text, with the documented
// exclusions applied explicitly), with the same extent where the line is
// already in NFKC, and that it finds every planted link, obfuscated or not,
// and nothing in the lines without one.
func TestCorpusAgainstXurls(t *testing.T) {
	lines := corpus()
	var withLinks, xurlsMatches, excluded, checked int
	for i, cl := range lines {
		if raceEnabled && cl.host == "" && i%20 != 0 {
			continue // xurls is slow under the race detector: a sample
		}
		checked++
		got := Find(cl.text)
		hosts := map[string]bool{}
		raws := map[string]bool{}
		for _, l := range got {
			hosts[l.Host] = true
			raws[l.Raw] = true
		}
		ref := reference(cl.text, true)
		n := norm.NFKC.String(cl.text)
		all := len(xurls.Relaxed().FindAllString(n, -1))
		xurlsMatches += all
		excluded += all - len(ref)
		for _, r := range ref {
			if !hosts[r.host] {
				t.Errorf("%q: xurls found %q (host %s), Find did not: %+v", cl.text, r.match, r.host, got)
			}
			if n == cl.text && !raws[r.match] {
				t.Errorf("%q: xurls matched %q, Find's links differ: %+v", cl.text, r.match, got)
			}
		}
		if cl.host != "" {
			withLinks++
			if !hosts[cl.host] {
				t.Errorf("%q: planted host %s not found: %+v", cl.text, cl.host, got)
			}
		} else if len(got) > 0 {
			t.Errorf("%q: no link planted, Find found %+v", cl.text, got)
		}
	}
	t.Logf("%d lines checked, %d with a planted link; xurls matched %d times, %d of them excluded (file names)",
		checked, withLinks, xurlsMatches, excluded)
}

func BenchmarkFind(b *testing.B) {
	lines := corpus()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Find(lines[i%len(lines)].text)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkHas(b *testing.B) {
	lines := corpus()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Has(lines[i%len(lines)].text)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkXurlsRelaxed is the reference matcher alone on the same corpus.
func BenchmarkXurlsRelaxed(b *testing.B) {
	lines := corpus()
	re := xurls.Relaxed()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		re.FindAllString(lines[i%len(lines)].text, -1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
