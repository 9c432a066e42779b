// Package discord connects chatwarden to Discord through discordgo: the
// gateway session (intents, sharding, REST redirected to discord.api_url),
// the translation of every Discord source in EVENTS.md into audit records,
// and the actions the engines take. Slash commands and the log-channel
// sink build on the same Bot.
package discord
