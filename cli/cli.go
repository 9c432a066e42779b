// Package cli is chatwarden's command line: one function per subcommand
// (run, api, demo, doctor, logs, export, verify, backup, salvage, erase,
// purge, invite, healthcheck, version), their flags and usage, and the exit
// statuses (0 ok, 1 failure, 2 usage error). main.go calls Run; the running bot itself
// is package bot.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Version is what `chatwarden version` prints; main sets it from its
// build-time version (-ldflags "-X main.version=...").
var Version = "dev"

func main() { os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr)) }

// command is one subcommand.
type subcommand struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]subcommand{
	"run":         {"run the bot with a config file", cmdRun},
	"api":         {"run a query node: the fleet's NATS stream into its own store, served over HTTP", cmdAPI},
	"demo":        {"run the bot against built-in fake Discord and Telegram on a scripted day", cmdDemo},
	"logs":        {"show audit records from a database", cmdLogs},
	"export":      {"export audit records as NDJSON or CSV", cmdExport},
	"verify":      {"check the hash chains of a database", cmdVerify},
	"backup":      {"copy a database consistently", cmdBackup},
	"salvage":     {"copy every readable record and setting of a damaged database to a new file", cmdSalvage},
	"erase":       {"erase one user's personal data in a community", cmdErase},
	"purge":       {"delete records older than a number of days", cmdPurge},
	"invite":      {"print the Discord invite URL with the permissions chatwarden needs", cmdInvite},
	"doctor":      {"check tokens, intents, permissions, roles, log channels and the store, with fixes", cmdDoctor},
	"healthcheck": {"ask a running bot's /healthz (for container health checks)", cmdHealthcheck},
	"version":     {"print the version", cmdVersion},
}

// usageError marks errors that exit with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run executes one command line and returns the exit status: 0 ok, 1
// runtime failure, 2 usage error.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "chatwarden: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "chatwarden %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "chatwarden: %v\n", err)
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: chatwarden <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-12s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'chatwarden <command> --help' for a command's flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: chatwarden %s %s\n\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning flag errors into usage errors and refusing
// stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{strings.TrimSpace(err.Error())}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
