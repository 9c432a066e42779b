package discordtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// Baseline is the whole-bot benchmark's bare baseline (e2e, issue 20):
// discordgo sessions connected to the fake, one per shard, set up as the
// bot sets up its own (intents, SyncEvents, state without presences or
// messages), with one handler that only hands each MESSAGE_CREATE's
// content to a callback. What it costs is what discordgo and the fake
// cost without anything of the bot's.
type Baseline struct {
	sessions []*discordgo.Session
}

// Baseline connects shards discordgo sessions (shard i of shards) with
// intents; seen is called with the content of every MESSAGE_CREATE, on
// the session's reading goroutine.
func (s *Server) Baseline(shards int, intents discordgo.Intent, seen func(content string)) (*Baseline, error) {
	to, err := url.Parse(s.APIURL())
	if err != nil {
		return nil, fmt.Errorf("discordtest: baseline: %w", err)
	}
	from := discordgo.EndpointAPI
	redirect := roundTripper(func(r *http.Request) (*http.Response, error) {
		full := r.URL.String()
		if rest, ok := strings.CutPrefix(full, from); ok {
			u, err := url.Parse(strings.TrimSuffix(to.String(), "/") + "/" + rest)
			if err != nil {
				return nil, err
			}
			r = r.Clone(r.Context())
			r.URL, r.Host = u, u.Host
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	b := &Baseline{}
	for i := range shards {
		token, _ := s.credentials()
		ds, err := discordgo.New("Bot " + token)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("discordtest: baseline session: %w", err)
		}
		ds.Client = &http.Client{Transport: redirect}
		ds.Identify.Intents = intents
		ds.ShardID, ds.ShardCount = i, shards
		ds.SyncEvents = true
		ds.StateEnabled = true
		ds.State.TrackPresences = false
		ds.State.MaxMessageCount = 0
		ds.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { seen(m.Content) })
		if err := ds.Open(); err != nil {
			b.Close()
			return nil, fmt.Errorf("discordtest: baseline shard %d: %w", i, err)
		}
		b.sessions = append(b.sessions, ds)
	}
	return b, nil
}

// Close disconnects the sessions.
func (b *Baseline) Close() {
	for _, ds := range b.sessions {
		ds.Close()
	}
}
