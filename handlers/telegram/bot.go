package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/store"
)

// AllowedUpdates is the full subscription, sent on every getUpdates: the
// Bot API remembers the last one, and chat_member is not in its default.
var AllowedUpdates = []string{"message", "edited_message", "channel_post", "callback_query",
	"chat_member", "my_chat_member", "chat_join_request"}

// OffsetCursor names the stored update offset.
const OffsetCursor = "telegram/offset"

// Options configure a Bot.
type Options struct {
	Token       string
	APIURL      string        // default https://api.telegram.org
	PollTimeout time.Duration // default 50s
	Store       *store.Store
	Recorder    *bot.Recorder
	Logger      zerolog.Logger
	// DedupWindow is how long a join or leave seen in one form (chat_member
	// or the service message) suppresses the other (default 2m).
	DedupWindow time.Duration
	// Router, when set, gives locales and routes: the bot then delivers the
	// outbox's Telegram entries to log chats.
	Router *bot.LogRouter
	// LogInterval is the least time between two posts to one log chat
	// (default 3s: Telegram allows about 20 messages a minute in a group).
	LogInterval time.Duration
}

// Bot is chatwarden's Telegram side.
type Bot struct {
	opts Options
	api  *tgbotapi.BotAPI
	log  zerolog.Logger
	self tgbotapi.User
}

// New checks the token with getMe.
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
	client := &http.Client{Timeout: opts.PollTimeout + 15*time.Second}
	api, err := tgbotapi.NewBotAPIWithClient(opts.Token, strings.TrimSuffix(opts.APIURL, "/")+"/bot%s/%s", client)
	if err != nil {
		// tgbotapi's error text is the API's description; it never holds the token.
		return nil, fmt.Errorf("telegram: check the token with getMe: %w", err)
	}
	b := &Bot{opts: opts, api: api, self: api.Self,
		log: opts.Logger.With().Str("platform", "telegram").Logger()}
	return b, nil
}

// Self is the bot's own account.
func (b *Bot) Self() tgbotapi.User { return b.self }

// Run polls for updates until ctx ends. Each batch's records and the next
// offset commit together, so a crash neither loses an update nor records
// one twice: after a restart the stored offset confirms what was recorded.
func (b *Bot) Run(ctx context.Context) error {
	offset, err := b.offset()
	if err != nil {
		return err
	}
	wait := b.startDelivery(ctx)
	defer wait()
	allowed, _ := json.Marshal(AllowedUpdates)
	backoff := time.Second
	for ctx.Err() == nil {
		params := tgbotapi.Params{}
		params.AddNonZero64("offset", offset)
		params.AddNonZero("timeout", int(b.opts.PollTimeout/time.Second))
		params["allowed_updates"] = string(allowed)
		resp, err := b.api.MakeRequest("getUpdates", params)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait := backoff
			var te *tgbotapi.Error
			if errors.As(err, &te) && te.RetryAfter > 0 {
				wait = time.Duration(te.RetryAfter) * time.Second
			}
			b.log.Warn().Err(err).Dur("retry_in", wait).Msg("getUpdates failed")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		var raws []json.RawMessage
		if err := json.Unmarshal(resp.Result, &raws); err != nil {
			b.log.Error().Err(err).Msg("decode getUpdates")
			continue
		}
		if len(raws) == 0 {
			continue
		}
		next, events := b.translateBatch(ctx, raws, offset)
		// Records and offset in one transaction, waiting for durability:
		// the next getUpdates confirms the batch to Telegram.
		if err := b.opts.Recorder.RecordCursor(context.Background(), bot.Cursor{Name: OffsetCursor,
			Value: []byte(strconv.FormatInt(next, 10))}, events...); err != nil {
			return fmt.Errorf("telegram: record updates: %w", err)
		}
		offset = next
	}
	return nil
}

func (b *Bot) offset() (int64, error) {
	v, err := b.opts.Store.Cursor(OffsetCursor)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("telegram: stored offset %q: %w", v, err)
	}
	return n, nil
}

// translateBatch turns a batch into records and returns the next offset.
// An update that cannot be decoded is recorded as skipped in the log and
// confirmed, so that it cannot block the queue forever.
func (b *Bot) translateBatch(ctx context.Context, raws []json.RawMessage, offset int64) (int64, []*bot.Event) {
	next := offset
	var events []*bot.Event
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
		if int64(u.UpdateID) >= next {
			next = int64(u.UpdateID) + 1
		}
		events = append(events, b.translate(ctx, &u)...)
	}
	return next, events
}
