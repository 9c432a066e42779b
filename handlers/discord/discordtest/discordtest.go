// Package discordtest is a fake Discord for tests and the demo: it speaks
// the real gateway protocol over a real websocket on 127.0.0.1 (hello,
// identify with token and intent checks, READY, GUILD_CREATE, heartbeats,
// resume with replay) and serves the REST routes chatwarden uses, so the
// unmodified discordgo session runs against it the way net/http/httptest
// serves real HTTP. Payloads are Discord API shapes: string snowflakes,
// string permission fields. GUILD_CREATE lists members as Discord does
// to the session's intents: to chatwarden, which does not ask for
// GUILD_PRESENCES, only the bot's member and those in voice channels,
// with member_count counting all and "large" above the identify's
// large_threshold (intents.go); the rest are read with REQUEST_GUILD_MEMBERS
// (op 8, chunks.go) or over REST.
package discordtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// Application flags that enable the privileged intents.
const (
	FlagGuildMembers   = 1 << 14
	FlagMessageContent = 1 << 18
)

// Options configure a Server. Zero values take working defaults.
type Options struct {
	Token    string // the bot token the fake accepts (without "Bot ")
	AppID    string
	BotName  string
	AppFlags int // default FlagGuildMembers|FlagMessageContent
	// MaxConcurrency is GET /gateway/bot's session_start_limit
	// .max_concurrency (default 1): shard s identifies in rate-limit
	// bucket s % MaxConcurrency, one identify per bucket every 5 seconds
	// (IdentifyViolations counts the others).
	MaxConcurrency int
	// HeartbeatInterval the gateway asks for (default 41.25s).
	HeartbeatInterval time.Duration
	// MessageLimit messages per MessageWindow per channel (Discord's
	// bucket, default 5 per 5s); requests over it get 429 and are counted.
	MessageLimit  int
	MessageWindow time.Duration
	// LargeGuilds marks every guild "large", as Discord marks one whose
	// member_count is above the identify's large_threshold, however few
	// members the fake holds. Its members in GUILD_CREATE are what
	// Discord sends of a large guild (intents.go, shownMembers): to
	// chatwarden, which does not ask for GUILD_PRESENCES, only the bot's
	// and those in voice channels, as for any guild.
	LargeGuilds bool
	// HoldMemberChunks makes the gateway record REQUEST_GUILD_MEMBERS
	// (op 8) without answering it, as when the chunks are slow to come:
	// the bot must then read members over REST.
	HoldMemberChunks bool
}

// Server is a running fake Discord.
type Server struct {
	URL  string
	opts Options
	http *httptest.Server
	up   websocket.Upgrader

	mu        sync.Mutex
	guilds    map[string]*discordgo.Guild
	calls     []Call
	sessions  map[string]*session
	conns     map[*websocket.Conn]*session
	identify  []Identify
	identAt   []time.Time // when each identify came
	nextID    atomic.Uint64
	resumes   int
	dials     int // gateway connections opened
	started   int // sessions started by an accepted identify
	auditLogs map[string][]*discordgo.AuditLogEntry
	fail      map[string]int // route prefix -> remaining 5xx answers
	denied    map[string]bool
	posts     map[string][][]byte          // accepted message bodies by channel
	postIDs   map[string][]string          // their message ids
	edits     map[string]int               // edits of them, by channel
	banned    map[string]bool              // guild/user banned by a bulk ban
	bulkBans  [][]string                   // every bulk ban's user_ids
	deleted   []string                     // webhooks and integrations deleted
	commands  map[string][]json.RawMessage // "" (global) or guild id -> registered commands
	buckets   map[string]*bucket
	violated  int
	replies   map[string][]Reply       // interaction token -> callbacks and edits
	delays    map[string]time.Duration // route prefix -> latency before answering
	limited   map[string]*injected     // route prefix -> injected 429s (faults.go)
	oauthSt   *oauthState              // OAuth2 applications, codes and tokens (oauth.go)
}

// Reply is one answer to an interaction: a callback or an edit of the
// original response.
type Reply struct {
	Kind string // "callback" or "edit"
	Body []byte // JSON (multipart edits: the payload_json part)
	File string // the name of an attached file, if any
	Data []byte // its bytes
}

// Call is one REST request the bot made.
type Call struct {
	Method, Path, Reason string
	Query                url.Values
	Body                 []byte
}

// session is one gateway session: its dispatch log survives reconnects so
// a resume replays what was missed.
type session struct {
	id     string
	seq    int64
	sent   []frame
	conn   *websocket.Conn
	wmu    sync.Mutex
	intent discordgo.Intent
	large  int // the identify's large_threshold, 50 to 250
	// shard and shards are the identify's [shard_id, num_shards]
	// (shards.go); shards is 0 for an identify without one.
	shard, shards int
}

type frame struct {
	Op   int             `json:"op"`
	D    json.RawMessage `json:"d"`
	S    int64           `json:"s,omitempty"`
	T    string          `json:"t,omitempty"`
	seqd bool
}

// New starts a fake Discord on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = "test-token"
	}
	if opts.AppID == "" {
		opts.AppID = "900000000000000001"
	}
	if opts.BotName == "" {
		opts.BotName = "chatwarden"
	}
	if opts.AppFlags == 0 {
		opts.AppFlags = FlagGuildMembers | FlagMessageContent
	}
	if opts.MaxConcurrency < 1 {
		opts.MaxConcurrency = 1
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 41250 * time.Millisecond
	}
	if opts.MessageLimit == 0 {
		opts.MessageLimit = 5
	}
	if opts.MessageWindow == 0 {
		opts.MessageWindow = 5 * time.Second
	}
	s := &Server{opts: opts, guilds: map[string]*discordgo.Guild{}, sessions: map[string]*session{},
		conns: map[*websocket.Conn]*session{}, auditLogs: map[string][]*discordgo.AuditLogEntry{}, fail: map[string]int{}, denied: map[string]bool{}, posts: map[string][][]byte{},
		postIDs: map[string][]string{}, edits: map[string]int{}, banned: map[string]bool{},
		commands: map[string][]json.RawMessage{}, replies: map[string][]Reply{}, buckets: map[string]*bucket{},
		delays: map[string]time.Duration{}, limited: map[string]*injected{}}
	s.nextID.Store(1)
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.http.URL
	return s
}

// APIURL is the REST base to configure as discord.api_url.
func (s *Server) APIURL() string { return s.URL + "/api/v9" }

// BotID is the bot user's id.
func (s *Server) BotID() string { return s.opts.AppID }

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.DropConnections()
	s.http.Close()
}

// Snowflake returns a new id whose timestamp is now.
func (s *Server) Snowflake() string {
	ms := uint64(time.Now().UnixMilli() - 1420070400000)
	return strconv.FormatUint(ms<<22|s.nextID.Add(1)&0x3fffff, 10)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/gateway") {
		s.gateway(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v")
	if !ok {
		writeErr(w, 404, 0, "404: Not Found")
		return
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[i:]
	}
	s.rest(w, r, rest)
}

// Identify is what the fake reads of an IDENTIFY payload.
type Identify struct {
	Token   string           `json:"token"`
	Intents discordgo.Intent `json:"intents"`
	Shard   *[2]int          `json:"shard"`
	// LargeThreshold is the member count above which a guild is large
	// (50 to 250; Discord's default, 50, when absent).
	LargeThreshold int `json:"large_threshold"`
}

// Identifies returns every IDENTIFY the fake accepted or refused.
func (s *Server) Identifies() []Identify {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Identify(nil), s.identify...)
}

// IdentifyViolations counts the identifies that came less than 5 seconds
// after another of the same rate-limit bucket (shard id %
// Options.MaxConcurrency; an identify without a shard is shard 0), which
// Discord's max_concurrency forbids across every process of a bot.
func (s *Server) IdentifyViolations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := map[int]time.Time{}
	n := 0
	for i, id := range s.identify {
		bucket := 0
		if id.Shard != nil {
			bucket = id.Shard[0] % s.opts.MaxConcurrency
		}
		if t, ok := last[bucket]; ok && s.identAt[i].Sub(t) < 5*time.Second {
			n++
		}
		last[bucket] = s.identAt[i]
	}
	return n
}

// Resumes counts accepted RESUMEs.
func (s *Server) Resumes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resumes
}

// Calls returns the REST calls so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// bucket is one rate-limit bucket.
type bucket struct {
	used  int
	reset time.Time
}

// setRateLimit writes Discord's rate-limit headers of a bucket (all but
// Remaining).
func setRateLimit(h http.Header, bucket string, limit int, reset time.Time, after float64) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(reset.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", bucket)
}

// tooManyRequests answers 429 as Discord does for an exhausted bucket:
// the headers, Retry-After in whole seconds, and retry_after in the body.
func tooManyRequests(w http.ResponseWriter, bucket string, limit int, reset time.Time, after float64) {
	h := w.Header()
	setRateLimit(h, bucket, limit, reset, after)
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Scope", "user")
	h.Set("Retry-After", strconv.Itoa(int(after)+1))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{"message": "You are being rate limited.", "retry_after": after, "global": false})
}

// take spends one request of a bucket and writes Discord's rate-limit
// headers. It reports false (after answering 429) when the bucket is empty.
func (s *Server) take(w http.ResponseWriter, key string) bool {
	s.mu.Lock()
	b := s.buckets[key]
	now := time.Now()
	if b == nil || !now.Before(b.reset) {
		b = &bucket{reset: now.Add(s.opts.MessageWindow)}
		s.buckets[key] = b
	}
	// Rounded up to the millisecond, as Discord does: rounded down, a
	// client that waits exactly Reset-After would arrive a fraction of a
	// millisecond early and be counted over the limit.
	after := math.Ceil(b.reset.Sub(now).Seconds()*1000) / 1000
	h := w.Header()
	if b.used >= s.opts.MessageLimit {
		s.violated++
		s.mu.Unlock()
		tooManyRequests(w, key, s.opts.MessageLimit, b.reset, after)
		return false
	}
	setRateLimit(h, key, s.opts.MessageLimit, b.reset, after)
	b.used++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.opts.MessageLimit-b.used))
	s.mu.Unlock()
	return true
}

// RateLimitViolations counts requests that arrived while their bucket was
// empty (each answered 429).
func (s *Server) RateLimitViolations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.violated
}

// DenyChannel makes posts to a channel fail with 403 Missing Access, as
// when the bot lost its permissions there.
func (s *Server) DenyChannel(channel string) {
	s.mu.Lock()
	s.denied[channel] = true
	s.mu.Unlock()
}

// Posts returns the bodies of the messages the bot posted to a channel
// (accepted ones only).
func (s *Server) Posts(channel string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.posts[channel]...)
}

// Delay makes every later request whose path starts with prefix wait d
// before it is served, as a slow Discord does.
func (s *Server) Delay(prefix string, d time.Duration) {
	s.mu.Lock()
	s.delays[prefix] = d
	s.mu.Unlock()
}

// guildCreateLocked is a guild's GUILD_CREATE payload with every member
// and member_count counting them (at least the guild's own MemberCount);
// shape trims the members to what each session gets (intents.go,
// shownMembers). The caller holds s.mu.
func (s *Server) guildCreateLocked(g *discordgo.Guild) json.RawMessage {
	cp := *g
	cp.MemberCount = max(g.MemberCount, len(g.Members))
	cp.Large = g.Large || s.opts.LargeGuilds
	raw, _ := json.Marshal(&cp)
	return raw
}

// Fail5xx makes the next n requests whose path starts with prefix answer
// 502.
func (s *Server) Fail5xx(prefix string, n int) {
	s.mu.Lock()
	s.fail[prefix] += n
	s.mu.Unlock()
}

func (s *Server) gateway(w http.ResponseWriter, r *http.Request) {
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	s.mu.Lock()
	s.dials++
	s.mu.Unlock()
	hello, _ := json.Marshal(map[string]any{"heartbeat_interval": s.opts.HeartbeatInterval.Milliseconds()})
	if c.WriteJSON(frame{Op: 10, D: hello}) != nil {
		return
	}
	var sess *session
	for {
		var in struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if err := c.ReadJSON(&in); err != nil {
			if sess != nil {
				sess.wmu.Lock()
				if sess.conn == c {
					sess.conn = nil
				}
				sess.wmu.Unlock()
			}
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			return
		}
		switch in.Op {
		case 1: // heartbeat
			sess := sess
			if sess == nil {
				c.WriteJSON(frame{Op: 11, D: json.RawMessage("null")})
				continue
			}
			sess.write(frame{Op: 11, D: json.RawMessage("null")})
		case 2: // identify
			var id Identify
			if json.Unmarshal(in.D, &id) != nil {
				closeWith(c, 4002, "Error while decoding payload.")
				return
			}
			s.mu.Lock()
			s.identify = append(s.identify, id)
			s.identAt = append(s.identAt, time.Now())
			s.mu.Unlock()
			token, flags := s.credentials()
			if strings.TrimPrefix(id.Token, "Bot ") != token {
				closeWith(c, 4004, "Authentication failed.")
				return
			}
			if code, text := checkIntents(id.Intents, flags); code != 0 {
				closeWith(c, code, text) // intents.go
				return
			}
			if !validShard(id.Shard) {
				closeWith(c, 4010, "Invalid shard.") // shards.go
				return
			}
			if prev := sess; prev != nil {
				// Identify again on this socket (after op 9): the old
				// session's last write to it, under its lock, is over
				// before the new session writes.
				prev.wmu.Lock()
				prev.wmu.Unlock()
			}
			sess = &session{id: fmt.Sprintf("session-%d", s.nextID.Add(1)), conn: c, intent: id.Intents,
				large: min(max(id.LargeThreshold, largeThresholdMin), largeThresholdMax)}
			if id.Shard != nil {
				sess.shard, sess.shards = id.Shard[0], id.Shard[1]
			}
			s.mu.Lock()
			s.sessions[sess.id] = sess
			s.conns[c] = sess
			s.started++
			var stubs []map[string]any
			var guilds []json.RawMessage
			for _, g := range s.guilds {
				if !sess.owns(g.ID) {
					continue
				}
				stubs = append(stubs, map[string]any{"id": g.ID, "unavailable": true})
				if sess.intent&discordgo.IntentGuilds != 0 { // GUILD_CREATE needs GUILDS (intents.go)
					guilds = append(guilds, s.guildCreateFor(sess, g)) // under the lock: helpers change guilds
				}
			}
			s.mu.Unlock()
			s.dispatchTo(sess, "READY", map[string]any{
				"v": 9, "session_id": sess.id, "resume_gateway_url": "ws" + strings.TrimPrefix(s.URL, "http") + "/gateway",
				"user": s.botUser(), "guilds": stubs,
				"application": map[string]any{"id": s.opts.AppID, "flags": flags},
			})
			for _, g := range guilds {
				s.dispatchTo(sess, "GUILD_CREATE", g)
			}
		case 8: // request guild members (chunks.go)
			if code, text := s.requestMembers(sess, in.D); code != 0 {
				closeWith(c, code, text) // the read fails next and cleans up
			}
		case 6: // resume
			var res struct {
				Token     string `json:"token"`
				SessionID string `json:"session_id"`
				Seq       int64  `json:"seq"`
			}
			json.Unmarshal(in.D, &res)
			if token, _ := s.credentials(); strings.TrimPrefix(res.Token, "Bot ") != token {
				closeWith(c, 4004, "Authentication failed.")
				return
			}
			s.mu.Lock()
			old := s.sessions[res.SessionID]
			if old != nil {
				s.resumes++
				s.conns[c] = old
				sess = old
			}
			s.mu.Unlock()
			if old == nil {
				c.WriteJSON(frame{Op: 9, D: json.RawMessage("false")})
				continue
			}
			sess.wmu.Lock()
			sess.conn = c
			for _, f := range sess.sent {
				if f.S > res.Seq {
					c.WriteJSON(f)
				}
			}
			sess.wmu.Unlock()
			s.dispatchTo(sess, "RESUMED", map[string]any{})
		}
	}
}

func closeWith(c *websocket.Conn, code int, text string) {
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
	time.Sleep(20 * time.Millisecond)
}

func (sess *session) write(f frame) {
	sess.wmu.Lock()
	defer sess.wmu.Unlock()
	if sess.conn != nil {
		sess.conn.WriteJSON(f)
	}
}

// dispatchTo sends an event to one session, logging it for resumes.
// data is marshalled unless it is already a json.RawMessage.
func (s *Server) dispatchTo(sess *session, name string, data any) {
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			panic(fmt.Sprintf("discordtest: marshal %s: %v", name, err))
		}
	}
	sess.wmu.Lock()
	defer sess.wmu.Unlock()
	sess.seq++
	f := frame{Op: 0, T: name, S: sess.seq, D: raw}
	sess.sent = append(sess.sent, f)
	if sess.conn != nil {
		sess.conn.WriteJSON(f)
	}
}

// Dispatch sends a gateway event to every session that identified with
// the intent it needs, shaped by its intents (intents.go: message content,
// GUILD_CREATE's members); sessions that are not connected get it when
// they resume.
func (s *Server) Dispatch(name string, data any) {
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			panic(fmt.Sprintf("discordtest: marshal %s: %v", name, err))
		}
	}
	s.keepMessage(name, raw) // for REST reads (messages.go)
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	sharded := false
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
		sharded = sharded || sess.shards > 1
	}
	s.mu.Unlock()
	guild := ""
	if sharded {
		guild = eventGuild(name, raw)
	}
	for _, sess := range sessions {
		if !sess.owns(guild) {
			continue
		}
		if raw, ok := s.shape(sess, name, raw); ok {
			s.dispatchTo(sess, name, raw)
		}
	}
}

// DropConnections closes every gateway socket without a close frame, the
// way a network failure does; discordgo reconnects and resumes. It returns
// how many sockets it closed: none while the bot is between connections.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.conns)
	for c, sess := range s.conns {
		sess.wmu.Lock()
		if sess.conn == c {
			sess.conn = nil
		}
		sess.wmu.Unlock()
		c.UnderlyingConn().Close()
		delete(s.conns, c)
	}
	return n
}

// Connected reports whether any session has a live socket.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) > 0
}

func (s *Server) botUser() *discordgo.User {
	return &discordgo.User{ID: s.opts.AppID, Username: s.opts.BotName, Bot: true}
}

func writeErr(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"message": msg, "code": code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	json.NewEncoder(w).Encode(v)
}
