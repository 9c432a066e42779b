package cluster

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Conn says how to reach the NATS servers.
type Conn struct {
	// URL lists the NATS servers, comma-separated.
	URL string
	// Credentials is a .creds file; empty connects without.
	Credentials string
	// CAFile, CertFile and KeyFile are PEM files for TLS.
	CAFile, CertFile, KeyFile string
	// Name names the connection in the servers' monitoring.
	Name string
}

// check fails on a missing URL or a file that is not there, naming the
// file but never its contents.
func (c Conn) check() error {
	if c.URL == "" {
		return fmt.Errorf("cluster: no NATS URL")
	}
	for _, f := range []string{c.Credentials, c.CAFile, c.CertFile, c.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	return nil
}

// connect returns a connection that keeps reconnecting on its own; it
// calls onConnect after every (re)connection. Logs name servers with any
// password in their URL redacted.
func (c Conn) connect(log zerolog.Logger, onConnect func()) (*nats.Conn, error) {
	nc, err := nats.Connect(c.URL, c.options(log, onConnect)...)
	if err != nil { // with RetryOnFailedConnect, only bad options end here
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	return nc, nil
}

// options are the connection's options: its name, endless reconnection,
// credentials and TLS, and logging through log.
func (c Conn) options(log zerolog.Logger, onConnect func()) []nats.Option {
	name := c.Name
	if name == "" {
		name = "chatwarden"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			log.Warn().Err(err).Msg("NATS reported an error") // instead of the client's own print to stderr
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn().Err(err).Msg("disconnected from NATS")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS")
			onConnect()
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("connected to NATS")
			onConnect()
		}),
	}
	if c.Credentials != "" {
		opts = append(opts, nats.UserCredentials(c.Credentials))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts
}
