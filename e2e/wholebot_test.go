//go:build soak

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// The whole-bot figures of BENCHMARKS.md (issue 20): how many gateway
// messages one process turns into durable records with the engines on,
// and what one process holding thousands of communities weighs. Both are
// behind the soak tag and run by hand:
//
//	go test -tags soak -run 'TestWholeBot(Throughput|Baseline)' -v -timeout 20m ./e2e/
//	go test -tags soak -run TestManyCommunitiesMemory -v -timeout 20m ./e2e/
//
// -wholebot.rate offers a fixed rate instead of as much as the senders
// can (latency below saturation); -wholebot.shards runs that many shards,
// each a bot with its own store, in this one process.

var (
	throughputDuration = flag.Duration("wholebot.duration", 30*time.Second, "how long TestWholeBotThroughput sends messages")
	throughputSenders  = flag.Int("wholebot.senders", 8, "goroutines sending gateway messages")
	throughputRate     = flag.Float64("wholebot.rate", 0, "messages/s offered in all (0: as many as the senders can)")
	throughputShards   = flag.Int("wholebot.shards", 1, "Discord shards, each its own bot and store, in this process")
	memoryGuilds       = flag.Int("wholebot.guilds", 2000, "Discord guilds TestManyCommunitiesMemory holds")
	memoryMembers      = flag.Int("wholebot.members", 1000, "members of each of those guilds")
	memoryRounds       = flag.Int("wholebot.rounds", 2, "rounds of 50,000 messages TestManyCommunitiesMemory sends")
)

const wholeBotOperator = "operator-token-for-the-whole-bot-test-0123456789"

// wholeBotGuild is one guild of the throughput load.
type wholeBotGuild struct {
	id, general string
	users       []*discordtest.User
}

// wholeBotFake is a fake Discord with the throughput load's 300 guilds of
// 20 members.
func wholeBotFake() (*discordtest.Server, []wholeBotGuild) {
	const guilds, members = 300, 20
	dfake := discordtest.New(discordtest.Options{})
	owner := &discordtest.User{ID: dfake.Snowflake(), Username: "owner", GlobalName: "The Owner"}
	gs := make([]wholeBotGuild, guilds)
	for i := range gs {
		g := wholeBotGuild{id: dfake.Snowflake(), general: dfake.Snowflake()}
		ms := []*discordtest.Member{{User: owner, Roles: []string{}}}
		for j := range members {
			u := &discordtest.User{ID: dfake.Snowflake(), Username: fmt.Sprintf("m%d_%d", i, j), GlobalName: fmt.Sprintf("Member %d", j)}
			g.users = append(g.users, u)
			ms = append(ms, &discordtest.Member{User: u, Roles: []string{}})
		}
		dfake.AddGuild(&discordtest.Guild{ID: g.id, Name: fmt.Sprintf("Guild %d", i), OwnerID: owner.ID,
			Roles:    []*discordtest.Role{{ID: g.id, Name: "@everyone"}},
			Channels: []*discordtest.Channel{{ID: g.general, GuildID: g.id, Name: "general", Type: discordtest.ChannelTypeGuildText}},
			Members:  ms})
		gs[i] = g
	}
	return dfake, gs
}

// sampledGuilds returns the five guilds whose messages offerLoad samples:
// every fifth of the round, so that consecutive samples are len(gs)/5
// messages apart.
func sampledGuilds(gs []wholeBotGuild) []wholeBotGuild {
	var out []wholeBotGuild
	for i := 0; i < len(gs); i += len(gs) / 5 {
		out = append(out, gs[i])
	}
	return out
}

// shardOf is the shard of a guild among n, as Discord routes it.
func shardOf(guild string, n int) int {
	id, _ := strconv.ParseUint(guild, 10, 64)
	return int((id >> 22) % uint64(n))
}

// offerLoad sends chat messages with a link, round-robin over the guilds,
// from -wholebot.senders goroutines for -wholebot.duration: as fast as
// they can, or paced to -wholebot.rate in all (a sender behind its pace
// sends at once). The messages of five guilds spread over the round
// (sampledGuilds) are the latency sample, so that samples are spread in
// time rather than sent together: sampled is called with each one's
// content and the time it was sent.
// It returns the count and how long sending took.
func offerLoad(dfake *discordtest.Server, gs []wholeBotGuild, sampled func(content string, at time.Time)) (int64, time.Duration) {
	start := time.Now()
	senders := *throughputSenders
	var n atomic.Int64
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; time.Since(start) < *throughputDuration; i += senders {
				if *throughputRate > 0 {
					if wait := time.Until(start.Add(time.Duration(float64(i) / *throughputRate * float64(time.Second)))); wait > 0 {
						time.Sleep(wait)
					}
				}
				g := gs[i%len(gs)]
				content := fmt.Sprintf("msg %d/%d see https://example.org/page/%d", s, i, i)
				if i%len(gs)%(len(gs)/5) == 0 {
					sampled(content, time.Now())
				}
				dfake.Say(g.id, g.general, g.users[i%len(g.users)], content)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load(), time.Since(start)
}

// latencies collects the latency sample of a whole-bot run.
type latencies struct {
	sent sync.Map // content -> time sent
	mu   sync.Mutex
	lat  []sample
}

type sample struct {
	sent time.Time
	lat  time.Duration
}

func (l *latencies) send(content string, at time.Time) { l.sent.Store(content, at) }

func (l *latencies) seen(content string, at time.Time) {
	if v, ok := l.sent.Load(content); ok {
		l.mu.Lock()
		l.lat = append(l.lat, sample{v.(time.Time), at.Sub(v.(time.Time))})
		l.mu.Unlock()
	}
}

// quantiles returns the size, p50, p99 and maximum of the samples sent
// at or after from.
func (l *latencies) quantiles(from time.Time) (int, time.Duration, time.Duration, time.Duration) {
	l.mu.Lock()
	var lat []time.Duration
	for _, s := range l.lat {
		if !s.sent.Before(from) {
			lat = append(lat, s.lat)
		}
	}
	l.mu.Unlock()
	if len(lat) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(100 * time.Microsecond)
	}
	return len(lat), q(0.5), q(0.99), q(1)
}

// logLatency logs a run's latency sample, whole and without its first
// five seconds (first messages of each guild and member, caches and
// buffers growing).
func (l *latencies) log(t *testing.T, what string, start time.Time) {
	samples, p50, p99, worst := l.quantiles(start)
	t.Logf("%s, %d samples: p50 %s, p99 %s, max %s", what, samples, p50, p99, worst)
	samples, p50, p99, worst = l.quantiles(start.Add(5 * time.Second))
	t.Logf("%s after the first 5 s, %d samples: p50 %s, p99 %s, max %s", what, samples, p50, p99, worst)
}

// TestWholeBotThroughput: the real bot (bot.Run, link filter and
// impersonation guard on by default) against the fake Discord gateway,
// chat messages in 300 guilds (offerLoad). It reports the sustained rate
// from the first frame sent to the last record durable, the process's
// CPU time per message, and the latency from a frame sent to its record
// on the activities:watch stream (durable, then fanned out) for five
// guilds (sampledGuilds). With -wholebot.shards=N it runs N bots in this process,
// shard i of N each with its own store and API, as a fleet's shard
// processes would. No assertion on speed: the figures go to
// BENCHMARKS.md; TestWholeBotBaseline is the bare baseline.
func TestWholeBotThroughput(t *testing.T) {
	dfake, gs := wholeBotFake()
	defer dfake.Close()
	shards := max(1, *throughputShards)
	dir := t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	bases := make([]string, shards)
	served := make(chan error, shards)
	for i := range shards {
		addr, err := soakFreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse([]byte(fmt.Sprintf(`log_level: warn
storage: {path: %s}
discord: {enabled: true, token: test-token, api_url: %s, shard_id: %d, shard_count: %d}
api: {listen: %s, operator_token: %s}
`, filepath.Join(dir, fmt.Sprintf("w%d.db", i)), dfake.APIURL(), i, shards, addr, wholeBotOperator)), "wholebot.yaml")
		if err != nil {
			t.Fatal(err)
		}
		go func() { served <- bot.Run(ctx, cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel)) }()
		bases[i] = "http://" + addr
	}
	defer func() {
		stop()
		for range shards {
			if err := <-served; err != nil {
				t.Errorf("bot.Run: %v", err)
			}
		}
	}()
	for _, base := range bases {
		waitUntil(t, "the bot ready", func() bool { return ready(base) })
	}

	// The latency sample: five guilds' watch streams (offerLoad), each
	// on its shard's API.
	var l latencies
	for _, g := range sampledGuilds(gs) {
		go watchLatency(ctx, t, bases[shardOf(g.id, shards)], "discord:"+g.id, l.seen)
	}
	time.Sleep(time.Second) // the watchers connect

	client := &http.Client{Timeout: 10 * time.Second}
	recorded := func() (float64, []soakMetrics) {
		total, ms := 0.0, make([]soakMetrics, shards)
		for i, base := range bases {
			m, err := soakScrape(ctx, client, base+"/metrics")
			if err != nil {
				return -1, nil
			}
			ms[i] = m
			total += m.sum("chatwarden_events_recorded_total", `platform="discord"`, `type="CHAT_MESSAGE"`)
		}
		return total, ms
	}
	before, _ := recorded()
	if before < 0 {
		t.Fatal("no metrics")
	}
	start, cpu0 := time.Now(), processCPU()
	n, sendTime := offerLoad(dfake, gs, l.send)
	total := float64(n)
	var last []soakMetrics
	waitUntil(t, "every message durable", func() bool {
		got, ms := recorded()
		last = ms
		return got-before >= total
	})
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	t.Logf("%d shard(s), %d messages in %d guilds: sent in %s (%.0f/s offered), all durable after %s: %.0f messages/s sustained",
		shards, n, len(gs), sendTime.Round(time.Millisecond), total/sendTime.Seconds(), elapsed.Round(time.Millisecond), total/elapsed.Seconds())
	// CPU time is what other load on the machine disturbs least: the
	// whole process, bot and fake together, per message.
	t.Logf("CPU: %.0f µs per message (bot and fake in this process), %.2f cores busy on average",
		float64(cpu.Microseconds())/total, cpu.Seconds()/elapsed.Seconds())
	l.log(t, "frame sent -> record on the watch stream", start)
	for i, m := range last {
		t.Logf("recorder of shard %d: p50 commit %.1f ms, p99 commit %.1f ms, mean batch %.0f events", i,
			1000*m.quantile("chatwarden_recorder_commit_seconds", 0.5), 1000*m.quantile("chatwarden_recorder_commit_seconds", 0.99),
			m.sum("chatwarden_recorder_batch_size_sum")/max(1, m.sum("chatwarden_recorder_batch_size_count")))
	}
	if n, _, _, _ := l.quantiles(start); n == 0 {
		t.Error("no latency sample arrived on the watch streams")
	}
}

// TestWholeBotBaseline is TestWholeBotThroughput's bare baseline: the
// same fake, guilds and load (the same flags), received by discordgo
// sessions set up as the bot's (one per shard) with one handler that only
// notes each message's content: what discordgo and the fake cost without
// anything of the bot's. Its latency is from the frame sent to that
// handler. Run it in the same invocation as TestWholeBotThroughput.
func TestWholeBotBaseline(t *testing.T) {
	dfake, gs := wholeBotFake()
	defer dfake.Close()
	shards := max(1, *throughputShards)
	var l latencies
	var got atomic.Int64
	bare, err := dfake.Baseline(shards, discord.Intents, func(content string) {
		got.Add(1)
		l.seen(content, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	time.Sleep(2 * time.Second) // the guilds arrive
	start, cpu0 := time.Now(), processCPU()
	n, sendTime := offerLoad(dfake, gs, l.send)
	waitUntil(t, "every message received", func() bool { return got.Load() >= n })
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	total := float64(n)
	t.Logf("bare discordgo, %d shard(s), %d messages in %d guilds: sent in %s (%.0f/s offered), all received after %s: %.0f messages/s sustained",
		shards, n, len(gs), sendTime.Round(time.Millisecond), total/sendTime.Seconds(), elapsed.Round(time.Millisecond), total/elapsed.Seconds())
	t.Logf("CPU: %.0f µs per message (discordgo and fake in this process), %.2f cores busy on average",
		float64(cpu.Microseconds())/total, cpu.Seconds()/elapsed.Seconds())
	l.log(t, "frame sent -> handler", start)
	if got.Load() != n {
		t.Errorf("received %d messages of %d sent", got.Load(), n)
	}
}

// watchLatency follows one property's activities:watch stream and calls
// seen with each record's content and the time it arrived.
func watchLatency(ctx context.Context, t *testing.T, base, property string, seen func(content string, at time.Time)) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/properties/"+property+"/activities:watch", nil)
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+wholeBotOperator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			t.Errorf("watch %s: %v", property, err)
		}
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		at := time.Now()
		var a struct {
			Content string `json:"content"`
		}
		if json.Unmarshal([]byte(data), &a) == nil {
			if a.Content != "" {
				seen(a.Content, at)
			}
		}
	}
}

// TestManyCommunitiesMemory: one `chatwarden run` process (this test
// binary, re-executed) holding 2,000 Discord guilds of 1,000 members each
// (sent as large guilds, staff requested by the bot) and 100 Telegram
// groups. It reports the process's resident memory and live heap once
// every guild is in, and again after each round of 50,000 messages: what
// is ours must not grow with the number of events, so the live heap after
// a later round may not exceed the first round's by more than 16 MiB.
// -wholebot.guilds, -wholebot.members and -wholebot.rounds change the
// scale.
func TestManyCommunitiesMemory(t *testing.T) {
	if os.Getenv("CHATWARDEN_MEMORY_CHILD") != "" {
		t.Skip("child")
	}
	guilds, members, groups := *memoryGuilds, *memoryMembers, 100
	dfake := discordtest.New(discordtest.Options{LargeGuilds: true})
	defer dfake.Close()
	owner := &discordtest.User{ID: dfake.Snowflake(), Username: "owner"}
	mod := &discordtest.User{ID: dfake.Snowflake(), Username: "mod"}
	type guild struct {
		id, general string
		user        *discordtest.User
	}
	gs := make([]guild, guilds)
	for i := range gs {
		g := guild{id: dfake.Snowflake(), general: dfake.Snowflake()}
		modRole := dfake.Snowflake()
		ms := []*discordtest.Member{{User: owner, Roles: []string{}}, {User: mod, Roles: []string{modRole}}}
		for j := range members - 2 {
			u := &discordtest.User{ID: dfake.Snowflake(), Username: fmt.Sprintf("u%d_%d", i, j)}
			ms = append(ms, &discordtest.Member{User: u, Roles: []string{}})
			if j == 0 {
				g.user = u
			}
		}
		dfake.AddGuild(&discordtest.Guild{ID: g.id, Name: fmt.Sprintf("Guild %d", i), OwnerID: owner.ID, MemberCount: members,
			Roles: []*discordtest.Role{{ID: g.id, Name: "@everyone"},
				{ID: modRole, Name: "mods", Permissions: discordtest.PermissionBanMembers | discordtest.PermissionKickMembers}},
			Channels: []*discordtest.Channel{{ID: g.general, GuildID: g.id, Name: "general", Type: discordtest.ChannelTypeGuildText}},
			Members:  ms})
		gs[i] = g
	}
	tfake := telegramtest.New(telegramtest.Options{LongPollCap: time.Second})
	defer tfake.Close()
	towner := tfake.NewUser("Owner")
	member := tfake.NewUser("Member")
	var chats []telegramtest.Chat
	for i := range groups {
		chats = append(chats, tfake.NewSupergroup(fmt.Sprintf("Group %d", i), towner, member))
	}

	dir := t.TempDir()
	addr, err := soakFreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`log_level: warn
storage: {path: %s}
discord: {enabled: true, token: test-token, api_url: %s}
telegram: {enabled: true, token: %q, api_url: %s, poll_timeout: 1s}
api: {listen: %s}
`, filepath.Join(dir, "m.db"), dfake.APIURL(), tfake.Token(), tfake.URL, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$")
	// At each measurement the child collects garbage and writes its live
	// heap to dir/heap-N.txt. With CHATWARDEN_SOAK_HEAPPROFILE=prefix it
	// also writes a heap profile, prefix-0.prof, -1.prof...: compare them
	// with go tool pprof -base.
	cmd.Env = append(os.Environ(), "CHATWARDEN_MEMORY_CHILD="+cfgPath, "CHATWARDEN_MEMORY_REPORT="+dir)
	if os.Getenv("CHATWARDEN_SOAK_HEAPPROFILE") != "" { // fine enough to compare rounds, from the start
		cmd.Env = append(cmd.Env, "GODEBUG=memprofilerate=4096")
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	base := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}
	waitUntil(t, "the bot ready", func() bool { return ready(base) })
	for _, c := range chats { // the bot meets each group
		tfake.Message(c, member, "hello")
	}
	// Every guild is in once a message in the last one is recorded: the
	// fake sends the guilds before anything else on the connection.
	last := gs[len(gs)-1]
	dfake.Say(last.id, last.general, last.user, "the last guild")
	recordedMessages := func() float64 {
		m, err := soakScrape(context.Background(), client, base+"/metrics")
		if err != nil {
			return -1
		}
		return m.sum("chatwarden_events_recorded_total", `type="CHAT_MESSAGE"`)
	}
	waitUntil(t, "every guild in", func() bool { return recordedMessages() >= 1 })
	// Settled: resident memory stops changing between samples.
	measured := 0
	settle := func(what string) (rss, hwm int64, live float64) {
		prev := int64(-1)
		for range 60 {
			time.Sleep(3 * time.Second)
			rss, hwm = procMemory(t, cmd.Process.Pid)
			if prev >= 0 && abs(rss-prev) < rss/100 {
				break
			}
			prev = rss
		}
		heap := -1.0
		if m, err := soakScrape(context.Background(), client, base+"/metrics"); err == nil {
			heap = m.sum("go_memstats_heap_inuse_bytes")
		}
		report := filepath.Join(dir, fmt.Sprintf("heap-%d.txt", measured))
		measured++
		if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the child's live heap", func() bool {
			b, err := os.ReadFile(report)
			return err == nil && json.Unmarshal(b, &live) == nil
		})
		t.Logf("%s: RSS %.0f MiB (peak %.0f MiB), Go heap in use %.0f MiB, live after GC %.1f MiB",
			what, float64(rss)/(1<<20), float64(hwm)/(1<<20), heap/(1<<20), live/(1<<20))
		return rss, hwm, live
	}
	m, err := soakScrape(context.Background(), client, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("go_goroutines %.0f", m.sum("go_goroutines"))
	rss1, _, _ := settle(fmt.Sprintf("%d guilds of %d members and %d groups", guilds, members, groups))
	// Rounds of 50,000 messages: caches and the store's reused buffers
	// fill in the first, a leak would grow again in the next.
	sent := 0
	var afterFirst float64
	for round := 1; round <= *memoryRounds; round++ {
		for range 50000 {
			g := gs[sent%len(gs)]
			dfake.Say(g.id, g.general, g.user, fmt.Sprintf("message %d", sent))
			sent++
		}
		waitUntil(t, "the messages recorded", func() bool { return recordedMessages() >= float64(sent+1) })
		rss, _, live := settle(fmt.Sprintf("after %d more messages", sent))
		t.Logf("growth with %d events: %+.1f MiB", sent, float64(rss-rss1)/(1<<20))
		if round == 1 {
			afterFirst = live
			continue
		}
		// Generous: the store's reused buffers (TestAppendKeepsBoundedMemory)
		// may still fill towards their bounds after the first round, and
		// bbolt's freelist follows the free pages; 50,000 messages kept in
		// memory at the 450 bytes each they would take are 21 MiB.
		if grew := live - afterFirst; grew > 16<<20 {
			t.Errorf("live heap grew by %.1f MiB from round 1 to round %d", grew/(1<<20), round)
		}
	}
}

// TestMemoryChild is the bot TestManyCommunitiesMemory measures.
func TestMemoryChild(t *testing.T) {
	cfgPath := os.Getenv("CHATWARDEN_MEMORY_CHILD")
	if cfgPath == "" {
		t.Skip("only run as a child of TestManyCommunitiesMemory")
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if dir := os.Getenv("CHATWARDEN_MEMORY_REPORT"); dir != "" {
		prefix := os.Getenv("CHATWARDEN_SOAK_HEAPPROFILE")
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		go func() {
			for n := 0; ; n++ {
				select {
				case <-usr1:
				case <-ctx.Done():
					return
				}
				// Two collections: what sync.Pools held at the first is
				// gone after the second.
				var ms, ms1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms1)
				runtime.GC()
				runtime.ReadMemStats(&ms)
				fmt.Fprintf(os.Stderr, "child: heap after GC %.1f MiB in %d objects (after one GC %.1f MiB in %d)\n",
					float64(ms.HeapAlloc)/(1<<20), ms.HeapObjects, float64(ms1.HeapAlloc)/(1<<20), ms1.HeapObjects)
				if prefix != "" {
					path := fmt.Sprintf("%s-%d.prof", prefix, n)
					if err := soakHeapProfile(path + ".tmp"); err == nil {
						os.Rename(path+".tmp", path)
					} else {
						fmt.Fprintln(os.Stderr, "child: heap profile:", err)
					}
				}
				report := filepath.Join(dir, fmt.Sprintf("heap-%d.txt", n))
				os.WriteFile(report+".tmp", []byte(strconv.FormatUint(ms.HeapAlloc, 10)), 0o600)
				os.Rename(report+".tmp", report)
			}
		}()
	}
	if err := bot.Run(ctx, cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel)); err != nil {
		t.Fatal(err)
	}
}

// processCPU returns the CPU time (user and system) this process used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMemory reads a process's resident and peak resident memory.
func procMemory(t *testing.T, pid int) (rss, hwm int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			hwm = n << 10
		}
	}
	return rss, hwm
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
