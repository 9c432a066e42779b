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
	"github.com/chatwarden/chatwarden/doctor"
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
	warnExposed(log, *cfgPath, cfg.Storage.Path)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

// warnExposed warns, at start, of a config file or database that users
// other than the owner may read: the one may hold tokens, the other holds
// message text. The bot still starts; `chatwarden doctor` reports the same.
func warnExposed(log zerolog.Logger, cfgPath, dbPath string) {
	for _, f := range []struct{ what, path string }{{"config file", cfgPath}, {"database", dbPath}} {
		if mode, ok := doctor.Exposed(f.path); ok {
			log.Warn().Str("file", f.path).Str("mode", mode.String()).
				Msgf("the %s is readable by other users; run chmod 600 on it", f.what)
		}
	}
}
