package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// The benchmark store: one busy Discord server with 1,000,000 records over
// 90 days from 5,000 members whose activity follows Zipf's law, 20
// channels, a realistic mix of types (mostly messages).
const (
	benchEvents  = 1_000_000
	benchBatch   = 10_000
	benchUsers   = 5000
	benchProp    = "110000000000000001"
	benchDoneKey = "complete-v1"
)

var benchTypes = []struct {
	t audit.EventType
	w int
}{
	{audit.ChatMessage, 70}, {audit.ChatMessageEdit, 8}, {audit.ChatMessageDelete, 6}, {audit.UserJoin, 4},
	{audit.UserRemove, 3}, {audit.UserUpdate, 3}, {audit.ModerationLink, 2}, {audit.UserBan, 1},
	{audit.VerificationSuccess, 2}, {audit.SecurityEvent, 1},
}

func benchPickType(rng *rand.Rand) audit.EventType {
	n := rng.IntN(100)
	for _, x := range benchTypes {
		if n < x.w {
			return x.t
		}
		n -= x.w
	}
	return audit.ChatMessage
}

// benchStore opens (building it the first time) the benchmark store at
// CHATWARDEN_BENCH_DB, by default a file in the temporary directory that
// later runs reuse.
func benchStore(b *testing.B) *store.Store {
	b.Helper()
	path := os.Getenv("CHATWARDEN_BENCH_DB")
	if path == "" {
		path = filepath.Join(os.TempDir(), "chatwarden-bench-1m.db")
	}
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.GetKV("bench", []byte(benchDoneKey)); err == nil {
		return s
	}
	if len(s.Properties()) > 0 {
		s.Close()
		b.Fatalf("%s holds an unfinished or foreign store: delete it", path)
	}
	b.Logf("building a %d-record store at %s (once)", benchEvents, path)
	start := time.Now()
	rng := rand.New(rand.NewPCG(7, 11))
	zipf := rand.NewZipf(rng, 1.1, 1, benchUsers-1)
	t0 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	step := 90 * 24 * time.Hour / benchEvents
	for i := 0; i < benchEvents; i += benchBatch {
		batch := &recorder.Batch{Events: make([]*audit.Event, 0, benchBatch)}
		for j := i; j < i+benchBatch; j++ {
			typ := benchPickType(rng)
			e := &audit.Event{
				Time: t0.Add(time.Duration(j) * step), Platform: audit.Discord, PropertyID: benchProp,
				Type: typ, PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
				ActorID: fmt.Sprintf("3%017d", zipf.Uint64()), ActorName: "some_member",
				ChannelID: fmt.Sprintf("2%017d", rng.IntN(20)),
			}
			switch typ {
			case audit.ChatMessage, audit.ChatMessageEdit, audit.ChatMessageDelete:
				e.MessageID = fmt.Sprint(1_000_000_000 + j)
				e.Content = "Has anyone tried the new release? The migration guide says to back up first, which I did, twice."
			case audit.ModerationLink, audit.UserBan, audit.SecurityEvent:
				e.ActorType, e.ActorID = audit.ActorBot, "bot"
				e.TargetIDs = []string{fmt.Sprintf("3%017d", zipf.Uint64())}
				e.Params = audit.Params{"reason": "spam", "action": "DELETE"}
			}
			batch.Events = append(batch.Events, e)
		}
		if err := s.Append(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Put("bench", []byte(benchDoneKey), []byte("1")); err != nil {
		b.Fatal(err)
	}
	b.Logf("built in %v", time.Since(start).Round(time.Second))
	return s
}

// BenchmarkActivitiesPage requests 50-item pages of activities.list over
// real HTTP (loopback) from a 1,000,000-record store with two concurrent
// clients: half the requests filter by a random member, half by a random
// type, and a third of them follow the previous answer's nextPageToken.
// It reports requests per second and the 50th and 99th percentile
// latencies as measured by the clients.
func BenchmarkActivitiesPage(b *testing.B) {
	s := benchStore(b)
	defer s.Close()
	tokens := command.NewTokens(s, nopRecorder{})
	token, info, err := tokens.Create(context.Background(), audit.Discord, benchProp, testAdmin, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer tokens.Revoke(context.Background(), audit.Discord, benchProp, info.ID, testAdmin)
	srv, err := New(Options{Store: s, Recorder: nopRecorder{}, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	base := ts.URL + "/v1/properties/discord:" + benchProp + "/activities?"
	const clients = 2
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		items     int
	)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		n := b.N / clients
		if c == 0 {
			n += b.N % clients
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: transport}
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			zipf := rand.NewZipf(rng, 1.1, 1, benchUsers-1)
			var prev url.Values
			local := make([]time.Duration, 0, n)
			var buf bytes.Buffer
			got := 0
			for range n {
				q := url.Values{"maxResults": {"50"}}
				switch {
				case prev != nil && rng.IntN(3) == 0:
					q = prev
				case rng.IntN(2) == 0:
					q.Set("user", fmt.Sprintf("3%017d", zipf.Uint64()))
				default:
					q.Set("eventName", benchTypes[rng.IntN(len(benchTypes))].t.String())
				}
				t0 := time.Now()
				req, _ := http.NewRequest("GET", base+q.Encode(), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					panic(err)
				}
				buf.Reset()
				_, err = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				body := buf.Bytes()
				local = append(local, time.Since(t0))
				if err != nil || resp.StatusCode != 200 {
					panic(fmt.Sprintf("%d %s %v", resp.StatusCode, body, err))
				}
				// The tests check the answers; the client only counts
				// items and picks the token, so that its own work takes
				// little of the machine's two cores.
				got += bytes.Count(body, []byte(`"kind":"chatwarden#activity"`))
				prev = nil
				if _, rest, ok := bytes.Cut(body, []byte(`"nextPageToken":"`)); ok {
					tok, _, _ := bytes.Cut(rest, []byte(`"`))
					prev = cloneValues(q)
					prev.Set("pageToken", string(tok))
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			items += got
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := min(len(latencies)-1, int(float64(len(latencies))*p))
		return float64(latencies[i].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(items)/float64(b.N), "items/req")
}
