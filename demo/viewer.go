package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/handlers/httpapi"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// DefaultListen is where the demo's viewer listens unless told: a free
// port on the loopback interface.
const DefaultListen = "127.0.0.1:0"

// Options are the demo's choices besides its database.
type Options struct {
	NoColor bool // plain output even on a terminal
	// Serve keeps the web viewer on the demo's database running after the
	// day, until ctx ends (Ctrl-C), so that the printed link works.
	Serve bool
	// Listen is the viewer's host:port (default DefaultListen).
	Listen string
}

// viewer opens the demo's database in the web viewer and prints a
// one-time login link for the Discord server's owner, as /audit viewer
// would give them. With serve it serves the viewer until ctx ends;
// without, it says how to keep it open.
func viewer(ctx context.Context, dbPath, listen string, serve bool, guild string, owner command.Admin, scr *screen, log zerolog.Logger) error {
	if listen == "" {
		listen = DefaultListen
	}
	s, err := store.Open(dbPath, store.Options{})
	if err != nil {
		return fmt.Errorf("demo: open the database for the viewer: %w", err)
	}
	defer s.Close()
	rec := recorder.New(s, recorder.Options{Logger: log})
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rec.Close(cctx)
	}()
	api, err := httpapi.New(httpapi.Options{Store: s, Recorder: rec, Logger: log})
	if err != nil {
		return fmt.Errorf("demo: the viewer: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("demo: the viewer's address %s: %w", listen, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	link, expires, err := api.LoginLink(ctx, base, audit.Discord, guild, owner)
	if err != nil {
		return fmt.Errorf("demo: a viewer link: %w", err)
	}
	scr.scene("The web viewer")
	scr.write(fmt.Sprintf("A one-time link to the audit log viewer of the Discord server, logged in as %s\n"+
		"(what /audit viewer gives a moderator; it works once, until %s):\n  %s\n",
		owner.Name, expires.Format("15:04:05"), link))
	if !serve {
		scr.write("The viewer stopped with the demo: run chatwarden demo --serve to keep it open for the link.\n")
		return nil
	}
	scr.write(fmt.Sprintf("Serving the viewer on %s; press Ctrl-C to stop.\n", base))
	if err := httpapi.ServeListener(ctx, ln, api); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("demo: the viewer: %w", err)
	}
	scr.write("The viewer stopped.\n")
	return nil
}
