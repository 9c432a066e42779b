package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/chatwarden/chatwarden/demo"
)

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--db FILE] [--no-color] [--serve [--listen HOST:PORT]]", stderr)
	db := fs.String("db", "", "write the demo's database to this `file` (default: a new temporary directory)")
	noColor := fs.Bool("no-color", false, "plain output even on a terminal")
	serve := fs.Bool("serve", false, "keep the web viewer on the demo's database running (until Ctrl-C) so that the printed link works")
	listen := fs.String("listen", demo.DefaultListen, "the viewer's `host:port` (port 0: a free one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *db == "" {
		dir, err := os.MkdirTemp("", "chatwarden-demo-")
		if err != nil {
			return fmt.Errorf("demo: temporary directory: %w", err)
		}
		*db = filepath.Join(dir, "demo.db")
	} else if _, err := os.Stat(*db); err == nil {
		return fmt.Errorf("demo: %s exists; the demo writes a new database (choose another --db)", *db)
	} else if err := os.MkdirAll(filepath.Dir(*db), 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	ctx := context.Background()
	if *serve { // Ctrl-C or SIGTERM stops the viewer (and the demo before it)
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	return demo.Run(ctx, *db, stdout, stderr, demo.Options{NoColor: *noColor, Serve: *serve, Listen: *listen})
}
