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

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "--config FILE", stderr)
	cfgPath := fs.String("config", "", "the config `file` (required; see config.example.yaml)")
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
	return bot.Run(ctx, cfg, log)
}
