package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	return runService("run", "the config `file` (required; see config.example.yaml)", bot.Run, args, stderr)
}

// cmdAPI runs a query node: the fleet's stream into its own store, and
// the HTTP API over it.
func cmdAPI(args []string, stdout, stderr io.Writer) error {
	return runService("api", "the config `file` (required; cluster.nats_url and api.listen must be set)", bot.RunAPI, args, stderr)
}

// runService reads --config and runs serve until SIGINT or SIGTERM, which
// drain it.
func runService(name, usage string, serve func(context.Context, *config.Config, zerolog.Logger) error, args []string, stderr io.Writer) error {
	fs := newFlags(name, "--config FILE", stderr)
	cfgPath := fs.String("config", "", usage)
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
	return serve(ctx, cfg, log)
}
