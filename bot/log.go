package bot

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/config"
)

// NewLogger builds the process logger: JSON lines, or a console writer.
func NewLogger(cfg *config.Config, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
