package telegram

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/coord"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

// AllowedUpdates is the full subscription, sent on every getUpdates: the
// Bot API remembers the last one, and chat_member is not in its default.
var AllowedUpdates = []string{"message", "edited_message", "channel_post", "callback_query",
	"chat_member", "my_chat_member", "chat_join_request"}

// OffsetCursor names the stored update offset.
const OffsetCursor = "telegram/offset"

// Options configure a Bot.
type Options struct {
	Token string
	// APIURL is the Bot API server (default https://api.telegram.org): a
	// local Bot API server or a test server. Requests go to
	// APIURL/bot<token>/<method>.
	APIURL string
	// PollTimeout is how long one getUpdates call waits (default 50s).
	PollTimeout time.Duration
	// Webhook, when Listen is set, receives updates by webhook instead of
	// polling.
	Webhook Webhook
	// DeleteCommandsAfter is how long a command and the bot's answer stay
	// in the group before both are deleted; 0 keeps them. (The config's
	// telegram.delete_commands_after defaults to 1m.)
	DeleteCommandsAfter time.Duration
	// DeleteServiceMessages deletes the "X joined" and "X left" service
	// messages once their join or leave is recorded.
	DeleteServiceMessages bool
	// DefaultLocale is used for properties without a locale of their own
	// when there is no Router (default "en").
	DefaultLocale string

	Store    *store.Store
	Recorder *recorder.Recorder
	// Router gives every property's settings and locale; with it the bot
	// delivers the outbox's Telegram entries to log chats and serves the
	// settings commands. main uses one router for every platform.
	Router *logchannel.Router
	Logger zerolog.Logger
	// HTTPClient, if set, makes the requests (its Timeout should exceed
	// PollTimeout).
	HTTPClient *http.Client

	// DedupWindow is how long a join or leave seen in one form (chat_member
	// or the service message) suppresses the other (default 2m).
	DedupWindow time.Duration
	// LogInterval is the least time between two posts to one log chat
	// (default 3s: Telegram allows 20 messages a minute in a group).
	LogInterval time.Duration
	// RaidActionInterval paces a raid's "Ban all" and "Kick all": the
	// least time between two of their bans (default 100ms, ten a second,
	// well under Telegram's limits on one bot).
	RaidActionInterval time.Duration
	// AdminCacheTTL is how long a member's admin status is trusted before
	// it is asked again (default 2m); chat_member updates refresh it.
	AdminCacheTTL time.Duration
	// Now is the clock (default time.Now); tests use the fake server's.
	Now func() time.Time

	// Moderation and Verification, when set, are attached when Run starts
	// (the Bot is their platform.Actions and Directory) and get what only the
	// platform sees: verification button presses and their /settings
	// keys. main subscribes their Committed to the recorder.
	Moderation   *moderation.Engine
	Verification *verification.Engine
	// Tokens, when set, serves /apitoken in a private chat (the HTTP
	// API's tokens).
	Tokens *command.Tokens
	// ViewerLink, when set, serves /viewer in a private chat (one-time
	// links to the web viewer).
	ViewerLink ViewerLinkFunc
	// Lease, when set (a fleet), elects the one process that polls
	// getUpdates among those sharing the token and keeps the update offset
	// with it (see lease.go); without it the offset is this store's.
	// Webhook mode does not use it.
	Lease coord.Lease
	// AdoptAfter is how long a new holder of the Lease lets a process
	// that left a batch pending in it come back and record it, before
	// the holder records it itself (lease.go); bot.Run sets it to
	// cluster.lease_ttl. Default 15s.
	AdoptAfter time.Duration
	// OnReconnect, if set, is called each time the connection to the
	// platform is lost and made again (a failed getUpdates), for metrics. It must not block.
	OnReconnect func()
	// OnDeliveryFailure, if set, is called for every log post the
	// platform refused, for metrics. It must not block.
	OnDeliveryFailure func(target string, err error)
}

// Webhook configures webhook mode.
type Webhook struct {
	// Listen is the address the bot's HTTP server listens on (host:port).
	Listen string
	// URL is the public HTTPS address Telegram posts to; its path is the
	// one served.
	URL string
	// SecretToken is checked on every request
	// (X-Telegram-Bot-Api-Secret-Token); required.
	SecretToken string
}

// Bot is chatwarden's Telegram side: it turns updates into records, serves
// the commands and buttons, delivers log entries to log chats and
// implements platform.Actions for the engines.
type Bot struct {
	opts Options
	api  *tgbotapi.BotAPI
	log  zerolog.Logger
	self tgbotapi.User

	life   context.Context // ends when the bot stops: aborts requests
	stop   context.CancelFunc
	wg     sync.WaitGroup
	batchM sync.Mutex // one batch at a time (webhook requests may overlap)

	deliverer *logchannel.Deliverer
	ready     chan struct{} // closed once updates arrive (a poll succeeded, or the webhook is set)
	readyOnce sync.Once
	connected atomic.Bool // the last poll succeeded (or the webhook is set)
	admins    adminCache
	titles    chatTitles
	echo      *platform.Echoes
	raids     raidRuns
	buttons   map[string]func(context.Context, Press) Answer
	buttonsMu sync.RWMutex
	key       []byte // signs reversal buttons
	wake      chan struct{}
	paceMu    sync.Mutex
	paceNext  time.Time // the earliest next message, across all chats

	// Test hooks: called around the commit of each batch.
	beforeCommit, afterCommit func() bool
}

// New checks the token with getMe and prepares the bot; Run starts it.
func New(opts Options) (*Bot, error) {
	if opts.Token == "" {
		return nil, errors.New("telegram: no token")
	}
	if opts.Store == nil || opts.Recorder == nil {
		return nil, errors.New("telegram: a store and a recorder are required")
	}
	if opts.APIURL == "" {
		opts.APIURL = "https://api.telegram.org"
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = 50 * time.Second
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = 2 * time.Minute
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = 3 * time.Second
	}
	if opts.RaidActionInterval <= 0 {
		opts.RaidActionInterval = 100 * time.Millisecond
	}
	if opts.AdminCacheTTL <= 0 {
		opts.AdminCacheTTL = 2 * time.Minute
	}
	if opts.DefaultLocale == "" {
		opts.DefaultLocale = "en"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AdoptAfter <= 0 {
		opts.AdoptAfter = 15 * time.Second
	}
	if opts.Webhook.Listen != "" && opts.Webhook.SecretToken == "" {
		return nil, errors.New("telegram: webhook mode needs a secret token")
	}
	log := opts.Logger.With().Str("platform", "telegram").Logger()
	registerToken(opts.Token, log)
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opts.PollTimeout + 15*time.Second}
	}
	life, stop := context.WithCancel(context.Background())
	api, err := tgbotapi.NewBotAPIWithClient(opts.Token, strings.TrimSuffix(opts.APIURL, "/")+"/bot%s/%s",
		&ctxClient{c: hc, ctx: life})
	if err != nil {
		stop()
		return nil, fmt.Errorf("telegram: check the token with getMe: %w", redact(err))
	}
	b := &Bot{opts: opts, api: api, self: api.Self, log: log, life: life, stop: stop,
		buttons: map[string]func(context.Context, Press) Answer{}, wake: make(chan struct{}, 1), ready: make(chan struct{})}
	b.admins.m = map[memberKey]cachedMember{}
	b.echo = platform.NewEchoes(time.Minute)
	if b.key, err = b.loadKey(); err != nil {
		stop()
		return nil, err
	}
	if opts.Router != nil {
		b.deliverer = logchannel.NewDeliverer(logchannel.DelivererOptions{Sink: audit.Telegram.String(), Outbox: opts.Store, Poster: b,
			MinInterval: opts.LogInterval, Logger: log, OnFailure: opts.OnDeliveryFailure,
			OnPause: func(chat string, err error) { b.pauseLogChat(chat, err) },
			Hold:    b.logHold()})
	}
	return b, nil
}

// Self returns the bot's own account: the actor of its records
// (moderation.Directory and verification.Directory).
func (b *Bot) Self() (id, name string) { return itoa(b.self.ID), b.self.UserName }

// Deliverer returns the log deliverer, or nil without a Router.
func (b *Bot) Deliverer() *logchannel.Deliverer { return b.deliverer }

const (
	nsKey = "telegram/key" // "hmac" -> the reversal buttons' key
)

func (b *Bot) loadKey() ([]byte, error) {
	if k, err := b.opts.Store.GetKV(nsKey, []byte("hmac")); err == nil && len(k) == 32 {
		return k, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("telegram: load the button key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := b.opts.Store.Put(nsKey, []byte("hmac"), k); err != nil {
		return nil, fmt.Errorf("telegram: save the button key: %w", err)
	}
	return k, nil
}

// Run serves Telegram until ctx ends: it registers the commands, starts
// log delivery and the cleanup of command exchanges, and receives updates
// by long polling (or by webhook when Options.Webhook.Listen is set). When
// Run returns the bot is stopped; make a new one to start again.
func (b *Bot) Run(ctx context.Context) error {
	defer b.Close()
	go func() {
		select {
		case <-ctx.Done():
			b.stop()
		case <-b.life.Done():
		}
	}()
	st, err := b.loadCursor()
	if err != nil {
		return err
	}
	// A crash may have come between a batch's commit and applying the
	// handler state it changed: apply it again (it is idempotent).
	b.applyState(st.State)
	b.attachEngines()
	b.startDelivery()
	b.wg.Add(1)
	go func() { defer b.wg.Done(); b.cleanupLoop() }()
	b.wg.Add(1)
	go func() { defer b.wg.Done(); b.registerCommands() }()
	if b.opts.Webhook.Listen != "" {
		return b.serveWebhook(st.Offset)
	}
	if b.opts.Lease != nil {
		return b.pollLeased()
	}
	return b.poll(st.Offset, nil)
}

// Close stops the bot: held requests end, background work finishes.
func (b *Bot) Close() {
	b.stop()
	b.wg.Wait()
}

// Ready is closed once the bot receives updates: after its first
// successful getUpdates, or once the webhook is set; with a lease, also
// once it stands by for it (another process polls).
func (b *Bot) Ready() <-chan struct{} { return b.ready }

func (b *Bot) markReady() {
	b.connected.Store(true)
	b.readyOnce.Do(func() { close(b.ready) })
}

// Connected reports whether the last getUpdates succeeded (or the webhook
// is set), for metrics.
func (b *Bot) Connected() bool { return b.connected.Load() }

// poll receives updates from offset on until the bot stops. With a lease
// term, each batch is committed to the lease before it is recorded and
// cleared from it once recorded, other processes' batches left there are
// adopted in time, and poll returns an error wrapping coord.ErrLost once
// the term is lost.
func (b *Bot) poll(offset int64, term *leaseTerm) error {
	// getUpdates fails while a webhook is set (for example by an earlier
	// run in webhook mode); pending updates stay queued at Telegram.
	if err := b.call("deleteWebhook", tgbotapi.Params{}, nil); err != nil && b.life.Err() == nil {
		b.log.Warn().Err(err).Msg("deleteWebhook")
	}
	allowed, _ := json.Marshal(AllowedUpdates)
	backoff := time.Second
	for b.life.Err() == nil {
		if term.lost() {
			return coord.ErrLost
		}
		secs := int(b.opts.PollTimeout / time.Second)
		if term != nil {
			if err := term.adopt(b); err != nil {
				return err
			}
			secs = term.pollSeconds(secs)
		}
		params := tgbotapi.Params{}
		params.AddNonZero64("offset", offset)
		params.AddNonZero("timeout", secs)
		params["allowed_updates"] = string(allowed)
		var raws []json.RawMessage
		err := b.call("getUpdates", params, &raws)
		if err != nil {
			if b.life.Err() != nil {
				return nil
			}
			wait := backoff
			te := apiError(err)
			if te != nil && te.RetryAfter > 0 {
				wait = time.Duration(te.RetryAfter) * time.Second
			}
			if te != nil && te.Code == http.StatusConflict && term != nil {
				// Another poller: a holder that lost the lease and has not
				// noticed yet. Its request ends, ours goes on.
				wait, backoff = time.Second, time.Second/2
			}
			b.log.Warn().Err(err).Dur("retry_in", wait).Msg("getUpdates failed")
			b.connected.Store(false)
			if b.opts.OnReconnect != nil {
				b.opts.OnReconnect()
			}
			select {
			case <-b.life.Done():
				return nil
			case <-time.After(wait):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		b.markReady()
		if len(raws) == 0 {
			if term != nil && term.durable {
				if err := term.clear(b); err != nil {
					return err
				}
			}
			continue
		}
		if term != nil {
			if raws, err = term.commit(b, raws, offset); err != nil {
				return err
			}
		}
		next, err := b.handleBatch(raws, offset)
		if err != nil {
			return err
		}
		offset = next
		if term != nil {
			term.durable = true
		}
	}
	return nil
}

// cursorState is the stored offset cursor: the next update id, and the
// handler state the last batch changed (profiles, deduplication marks),
// saved in the batch's own transaction so that a crash between the commit
// and applying the state loses nothing. Earlier versions stored the bare
// offset in decimal.
type cursorState struct {
	Offset int64  `json:"offset"`
	State  []kvOp `json:"state,omitempty"`
}

func (b *Bot) loadCursor() (cursorState, error) {
	var st cursorState
	v, err := b.opts.Store.Cursor(OffsetCursor)
	if err != nil || len(v) == 0 {
		return st, err
	}
	if v[0] == '{' {
		if err := json.Unmarshal(v, &st); err != nil {
			return st, fmt.Errorf("telegram: stored offset: %w", err)
		}
		return st, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return st, fmt.Errorf("telegram: stored offset %q: %w", v, err)
	}
	st.Offset = n
	return st, nil
}

// handleBatch translates a batch of updates, commits its records with the
// next offset and the state it changed in one transaction, then applies
// the state and acts on the updates (commands, buttons, cleanup). Updates
// below offset (a webhook's redelivery) are skipped. It returns the next
// offset.
//
// If the process dies before the commit, nothing of the batch is stored
// and Telegram sends it again. If it dies after, the stored offset
// confirms the batch at the next getUpdates and the saved state is applied
// at start; the actions on the batch (a command's answer) are lost, never
// repeated, and no record is written twice.
func (b *Bot) handleBatch(raws []json.RawMessage, offset int64) (int64, error) {
	return b.recordBatch(raws, offset, false)
}

// recordAdopted records a batch another process left pending in the
// poller's lease (lease.go): its events, without moving this store's
// cursor, keeping of the handler state it changed only keys this store
// lacks (its own state is newer), and without acting on it.
func (b *Bot) recordAdopted(p leasedBatch) error {
	if _, err := b.recordBatch(p.Updates, p.From, true); err != nil {
		return fmt.Errorf("%w: adopted batch from update %d: %w", errStore, p.From, err)
	}
	return nil
}

// recordBatch is handleBatch, or recordAdopted when adopted is set.
func (b *Bot) recordBatch(raws []json.RawMessage, offset int64, adopted bool) (int64, error) {
	b.batchM.Lock()
	defer b.batchM.Unlock()
	t := &batch{b: b, overlay: map[string]*kvOp{}}
	next := offset
	for _, raw := range raws {
		var u update
		if err := u.decode(raw); err != nil {
			b.log.Error().Err(err).Msg("undecodable update skipped")
			var id struct {
				UpdateID int64 `json:"update_id"`
			}
			if json.Unmarshal(raw, &id) == nil && id.UpdateID >= next {
				next = id.UpdateID + 1
			}
			continue
		}
		if int64(u.UpdateID) < offset {
			continue // already recorded
		}
		if int64(u.UpdateID) >= next {
			next = int64(u.UpdateID) + 1
		}
		t.events = append(t.events, b.translate(t, &u)...)
	}
	if next == offset && len(t.events) == 0 {
		return next, nil
	}
	if b.beforeCommit != nil && !b.beforeCommit() {
		return offset, errStopped
	}
	st := cursorState{Offset: next, State: t.ops()}
	if adopted {
		local, err := b.loadCursor()
		if err != nil {
			return offset, err
		}
		st = cursorState{Offset: local.Offset, State: b.missingState(st.State)}
	}
	val, _ := json.Marshal(st)
	// Records, offset and state in one transaction, waiting for
	// durability: only then may the next getUpdates confirm the batch.
	if err := b.opts.Recorder.RecordCursor(context.Background(), recorder.Cursor{Name: OffsetCursor, Value: val}, t.events...); err != nil {
		return offset, fmt.Errorf("telegram: record updates: %w", err)
	}
	if b.afterCommit != nil && !b.afterCommit() {
		return next, errStopped
	}
	b.applyState(st.State)
	if adopted {
		return next, nil
	}
	for _, fn := range t.effects {
		if b.life.Err() != nil {
			break
		}
		fn()
	}
	return next, nil
}

// errStopped ends Run when a test hook simulates a crash.
var errStopped = errors.New("telegram: stopped")

// kvOp is one change of the handler's state in the store's KV namespaces.
type kvOp struct {
	NS  string `json:"n"`
	Key string `json:"k"`
	Val []byte `json:"v,omitempty"`
	Del bool   `json:"d,omitempty"`
}

func (b *Bot) applyState(ops []kvOp) {
	state := make([]recorder.State, len(ops))
	for i, op := range ops {
		state[i] = recorder.State{NS: op.NS, Key: []byte(op.Key), Value: op.Val, Delete: op.Del}
	}
	if err := b.opts.Store.ApplyState(state); err != nil {
		b.log.Error().Err(err).Int("writes", len(ops)).Msg("save handler state")
	}
}

// missingState keeps of ops the writes of keys the store does not hold:
// an adopted batch is older than this store's state.
func (b *Bot) missingState(ops []kvOp) []kvOp {
	var out []kvOp
	for _, op := range ops {
		if op.Del {
			continue
		}
		if _, err := b.opts.Store.GetKV(op.NS, []byte(op.Key)); errors.Is(err, store.ErrNotFound) {
			out = append(out, op)
		}
	}
	return out
}

// batch is the work of one batch of updates: its records, the state it
// changes (read back by later updates of the same batch, written only
// after the commit) and what to do once the records are durable.
type batch struct {
	b       *Bot
	events  []*audit.Event
	overlay map[string]*kvOp
	order   []string
	existed map[string]bool
	effects []func()
}

func (t *batch) get(ns, key string) ([]byte, bool) {
	if op, ok := t.overlay[ns+"\x00"+key]; ok {
		return op.Val, !op.Del
	}
	v, err := t.b.opts.Store.GetKV(ns, []byte(key))
	return v, err == nil
}

func (t *batch) set(ns, key string, val []byte, del bool) {
	k := ns + "\x00" + key
	if _, ok := t.overlay[k]; !ok {
		if t.existed == nil {
			t.existed = map[string]bool{}
		}
		_, err := t.b.opts.Store.GetKV(ns, []byte(key))
		t.existed[k] = err == nil
		t.order = append(t.order, k)
	}
	t.overlay[k] = &kvOp{NS: ns, Key: key, Val: val, Del: del}
}

func (t *batch) put(ns, key string, val []byte) { t.set(ns, key, val, false) }
func (t *batch) del(ns, key string)             { t.set(ns, key, nil, true) }

// after queues fn to run once the batch is durable.
func (t *batch) after(fn func()) { t.effects = append(t.effects, fn) }

// ops returns the batch's final state changes, leaving out deletions of
// keys that did not exist before the batch.
func (t *batch) ops() []kvOp {
	var out []kvOp
	for _, k := range t.order {
		op := t.overlay[k]
		if op.Del && !t.existed[k] {
			continue
		}
		out = append(out, *op)
	}
	return out
}

// logHold is the deliverer's Hold: joins wait for the raid guard's
// verdict before they are posted.
func (b *Bot) logHold() func(*audit.Event) logchannel.Verdict {
	if b.opts.Moderation == nil {
		return nil
	}
	return b.opts.Moderation.LogVerdict
}
