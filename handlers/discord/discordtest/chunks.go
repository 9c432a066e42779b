package discordtest

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
)

// The gateway's REQUEST_GUILD_MEMBERS (op 8) and its answer, the
// GUILD_MEMBERS_CHUNK dispatches, as the Discord documentation describes
// them: up to 1000 members a chunk, chunk_index and chunk_count, the
// request's nonce echoed; the whole member list (query "" and limit 0)
// needs the GUILD_MEMBERS intent; a guild's whole list may be asked for
// once every 30 seconds (a second request gets a RATE_LIMITED dispatch).

// Limits of REQUEST_GUILD_MEMBERS (Discord documentation).
const (
	chunkSize           = 1000
	memberRequestWindow = 30 * time.Second // whole-list requests, per guild and bot
	memberQueryMax      = 100              // members a query prefix or user_ids returns
	nonceMax            = 32               // bytes; a longer nonce is ignored
)

// MemberRequest is one REQUEST_GUILD_MEMBERS the gateway received.
type MemberRequest struct {
	GuildID string
	Query   *string
	Limit   int
	UserIDs []string
	Nonce   string
	Time    time.Time
	// Answered is false for a request refused (missing intent, rate
	// limited) or held (Options.HoldMemberChunks).
	Answered bool
}

// chunkState is the op-8 bookkeeping of one server.
type chunkState struct {
	mu       sync.Mutex
	requests []MemberRequest
	last     map[string]time.Time // guild -> last whole-list request answered
}

var chunkStates sync.Map // *Server -> *chunkState

func (s *Server) chunks() *chunkState {
	v, _ := chunkStates.LoadOrStore(s, &chunkState{last: map[string]time.Time{}})
	return v.(*chunkState)
}

// MemberRequests returns every REQUEST_GUILD_MEMBERS received so far.
func (s *Server) MemberRequests() []MemberRequest {
	cs := s.chunks()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]MemberRequest(nil), cs.requests...)
}

// requestMembers serves an op 8 of a session. A non-zero code is a close
// code the caller closes the socket with.
func (s *Server) requestMembers(sess *session, d json.RawMessage) (code int, text string) {
	if sess == nil {
		return 4003, "Not authenticated."
	}
	var in struct {
		GuildID json.RawMessage `json:"guild_id"`
		Query   *string         `json:"query"`
		Limit   int             `json:"limit"`
		UserIDs json.RawMessage `json:"user_ids"`
		Nonce   string          `json:"nonce"`
	}
	if json.Unmarshal(d, &in) != nil {
		return 4002, "Error while decoding payload."
	}
	guild, ok := oneSnowflake(in.GuildID)
	if !ok {
		return 4002, "Error while decoding payload." // one guild_id per request
	}
	var users []string
	if len(in.UserIDs) > 0 {
		if id, ok := oneSnowflake(in.UserIDs); ok {
			users = []string{id}
		} else if json.Unmarshal(in.UserIDs, &users) != nil {
			return 4002, "Error while decoding payload."
		}
	}
	if len(in.Nonce) > nonceMax {
		in.Nonce = ""
	}
	req := MemberRequest{GuildID: guild, Query: in.Query, Limit: in.Limit, UserIDs: users, Nonce: in.Nonce, Time: time.Now()}
	whole := users == nil && in.Query != nil && *in.Query == "" && in.Limit == 0
	cs := s.chunks()
	record := func(answered bool) {
		req.Answered = answered
		cs.mu.Lock()
		cs.requests = append(cs.requests, req)
		cs.mu.Unlock()
	}
	if whole && sess.intent&discordgo.IntentsGuildMembers == 0 {
		record(false)
		return 4013, "Invalid intent(s)."
	}
	if whole {
		cs.mu.Lock()
		last, seen := cs.last[guild]
		limited := seen && req.Time.Sub(last) < memberRequestWindow
		if !limited && !s.opts.HoldMemberChunks {
			cs.last[guild] = req.Time
		}
		cs.mu.Unlock()
		if limited {
			record(false)
			s.dispatchTo(sess, "RATE_LIMITED", map[string]any{"opcode": 8,
				"retry_after": (memberRequestWindow - req.Time.Sub(last)).Seconds(),
				"meta":        map[string]any{"guild_id": guild, "nonce": in.Nonce}})
			return 0, ""
		}
	}
	if s.opts.HoldMemberChunks {
		record(false)
		return 0, ""
	}
	record(true)
	for _, c := range s.memberChunks(guild, in.Query, in.Limit, users, in.Nonce) {
		s.dispatchTo(sess, "GUILD_MEMBERS_CHUNK", c)
	}
	return 0, ""
}

// oneSnowflake reads a snowflake, or an array holding exactly one (what
// discordgo's RequestGuildMembers sends as guild_id).
func oneSnowflake(raw json.RawMessage) (string, bool) {
	var id string
	if json.Unmarshal(raw, &id) == nil && id != "" {
		return id, true
	}
	var ids []string
	if json.Unmarshal(raw, &ids) == nil && len(ids) == 1 && ids[0] != "" {
		return ids[0], true
	}
	return "", false
}

// chunkMember is a guild member as GUILD_MEMBERS_CHUNK carries it: no
// guild_id, roles as string snowflakes.
type chunkMember struct {
	User     *discordgo.User `json:"user"`
	Nick     string          `json:"nick,omitempty"`
	Roles    []string        `json:"roles"`
	JoinedAt time.Time       `json:"joined_at"`
	Deaf     bool            `json:"deaf"`
	Mute     bool            `json:"mute"`
	Flags    int             `json:"flags"`
}

// membersChunk is the GUILD_MEMBERS_CHUNK payload.
type membersChunk struct {
	GuildID    string        `json:"guild_id"`
	Members    []chunkMember `json:"members"`
	ChunkIndex int           `json:"chunk_index"`
	ChunkCount int           `json:"chunk_count"`
	NotFound   []string      `json:"not_found,omitempty"`
	Nonce      string        `json:"nonce,omitempty"`
}

// memberChunks selects the members a request asks for and cuts them in
// chunks. An unknown guild gets no answer.
func (s *Server) memberChunks(guild string, query *string, limit int, users []string, nonce string) []membersChunk {
	s.mu.Lock()
	g := s.guilds[guild]
	var all []chunkMember
	var notFound []string
	if g != nil {
		switch {
		case users != nil:
			if len(users) > memberQueryMax {
				users = users[:memberQueryMax]
			}
			for _, id := range users {
				if m := s.findMemberLocked(guild, id); m != nil {
					all = append(all, chunkOf(m))
				} else {
					notFound = append(notFound, id)
				}
			}
		case query != nil:
			prefix := strings.ToLower(*query)
			max := limit
			if prefix != "" && (max == 0 || max > memberQueryMax) {
				max = memberQueryMax
			}
			for _, m := range g.Members {
				if m.User == nil || !strings.HasPrefix(strings.ToLower(m.User.Username), prefix) {
					continue
				}
				all = append(all, chunkOf(m))
				if max > 0 && len(all) == max {
					break
				}
			}
		}
	}
	s.mu.Unlock()
	if g == nil {
		return nil
	}
	count := max(1, (len(all)+chunkSize-1)/chunkSize)
	out := make([]membersChunk, 0, count)
	for i := range count {
		part := all[min(i*chunkSize, len(all)):min((i+1)*chunkSize, len(all))]
		c := membersChunk{GuildID: guild, Members: append([]chunkMember{}, part...), ChunkIndex: i, ChunkCount: count, Nonce: nonce}
		if i == count-1 {
			c.NotFound = notFound
		}
		out = append(out, c)
	}
	return out
}

// chunkOf copies a member; the caller holds s.mu.
func chunkOf(m *discordgo.Member) chunkMember {
	roles := append([]string{}, m.Roles...)
	u := *m.User
	return chunkMember{User: &u, Nick: m.Nick, Roles: roles, JoinedAt: m.JoinedAt, Deaf: m.Deaf, Mute: m.Mute, Flags: int(m.Flags)}
}
