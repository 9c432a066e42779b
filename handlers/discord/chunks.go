package discord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// Member chunks: the staff, and every member's profile.
//
// Without GUILD_PRESENCES (which chatwarden does not ask for), and in any
// guild of over 75,000 members, Discord's GUILD_CREATE lists only the bot
// and the members in voice channels, while member_count counts them all;
// so a moderator who has not been seen since the bot connected is not in
// the state and their names would not be protected from impersonation,
// and a member's first nickname or role change would have no earlier
// value to be diffed against. After such a GUILD_CREATE (one that lists
// fewer members than it counts, or says "large") the bot asks the gateway
// once for the whole list (op 8 REQUEST_GUILD_MEMBERS, query "" and limit
// 0, which needs the GUILD_MEMBERS intent) and reads the
// GUILD_MEMBERS_CHUNK answers, up to 1000 members each. Of each member it
// stores the profile if none is stored (profile.go: on disk, written with
// the recorder's next commit, one submission a chunk); a stored profile
// is left as it is, as for GUILD_CREATE's members.
//
// Memory. discordgo's State, with TrackMembers on (its default), adds
// every member of every chunk to the guild: hundreds of bytes a member,
// the whole list of every large guild held for the life of the process.
// The directory needs only the staff (Staff, isStaff) and reads any other
// member over REST, briefly cached (directory.go). So the bot turns
// State.TrackMembers off and keeps the state's members itself: every
// member GUILD_MEMBER_ADD, _UPDATE and _REMOVE show, as discordgo would
// (trackMembers, registered before every other handler so that they see
// the state as before), but of a chunk only the owner, the members whose
// roles grant a staff permission (staffPerms) and members the state
// already holds (whose copy is refreshed). A role that comes to grant a
// staff permission later asks for the list again.
//
// Rate limits. discordgo does not pace gateway sends, and Discord closes
// a connection that sends more than 120 payloads in 60 seconds (heartbeats
// included); a whole-list request for one guild is also limited to one
// every 30 seconds per bot (a RATE_LIMITED dispatch answers an excess
// one). Requests are queued and sent by one goroutine, so the gateway
// handler never blocks: at most one every chunkSendGap (half the budget,
// however many large guilds arrive at startup), never twice for a guild
// within chunkGuildInterval, and a RATE_LIMITED answer puts the guild back
// for the time it says.

const (
	chunkSendGap       = time.Second      // between two op 8 of the connection
	chunkGuildInterval = 30 * time.Second // between two whole-list requests of a guild
	chunkRetry         = 5 * time.Second  // after a failed send (not connected)
	chunkPendingFor    = 5 * time.Minute  // an answer not complete by then is forgotten
)

// chunker queues the guilds whose member lists are to be requested and
// follows the requests in flight.
type chunker struct {
	mu      sync.Mutex
	queue   []chunkDue            // guilds to request, in order
	last    map[string]time.Time  // guild -> last request sent
	pending map[string]*chunkWait // nonce -> request in flight
	wake    chan struct{}
}

type chunkDue struct {
	guild     string
	notBefore time.Time
}

// chunkWait is one request in flight: the chunks seen of it.
type chunkWait struct {
	guild string
	sent  time.Time
	seen  int
	kept  int
}

func newChunker() *chunker {
	return &chunker{last: map[string]time.Time{}, pending: map[string]*chunkWait{}, wake: make(chan struct{}, 1)}
}

// enqueue asks for a guild's member list no sooner than notBefore; a guild
// already queued is not queued twice.
func (c *chunker) enqueue(guild string, notBefore time.Time) {
	c.mu.Lock()
	for i, d := range c.queue {
		if d.guild == guild {
			if notBefore.After(d.notBefore) {
				c.queue[i].notBefore = notBefore
			}
			c.mu.Unlock()
			return
		}
	}
	c.queue = append(c.queue, chunkDue{guild, notBefore})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// next takes the first guild due at now; else it returns how long until
// one is (0: the queue is empty).
func (c *chunker) next(now time.Time) (guild string, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, d := range c.queue {
		due := d.notBefore
		if last, ok := c.last[d.guild]; ok && last.Add(chunkGuildInterval).After(due) {
			due = last.Add(chunkGuildInterval)
		}
		if !due.After(now) {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return d.guild, 0
		}
		if w := due.Sub(now); wait == 0 || w < wait {
			wait = w
		}
	}
	return "", wait
}

// sent notes a request sent for a guild under a nonce.
func (c *chunker) sent(guild, nonce string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last[guild] = now
	for n, w := range c.pending {
		if now.Sub(w.sent) > chunkPendingFor {
			delete(c.pending, n)
		}
	}
	c.pending[nonce] = &chunkWait{guild: guild, sent: now}
}

// received counts a chunk of a request; it returns the request once its
// last chunk is in (nil before, and for chunks the bot did not ask for).
func (c *chunker) received(nonce string, count, kept int) *chunkWait {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.pending[nonce]
	if w == nil {
		return nil
	}
	w.seen++
	w.kept += kept
	if w.seen < count {
		return nil
	}
	delete(c.pending, nonce)
	return w
}

// drop forgets a request (rate limited), returning its guild.
func (c *chunker) drop(nonce string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.pending[nonce]
	if w == nil {
		return ""
	}
	delete(c.pending, nonce)
	return w.guild
}

// memberHandlers keep the state's members (first of all handlers) and
// make and take the member-list requests.
func (b *Bot) memberHandlers() []any {
	b.s.State.TrackMembers = false // trackMember does it, keeping of chunks only the staff
	return []any{
		on(b, func(m *discordgo.GuildMemberAdd) { b.trackMember(m.Member, false) }),
		on(b, func(m *discordgo.GuildMemberUpdate) { b.trackMember(m.Member, false) }),
		on(b, func(m *discordgo.GuildMemberRemove) { b.trackMember(m.Member, true) }),
		on(b, func(g *discordgo.GuildCreate) { b.maybeRequestMembers(g.Guild) }),
		on(b, func(r *discordgo.GuildRoleCreate) { b.onStaffRole(r.GuildRole) }),
		on(b, func(r *discordgo.GuildRoleUpdate) { b.onStaffRole(r.GuildRole) }),
		on(b, func(c *discordgo.GuildMembersChunk) { b.onMembersChunk(c) }),
		on(b, func(e *discordgo.Event) {
			if e.Type == "RATE_LIMITED" {
				b.onRateLimited(e.RawData)
			}
		}),
	}
}

// trackMember keeps the state's copy of a member as discordgo's
// TrackMembers would.
func (b *Bot) trackMember(m *discordgo.Member, removed bool) {
	if m == nil || m.User == nil || m.GuildID == "" {
		return
	}
	var err error
	if removed {
		err = b.s.State.MemberRemove(m)
	} else {
		err = b.s.State.MemberAdd(m)
	}
	if err != nil && !errors.Is(err, discordgo.ErrStateNotFound) {
		b.log.Warn().Err(err).Str("guild", m.GuildID).Str("user", m.User.ID).Msg("track a member in the state")
	}
}

// maybeRequestMembers queues the member list of a guild whose GUILD_CREATE
// lacks members: a large guild, or one whose member count exceeds the
// members the state holds.
func (b *Bot) maybeRequestMembers(g *discordgo.Guild) {
	if g == nil || g.Unavailable {
		return
	}
	b.s.State.RLock()
	missing := g.Large || g.MemberCount > len(g.Members)
	b.s.State.RUnlock()
	if missing {
		b.chunks.enqueue(g.ID, time.Time{})
	}
}

// onStaffRole asks again for the member list of a large guild when a role
// grants a staff permission: its holders were not kept from the chunks.
func (b *Bot) onStaffRole(r *discordgo.GuildRole) {
	if r == nil || r.Role == nil || r.Role.Permissions&staffPerms == 0 {
		return
	}
	g, err := b.guild(r.GuildID)
	if err != nil {
		return
	}
	b.s.State.RLock()
	large := g.Large || g.MemberCount > len(g.Members)
	b.s.State.RUnlock()
	if large {
		b.chunks.enqueue(r.GuildID, time.Time{})
	}
}

// requestMembersLoop sends the queued requests until ctx ends.
func (b *Bot) requestMembersLoop(ctx context.Context) {
	for {
		guild, wait := b.chunks.next(time.Now())
		if guild == "" {
			if wait <= 0 {
				wait = time.Hour // nothing queued: an enqueue wakes the loop
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-b.chunks.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if err := b.requestMembers(guild); err != nil {
			b.log.Warn().Err(err).Str("guild", guild).Dur("retry_in", chunkRetry).Msg("request a guild's members")
			b.chunks.enqueue(guild, time.Now().Add(chunkRetry))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(chunkSendGap):
		}
	}
}

// requestMembers sends one REQUEST_GUILD_MEMBERS for a guild's whole
// member list. discordgo's RequestGuildMembers sends guild_id as an array
// (a form the documentation no longer lists), so the payload is written as
// documented.
func (b *Bot) requestMembers(guild string) error {
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("request the members of %s: nonce: %w", guild, err)
	}
	nonce := hex.EncodeToString(raw[:]) // 24 bytes; Discord ignores a nonce over 32
	type request struct {
		GuildID string `json:"guild_id"`
		Query   string `json:"query"`
		Limit   int    `json:"limit"`
		Nonce   string `json:"nonce"`
	}
	op := struct {
		Op int     `json:"op"`
		D  request `json:"d"`
	}{8, request{GuildID: guild, Nonce: nonce}}
	b.chunks.sent(guild, nonce, time.Now())
	if err := b.s.GatewayWriteStruct(op); err != nil {
		b.chunks.drop(nonce)
		return fmt.Errorf("request the members of %s: %w", guild, err)
	}
	b.log.Debug().Str("guild", guild).Str("nonce", nonce).Msg("requested the guild's members")
	return nil
}

// onMembersChunk keeps of a chunk the members the directory needs: the
// owner, the staff, and fresher copies of members the state holds. When
// the last chunk of the bot's request is in, the moderation engine's
// cached staff list is dropped so that the next check sees the new staff.
func (b *Bot) onMembersChunk(c *discordgo.GuildMembersChunk) {
	if c == nil {
		return
	}
	g, err := b.guild(c.GuildID)
	if err != nil {
		b.log.Debug().Err(err).Msg("members chunk of a guild not in the state")
		return
	}
	staff := make([]bool, len(c.Members))
	b.s.State.RLock()
	for i, m := range c.Members {
		if m == nil || m.User == nil {
			continue
		}
		m.GuildID = c.GuildID
		staff[i] = permsOf(g, m)&staffPerms != 0 || (b.self != nil && m.User.ID == b.self.ID)
	}
	b.s.State.RUnlock()
	var keep []*discordgo.Member
	var first []profile
	for i, m := range c.Members {
		if m == nil || m.User == nil {
			continue
		}
		// A first sight records nothing (as in GUILD_CREATE): later
		// updates are diffed against it. Every member's profile is
		// stored (on disk, not in the state): GUILD_CREATE listed none
		// of them, and a nickname changed later needs its old value.
		if _, err := b.loadProfile(c.GuildID, m.User.ID); errors.Is(err, store.ErrNotFound) {
			first = append(first, profileOf(m))
		}
		if !staff[i] {
			if _, err := b.s.State.Member(c.GuildID, m.User.ID); err != nil {
				continue // neither staff nor seen before: read over REST if ever needed
			}
		}
		keep = append(keep, m)
	}
	for _, m := range keep {
		if err := b.s.State.MemberAdd(m); err != nil {
			b.log.Warn().Err(err).Str("guild", c.GuildID).Msg("add a chunk's member to the state")
		}
	}
	b.saveProfiles(c.GuildID, first)
	w := b.chunks.received(c.Nonce, c.ChunkCount, len(keep))
	if w == nil {
		return
	}
	if b.opts.Moderation != nil {
		b.opts.Moderation.ForgetStaff(audit.Discord, c.GuildID)
	}
	b.log.Info().Str("guild", c.GuildID).Int("chunks", c.ChunkCount).Int("kept", w.kept).
		Dur("took", time.Since(w.sent)).Msg("read the member list of a large guild")
}

// onRateLimited puts back a guild whose member request Discord refused
// with a RATE_LIMITED dispatch, for as long as it says.
func (b *Bot) onRateLimited(raw json.RawMessage) {
	var rl struct {
		Opcode     int     `json:"opcode"`
		RetryAfter float64 `json:"retry_after"`
		Meta       struct {
			GuildID string `json:"guild_id"`
			Nonce   string `json:"nonce"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(raw, &rl); err != nil || rl.Opcode != 8 {
		return
	}
	guild := b.chunks.drop(rl.Meta.Nonce)
	if guild == "" {
		guild = rl.Meta.GuildID
	}
	if guild == "" {
		return
	}
	after := time.Duration(rl.RetryAfter * float64(time.Second))
	b.log.Warn().Str("guild", guild).Dur("retry_after", after).Msg("member request rate limited")
	b.chunks.enqueue(guild, time.Now().Add(after))
}
