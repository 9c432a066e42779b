package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
)

// cmdAPI runs a query node: the fleet's stream into its own store, and
// the HTTP API over it.
func cmdAPI(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("api", "--config FILE", stderr)
	cfgPath := fs.String("config", "", "the config `file` (required; cluster.nats_url and api.listen must be set)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usagef("--config is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := bot.NewLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bot.RunAPI(ctx, cfg, log)
}
