package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

func cmdVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "--db FILE [--platform P --property ID]", stderr)
	db := fs.String("db", "", "the database `file` (required)")
	platform := fs.String("platform", "", "discord or telegram")
	property := fs.String("property", "", "verify only this property `id`")
	if err := parse(fs, args); err != nil {
		return err
	}
	s, err := openRead(*db)
	if err != nil {
		return err
	}
	defer s.Close()
	var results []store.Verification
	if *property != "" {
		p, err := audit.ParsePlatform(*platform)
		if err != nil {
			return usagef("--property needs --platform: %v", err)
		}
		if results, err = s.VerifyChains(context.Background(), p, *property); err != nil {
			return err
		}
	} else if results, err = s.VerifyAll(context.Background()); err != nil {
		return err
	}
	failed := 0
	for _, v := range results {
		// A query node's chains are its shards': each names the store
		// (origin) that wrote it.
		name := fmt.Sprintf("%s:%s", v.Platform, v.Property)
		if v.Origin != "" {
			name += " (origin " + v.Origin + ")"
		}
		if v.OK {
			fmt.Fprintf(stdout, "OK      %s  %d records  head %s\n", name, v.Records, hex.EncodeToString(v.Head[:]))
			continue
		}
		failed++
		if len(v.Gaps) > 0 && v.Problem == v.Gaps[0].String() {
			// Only gaps: one line each below.
			fmt.Fprintf(stdout, "FAILED  %s  %d records  %d %s\n", name, v.Records, len(v.Gaps), plural(len(v.Gaps), "gap", "gaps"))
		} else {
			fmt.Fprintf(stdout, "FAILED  %s  %s", name, v.Problem)
			if !v.BadID.IsZero() {
				fmt.Fprintf(stdout, "  (record %s, seq %d)", v.BadID, v.BadSeq)
			}
			fmt.Fprintln(stdout)
		}
		for _, g := range v.Gaps {
			fmt.Fprintf(stdout, "GAP     %s  %s\n", name, g)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d chains failed verification", *db, failed, len(results))
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "no records")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func cmdBackup(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", "--db FILE --out FILE | --from URL --out FILE", stderr)
	db := fs.String("db", "", "the database `file`, copied offline")
	from := fs.String("from", "", "a running bot's API `URL` (api.listen), copied online; the operator token comes from CHATWARDEN_API_OPERATOR_TOKEN")
	out := fs.String("out", "", "the backup `file` to write (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || (*db == "") == (*from == "") {
		return usagef("give --out and one of --db or --from")
	}
	if *from != "" {
		token := os.Getenv("CHATWARDEN_API_OPERATOR_TOKEN")
		if token == "" {
			return usagef("--from needs the operator token in CHATWARDEN_API_OPERATOR_TOKEN")
		}
		w, commit, err := output(*out, nil)
		if err != nil {
			return err
		}
		n, err := onlineBackup(context.Background(), *from, token, w)
		if err := commit(err); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d bytes) from the running bot\n", *out, n)
		return nil
	}
	s, err := store.Open(*db, store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w\nThe bot is running: take an online copy with --from http://<api.listen> (and CHATWARDEN_API_OPERATOR_TOKEN)", err)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	w, commit, err := output(*out, nil)
	if err != nil {
		return err
	}
	n, err := s.Backup(context.Background(), w)
	if err := commit(err); err != nil {
		return fmt.Errorf("backup to %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, n)
	return nil
}

// openWrite opens a database for an offline change.
func openWrite(path string) (*store.Store, error) {
	if path == "" {
		return nil, usagef("--db is required")
	}
	s, err := store.Open(path, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w\n(stop the bot first: this command changes the database)", err)
	}
	return s, err
}

// recordAction records an operator's action on s; on a query node's
// store, whose chains are its shards', in the node's own database
// (bot.NodeStorePath) instead.
func recordAction(s *store.Store, e *audit.Event) error {
	b := &recorder.Batch{Events: []*audit.Event{e}}
	if !s.IsReplica() {
		if s.Publishing() {
			// A fleet's shard: the record goes to the stream when the bot
			// runs again (an erasure then reaches the query nodes).
			b.Routes = [][]recorder.Route{cluster.Router().Route(e)}
		}
		return s.Append(context.Background(), b)
	}
	own, err := openWrite(bot.NodeStorePath(s.Path()))
	if err != nil {
		return err
	}
	defer own.Close()
	return own.Append(context.Background(), b)
}

func cmdErase(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("erase", "--db FILE --platform P --property ID --user ID", stderr)
	db := fs.String("db", "", "the database `file` (required)")
	platform := fs.String("platform", "", "discord or telegram (required)")
	property := fs.String("property", "", "guild or chat `id` (required)")
	user := fs.String("user", "", "the user `id` whose personal data to erase (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := audit.ParsePlatform(*platform)
	if err != nil {
		return usagef("--platform: %v", err)
	}
	if *property == "" || *user == "" {
		return usagef("--property and --user are required")
	}
	s, err := store.Open(*db, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w\n%s", err, eraseOnline(p, *property, *user))
	}
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.Erase(context.Background(), p, *property, *user)
	if err != nil {
		return err
	}
	e := bot.RetentionEvent(p, *property, audit.RetentionErase, n)
	e.TargetIDs = []string{*user}
	if err := recordAction(s, e); err != nil {
		return fmt.Errorf("record the erasure: %w", err)
	}
	fmt.Fprintf(stdout, "erased the personal data of %s in %d records of %s:%s\n", *user, n, p, *property)
	return nil
}

// eraseOnline tells the operator how to erase in the running bot that
// holds the database.
func eraseOnline(p audit.Platform, property, user string) string {
	return fmt.Sprintf("The bot is running: erase through it instead, without stopping it. With the operator token "+
		"(api.operator_token) and the bot's api.listen address:\n"+
		"  curl -X POST -H \"Authorization: Bearer $CHATWARDEN_API_OPERATOR_TOKEN\" http://127.0.0.1:8080/v1/properties/%s:%s/members/%s:erase\n"+
		"A community's admins can also use /audit erase (Discord) or /erase (Telegram). "+
		"In a fleet, erase on the shard that records the community: the erasure reaches every query node.", p, property, user)
}

func cmdPurge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("purge", "--db FILE [--days N | --config FILE]", stderr)
	db := fs.String("db", "", "the database `file` (required)")
	days := fs.Int("days", -1, "purge records older than this many `days` (default: storage.retention_days of --config, else 90)")
	cfgPath := fs.String("config", "", "read the default from this config `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *days < 0 {
		*days = 90
		if *cfgPath != "" {
			cfg, err := config.Load(*cfgPath)
			if err != nil {
				return err
			}
			*days = cfg.Storage.RetentionDays
		}
	}
	if *days == 0 {
		fmt.Fprintln(stdout, "retention is 0 days (keep forever): nothing to purge")
		return nil
	}
	s, err := openWrite(*db)
	if err != nil {
		return err
	}
	defer s.Close()
	total, err := bot.PurgeAll(context.Background(), s, *days, nil, func(e *audit.Event) error { return recordAction(s, e) })
	fmt.Fprintf(stdout, "purged %d records older than %d days\n", total, *days)
	return err
}

// Discord permissions chatwarden asks for; README.md explains each, and
// chatwarden doctor checks each guild against them.
const invitePermissions = uint64(discord.InvitePermissions)

func cmdInvite(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("invite", "[--client-id ID | --config FILE]", stderr)
	clientID := fs.String("client-id", "", "the application's client `id`")
	cfgPath := fs.String("config", "", "derive the client id from the Discord token in this config `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *clientID == "" && *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		*clientID = clientIDFromToken(cfg.Discord.Token.Reveal())
	}
	if *clientID == "" {
		return usagef("give --client-id, or --config with a Discord token")
	}
	if _, err := strconv.ParseUint(*clientID, 10, 64); err != nil {
		return usagef("--client-id %q is not a Discord id", *clientID)
	}
	v := url.Values{"client_id": {*clientID}, "scope": {"bot applications.commands"},
		"permissions": {strconv.FormatUint(invitePermissions, 10)}}
	fmt.Fprintf(stdout, "https://discord.com/oauth2/authorize?%s\n", v.Encode())
	return nil
}

// clientIDFromToken reads the bot's id from the first part of its token
// (base64 of the id); the token itself is never printed.
func clientIDFromToken(token string) string {
	first, _, _ := strings.Cut(token, ".")
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(first, "="))
	if err != nil {
		return ""
	}
	if _, err := strconv.ParseUint(string(b), 10, 64); err != nil {
		return ""
	}
	return string(b)
}

func cmdHealthcheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("healthcheck", "[--url URL]", stderr)
	u := fs.String("url", "http://127.0.0.1:8080/healthz", "the health `URL`")
	if err := parse(fs, args); err != nil {
		return err
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(*u)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *u, resp.Status)
	}
	return nil
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	line := fmt.Sprintf("chatwarden %s (%s %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				line += " " + s.Value
			}
		}
	}
	fmt.Fprintln(stdout, line)
	return nil
}
