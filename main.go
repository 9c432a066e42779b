// Command chatwarden is a moderation bot for Discord servers and Telegram
// groups with a built-in audit log. See README.md; the subcommands are in
// package cli, the running bot in package bot.
package main

import (
	"os"

	"github.com/chatwarden/chatwarden/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Version = version
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
