package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Webhook mode: Telegram posts each update to Options.Webhook.URL, one at
// a time (max_connections 1, so they arrive in order), and retries until
// it gets a 2xx. Every request must carry the secret token. An update is
// answered 200 only once its records and the offset are durable, so a
// crash loses nothing; an update below the stored offset is a redelivery
// and is acknowledged without being recorded again.

// serveWebhook listens, registers the webhook and serves until the bot
// stops. The webhook stays set when the bot stops, so updates queue at
// Telegram until it is back.
func (b *Bot) serveWebhook(offset int64) error {
	ln, err := net.Listen("tcp", b.opts.Webhook.Listen)
	if err != nil {
		return err
	}
	public := b.opts.Webhook.URL
	if public == "" {
		// A local Bot API server or a test server can reach the listener
		// directly.
		public = "http://" + ln.Addr().String() + "/telegram"
	}
	u, err := url.Parse(public)
	if err != nil {
		ln.Close()
		return err
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	wh := &webhook{b: b, path: path, offset: offset}
	srv := &http.Server{Handler: wh, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	allowed, _ := json.Marshal(AllowedUpdates)
	err = b.call("setWebhook", tgbotapi.Params{"url": public, "secret_token": b.opts.Webhook.SecretToken,
		"allowed_updates": string(allowed), "max_connections": "1"}, nil)
	if err != nil {
		_ = srv.Close()
		return err
	}
	b.markReady()
	b.log.Info().Str("listen", ln.Addr().String()).Msg("receiving updates by webhook")
	select {
	case <-b.life.Done():
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return nil
}

type webhook struct {
	b      *Bot
	path   string
	mu     sync.Mutex
	offset int64
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	switch {
	case r.URL.Path != w.path:
		http.NotFound(rw, r)
		return
	case subtle.ConstantTimeCompare([]byte(got), []byte(w.b.opts.Webhook.SecretToken)) != 1:
		w.b.log.Warn().Str("remote", r.RemoteAddr).Msg("webhook request without the secret token refused")
		http.Error(rw, "forbidden", http.StatusUnauthorized)
		return
	case r.Method != http.MethodPost:
		http.Error(rw, "POST only", http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || !json.Valid(raw) {
		http.Error(rw, "bad update", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	next, err := w.b.handleBatch([]json.RawMessage{raw}, w.offset)
	if err != nil {
		// Telegram delivers it again.
		w.b.log.Error().Err(err).Msg("webhook update")
		http.Error(rw, "try again", http.StatusInternalServerError)
		return
	}
	w.offset = next
	rw.WriteHeader(http.StatusOK)
}
