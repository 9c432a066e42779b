package httpapi_test

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// bot.Run's use of the package, compiled with the tests so that it stays
// true.
func ExampleNew() {
	ctx := context.Background()
	s, err := store.Open("chatwarden.db", store.Options{})
	if err != nil {
		return
	}
	defer s.Close()
	rec := recorder.New(s, recorder.Options{})
	defer rec.Close(ctx)
	connected := func() bool { return true } // a platform's Connected
	srv, err := httpapi.New(httpapi.Options{Store: s, Recorder: rec, Tokens: command.NewTokens(s, rec),
		Metrics: httpapi.NewMetrics(), DefaultLocale: "en", Logger: zerolog.Nop()})
	if err != nil {
		return
	}
	srv.AddReady("discord", func(context.Context) error {
		if !connected() {
			return errors.New("not connected to the gateway")
		}
		return nil
	})
	_ = httpapi.Serve(ctx, "127.0.0.1:8080", srv)
}
