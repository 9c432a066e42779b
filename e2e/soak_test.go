//go:build soak

package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// The soak test runs the whole bot (bot.Run) for minutes against both fakes
// and checks that nothing is lost and that memory stays flat:
//
//	go test -tags soak -run TestSoak -timeout 30m -v ./e2e/
//	go test -tags soak -run TestSoak -v ./e2e/ -soak.duration=1m
//
// CHATWARDEN_SOAK_DURATION and CHATWARDEN_SOAK_RATE set the same as the
// flags. CHATWARDEN_SOAK_HEAPPROFILE=path writes the live heap at the end
// of the load to path and the warm heap to path.warm, so that
// `go tool pprof -base path.warm path` shows what grew.
var (
	soakDurationFlag = flag.Duration("soak.duration", 0, "how long the soak test drives load after warm-up (default 10m, or $CHATWARDEN_SOAK_DURATION)")
	soakRateFlag     = flag.Int("soak.rate", 0, "platform events per second, both platforms together (default 2000, or $CHATWARDEN_SOAK_RATE)")
)

const (
	soakGuilds     = 200
	soakGroups     = 50
	soakResidents  = 10 // members present from the start; they talk
	soakVisitors   = 20 // per community: join, maybe get renamed, leave
	soakTick       = 10 * time.Millisecond
	soakRecentMsgs = 64  // messages per community that edits and deletes pick from
	soakFakeFrames = 500 // frames per connected gateway session the Discord fake keeps
	// Messages per channel or chat the fakes keep: twice what the load
	// edits and deletes. The fakes' histories fill up as the load runs;
	// kept small, they are a few MiB, so that the heap's growth over the
	// warm heap is the bot's (with 500 a chat and 1,000 a Discord channel
	// they were over 300 MiB, filling for minutes after the warm-up).
	soakFakeMsgs    = 2 * soakRecentMsgs
	soakSettle      = 5 * time.Second
	soakMinWarmUp   = 10 * time.Second
	soakMaxWarmUp   = 30 * time.Second
	soakDrainEvents = 3 * time.Minute
	soakDrainOutbox = 5 * time.Minute
	// The heap at the end may exceed the warm heap by this much.
	soakHeapFactor = 2
	soakHeapSlack  = 64 << 20
)

// soakSettings resolves a flag, then an environment variable, then a default.
func soakSettings() (time.Duration, int, error) {
	d, rate := 10*time.Minute, 2000
	if v := os.Getenv("CHATWARDEN_SOAK_DURATION"); v != "" {
		x, err := time.ParseDuration(v)
		if err != nil {
			return 0, 0, fmt.Errorf("CHATWARDEN_SOAK_DURATION: %w", err)
		}
		d = x
	}
	if v := os.Getenv("CHATWARDEN_SOAK_RATE"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, fmt.Errorf("CHATWARDEN_SOAK_RATE: %w", err)
		}
		rate = x
	}
	if *soakDurationFlag > 0 {
		d = *soakDurationFlag
	}
	if *soakRateFlag > 0 {
		rate = *soakRateFlag
	}
	if d <= 0 || rate <= 0 {
		return 0, 0, errors.New("soak duration and rate must be positive")
	}
	return d, rate, nil
}

// soakExpected counts, by platform and type, the records the load must
// produce (each platform event injected becomes exactly one record).
type soakExpected struct {
	mu sync.Mutex
	n  map[audit.Platform]map[audit.EventType]int
}

func (x *soakExpected) add(p audit.Platform, t audit.EventType) {
	x.mu.Lock()
	if x.n == nil {
		x.n = map[audit.Platform]map[audit.EventType]int{}
	}
	if x.n[p] == nil {
		x.n[p] = map[audit.EventType]int{}
	}
	x.n[p][t]++
	x.mu.Unlock()
}

func (x *soakExpected) snapshot() map[audit.Platform]map[audit.EventType]int {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[audit.Platform]map[audit.EventType]int{}
	for p, m := range x.n {
		out[p] = map[audit.EventType]int{}
		for t, n := range m {
			out[p][t] = n
		}
	}
	return out
}

func (x *soakExpected) total() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, m := range x.n {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// soakLog counts the bot's log lines (warn and above) and keeps a few.
type soakLog struct {
	mu    sync.Mutex
	lines int
	first []string
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines++
	if len(l.first) < 20 {
		l.first = append(l.first, strings.TrimSpace(string(p)))
	}
	l.mu.Unlock()
	return len(p), nil
}

// soakPacer emits events at a steady rate from one goroutine: every tick it
// catches up with rate × elapsed, at most two ticks' worth at once, so a
// slow consumer lowers the achieved rate instead of building a burst.
func soakPacer(ctx context.Context, rate float64, emit func() bool) (sent int, elapsed time.Duration) {
	t := time.NewTicker(soakTick)
	defer t.Stop()
	start := time.Now()
	perTick := rate * soakTick.Seconds()
	for {
		select {
		case <-ctx.Done():
			return sent, time.Since(start)
		case <-t.C:
		}
		due := int(rate*time.Since(start).Seconds()) - sent
		if limit := int(math.Ceil(2 * perTick)); due > limit {
			due = limit
		}
		for range due {
			if ctx.Err() != nil {
				break
			}
			if emit() {
				sent++
			}
		}
	}
}

// soakDiscordGuild is one fake guild and what the load knows of it.
type soakDiscordGuild struct {
	id, general, logs string
	voice, crew       string          // a voice channel and a role
	colour            int             // the role's colour, changed by soakRole
	inVoice           map[string]bool // residents connected to voice
	residents         []*discordtest.User
	outside, inside   []soakVisitor[*discordtest.User]
	recent            []*discordtest.Message
}

type soakTelegramGroup struct {
	chat, logs      telegramtest.Chat
	owner           telegramtest.User
	residents       []telegramtest.User
	outside, inside []soakVisitor[telegramtest.User]
	recent          []int
}

// soakVisitor is a member who comes and goes; since is when they joined
// (the Discord handler runs gateway events concurrently, so a visitor is
// renamed or leaves only well after their join was handled).
type soakVisitor[U any] struct {
	u     U
	since time.Time
}

// soakDiscordMix and soakTelegramMix are cumulative weights out of 1000.
type soakAction int

const (
	soakMessage soakAction = iota
	soakEdit
	soakDelete
	soakJoin
	soakLeave
	soakMemberUpdate
	soakVoice // a resident joins or leaves voice: VOICE_UPDATE
	soakRole  // the owner recolours a role: ROLE_UPDATE
)

var soakDiscordMix = []struct {
	a soakAction
	w int
}{{soakMessage, 725}, {soakEdit, 100}, {soakDelete, 70}, {soakJoin, 30}, {soakLeave, 30}, {soakMemberUpdate, 20},
	{soakVoice, 20}, {soakRole, 5}}

// Telegram's Bot API sends no deletions; member updates are restrictions.
var soakTelegramMix = []struct {
	a soakAction
	w int
}{{soakMessage, 800}, {soakEdit, 100}, {soakJoin, 40}, {soakLeave, 40}, {soakMemberUpdate, 20}}

func soakPick(rng *rand.Rand, mix []struct {
	a soakAction
	w int
}) soakAction {
	total := 0
	for _, m := range mix {
		total += m.w
	}
	r := rng.IntN(total)
	for _, m := range mix {
		if r < m.w {
			return m.a
		}
		r -= m.w
	}
	return soakMessage
}

// soakDiscordTypes and soakTelegramTypes are routed to the log channels:
// the rarer types, so that entries fit the platforms' rate limits.
var (
	soakDiscordTypes  = []audit.EventType{audit.ChatMessageDelete, audit.UserJoin, audit.UserRemove}
	soakTelegramTypes = []audit.EventType{audit.UserJoin, audit.UserRemove, audit.UserUpdate}
)

func soakFreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	return addr, nil
}

// soakMetrics is one scrape of /metrics: sample name with labels -> value.
type soakMetrics map[string]float64

func soakScrape(ctx context.Context, client *http.Client, url string) (soakMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: %s", resp.Status)
	}
	m := soakMetrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}

// sum adds the samples of a family whose labels contain every given
// label="value" pair.
func (m soakMetrics) sum(name string, labels ...string) float64 {
	total := 0.0
	for k, v := range m {
		base, rest, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// quantile estimates a quantile of a histogram the way Prometheus's
// histogram_quantile does: linear interpolation inside the bucket.
func (m soakMetrics) quantile(name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, name+"_bucket{")
		if !ok {
			continue
		}
		i := strings.Index(rest, `le="`)
		if i < 0 {
			continue
		}
		le := rest[i+4:]
		le = le[:strings.IndexByte(le, '"')]
		b := bucket{n: v}
		if le == "+Inf" {
			b.le = math.Inf(1)
		} else if f, err := strconv.ParseFloat(le, 64); err == nil {
			b.le = f
		} else {
			continue
		}
		bs = append(bs, b)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	if len(bs) == 0 || bs[len(bs)-1].n == 0 {
		return math.NaN()
	}
	rank := q * bs[len(bs)-1].n
	lo, prev := 0.0, 0.0
	for _, b := range bs {
		if b.n >= rank {
			if math.IsInf(b.le, 1) {
				return lo
			}
			if b.n == prev {
				return b.le
			}
			return lo + (b.le-lo)*(rank-prev)/(b.n-prev)
		}
		lo, prev = b.le, b.n
	}
	return lo
}

// soakHeapProfile writes the live heap to path.
func soakHeapProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func soakHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func soakMiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// TestSoak: 200 Discord guilds and 50 Telegram groups, each with a log
// channel, driven at about 2,000 events/s for minutes through the whole
// bot. Nothing may be lost, the outbox must drain, every chain must
// verify, and the heap must stay flat.
func TestSoak(t *testing.T) {
	duration, rate, err := soakSettings()
	if err != nil {
		t.Fatal(err)
	}
	warm := min(max(duration/10, soakMinWarmUp), soakMaxWarmUp)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "soak.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))

	// Discord: 200 guilds of 11 members, a #general and a #logs each.
	dfake := discordtest.New(discordtest.Options{})
	defer dfake.Close()
	owner := &discordtest.User{ID: dfake.Snowflake(), Username: "owner"}
	var residents []*discordtest.User
	for i := range soakResidents {
		residents = append(residents, &discordtest.User{ID: dfake.Snowflake(), Username: fmt.Sprintf("member%d", i), GlobalName: fmt.Sprintf("Member %d", i)})
	}
	guilds := make([]*soakDiscordGuild, soakGuilds)
	for i := range guilds {
		g := &soakDiscordGuild{id: dfake.Snowflake(), general: dfake.Snowflake(), logs: dfake.Snowflake(), residents: residents,
			voice: dfake.Snowflake(), crew: dfake.Snowflake(), inVoice: map[string]bool{}}
		members := []*discordtest.Member{{User: owner, Roles: []string{}}}
		for _, u := range residents {
			members = append(members, &discordtest.Member{User: u, Roles: []string{}})
		}
		for j := range soakVisitors {
			u := &discordtest.User{ID: dfake.Snowflake(), Username: fmt.Sprintf("visitor%d_%d", i, j)}
			g.outside = append(g.outside, soakVisitor[*discordtest.User]{u: u})
		}
		dfake.AddGuild(&discordtest.Guild{ID: g.id, Name: fmt.Sprintf("Guild %d", i), OwnerID: owner.ID,
			Roles: []*discordtest.Role{{ID: g.id, Name: "@everyone"}, {ID: g.crew, Name: "crew"}},
			Channels: []*discordtest.Channel{{ID: g.general, GuildID: g.id, Name: "general", Type: discordtest.ChannelTypeGuildText},
				{ID: g.logs, GuildID: g.id, Name: "logs", Type: discordtest.ChannelTypeGuildText},
				{ID: g.voice, GuildID: g.id, Name: "lounge", Type: discordtest.ChannelTypeGuildVoice}},
			Members: members})
		guilds[i] = g
	}

	// Telegram: 50 supergroups of 11 members, a log channel each.
	tfake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second})
	defer tfake.Close()
	towner := tfake.NewUser("Owner")
	var tresidents []telegramtest.User
	for i := range soakResidents {
		tresidents = append(tresidents, tfake.NewUser(fmt.Sprintf("Member %d", i)))
	}
	groups := make([]*soakTelegramGroup, soakGroups)
	for i := range groups {
		g := &soakTelegramGroup{chat: tfake.NewSupergroup(fmt.Sprintf("Group %d", i), towner, tresidents...),
			logs: tfake.NewChannel(fmt.Sprintf("Logs %d", i), "", towner), owner: towner, residents: tresidents}
		for j := range soakVisitors {
			g.outside = append(g.outside, soakVisitor[telegramtest.User]{u: tfake.NewUser(fmt.Sprintf("Visitor %d %d", i, j))})
		}
		groups[i] = g
	}

	// Log channels, saved before the bot starts.
	s, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, g := range guilds {
		if _, _, err := s.UpdateSettings(ctx, audit.Discord, g.id, func(st *settings.Community) error {
			st.LogChannels = []settings.LogChannel{{ID: g.logs, Types: soakDiscordTypes}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range groups {
		if _, _, err := s.UpdateSettings(ctx, audit.Telegram, strconv.FormatInt(g.chat.ID, 10), func(st *settings.Community) error {
			st.LogChannels = []settings.LogChannel{{ID: strconv.FormatInt(g.logs.ID, 10), Types: soakTelegramTypes}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	addr, err := soakFreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	err = os.WriteFile(cfgPath, []byte(fmt.Sprintf(`log_level: warn
storage: {path: %s}
discord:
  enabled: true
  token: %q
  api_url: %s
telegram:
  enabled: true
  token: %q
  api_url: %s
  poll_timeout: 1s
api:
  listen: %s
`, dbPath, "test-token", dfake.APIURL(), tfake.Token(), tfake.URL, addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logs := &soakLog{}
	botCtx, stopBot := context.WithCancel(ctx)
	defer stopBot()
	served := make(chan error, 1)
	go func() { served <- bot.Run(botCtx, cfg, zerolog.New(logs).Level(zerolog.WarnLevel)) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stopBot()
		select {
		case err := <-served:
			return err
		case <-time.After(time.Minute):
			return errors.New("serve did not return within a minute of the cancel")
		}
	}
	defer stop()

	client := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + addr
	metricsURL := base + "/metrics"
	if !soakWait(30*time.Second, func() bool { return ready(base) }) {
		t.Fatal("the bot was not ready within 30s")
	}
	if len(tfake.WaitPolling(1, 30*time.Second)) == 0 {
		t.Fatal("the bot never polled Telegram")
	}
	time.Sleep(soakSettle) // GUILD_CREATEs: member profiles are saved
	t.Logf("bot ready: %d guilds, %d groups, API on %s; %d events/s for %s after %s of warm-up",
		soakGuilds, soakGroups, addr, rate, duration, warm)

	// The fakes' history is trimmed as the load goes; posts are counted.
	var dposts, tposts atomic.Int64
	trim := func() {
		for _, n := range dfake.TrimHistory(soakFakeFrames, soakFakeMsgs) {
			dposts.Add(int64(n))
		}
		for _, n := range tfake.TrimHistory(soakFakeMsgs) {
			tposts.Add(int64(n))
		}
	}

	var expected soakExpected
	dshare := float64(soakGuilds) / float64(soakGuilds+soakGroups)
	drng := rand.New(rand.NewPCG(rng.Uint64(), 1))
	trng := rand.New(rand.NewPCG(rng.Uint64(), 2))
	emitDiscord := func() bool { return soakDiscordEvent(dfake, drng, guilds[drng.IntN(len(guilds))], &expected) }
	emitTelegram := func() bool { return soakTelegramEvent(tfake, trng, groups[trng.IntN(len(groups))], &expected) }

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	type result struct {
		sent    int
		elapsed time.Duration
	}
	var wg sync.WaitGroup
	var dres, tres result
	wg.Add(2)
	go func() {
		defer wg.Done()
		dres.sent, dres.elapsed = soakPacer(loadCtx, float64(rate)*dshare, emitDiscord)
	}()
	go func() {
		defer wg.Done()
		tres.sent, tres.elapsed = soakPacer(loadCtx, float64(rate)*(1-dshare), emitTelegram)
	}()
	loadStart := time.Now()

	// Warm-up, then the heap baseline, then a line every minute.
	time.Sleep(warm)
	trim()
	warmHeap := soakHeap()
	if path := os.Getenv("CHATWARDEN_SOAK_HEAPPROFILE"); path != "" {
		// The warm heap, the base for go tool pprof -base.
		if err := soakHeapProfile(path + ".warm"); err != nil {
			t.Errorf("heap profile: %v", err)
		}
	}
	warmSent := expected.total()
	t.Logf("warm heap after %s: %s (%d events sent)", warm, soakMiB(warmHeap), warmSent)
	measureStart := time.Now()
	deadline := measureStart.Add(duration)
	trimTick := time.NewTicker(5 * time.Second)
	minute := time.NewTicker(time.Minute)
	peakHeap := warmHeap
	var heaps []string
	lastSent, lastAt := warmSent, measureStart
	for running := true; running; {
		select {
		case <-trimTick.C:
			trim()
		case now := <-minute.C:
			trim()
			h := soakHeap()
			peakHeap = max(peakHeap, h)
			sent := expected.total()
			m, err := soakScrape(ctx, client, metricsURL)
			p99, depth := math.NaN(), math.NaN()
			if err == nil {
				p99 = m.quantile("chatwarden_recorder_commit_seconds", 0.99)
				depth = m.sum("chatwarden_outbox_depth")
			}
			line := fmt.Sprintf("minute %d: heap %s, %.0f events/s in the last minute, commit p99 %.1f ms, outbox %.0f",
				int(now.Sub(measureStart).Round(time.Minute)/time.Minute), soakMiB(h),
				float64(sent-lastSent)/now.Sub(lastAt).Seconds(), p99*1000, depth)
			heaps = append(heaps, line)
			t.Log(line)
			lastSent, lastAt = sent, now
		case <-time.After(time.Until(deadline)):
			running = false
		}
	}
	trimTick.Stop()
	minute.Stop()
	stopLoad()
	wg.Wait()
	if path := os.Getenv("CHATWARDEN_SOAK_HEAPPROFILE"); path != "" {
		// What holds the heap at the end of the load, for go tool pprof.
		if err := soakHeapProfile(path); err != nil {
			t.Errorf("heap profile: %v", err)
		}
	}
	loadElapsed := time.Since(loadStart)
	sent := expected.total()
	t.Logf("load stopped after %s: Discord %d events in %s (%.0f/s of %.0f asked), Telegram %d in %s (%.0f/s of %.0f asked), %.0f/s together",
		loadElapsed.Round(time.Second), dres.sent, dres.elapsed.Round(time.Millisecond), float64(dres.sent)/dres.elapsed.Seconds(), float64(rate)*dshare,
		tres.sent, tres.elapsed.Round(time.Millisecond), float64(tres.sent)/tres.elapsed.Seconds(), float64(rate)*(1-dshare),
		float64(sent)/loadElapsed.Seconds())

	// Drain: every event recorded, then the outbox empty.
	drainStart := time.Now()
	want := expected.snapshot()
	var last soakMetrics
	recordedLive := func() (int, bool) {
		m, err := soakScrape(ctx, client, metricsURL)
		if err != nil {
			return 0, false
		}
		last = m
		n, ok := 0, true
		for p, types := range want {
			for typ, w := range types {
				got := int(m.sum("chatwarden_events_recorded_total", `platform="`+p.String()+`"`, `type="`+typ.String()+`"`))
				n += got
				if got < w {
					ok = false
				}
			}
		}
		return n, ok
	}
	if !soakWait(soakDrainEvents, func() bool { _, ok := recordedLive(); return ok }) {
		n, _ := recordedLive()
		t.Errorf("after %s of drain %d of %d events recorded", soakDrainEvents, n, sent)
	}
	t.Logf("events recorded %s after the load stopped; Telegram updates pending: %d", time.Since(drainStart).Round(time.Millisecond), len(tfake.PendingUpdates()))
	outboxStart := time.Now()
	drained := soakWait(soakDrainOutbox, func() bool {
		trim()
		m, err := soakScrape(ctx, client, metricsURL)
		if err != nil {
			return false
		}
		last = m
		return m.sum("chatwarden_outbox_depth") == 0
	})
	depth := last.sum("chatwarden_outbox_depth")
	t.Logf("outbox depth %.0f (discord %.0f, telegram %.0f) after %s of drain", depth,
		last.sum("chatwarden_outbox_depth", `platform="discord"`), last.sum("chatwarden_outbox_depth", `platform="telegram"`),
		time.Since(outboxStart).Round(time.Millisecond))
	if !drained {
		t.Errorf("the outbox did not drain within %s: %.0f deliveries pending", soakDrainOutbox, depth)
	}
	trim()
	// What the fakes still hold of the log channels.
	for _, g := range guilds {
		dposts.Add(int64(len(dfake.Posts(g.logs))))
	}
	for _, g := range groups {
		for _, m := range tfake.Messages(g.logs.ID) {
			if m.Method != "service" {
				tposts.Add(1)
			}
		}
	}
	endHeap := soakHeap()
	peakHeap = max(peakHeap, endHeap)
	p50 := last.quantile("chatwarden_recorder_commit_seconds", 0.50)
	p99 := last.quantile("chatwarden_recorder_commit_seconds", 0.99)
	commits := last.sum("chatwarden_recorder_commits_total")
	failures := last.sum("chatwarden_recorder_failures_total")
	deliveryFailures := last.sum("chatwarden_delivery_failures_total")
	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}

	// The store, once the bot has stopped: counts and chains.
	s, err = store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[audit.Platform]map[audit.EventType]int{audit.Discord: {}, audit.Telegram: {}}
	other := map[string]int{}
	for _, p := range []audit.Platform{audit.Discord, audit.Telegram} {
		c, err := s.Counts(ctx, p, "", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for typ, n := range c {
			if _, ok := want[p][typ]; ok {
				got[p][typ] = n
			} else if n > 0 {
				other[p.String()+" "+typ.String()] = n
			}
		}
	}
	recorded := 0
	for _, p := range []audit.Platform{audit.Discord, audit.Telegram} {
		for typ, w := range want[p] {
			recorded += got[p][typ]
			if got[p][typ] != w {
				t.Errorf("%s %s: %d recorded, %d sent", p, typ, got[p][typ], w)
			}
		}
	}
	vs, err := s.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, v := range vs {
		if !v.OK {
			bad++
			if bad <= 5 {
				t.Errorf("chain of %s %s: %+v", v.Platform, v.Property, v)
			}
		}
	}
	fi, _ := os.Stat(dbPath)
	var dbSize int64
	if fi != nil {
		dbSize = fi.Size()
	}

	limit := soakHeapFactor*warmHeap + soakHeapSlack
	var b strings.Builder
	fmt.Fprintf(&b, "soak summary (nproc %d, GOMAXPROCS %d, %s)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, "  asked %d events/s for %s (+%s warm-up); achieved %.0f events/s (Discord %.0f/s, Telegram %.0f/s)\n",
		rate, duration, warm, float64(sent)/loadElapsed.Seconds(), float64(dres.sent)/dres.elapsed.Seconds(), float64(tres.sent)/tres.elapsed.Seconds())
	fmt.Fprintf(&b, "  events sent %d, recorded %d (other records: %v)\n", sent, recorded, other)
	for _, p := range []audit.Platform{audit.Discord, audit.Telegram} {
		var parts []string
		for typ, w := range want[p] {
			parts = append(parts, fmt.Sprintf("%s %d/%d", typ, got[p][typ], w))
		}
		sort.Strings(parts)
		fmt.Fprintf(&b, "    %s: %s\n", p, strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "  heap: warm %s, end %s, peak %s (limit %s)\n", soakMiB(warmHeap), soakMiB(endHeap), soakMiB(peakHeap), soakMiB(limit))
	for _, h := range heaps {
		fmt.Fprintf(&b, "    %s\n", h)
	}
	fmt.Fprintf(&b, "  recorder: %.0f commits (%.0f failed attempts), %.1f events per commit, commit p50 %.2f ms, p99 %.2f ms (bucket-interpolated)\n",
		commits, failures, float64(recorded)/max(commits, 1), p50*1000, p99*1000)
	fmt.Fprintf(&b, "  log posts accepted: Discord %d, Telegram %d; delivery failures %.0f; rate-limit violations: Discord %d, Telegram %d\n",
		dposts.Load(), tposts.Load(), deliveryFailures, dfake.RateLimitViolations(), len(tfake.RateLimitViolations()))
	fmt.Fprintf(&b, "  outbox depth at the end: %.0f; chains: %d verified, %d bad; database %s\n", depth, len(vs)-bad, bad, soakMiB(uint64(dbSize)))
	logs.mu.Lock()
	fmt.Fprintf(&b, "  bot warnings and errors: %d\n", logs.lines)
	for _, l := range logs.first {
		fmt.Fprintf(&b, "    %.300s\n", l)
	}
	logs.mu.Unlock()
	t.Log(b.String())
	if endHeap > limit {
		t.Errorf("heap grew from %s to %s (limit %s)", soakMiB(warmHeap), soakMiB(endHeap), soakMiB(limit))
	}
}

// soakWait polls cond until it holds or d has passed.
func soakWait(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// soakReady takes a visitor who joined more than settle ago out of inside.
func soakReady[U any](inside *[]soakVisitor[U], rng *rand.Rand) (int, bool) {
	if len(*inside) == 0 {
		return 0, false
	}
	i := rng.IntN(len(*inside))
	if time.Since((*inside)[i].since) < soakSettle {
		return 0, false
	}
	return i, true
}

// soakDiscordEvent injects one event into a guild and counts the record
// it must produce. Only the load goroutine touches g.
func soakDiscordEvent(f *discordtest.Server, rng *rand.Rand, g *soakDiscordGuild, x *soakExpected) bool {
	switch soakPick(rng, soakDiscordMix) {
	case soakEdit:
		if len(g.recent) > 0 {
			m := g.recent[rng.IntN(len(g.recent))]
			f.Edit(m, m.Content+" (edited)")
			x.add(audit.Discord, audit.ChatMessageEdit)
			return true
		}
	case soakDelete:
		if len(g.recent) > 0 {
			i := rng.IntN(len(g.recent))
			f.Delete(g.recent[i])
			g.recent = append(g.recent[:i], g.recent[i+1:]...)
			x.add(audit.Discord, audit.ChatMessageDelete)
			return true
		}
	case soakJoin:
		if len(g.outside) > 0 {
			i := rng.IntN(len(g.outside))
			v := g.outside[i]
			g.outside = append(g.outside[:i], g.outside[i+1:]...)
			f.Join(g.id, v.u)
			v.since = time.Now()
			g.inside = append(g.inside, v)
			x.add(audit.Discord, audit.UserJoin)
			return true
		}
	case soakLeave:
		if i, ok := soakReady(&g.inside, rng); ok {
			v := g.inside[i]
			g.inside = append(g.inside[:i], g.inside[i+1:]...)
			f.Leave(g.id, v.u.ID)
			g.outside = append(g.outside, v)
			x.add(audit.Discord, audit.UserRemove)
			return true
		}
	case soakVoice:
		u := g.residents[rng.IntN(len(g.residents))]
		if g.inVoice[u.ID] {
			f.VoiceLeave(g.id, u.ID)
		} else {
			f.VoiceJoin(g.id, g.voice, u.ID)
		}
		g.inVoice[u.ID] = !g.inVoice[u.ID]
		x.add(audit.Discord, audit.VoiceUpdate)
		return true
	case soakRole:
		g.colour = g.colour%0xFFFFFF + 1
		f.UpdateRoleBy(g.id, g.residents[0].ID, g.crew, "", func(r *discordtest.Role) { r.Color = g.colour })
		x.add(audit.Discord, audit.RoleUpdate)
		return true
	case soakMemberUpdate:
		// Visitors change their nickname; residents, who talk, never do
		// (a message racing a rename would tell the rename twice).
		if i, ok := soakReady(&g.inside, rng); ok {
			f.Rename(g.id, g.inside[i].u.ID, fmt.Sprintf("nick%d", rng.IntN(1_000_000)))
			x.add(audit.Discord, audit.UserUpdate)
			return true
		}
	}
	u := g.residents[rng.IntN(len(g.residents))]
	m := f.Say(g.id, g.general, u, fmt.Sprintf("message %d from %s: lorem ipsum dolor sit amet", rng.IntN(1_000_000_000), u.Username))
	if len(g.recent) >= soakRecentMsgs {
		g.recent = append(g.recent[:0], g.recent[1:]...)
	}
	g.recent = append(g.recent, m)
	x.add(audit.Discord, audit.ChatMessage)
	return true
}

// soakTelegramEvent injects one update (two for joins and leaves, which
// Telegram announces twice) into a group and counts the record it must
// produce. Only the load goroutine touches g.
func soakTelegramEvent(f *telegramtest.Server, rng *rand.Rand, g *soakTelegramGroup, x *soakExpected) bool {
	switch soakPick(rng, soakTelegramMix) {
	case soakEdit:
		if len(g.recent) > 0 {
			id := g.recent[rng.IntN(len(g.recent))]
			if _, err := f.EditMessage(g.chat, id, fmt.Sprintf("edited %d", rng.IntN(1_000_000))); err == nil {
				x.add(audit.Telegram, audit.ChatMessageEdit)
				return true
			}
		}
	case soakJoin:
		if len(g.outside) > 0 {
			i := rng.IntN(len(g.outside))
			v := g.outside[i]
			g.outside = append(g.outside[:i], g.outside[i+1:]...)
			f.JoinMember(g.chat, v.u)
			v.since = time.Now()
			g.inside = append(g.inside, v)
			x.add(audit.Telegram, audit.UserJoin)
			return true
		}
	case soakLeave:
		if i, ok := soakReady(&g.inside, rng); ok {
			v := g.inside[i]
			g.inside = append(g.inside[:i], g.inside[i+1:]...)
			f.LeaveMember(g.chat, v.u)
			g.outside = append(g.outside, v)
			x.add(audit.Telegram, audit.UserRemove)
			return true
		}
	case soakMemberUpdate:
		// An owner restricts a resident until a new time.
		u := g.residents[rng.IntN(len(g.residents))]
		until := time.Now().Add(time.Hour + time.Duration(rng.IntN(86400))*time.Second)
		f.Restrict(g.chat, g.owner, u, telegramtest.AllPermissions(), until)
		x.add(audit.Telegram, audit.UserUpdate)
		return true
	}
	u := g.residents[rng.IntN(len(g.residents))]
	up := f.Message(g.chat, u, fmt.Sprintf("message %d from %s: lorem ipsum dolor sit amet", rng.IntN(1_000_000_000), u.FirstName))
	if up.Message != nil {
		if len(g.recent) >= soakRecentMsgs {
			g.recent = append(g.recent[:0], g.recent[1:]...)
		}
		g.recent = append(g.recent, up.Message.MessageID)
	}
	x.add(audit.Telegram, audit.ChatMessage)
	return true
}
