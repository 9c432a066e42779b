package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chatwarden/chatwarden/demo"
)

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--db FILE] [--no-color]", stderr)
	db := fs.String("db", "", "write the demo's database to this `file` (default: a new temporary directory)")
	noColor := fs.Bool("no-color", false, "plain output even on a terminal")
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
	return demo.Run(context.Background(), *db, stdout, stderr, *noColor)
}
