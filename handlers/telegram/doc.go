// Package telegram connects chatwarden to Telegram through the Bot API
// client (go-telegram-bot-api v5): long polling whose offset is stored in
// the same transaction as the records each batch produced, and the
// translation of every Telegram source in EVENTS.md into audit records.
// Fields that client's types lack (forum topics, via_join_request) are
// read from the raw update JSON.
package telegram
