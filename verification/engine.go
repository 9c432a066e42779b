package verification

import (
	"bytes"
	"container/heap"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/clock"
	"github.com/chatwarden/chatwarden/moderation/workqueue"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/store"
)

// Store namespaces.
const (
	NSPending = "verification/pending" // platform byte, property, 0, user -> Challenge (JSON)
	NSKey     = "verification/key"     // "hmac" -> the button-data key
	NSBacklog = "verification/backlog" // spilled joins and leaves (package workqueue)
	// NSFinished: pending key -> when the member's last challenge
	// finished (unix nanoseconds, big endian). A join recorded before
	// then and handled after (the member pressed Verify before the
	// engine saw the join) starts no second challenge.
	NSFinished = "verification/finished"
)

// finishedTTL is how long NSFinished keeps a finish: longer than a join
// waits in the queue or its backlog, even across a long outage.
const finishedTTL = 7 * 24 * time.Hour

var keyName = []byte("hmac")

// KV is the engine's persistent state; *store.Store is one. GetKV returns
// an error wrapping store.ErrNotFound for a missing key.
type KV interface {
	Put(ns string, key, value []byte) error
	GetKV(ns string, key []byte) ([]byte, error)
	DeleteKV(ns string, key []byte) error
	ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error
}

// SettingsSource returns a property's saved settings; *store.Store is one.
type SettingsSource interface {
	Settings(ctx context.Context, p audit.Platform, property string) (settings.Community, error)
}

// Recorder makes the engine's records durable; *recorder.Recorder is one.
type Recorder interface {
	Record(ctx context.Context, events ...*audit.Event) error
	// SubmitState queues events with state written in the same commit,
	// and calls done once they are durable (not at all if it fails).
	SubmitState(ctx context.Context, done func(error), state []recorder.State, events ...*audit.Event) error
}

// Directory is what a platform tells the engine beyond its events;
// moderation.Directory implementations satisfy it.
type Directory interface {
	// Self returns the bot's own account: the actor of the records.
	Self() (id, name string)
	// IsAdmin reports whether user is an administrator of property.
	IsAdmin(ctx context.Context, property, user string) (bool, error)
}

// JoinMessageFinder is implemented by directories that remember the join
// service message of a member (Telegram). The engine asks it on failure
// when the USER_JOIN did not carry the message: Telegram announces a join
// twice (chat_member and the service message) and the handler records the
// join once, often from chat_member.
type JoinMessageFinder interface {
	JoinMessage(ctx context.Context, property, user string) (string, bool)
}

// Options configure an Engine. KV, Settings and Recorder are required.
type Options struct {
	KV       KV
	Settings SettingsSource
	Recorder Recorder
	// Defaults are the operator's settings; see BuiltinDefaults.
	Defaults Defaults
	Clock    clock.Clock
	Logger   zerolog.Logger
	// ActionTimeout bounds the work on one challenge event (default 30s).
	ActionTimeout time.Duration
	// QueueSize bounds each property's joins and leaves from Handle kept
	// in memory (default 1024); beyond it they spill to KV (namespace
	// verification/backlog), so Handle never waits.
	QueueSize int
	// Workers bounds the deadlines handled at once (default 8).
	Workers int
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("verification engine closed")

// Engine runs verification for every attached platform. Its methods are
// safe for concurrent use.
type Engine struct {
	opts  Options
	clock clock.Clock
	log   zerolog.Logger
	sign  signer

	rmu sync.Mutex
	rng *rand.Rand

	pmu       sync.RWMutex
	platforms map[audit.Platform]*attached
	parked    map[audit.Platform][]string // due keys waiting for their platform

	locks keyedMutex
	q     *workqueue.Queue[job]

	dmu       sync.Mutex
	deadlines deadlineHeap

	smu     sync.Mutex
	sweptAt time.Time // when NSFinished was last swept

	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	sem   chan struct{}
	fires sync.WaitGroup
	once  sync.Once
}

type attached struct {
	actions platform.Actions
	dir     Directory
}

// New loads the button-data key (creating it on first use) and every
// pending challenge, and starts the deadline loop: deadlines that passed
// while the bot was down fire at once (as soon as their platform is
// attached). Close stops it.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.KV == nil || opts.Settings == nil || opts.Recorder == nil {
		return nil, errors.New("verification: KV, Settings and Recorder are required")
	}
	if err := opts.Defaults.Validate(); err != nil {
		return nil, fmt.Errorf("verification defaults: %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.System
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = 30 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	key, err := loadKey(opts.KV)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("verification: seed: %w", err)
	}
	e := &Engine{
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger.With().Str("component", "verification").Logger(),
		sign:      signer{key: key},
		rng:       rand.New(rand.NewChaCha8(seed)),
		platforms: make(map[audit.Platform]*attached),
		parked:    make(map[audit.Platform][]string),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		sem:       make(chan struct{}, opts.Workers),
	}
	e.locks.m = make(map[string]*lockEntry)
	e.q, err = workqueue.New(workqueue.Options{Size: opts.QueueSize, KV: opts.KV, Namespace: NSBacklog,
		Logger: e.log}, func(_ string, j job) { e.runJob(j) })
	if err != nil {
		return nil, fmt.Errorf("verification: %w", err)
	}
	err = opts.KV.ScanKV(NSPending, nil, func(k, v []byte) error {
		var c Challenge
		if err := json.Unmarshal(v, &c); err != nil {
			e.log.Error().Err(err).Bytes("key", k).Msg("unreadable pending challenge; dropped")
			return opts.KV.DeleteKV(NSPending, bytes.Clone(k))
		}
		at := c.Deadline
		if c.Done() {
			at = time.Time{} // finish at once
		}
		heap.Push(&e.deadlines, deadline{at: at, key: string(k)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verification: load pending challenges: %w", err)
	}
	if n := e.deadlines.Len(); n > 0 {
		e.log.Info().Int("pending", n).Msg("pending verifications loaded")
	}
	go e.loop()
	return e, nil
}

// loadKey returns the button-data key, creating it on first use.
func loadKey(kv KV) ([]byte, error) {
	key, err := kv.GetKV(NSKey, keyName)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("verification: load key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		return nil, fmt.Errorf("verification: make key: %w", err)
	}
	if err := kv.Put(NSKey, keyName, key); err != nil {
		return nil, fmt.Errorf("verification: save key: %w", err)
	}
	return key, nil
}

// Attach registers a platform's actions and directory; the platform is
// a.Platform(). Deadlines of that platform that came due before it was
// attached fire now.
func (e *Engine) Attach(a platform.Actions, d Directory) {
	p := a.Platform()
	e.pmu.Lock()
	e.platforms[p] = &attached{actions: a, dir: d}
	parked := e.parked[p]
	delete(e.parked, p)
	e.pmu.Unlock()
	for _, k := range parked {
		e.schedule(time.Time{}, k)
	}
	e.q.Resume(string([]byte{byte(p)}))
}

func (e *Engine) platform(p audit.Platform) *attached {
	e.pmu.RLock()
	defer e.pmu.RUnlock()
	return e.platforms[p]
}

func pendingKey(p audit.Platform, property, user string) string {
	return string(rune(p)) + property + "\x00" + user
}

func (e *Engine) load(key string) (*Challenge, error) {
	v, err := e.opts.KV.GetKV(NSPending, []byte(key))
	if err != nil {
		return nil, err
	}
	var c Challenge
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("decode pending challenge: %w", err)
	}
	return &c, nil
}

func (e *Engine) save(c *Challenge) error {
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode pending challenge: %w", err)
	}
	return e.opts.KV.Put(NSPending, []byte(pendingKey(c.Platform, c.Property, c.User)), v)
}

func (e *Engine) resolve(ctx context.Context, p audit.Platform, property string) Defaults {
	s, err := e.opts.Settings.Settings(ctx, p, property)
	if err != nil {
		e.log.Error().Err(err).Str("property", property).Msg("read settings; using the defaults")
	}
	return e.opts.Defaults.Resolve(s)
}

func (e *Engine) newID() uint64 {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	return e.rng.Uint64()
}

func (e *Engine) ask(c *Challenge) {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	c.Ask(e.rng)
}

// Join is a member joining a property, as verification needs it.
type Join struct {
	Platform  audit.Platform
	Property  string
	User      string
	Name      string
	IsBot     bool
	ChannelID string // where to post the Telegram challenge; "" is the chat itself
	MessageID string // the join service message (Telegram), deleted on failure
	// AddedBy is who added the member, when someone else did (Telegram).
	AddedBy string
	// At is when the member joined (the record's time); zero if unknown.
	At time.Time `json:",omitzero"`
}

// ParamAddedBy is the USER_JOIN param naming who added the member when
// someone else did; the Telegram handler sets it.
const ParamAddedBy = "added_by"

// JoinOf reads a USER_JOIN event: the actor is the member; params is_bot
// and added_by; the message id is the join service message.
func JoinOf(ev *audit.Event) Join {
	return Join{Platform: ev.Platform, Property: ev.PropertyID, User: ev.ActorID, Name: ev.ActorName,
		IsBot: ev.Params.Get(audit.ParamIsBot) == "true", ChannelID: ev.ChannelID, MessageID: ev.MessageID,
		AddedBy: ev.Params.Get(ParamAddedBy), At: ev.Time}
}

// job is a join or leave queued by Handle; it is encoded as JSON when it
// spills.
type job struct {
	Join  *Join  `json:"join,omitempty"`
	Leave *Leave `json:"leave,omitempty"`
}

// Leave is a member leaving a property.
type Leave struct {
	Platform audit.Platform
	Property string
	User     string
}

func (e *Engine) runJob(j job) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ActionTimeout)
	defer cancel()
	switch {
	case j.Join != nil:
		if err := e.OnJoin(ctx, *j.Join); err != nil {
			e.log.Error().Err(err).Str("property", j.Join.Property).Str("user", j.Join.User).Msg("start verification")
		}
	case j.Leave != nil:
		l := j.Leave
		if err := e.OnLeave(ctx, l.Platform, l.Property, l.User); err != nil {
			e.log.Error().Err(err).Str("property", l.Property).Str("user", l.User).Msg("end verification of a leaver")
		}
	}
}

// Handle looks at one committed event: a USER_JOIN starts verification,
// a USER_REMOVE or USER_BAN of a pending member ends it with reason LEFT.
// The work is queued per property, in order; Handle does not wait for it
// (see Options.QueueSize). Records the engines made themselves (any
// function but gateway) are ignored.
func (e *Engine) Handle(ctx context.Context, ev *audit.Event) error {
	if ev == nil || ev.Function != audit.FuncGateway || !ev.Platform.Valid() {
		return nil
	}
	var j job
	switch ev.Type {
	case audit.UserJoin:
		join := JoinOf(ev)
		j.Join = &join
	case audit.UserRemove, audit.UserBan:
		user := ev.Target()
		if user == "" {
			user = ev.ActorID
		}
		j.Leave = &Leave{Platform: ev.Platform, Property: ev.PropertyID, User: user}
	default:
		return nil
	}
	err := e.q.Push(ctx, string([]byte{byte(ev.Platform)})+ev.PropertyID, j)
	if errors.Is(err, workqueue.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Committed hands a committed batch to Handle; it has the signature of a
// recorder.Recorder subscriber.
func (e *Engine) Committed(events []*audit.Event) {
	for _, ev := range events {
		if err := e.Handle(context.Background(), ev); err != nil && !errors.Is(err, ErrClosed) {
			e.log.Error().Err(err).Msg("handle committed event")
		}
	}
}

// Flush waits until the joins and leaves queued by Handle so far are
// handled, or ctx ends.
func (e *Engine) Flush(ctx context.Context) error {
	if err := e.q.Flush(ctx); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	return nil
}

// OnJoin starts verification for a newcomer, unless verification is off,
// the newcomer is a bot, or an admin added them and the property lets
// such members skip it. It is idempotent: a member with a pending
// challenge keeps it. On Discord the member now has the timeout to press
// Verify and pass; on Telegram the member is restricted at once and the
// challenge posted in the chat. If the challenge cannot be posted the
// restriction is lifted and nothing is pending (failing open).
func (e *Engine) OnJoin(ctx context.Context, j Join) error {
	if j.User == "" || j.IsBot {
		return nil
	}
	cfg := e.resolve(ctx, j.Platform, j.Property)
	if !cfg.Enabled {
		return nil
	}
	pl := e.platform(j.Platform)
	if pl == nil {
		return fmt.Errorf("verification: platform %s not attached", j.Platform)
	}
	if j.AddedBy != "" && j.AddedBy != j.User && cfg.SkipAddedByAdmin {
		admin, err := pl.dir.IsAdmin(ctx, j.Property, j.AddedBy)
		if err != nil {
			e.log.Warn().Err(err).Str("user", j.AddedBy).Msg("check whether the adder is an admin")
		}
		if admin {
			return nil
		}
	}
	key := pendingKey(j.Platform, j.Property, j.User)
	unlock := e.locks.lock(key)
	defer unlock()
	if _, err := e.load(key); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("verification: %w", err)
	}
	if done, ok := e.finishedAt(key); ok && !j.At.IsZero() && !j.At.After(done) {
		e.log.Debug().Str("property", j.Property).Str("user", j.User).
			Msg("a join handled after the member's verification finished: no second challenge")
		return nil
	}
	now := e.clock.Now()
	c := NewChallenge(j.Platform, j.Property, j.User, j.Name, cfg, now, e.newID())
	c.Enforce = true
	c.JoinMessageID = j.MessageID
	c.ChannelID = j.ChannelID
	if j.Platform == audit.Telegram {
		if c.ChannelID == "" {
			c.ChannelID = j.Property
		}
		e.ask(c)
	}
	if err := e.save(c); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	e.schedule(c.Deadline, key)
	if j.Platform != audit.Telegram {
		return nil
	}
	// The restriction is a detail of the verification: its result's record
	// tells the story (quiet: DETAIL).
	cause := platform.Cause{Function: audit.FuncVerification, Reason: "verification pending", Quiet: audit.QuietDetail}
	// Restricted a day past the deadline, so that a lost challenge does not
	// mute a member for ever; a restart fires the deadline anyway.
	if err := pl.actions.Timeout(ctx, j.Property, j.User, c.Deadline.Add(24*time.Hour), cause); err != nil {
		e.log.Warn().Err(err).Str("property", j.Property).Str("user", j.User).Msg("restrict a newcomer")
	}
	id, err := pl.actions.Send(ctx, j.Property, c.ChannelID, platform.Message{Text: groupPrompt(c, now),
		Buttons: e.buttons(c), Mention: j.User, ReplyTo: j.MessageID})
	if err != nil {
		_ = e.opts.KV.DeleteKV(NSPending, []byte(key))
		cause.Reason = "verification could not be posted"
		if rerr := pl.actions.RemoveTimeout(ctx, j.Property, j.User, cause); rerr != nil {
			e.log.Warn().Err(rerr).Str("user", j.User).Msg("lift the restriction of a newcomer")
		}
		return fmt.Errorf("verification: post the challenge: %w", err)
	}
	c.MessageID = id
	if err := e.save(c); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	return nil
}

// OnLeave ends a pending challenge of a member who left (or was removed
// by someone else) with reason LEFT.
func (e *Engine) OnLeave(ctx context.Context, p audit.Platform, property, user string) error {
	key := pendingKey(p, property, user)
	unlock := e.locks.lock(key)
	defer unlock()
	c, err := e.load(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	if !c.Leave(e.clock.Now()) {
		return nil // already decided: its effects finish on their own
	}
	if err := e.save(c); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	pl := e.platform(p)
	if pl == nil {
		e.park(p, key)
		return nil
	}
	return e.finish(ctx, pl, key, c)
}

// Reply is what the platform adapter shows the member who pressed a
// button.
type Reply struct {
	Text    string
	Buttons []platform.Button
	// Update replaces the message whose button was pressed with Text and
	// Buttons (Discord: an update of the ephemeral message; Telegram: an
	// edit of the challenge). Otherwise the reply is new and only the
	// presser sees it (Discord: an ephemeral message; Telegram: the answer
	// to the callback query, which shows Text and no buttons).
	Update bool
}

// PostPrompt posts the persistent Verify button in the property's
// verification channel (Discord) and returns the message id; the caller
// keeps it in the settings.
func (e *Engine) PostPrompt(ctx context.Context, p audit.Platform, property string) (string, error) {
	cfg := e.resolve(ctx, p, property)
	if cfg.ChannelID == "" {
		return "", errors.New("verification: no verification channel is set")
	}
	pl := e.platform(p)
	if pl == nil {
		return "", fmt.Errorf("verification: platform %s not attached", p)
	}
	id, err := pl.actions.Send(ctx, property, cfg.ChannelID, platform.Message{Text: textPrompt,
		Buttons: []platform.Button{{Label: textVerifyLabel, Data: e.sign.startData(p, property), Style: platform.StyleSuccess}}})
	if err != nil {
		return "", fmt.Errorf("verification: post the Verify button: %w", err)
	}
	return id, nil
}

// OnPress handles a press of a verification button by user in property;
// data is the button's data. Show the Reply whenever its Text is set: a
// press that is refused (another member's challenge, an old question, a
// forged button) gets an explanation and a nil error. An error means the
// engine failed (the store), and is for the logs.
func (e *Engine) OnPress(ctx context.Context, property, user, data string) (Reply, error) {
	pr, err := parseData(data)
	if err != nil || !e.sign.valid(pr, property, user) {
		if err == nil && pr.op == opAnswer {
			// Well-formed but not this member's: another member pressed a
			// newcomer's button, or the data was altered.
			return Reply{Text: textNotYours}, nil
		}
		e.log.Warn().Str("property", property).Str("user", user).Msg("verification button with invalid data")
		return Reply{Text: textInvalid}, nil
	}
	pl := e.platform(pr.platform)
	if pl == nil {
		return Reply{Text: textTrouble}, fmt.Errorf("verification: platform %s not attached", pr.platform)
	}
	if pr.op == opStart {
		return e.start(ctx, pl, pr.platform, property, user)
	}
	key := pendingKey(pr.platform, property, user)
	unlock := e.locks.lock(key)
	defer unlock()
	c, err := e.load(key)
	if errors.Is(err, store.ErrNotFound) {
		return Reply{Text: textEnded, Update: pr.platform == audit.Discord}, nil
	}
	if err != nil {
		return Reply{Text: textTrouble}, fmt.Errorf("verification: %w", err)
	}
	if c.ID != pr.id {
		return Reply{Text: textEnded}, nil
	}
	now := e.clock.Now()
	group := c.Platform == audit.Telegram
	out := c.Answer(pr.round, int(pr.choice), now)
	switch out {
	case OutcomeStale:
		if c.Done() {
			return Reply{Text: textEnded}, nil
		}
		return Reply{Text: textStale}, nil
	case OutcomeRetry:
		e.ask(c)
		if err := e.save(c); err != nil {
			return Reply{Text: textTrouble}, fmt.Errorf("verification: %w", err)
		}
		return Reply{Text: retryPrompt(c, now, group), Buttons: e.buttons(c), Update: true}, nil
	}
	if err := e.save(c); err != nil {
		return Reply{Text: textTrouble}, fmt.Errorf("verification: %w", err)
	}
	if err := e.finish(ctx, pl, key, c); err != nil {
		e.log.Error().Err(err).Str("property", property).Str("user", user).Msg("finish verification")
	}
	text := textPassed
	switch out {
	case OutcomeFailed:
		text = textWrongFailed
	case OutcomeTimedOut:
		text = textTimedOut
	}
	// On Telegram the challenge message is gone: answer the press instead.
	return Reply{Text: text, Update: !group}, nil
}

// start handles the Verify button: it shows the member's question,
// starting a challenge if none is pending (one that does not remove the
// member on failure: they joined before it was required).
func (e *Engine) start(ctx context.Context, pl *attached, p audit.Platform, property, user string) (Reply, error) {
	if p == audit.Telegram {
		return Reply{Text: textJoinFirst}, nil
	}
	cfg := e.resolve(ctx, p, property)
	if !cfg.Enabled {
		return Reply{Text: textOff}, nil
	}
	key := pendingKey(p, property, user)
	unlock := e.locks.lock(key)
	defer unlock()
	now := e.clock.Now()
	c, err := e.load(key)
	fresh := errors.Is(err, store.ErrNotFound)
	switch {
	case fresh:
		c = NewChallenge(p, property, user, e.memberName(ctx, pl, property, user), cfg, now, e.newID())
	case err != nil:
		return Reply{Text: textTrouble}, fmt.Errorf("verification: %w", err)
	case c.Done():
		return Reply{Text: textEnded}, nil
	case !now.Before(c.Deadline):
		c.Expire(now)
		if err := e.save(c); err != nil {
			return Reply{Text: textTrouble}, fmt.Errorf("verification: %w", err)
		}
		if err := e.finish(ctx, pl, key, c); err != nil {
			e.log.Error().Err(err).Str("user", user).Msg("finish verification")
		}
		return Reply{Text: textTimedOut}, nil
	}
	e.ask(c)
	if err := e.save(c); err != nil {
		return Reply{Text: textTrouble}, fmt.Errorf("verification: %w", err)
	}
	if fresh {
		e.schedule(c.Deadline, key)
	}
	return Reply{Text: privatePrompt(c, now), Buttons: e.buttons(c)}, nil
}

// memberName asks the platform for the name a member is shown by, for a
// challenge that starts before the engine saw the join (a press right
// after joining); "" when the directory cannot tell.
func (e *Engine) memberName(ctx context.Context, pl *attached, property, user string) string {
	nl, ok := pl.dir.(interface {
		MemberNames(ctx context.Context, property, user string) ([]string, error)
	})
	if !ok {
		return ""
	}
	names, err := nl.MemberNames(ctx, property, user)
	if err != nil || len(names) == 0 {
		return ""
	}
	return names[len(names)-1]
}

// finish carries out a decided challenge's effects, records the result
// and forgets the challenge. Effects are retried after a crash, so each
// tolerates having been done (a member already gone, a message already
// deleted). If the record cannot be made the challenge stays and is
// finished again later.
func (e *Engine) finish(ctx context.Context, pl *attached, key string, c *Challenge) error {
	r := c.Result
	// Its actions are details of the result's record, which says what was
	// done (action, outcome): stored, not posted (quiet: DETAIL).
	cause := platform.Cause{Function: audit.FuncVerification, Reason: "verification passed", Quiet: audit.QuietDetail}
	action, outcome := "NONE", "NONE"
	note := func(act string, err error) {
		action, outcome = act, outcomeOf(err)
		if err != nil && !errors.Is(err, platform.ErrNotFound) {
			e.log.Warn().Err(err).Str("property", c.Property).Str("user", c.User).Str("action", act).
				Msg("verification action failed")
		}
	}
	deleteMsg := func(id string) {
		if id == "" {
			return
		}
		if err := pl.actions.DeleteMessage(ctx, c.Property, c.ChannelID, id, cause); err != nil && !errors.Is(err, platform.ErrNotFound) {
			e.log.Warn().Err(err).Str("message", id).Msg("delete a verification message")
		}
	}
	if r.Passed {
		switch {
		case c.Platform == audit.Telegram:
			note("UNRESTRICT", pl.actions.RemoveTimeout(ctx, c.Property, c.User, cause))
			deleteMsg(c.MessageID)
		case c.RoleID != "":
			note("ROLE", pl.actions.AddRole(ctx, c.Property, c.User, c.RoleID, cause))
		}
	} else {
		cause.Reason = "verification failed: " + strings.ToLower(strings.ReplaceAll(r.Reason, "_", " "))
		if c.Enforce && r.Reason != audit.ReasonLeft {
			if c.FailAction == FailBan {
				note("BAN", pl.actions.Ban(ctx, c.Property, c.User, cause))
			} else {
				note("KICK", pl.actions.Kick(ctx, c.Property, c.User, cause))
			}
		}
		if c.Platform == audit.Telegram {
			deleteMsg(c.MessageID)
			if r.Reason != audit.ReasonLeft {
				join := c.JoinMessageID
				if f, ok := pl.dir.(JoinMessageFinder); ok && join == "" {
					join, _ = f.JoinMessage(ctx, c.Property, c.User)
				}
				deleteMsg(join)
			}
		}
	}
	typ := audit.VerificationSuccess
	if !r.Passed {
		typ = audit.VerificationFailure
	}
	ev := &audit.Event{Time: r.At, Platform: c.Platform, PropertyID: c.Property, Type: typ,
		PlatformType: "verification", Function: audit.FuncVerification, ActorType: audit.ActorBot,
		TargetIDs: []string{c.User}, ChannelID: c.ChannelID, MessageID: c.MessageID}
	if ev.ChannelID == c.Property {
		ev.ChannelID = "" // the Telegram group itself, where Send posts for "its own id": no channel
	}
	ev.ActorID, ev.ActorName = pl.dir.Self()
	ev.Params.Set(audit.ParamTargetName, c.Name)
	ev.Params.Set(audit.ParamVerifyKind, strings.ToUpper(c.Kind))
	ev.Params.Set(audit.ParamAttempts, strconv.Itoa(c.Attempts))
	ev.Params.Set(audit.ParamTimeTaken, c.TimeTaken().Round(time.Millisecond).String())
	ev.Params.Set(audit.ParamReason, r.Reason)
	ev.Params.Set(audit.ParamAction, action)
	ev.Params.Set(audit.ParamOutcome, outcome)
	// The result's record and the challenge's removal commit together: a
	// crash between them would leave a recorded result whose challenge is
	// finished, and recorded, again at the next start. The commit is
	// awaited whatever the actions' deadline: a record that timed out
	// while queued is still committed.
	forget := []recorder.State{{NS: NSPending, Key: []byte(key), Delete: true},
		{NS: NSFinished, Key: []byte(key), Value: binary.BigEndian.AppendUint64(nil, uint64(e.clock.Now().UnixNano()))}}
	done := make(chan error, 1)
	err := e.opts.Recorder.SubmitState(context.WithoutCancel(ctx), func(err error) { done <- err }, forget, ev)
	if err == nil {
		err = <-done
	}
	if err != nil {
		e.schedule(e.clock.Now().Add(time.Minute), key)
		return fmt.Errorf("verification: record %s: %w", typ, err)
	}
	e.sweepFinished()
	return nil
}

// finishedAt returns when the challenge of key last finished, if within
// finishedTTL.
func (e *Engine) finishedAt(key string) (time.Time, bool) {
	v, err := e.opts.KV.GetKV(NSFinished, []byte(key))
	if err != nil || len(v) != 8 {
		return time.Time{}, false
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	return at, e.clock.Now().Sub(at) < finishedTTL
}

// sweepFinished deletes the finishes older than finishedTTL, at most once
// an hour, so that NSFinished holds about a week of verifications.
func (e *Engine) sweepFinished() {
	now := e.clock.Now()
	e.smu.Lock()
	if now.Sub(e.sweptAt) < time.Hour {
		e.smu.Unlock()
		return
	}
	e.sweptAt = now
	e.smu.Unlock()
	var old [][]byte
	err := e.opts.KV.ScanKV(NSFinished, nil, func(k, v []byte) error {
		if len(v) != 8 || now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) >= finishedTTL {
			old = append(old, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range old {
		if err == nil {
			err = e.opts.KV.DeleteKV(NSFinished, k)
		}
	}
	if err != nil {
		e.log.Warn().Err(err).Msg("sweep finished verifications")
	}
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "DONE"
	case errors.Is(err, platform.ErrNotFound):
		return "ALREADY_GONE"
	case errors.Is(err, platform.ErrForbidden):
		return "FORBIDDEN"
	case errors.Is(err, platform.ErrUnsupported):
		return "UNSUPPORTED"
	}
	return "FAILED"
}

// Pending returns the property's pending challenges.
func (e *Engine) Pending(p audit.Platform, property string) ([]Challenge, error) {
	var out []Challenge
	prefix := []byte(string(rune(p)) + property + "\x00")
	err := e.opts.KV.ScanKV(NSPending, prefix, func(_, v []byte) error {
		var c Challenge
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode pending challenge: %w", err)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verification: %w", err)
	}
	return out, nil
}

// Close stops the deadline loop and the queue and waits for work under way
// (or ctx). Pending challenges stay in the store for the next start.
func (e *Engine) Close(ctx context.Context) error {
	e.once.Do(func() {
		close(e.stop)
		e.q.Close()
	})
	select {
	case <-e.done:
	case <-ctx.Done():
		return fmt.Errorf("verification close: %w", ctx.Err())
	}
	if err := e.Flush(ctx); err != nil {
		return err
	}
	fired := make(chan struct{})
	go func() {
		e.fires.Wait()
		close(fired)
	}()
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("verification close: %w", ctx.Err())
	}
}

// schedule makes key's deadline fire at t (at once for the zero time).
func (e *Engine) schedule(t time.Time, key string) {
	e.dmu.Lock()
	heap.Push(&e.deadlines, deadline{at: t, key: key})
	e.dmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) park(p audit.Platform, key string) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if e.platforms[p] != nil {
		go e.schedule(time.Time{}, key)
		return
	}
	e.parked[p] = append(e.parked[p], key)
}

// loop fires deadlines as the clock reaches them.
func (e *Engine) loop() {
	defer close(e.done)
	for {
		e.dmu.Lock()
		var at <-chan time.Time
		if e.deadlines.Len() > 0 {
			at = e.clock.At(e.deadlines[0].at)
		}
		e.dmu.Unlock()
		select {
		case <-at:
		case <-e.wake:
			continue
		case <-e.stop:
			return
		}
		now := e.clock.Now()
		var due []string
		e.dmu.Lock()
		for e.deadlines.Len() > 0 && !now.Before(e.deadlines[0].at) {
			due = append(due, heap.Pop(&e.deadlines).(deadline).key)
		}
		e.dmu.Unlock()
		for _, key := range due {
			select {
			case e.sem <- struct{}{}:
			case <-e.stop:
				return
			}
			e.fires.Add(1)
			go func() {
				defer func() { <-e.sem; e.fires.Done() }()
				e.fire(key)
			}()
		}
	}
}

// fire handles a deadline: a challenge still pending past it fails with
// reason TIMEOUT; a decided one whose effects were cut short (a restart)
// is finished.
func (e *Engine) fire(key string) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error().Interface("panic", r).Bytes("stack", debug.Stack()).Msg("verification deadline panicked")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ActionTimeout)
	defer cancel()
	unlock := e.locks.lock(key)
	defer unlock()
	c, err := e.load(key)
	if errors.Is(err, store.ErrNotFound) {
		return // finished meanwhile
	}
	if err != nil {
		e.log.Error().Err(err).Msg("load a pending challenge")
		return
	}
	pl := e.platform(c.Platform)
	if pl == nil {
		e.park(c.Platform, key)
		return
	}
	if !c.Done() {
		if !c.Expire(e.clock.Now()) {
			e.schedule(c.Deadline, key) // not due yet: an earlier entry of the key
			return
		}
		if err := e.save(c); err != nil {
			e.log.Error().Err(err).Msg("save an expired challenge")
			return
		}
	}
	if err := e.finish(ctx, pl, key, c); err != nil {
		e.log.Error().Err(err).Str("property", c.Property).Str("user", c.User).Msg("finish verification")
	}
}

type deadline struct {
	at  time.Time
	key string
}

// deadlineHeap is a min-heap of deadlines.
type deadlineHeap []deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// keyedMutex serialises the work on one challenge.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

type lockEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &lockEntry{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
