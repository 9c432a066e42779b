package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/platform"
)

// ctxClient is the HTTP client handed to tgbotapi, whose calls take no
// context: every request is bound to the bot's lifetime, so that stopping
// the bot ends a held long poll at once instead of after its timeout.
type ctxClient struct {
	c   *http.Client
	ctx context.Context
}

func (c *ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.c.Do(req.WithContext(c.ctx))
}

// The token is part of every request URL, so transport errors (and
// tgbotapi's own log lines) can carry it. Everything that may reach a log
// goes through redact.
var (
	tokensMu sync.RWMutex
	tokens   []string
	tgLog    zerolog.Logger
)

func registerToken(token string, log zerolog.Logger) {
	tokensMu.Lock()
	defer tokensMu.Unlock()
	tgLog = log
	for _, t := range tokens {
		if t == token {
			return
		}
	}
	tokens = append(tokens, token)
	// tgbotapi prints through a package-level logger (request URLs when
	// Debug is on, which chatwarden never turns on, and some warnings).
	_ = tgbotapi.SetLogger(redactingLogger{})
}

func redactString(s string) string {
	tokensMu.RLock()
	defer tokensMu.RUnlock()
	for _, t := range tokens {
		if t != "" {
			s = strings.ReplaceAll(s, t, "<token>")
		}
	}
	return s
}

// redactedError keeps the chain for errors.Is/As but prints without the
// token.
type redactedError struct{ err error }

func (e *redactedError) Error() string { return redactString(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err}
}

// redactingLogger adapts tgbotapi's logger to zerolog without the token.
type redactingLogger struct{}

func (redactingLogger) Println(v ...any) {
	tokensMu.RLock()
	l := tgLog
	tokensMu.RUnlock()
	l.Debug().Str("platform", "telegram").Msg(redactString(strings.TrimSpace(fmt.Sprintln(v...))))
}

func (redactingLogger) Printf(format string, v ...any) {
	tokensMu.RLock()
	l := tgLog
	tokensMu.RUnlock()
	l.Debug().Str("platform", "telegram").Msg(redactString(strings.TrimSpace(fmt.Sprintf(format, v...))))
}

// call makes a raw Bot API request and decodes its result into out (which
// may be nil). It is used where tgbotapi v5.5.1 lacks a method's newer
// parameters or result fields.
func (b *Bot) call(method string, params tgbotapi.Params, out any) error {
	resp, err := b.api.MakeRequest(method, params)
	if err != nil {
		return redact(err)
	}
	if out != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, out); err != nil {
			return fmt.Errorf("decode %s: %w", method, err)
		}
	}
	return nil
}

// maxActionWait bounds how long one action waits out Telegram's flood
// control in all: a challenge or a deletion much later than that is worse
// than the error the engine then reports.
const maxActionWait = 30 * time.Second

// callPatient is call for the engines' actions: a 429 (retry_after) is
// waited out and the call made again, within maxActionWait and ctx.
// Telegram paces every chat, and a group busy with the bot's answers must
// still get its verification challenge.
func (b *Bot) callPatient(ctx context.Context, method string, params tgbotapi.Params, out any) error {
	var waited time.Duration
	for {
		err := b.call(method, params, out)
		te := apiError(err)
		if te == nil || te.RetryAfter <= 0 {
			return err
		}
		wait := time.Duration(te.RetryAfter) * time.Second
		if waited+wait > maxActionWait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		waited += wait
	}
}

// apiError returns the Bot API's error, if err is one.
func apiError(err error) *tgbotapi.Error {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		return te
	}
	return nil
}

// actionErr maps the Bot API's errors onto bot's.
func actionErr(op string, err error) error {
	te := apiError(err)
	if te == nil {
		return fmt.Errorf("telegram %s: %w", op, err)
	}
	msg := strings.ToLower(te.Message)
	switch {
	case te.RetryAfter > 0:
		return &logchannel.RetryAfterError{Wait: time.Duration(te.RetryAfter) * time.Second, Err: fmt.Errorf("telegram %s: %w", op, err)}
	case te.Code == 403, strings.Contains(msg, "not enough rights"), strings.Contains(msg, "have no rights"),
		strings.Contains(msg, "chat_admin_required"), strings.Contains(msg, "need administrator rights"),
		strings.Contains(msg, "user is an administrator"), strings.Contains(msg, "can't remove chat owner"):
		return fmt.Errorf("telegram %s: %w: %s", op, platform.ErrForbidden, te.Message)
	case strings.Contains(msg, "not found"), strings.Contains(msg, "user_id_invalid"), strings.Contains(msg, "participant_id_invalid"):
		return fmt.Errorf("telegram %s: %w: %s", op, platform.ErrNotFound, te.Message)
	}
	return fmt.Errorf("telegram %s: %w", op, err)
}

func parseChat(id string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("telegram: %q is not a chat id: %w", id, platform.ErrNotFound)
	}
	return n, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func jsonParam(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
