package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
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

// Intents are exactly the gateway intents the catalogue needs: members,
// bans and the audit log (GUILD_MODERATION), invites, messages and their
// content, voice states, AutoMod's rules and actions, expressions
// (discordgo's IntentGuildEmojis), webhooks, integrations and scheduled
// events. Only GUILD_MEMBERS and MESSAGE_CONTENT are privileged; without
// MESSAGE_CONTENT enabled for the application the bot identifies without
// it (content.go).
const Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMembers | discordgo.IntentGuildModeration |
	discordgo.IntentsGuildInvites | discordgo.IntentsGuildMessages | discordgo.IntentMessageContent |
	discordgo.IntentGuildVoiceStates | discordgo.IntentAutoModerationConfiguration | discordgo.IntentAutoModerationExecution |
	discordgo.IntentGuildEmojis | discordgo.IntentGuildWebhooks | discordgo.IntentGuildIntegrations |
	discordgo.IntentGuildScheduledEvents

// bannedFor is how long a ban waits for the member's removal it causes,
// which is then not recorded.
const bannedFor = 30 * time.Second

// DefaultAPIURL is Discord's REST base for the API version discordgo speaks.
var DefaultAPIURL = strings.TrimSuffix(discordgo.EndpointAPI, "/")

// Options configure a Bot.
type Options struct {
	Token      string
	APIURL     string // default DefaultAPIURL; every REST call (and so gateway discovery) goes there
	ShardID    int
	ShardCount int
	DevGuildID string // register commands in this guild only

	Store    *store.Store
	Recorder *recorder.Recorder
	Logger   zerolog.Logger
	// ReadyTimeout bounds the wait for the gateway's READY (default 30s).
	ReadyTimeout time.Duration
	// CorrelationWindow is how long a member removal, ban or deletion waits
	// for its audit-log entry to name the moderator (default 2s).
	CorrelationWindow time.Duration
	// HTTPClient is the base client; its Transport is wrapped to redirect.
	HTTPClient *http.Client
	// Router, when set, gives locales and routes: the bot then delivers
	// the outbox's Discord entries to log channels.
	Router *logchannel.Router
	// LogInterval is the least time between two posts to one log channel
	// (default 1s: Discord allows about five a channel every five seconds).
	LogInterval time.Duration

	// Moderation and Verification, when set, are attached when the
	// gateway's first READY is handled, before any later event (the Bot
	// is their platform.Actions and Directory), and
	// get what only the platform sees: integrations created (audit log),
	// verification button presses, their /config subcommands. main
	// subscribes their Committed to the recorder.
	Moderation   *moderation.Engine
	Verification *verification.Engine
	// Tokens, when set, serves /config api-token (the HTTP API's tokens).
	Tokens *command.Tokens
	// ViewerLink, when set, serves /audit viewer (one-time links to the
	// web viewer).
	ViewerLink ViewerLinkFunc
	// Identify and Shards, when set (a fleet), coordinate this process
	// with the others running the bot (fleet.go): identifies respect
	// max_concurrency across processes, and Run refuses a shard another
	// live process runs.
	Identify coord.Identify
	Shards   coord.Shards
	// OnReconnect, if set, is called each time the connection to the
	// platform is lost and made again (a gateway disconnect), for metrics. It must not block.
	OnReconnect func()
	// OnDeliveryFailure, if set, is called for every log post the
	// platform refused, for metrics. It must not block.
	OnDeliveryFailure func(target string, err error)
	// WithoutMessageContent never asks for the MESSAGE_CONTENT intent,
	// even when the application has it (discord.message_content: false);
	// messages are then recorded without their text (content.go).
	WithoutMessageContent bool
}

// Bot is chatwarden's Discord side.
type Bot struct {
	opts Options
	s    *discordgo.Session
	log  zerolog.Logger
	self *discordgo.User
	app  *discordgo.Application
	corr *correlator
	echo *platform.Echoes
	// banned are the members whose ban was seen (gateway or audit log)
	// before their removal (translate.go).
	banned   *platform.Echoes
	auditLog *auditReader // late lookups over REST (auditlog.go)
	roles    roleCache    // each guild's roles as last seen (roles.go)
	rules    ruleNames    // AutoMod rules' names (automod.go)
	raids    raidRuns
	profiles pendingProfiles // saved, not yet committed (profile.go)
	ready    chan struct{}
	once     sync.Once
	wg       sync.WaitGroup

	deliverer *logchannel.Deliverer
	members   memberCache // members read over REST (directory.go)
	chunks    *chunker    // member-list requests of large guilds (chunks.go)
	// unknownUpdates are first-sight updates waiting for an audit entry
	// that says what changed (profile.go): dropped if emitted without.
	unknownUpdates sync.Map // *audit.Event -> struct{}

	lost        chan struct{} // a lost gateway connection, for Run (reconnect.go)
	connected   atomic.Bool
	connectedAt atomic.Int64 // unix nanoseconds of the last READY or RESUMED
	closing     atomic.Bool  // Run is closing the session: not a lost connection
	content     atomic.Bool  // the session asks for MESSAGE_CONTENT (content.go)
	contentSeen atomic.Bool  // chooseIntents ran once
}

// ErrTokenRejected and ErrIntentsDisabled end Run, at start or when the
// token is reset or an intent turned off while it runs: an operator must
// fix them in the Discord developer portal.
var (
	ErrTokenRejected   = errors.New("discord rejected the bot token")
	ErrIntentsDisabled = errors.New("privileged gateway intents are not enabled")
)

// New builds the session; Run connects it.
func New(opts Options) (*Bot, error) {
	if opts.Token == "" {
		return nil, errors.New("discord: no token")
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if opts.ShardCount <= 0 {
		opts.ShardCount = 1
	}
	if opts.ShardID < 0 || opts.ShardID >= opts.ShardCount {
		return nil, fmt.Errorf("discord: shard %d is not within 0..%d", opts.ShardID, opts.ShardCount-1)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	if opts.CorrelationWindow <= 0 {
		opts.CorrelationWindow = 2 * time.Second
	}
	if opts.Store == nil || opts.Recorder == nil {
		return nil, errors.New("discord: a store and a recorder are required")
	}
	s, err := discordgo.New("Bot " + opts.Token)
	if err != nil {
		return nil, fmt.Errorf("discord session: %w", err)
	}
	base := opts.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 20 * time.Second}
	}
	rt, err := newRedirect(opts.APIURL, base.Transport)
	if err != nil {
		return nil, err
	}
	s.Client = &http.Client{Transport: rt, Timeout: base.Timeout, Jar: base.Jar}
	s.Identify.Intents = Intents
	s.ShardID, s.ShardCount = opts.ShardID, opts.ShardCount
	s.SyncEvents = true // handlers run in gateway order
	// Run reconnects (reconnect.go): discordgo's own loop retries forever,
	// even with a revoked token.
	s.ShouldReconnectOnError = false
	s.StateEnabled = true
	s.State.TrackPresences = false
	s.State.MaxMessageCount = 0 // message history comes from the store, not memory
	b := &Bot{
		opts:     opts,
		s:        s,
		log:      opts.Logger.With().Str("platform", "discord").Int("shard", opts.ShardID).Logger(),
		echo:     platform.NewEchoes(time.Minute),
		banned:   platform.NewEchoes(bannedFor),
		auditLog: newAuditReader(),
		ready:    make(chan struct{}),
		chunks:   newChunker(),
		lost:     make(chan struct{}, 1),
	}
	b.corr = newCorrelator(opts.CorrelationWindow, b.submitCorrelated)
	b.deliverer = b.newDeliverer()
	b.addHandlers()
	return b, nil
}

// Session returns the discordgo session (for the command and sink layers).
func (b *Bot) Session() *discordgo.Session { return b.s }

// Run checks the token and intents, connects, waits for READY, and keeps
// the connection until ctx ends, reconnecting whenever it is lost
// (reconnect.go). A rejected token or disabled privileged intent, at start
// or later, is returned with what to do about it.
func (b *Bot) Run(parent context.Context) error {
	u, app, err := b.credentials()
	if err != nil {
		return err
	}
	b.self, b.app = u, app
	b.chooseIntents(app)
	release, err := b.claimShard(parent)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.requestMembersLoop(ctx)
	}()
	if err := b.open(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		explained, _ := b.gatewayError(err)
		return explained
	}
	select {
	case <-b.ready:
		b.s.State.RLock()
		guilds := len(b.s.State.Guilds)
		b.s.State.RUnlock()
		b.log.Info().Str("user", b.self.Username).Int("guilds", guilds).Msg("discord ready")
		if err := b.registerCommands(); err != nil {
			b.close()
			return err
		}
		b.startDelivery(ctx)
	case <-time.After(b.opts.ReadyTimeout):
		b.close()
		return fmt.Errorf("discord: no READY from the gateway within %s (check the bot token and the privileged intents in the developer portal)", b.opts.ReadyTimeout)
	case <-ctx.Done():
		b.close()
		return ctx.Err()
	}
	fatal := b.stayConnected(ctx)
	cancel()
	b.corr.flush()
	err = b.close()
	b.wg.Wait()
	if fatal != nil {
		return fatal
	}
	if err != nil {
		return fmt.Errorf("discord: close: %w", err)
	}
	return nil
}

// close ends the gateway session for good: its Disconnect is no lost
// connection.
func (b *Bot) close() error {
	b.closing.Store(true)
	return b.s.Close()
}

// Ready is closed once the gateway session is ready.
func (b *Bot) Ready() <-chan struct{} { return b.ready }

// credentials asks REST who the bot is and whether its privileged intents
// are enabled, so that a bad token (gateway close 4004) or a disabled
// SERVER MEMBERS intent (close 4014) is a clear error, not a reconnect
// loop. Run asks at start and after every lost connection. A disabled
// MESSAGE CONTENT intent is no error: chooseIntents leaves it out.
func (b *Bot) credentials() (*discordgo.User, *discordgo.Application, error) {
	u, err := b.s.User("@me")
	if err != nil {
		if unauthorized(err) {
			return nil, nil, tokenRejected()
		}
		return nil, nil, fmt.Errorf("discord: who am I: %w", err)
	}
	app, err := b.s.Application("@me")
	if err != nil {
		return nil, nil, fmt.Errorf("discord: read the application: %w", err)
	}
	if app.Flags&(appMembers|appMembersLtd) == 0 {
		return nil, nil, fmt.Errorf("%w: turn on SERVER MEMBERS INTENT under Bot > Privileged Gateway Intents in the developer portal for application %s",
			ErrIntentsDisabled, app.ID)
	}
	return u, app, nil
}

// unauthorized reports whether a REST call failed with 401: the token is
// not (or no longer) valid.
func unauthorized(err error) bool {
	var re *discordgo.RESTError
	return errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized
}

func tokenRejected() error {
	return fmt.Errorf("%w: check discord.token (or CHATWARDEN_DISCORD_TOKEN); reset it under Bot > Token in the developer portal", ErrTokenRejected)
}

// submit records events without blocking the gateway reader on the
// commit: the recorder keeps order and makes them durable in groups.
// submitCorrelated records what the correlator emits, less the
// first-sight updates no audit entry completed (unknownUpdates): what
// changed is not known. The correlator may emit one as it is when its
// window ends, when a later event takes its key, or at shutdown.
func (b *Bot) submitCorrelated(events ...*audit.Event) {
	kept := events[:0:0]
	for _, e := range events {
		if _, unknown := b.unknownUpdates.LoadAndDelete(e); unknown {
			continue
		}
		kept = append(kept, e)
	}
	b.submit(kept...)
}

func (b *Bot) submit(events ...*audit.Event) {
	if len(events) == 0 {
		return
	}
	b.nameChannels(events)
	err := b.opts.Recorder.Submit(context.Background(), func(err error) {
		if err != nil {
			b.log.Error().Err(err).Msg("record discord events")
		}
	}, events...)
	if err != nil {
		b.log.Error().Err(err).Int("events", len(events)).Msg("record discord events")
	}
}
