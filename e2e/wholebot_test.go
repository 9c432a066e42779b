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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// The whole-bot figures of BENCHMARKS.md (issue 20): how many gateway
// messages one process turns into durable records with the engines on,
// and what one process holding thousands of communities weighs. Both are
// behind the soak tag and run by hand:
//
//	go test -tags soak -run TestWholeBotThroughput -v -timeout 20m ./e2e/
//	go test -tags soak -run TestManyCommunitiesMemory -v -timeout 20m ./e2e/

var (
	throughputDuration = flag.Duration("wholebot.duration", 30*time.Second, "how long TestWholeBotThroughput sends messages")
	throughputSenders  = flag.Int("wholebot.senders", 8, "goroutines sending gateway messages")
)

const wholeBotOperator = "operator-token-for-the-whole-bot-test-0123456789"

// TestWholeBotThroughput: the real bot (bot.Run, link filter and
// impersonation guard on by default) against the fake Discord gateway,
// chat messages in 300 guilds sent as fast as the senders can. It reports
// the sustained rate from the first frame sent to the last record durable,
// and the latency from a frame sent to its record on the activities:watch
// stream (durable, then fanned out) for a sample of guilds. No assertion
// on speed: the figures go to BENCHMARKS.md.
func TestWholeBotThroughput(t *testing.T) {
	const guilds, members = 300, 20
	dfake := discordtest.New(discordtest.Options{})
	defer dfake.Close()
	owner := &discordtest.User{ID: dfake.Snowflake(), Username: "owner", GlobalName: "The Owner"}
	type guild struct {
		id, general string
		users       []*discordtest.User
	}
	gs := make([]guild, guilds)
	for i := range gs {
		g := guild{id: dfake.Snowflake(), general: dfake.Snowflake()}
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
	dir := t.TempDir()
	addr, err := soakFreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`log_level: warn
storage: {path: %s}
discord: {enabled: true, token: test-token, api_url: %s}
api: {listen: %s, operator_token: %s}
`, filepath.Join(dir, "w.db"), dfake.APIURL(), addr, wholeBotOperator)), "wholebot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- bot.Run(ctx, cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel)) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("bot.Run: %v", err)
		}
	}()
	base := "http://" + addr
	waitUntil(t, "the bot ready", func() bool { return ready(base) })

	// The latency sample: the first five guilds' watch streams.
	sent := sync.Map{} // message content -> time sent
	var latMu sync.Mutex
	var lat []time.Duration
	for _, g := range gs[:5] {
		go watchLatency(ctx, t, base, "discord:"+g.id, func(content string, at time.Time) {
			if v, ok := sent.Load(content); ok {
				latMu.Lock()
				lat = append(lat, at.Sub(v.(time.Time)))
				latMu.Unlock()
			}
		})
	}
	time.Sleep(time.Second) // the watchers connect

	client := &http.Client{Timeout: 10 * time.Second}
	before, err := soakScrape(ctx, client, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	recorded := func(m soakMetrics) float64 {
		return m.sum("chatwarden_events_recorded_total", `platform="discord"`, `type="CHAT_MESSAGE"`)
	}
	start := time.Now()
	var n atomic.Int64
	var wg sync.WaitGroup
	for s := range *throughputSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; time.Since(start) < *throughputDuration; i += *throughputSenders {
				g := gs[i%len(gs)]
				content := fmt.Sprintf("msg %d/%d see https://example.org/page/%d", s, i, i)
				if i%len(gs) < 5 {
					sent.Store(content, time.Now())
				}
				dfake.Say(g.id, g.general, g.users[i%len(g.users)], content)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	sendTime := time.Since(start)
	total := float64(n.Load())
	var last soakMetrics
	waitUntil(t, "every message durable", func() bool {
		m, err := soakScrape(ctx, client, base+"/metrics")
		if err != nil {
			return false
		}
		last = m
		return recorded(m)-recorded(before) >= total
	})
	elapsed := time.Since(start)
	latMu.Lock()
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	t.Logf("%d messages in %d guilds: sent in %s (%.0f/s offered), all durable after %s: %.0f messages/s sustained",
		int(total), guilds, sendTime.Round(time.Millisecond), total/sendTime.Seconds(), elapsed.Round(time.Millisecond), total/elapsed.Seconds())
	t.Logf("frame sent -> record on the watch stream, %d samples: p50 %s, p99 %s, max %s",
		len(lat), q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), q(1).Round(time.Millisecond))
	t.Logf("recorder: p50 commit %.1f ms, p99 commit %.1f ms, mean batch %.0f events",
		1000*last.quantile("chatwarden_recorder_commit_seconds", 0.5), 1000*last.quantile("chatwarden_recorder_commit_seconds", 0.99),
		last.sum("chatwarden_recorder_batch_size_sum")/max(1, last.sum("chatwarden_recorder_batch_size_count")))
	latMu.Unlock()
	if len(lat) == 0 {
		t.Error("no latency sample arrived on the watch streams")
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
// groups. It reports the process's resident memory once every guild is
// in, and again after 50,000 more messages: what is ours must not grow
// with the number of events.
func TestManyCommunitiesMemory(t *testing.T) {
	if os.Getenv("CHATWARDEN_MEMORY_CHILD") != "" {
		t.Skip("child")
	}
	const guilds, members, groups = 2000, 1000, 100
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
	cmd.Env = append(os.Environ(), "CHATWARDEN_MEMORY_CHILD="+cfgPath)
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
	settle := func(what string) (rss, hwm int64) {
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
		t.Logf("%s: RSS %.0f MiB (peak %.0f MiB), Go heap in use %.0f MiB", what, float64(rss)/(1<<20), float64(hwm)/(1<<20), heap/(1<<20))
		return rss, hwm
	}
	m, err := soakScrape(context.Background(), client, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("go_goroutines %.0f", m.sum("go_goroutines"))
	rss1, _ := settle(fmt.Sprintf("%d guilds of %d members and %d groups", guilds, members, groups))
	// Two rounds of 50,000 messages: caches fill in the first, a leak
	// would grow again in the second.
	sent := 0
	for round := 1; round <= 2; round++ {
		for range 50000 {
			g := gs[sent%len(gs)]
			dfake.Say(g.id, g.general, g.user, fmt.Sprintf("message %d", sent))
			sent++
		}
		waitUntil(t, "the messages recorded", func() bool { return recordedMessages() >= float64(sent+1) })
		rss, _ := settle(fmt.Sprintf("after %d more messages", sent))
		t.Logf("growth with %d events: %+.1f MiB", sent, float64(rss-rss1)/(1<<20))
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
	if err := bot.Run(ctx, cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel)); err != nil {
		t.Fatal(err)
	}
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
