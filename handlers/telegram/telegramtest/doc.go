// Package telegramtest runs a fake Telegram Bot API server in-process, in the
// manner of net/http/httptest, so that the real, unmodified tgbotapi client
// (or any other HTTP client of the Bot API) can be tested end to end without
// reaching api.telegram.org.
//
// The server speaks the real HTTP protocol: POST or GET
// /bot<token>/<method> with form-encoded, multipart or JSON parameters, and
// answers {"ok":true,"result":...} or {"ok":false,"error_code":N,
// "description":"..."} exactly as Telegram does, including the
// "parameters" object carrying retry_after and migrate_to_chat_id.
//
// Typical use:
//
//	srv := telegramtest.New(telegramtest.Options{})
//	defer srv.Close()
//	bot, err := tgbotapi.NewBotAPIWithAPIEndpoint(srv.Token(), srv.Endpoint())
//
//	owner := srv.NewUser("Olga")
//	group := srv.NewSupergroup("Moderated", owner)  // bot is an admin
//	srv.Message(group, owner, "/logs 10")             // the bot receives it
//	sent := srv.WaitMessages(group.ID, 1, time.Second) // what the bot answered
//
// The server keeps state the way Telegram does: chats and their members,
// messages with per-chat ids, a pending update queue confirmed by getUpdates
// offsets, allowed_updates subscriptions, webhooks, invite links, join
// requests, callback queries and bot commands per scope. Membership changes
// made by the bot (ban, unban, restrict, promote) update the state and
// enqueue the chat_member update Telegram would send. Payloads use the Bot
// API 7.x shapes (message_thread_id, is_topic_message, forum_topic_created,
// forum_topic_edited, link_preview_options, granular chat permissions, ...),
// so a bot that decodes raw JSON from MakeRequest can reach fields tgbotapi
// v5.5.1 lacks.
//
// Test helpers inject realistic updates (Message, JoinMember, KickMember,
// MigrateToSupergroup, PressButton, ...) and accessors report what the bot
// did (Messages, Calls, ChatMember, GetUpdatesCalls, RateLimitViolations).
// Pacing limits like Telegram's answer 429 with retry_after, and faults can
// be injected (Inject429, Inject5xx, FailGetUpdates). Dates come from a fake
// clock (Now, SetNow, Advance) so rules such as "messages older than 48 hours
// can't be deleted" are testable.
//
// A Server is safe for concurrent use. Malformed requests never make it
// panic; they get a 400 answer with a Telegram-like description.
package telegramtest
