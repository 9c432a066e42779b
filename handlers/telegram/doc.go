// Package telegram connects chatwarden to Telegram through the Bot API
// client (go-telegram-bot-api v5): it turns updates into audit records,
// serves the admins' commands and buttons, posts log entries to log chats
// and carries out the engines' actions.
//
// Updates arrive by long polling (or by webhook, with its secret token
// checked on every request). Each batch is translated as a whole, then
// its records, the next update offset and the handler state the batch
// changed (member profiles, join/leave deduplication marks, migrations)
// commit in one transaction: a crash loses no update and records none
// twice. In a fleet (Options.Lease) one process polls, elected by a
// lease that also holds the offset, and a batch is written to the lease
// before it is recorded and cleared from it once recorded; a batch a dead
// poller left there is recorded by that process when it comes back within
// Options.AdoptAfter, or else adopted by the next poller (lease.go).
// Commands, buttons and service-message cleanup run once the batch is
// durable. Fields tgbotapi v5.5.1 lacks (forum topics, forward_origin,
// via_join_request, newer permissions) are read from the raw JSON.
//
// chat_member is the source of truth for joins, leaves, bans and unbans;
// the new_chat_members and left_chat_member service messages deduplicate
// against it. A basic group that becomes a supergroup keeps its history:
// lookups follow the move (see migrate.go).
//
// Log chats receive HTML entries in the group's locale, every
// user-supplied string escaped, through the persisted outbox and paced per
// chat; bans, restrictions and security alerts carry one-tap reversal
// buttons whose data is signed, and whose presser must be an admin of the
// group concerned.
//
// Bot implements platform.Actions; Run attaches it to the moderation and
// verification engines of Options with a directory (engines.go) that
// adapts Self, IsAdmin, Staff and MemberNames, remembers join service
// messages, and drops the engine's cached staff list when an admin
// changes. Verification buttons are routed to the engine, which checks the
// presser. Admins change the engines' settings with /settings <key>
// <value>; /apitoken, in a private chat with the bot, manages a group's
// HTTP API tokens for that group's admins (asked with getChatMember), and
// shows a new token once.
package telegram
