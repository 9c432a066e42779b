package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/export"
	"github.com/chatwarden/chatwarden/store"
)

// filters are the query flags shared by logs and export.
type filters struct {
	db, platform, property, types, user, actor, target, channel, since, until string
}

func (f *filters) register(fs *flag.FlagSet) {
	fs.StringVar(&f.db, "db", "", "the database `file` (required)")
	fs.StringVar(&f.platform, "platform", "", "discord or telegram (needed only when a property id exists on both)")
	fs.StringVar(&f.property, "property", "", "guild or chat `id`; empty: every property")
	fs.StringVar(&f.types, "type", "", "comma-separated event `types`, e.g. USER_JOIN,USER_BAN, or a preset: members, messages, moderation, server, roles, permissions, voice, automod")
	fs.StringVar(&f.user, "user", "", "records whose actor or target is this user `id`")
	fs.StringVar(&f.actor, "actor", "", "records whose actor is this user `id`")
	fs.StringVar(&f.target, "target", "", "records that target this user `id`")
	fs.StringVar(&f.channel, "channel", "", "records in this channel `id`")
	fs.StringVar(&f.since, "since", "", "from this `time` on: a duration back from now (24h, 7d) or RFC 3339")
	fs.StringVar(&f.until, "until", "", "before this `time`: a duration back from now or RFC 3339")
}

// parse checks the flags' values and builds the query, all before any
// database is opened, so that a bad flag is a usage error.
func (f *filters) parse(now time.Time) (store.Query, error) {
	var q store.Query
	var err error
	if f.platform != "" {
		if q.Platform, err = audit.ParsePlatform(f.platform); err != nil {
			return q, usagef("--platform: %v", err)
		}
	}
	if q.Types, err = parseTypes(f.types); err != nil {
		return q, err
	}
	q.Property, q.User, q.Actor, q.Target, q.Channel = f.property, f.user, f.actor, f.target, f.channel
	if q.Since, err = parseWhen(f.since, now); err != nil {
		return q, usagef("--since: %v", err)
	}
	if q.Until, err = parseWhen(f.until, now); err != nil {
		return q, usagef("--until: %v", err)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, usagef("--since must be before --until")
	}
	if f.db == "" {
		return q, usagef("--db is required")
	}
	return q, nil
}

// resolve finds the platform of a property given without one.
// open parses the filters, opens the database for reading and resolves
// the query against it; the caller closes the store.
func (f *filters) open(now time.Time) (*store.Store, store.Query, error) {
	q, err := f.parse(now)
	if err != nil {
		return nil, q, err
	}
	s, err := openRead(f.db)
	if err != nil {
		return nil, q, err
	}
	if err := f.resolve(s, &q); err != nil {
		s.Close()
		return nil, q, err
	}
	return s, q, nil
}

func (f *filters) resolve(s *store.Store, q *store.Query) error {
	if q.Property != "" && q.Platform == 0 {
		{
			var found []audit.Platform
			for _, p := range s.Properties() {
				if p.ID == f.property {
					found = append(found, p.Platform)
				}
			}
			switch len(found) {
			case 0:
				return fmt.Errorf("no records of property %s in %s", f.property, f.db)
			case 1:
				q.Platform = found[0]
			default:
				return usagef("property %s exists on several platforms: add --platform", f.property)
			}
		}
	}
	return nil
}

func parseTypes(s string) ([]audit.EventType, error) {
	types, err := command.ParseTypes(s)
	if err != nil {
		return nil, usagef("--%v", strings.TrimPrefix(err.Error(), command.ErrBadArgument.Error()+": "))
	}
	return types, nil
}

// parseWhen reads "24h", "7d" (that long ago), a date or RFC 3339.
func parseWhen(s string, now time.Time) (time.Time, error) { return command.ParseTime(s, now) }

// openRead opens a database for reading, failing fast if it is missing.
func openRead(path string) (*store.Store, error) {
	if path == "" {
		return nil, usagef("--db is required")
	}
	s, err := store.Open(path, store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w\n(stop the bot, or read a backup: chatwarden backup takes one from the running bot's API)", err)
	}
	return s, err
}

func cmdLogs(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logs", "--db FILE [filters] [--limit N] [--cursor C] [--json]", stderr)
	var f filters
	f.register(fs)
	limit := fs.Int("limit", 50, "records per page, 1 to 1000")
	cursor := fs.String("cursor", "", "continue from a previous page's cursor")
	asJSON := fs.Bool("json", false, "print NDJSON, one record per line")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *limit < 1 || *limit > store.MaxLimit {
		return usagef("--limit must be within 1..%d", store.MaxLimit)
	}
	s, q, err := f.open(time.Now())
	if err != nil {
		return err
	}
	defer s.Close()
	q.Limit, q.Cursor = *limit, *cursor
	page, err := s.Query(context.Background(), q)
	if errors.Is(err, store.ErrBadCursor) {
		return usagef("--cursor: %v", err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range page.Events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
	} else {
		printTable(stdout, page.Events, q.Property == "")
	}
	if page.Older != "" {
		fmt.Fprintf(stderr, "more: --cursor %s\n", page.Older)
	}
	return nil
}

// printTable writes records as an aligned table, one line each.
func printTable(w io.Writer, evs []*audit.Event, withProperty bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "TIME\tTYPE\tACTOR\tTARGET\tCHANNEL\tDETAILS"
	if withProperty {
		header = "TIME\tPROPERTY\tTYPE\tACTOR\tTARGET\tCHANNEL\tDETAILS"
	}
	fmt.Fprintln(tw, header)
	for _, e := range evs {
		target := strings.Join(e.TargetIDs, ",")
		if len(e.TargetIDs) > 0 {
			target = named(e.Params[audit.ParamTargetName], e.TargetIDs[0])
			if n := len(e.TargetIDs) - 1; n > 0 {
				target += fmt.Sprintf(" +%d", n)
			}
		}
		channel := e.ChannelID
		if name := e.Params[audit.ParamChannelName]; name != "" {
			channel = "#" + name
		}
		cells := []string{e.Time.Format("2006-01-02 15:04:05"), e.Type.String(), named(e.ActorName, e.ActorID),
			target, channel, details(e)}
		if withProperty {
			cells = append([]string{cells[0], e.Platform.String() + ":" + e.PropertyID}, cells[1:]...)
		}
		for i := range cells {
			cells[i] = oneLine(cells[i], 80)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// named shows "name (id)", or whichever of the two is known.
func named(name, id string) string {
	switch {
	case name == "":
		return id
	case id == "":
		return name
	}
	return name + " (" + id + ")"
}

// details summarises a record on one line: its content, else its params.
func details(e *audit.Event) string {
	if e.Redacted {
		return "[erased]"
	}
	if e.Content != "" {
		return strconv.Quote(e.Content)
	}
	var parts []string
	for _, k := range e.Params.Keys() {
		parts = append(parts, k+"="+e.Params[k])
	}
	return strings.Join(parts, " ")
}

// oneLine makes user text safe for one table cell: control characters,
// tabs, newlines and bidi overrides become spaces, and it is cut.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || unicode.IsControl(r):
			return ' '
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F:
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "--db FILE --format ndjson|csv [filters] [--out FILE]", stderr)
	var f filters
	f.register(fs)
	format := fs.String("format", "ndjson", "ndjson or csv")
	out := fs.String("out", "", "write to this `file` instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmtOut, err := export.ParseFormat(*format)
	if err != nil || *format == "" {
		return usagef("--format must be ndjson or csv, not %q", *format)
	}
	s, q, err := f.open(time.Now())
	if err != nil {
		return err
	}
	defer s.Close()
	w, commit, err := output(*out, stdout)
	if err != nil {
		return err
	}
	n, ew := 0, export.NewWriter(w, fmtOut)
	err = s.Scan(context.Background(), q, func(e *audit.Event) error { n++; return ew.Write(e) })
	if ferr := ew.Flush(); err == nil {
		err = ferr
	}
	if err := commit(err); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stderr, "exported %d records\n", n)
	return nil
}

// output opens the destination: stdout, or a temporary file renamed into
// place by commit only when everything was written.
func output(path string, stdout io.Writer) (io.Writer, func(error) error, error) {
	if path == "" {
		return stdout, func(err error) error { return err }, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	commit := func(err error) error {
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
		return err
	}
	return tmp, commit, nil
}
