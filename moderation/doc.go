// Package moderation holds chatwarden's moderation engines: the link
// filter, the impersonation guard, the integration guard and the raid
// guard. They know nothing of Discord or Telegram: they read committed
// audit events (as the platform handlers record them), ask the platform the
// little that events do not carry through a Directory, act through
// platform.Actions, and record their own synthetic events (MODERATION_LINK,
// SECURITY_EVENT) through the Recorder.
//
// One Engine serves every platform and property. Each property's settings
// (settings.Community) override the operator's Defaults field by field.
//
// # Wiring
//
// A platform attaches its actions and directory with Engine.Attach, then
// feeds the engine every committed event: either by subscribing
// Engine.Committed to the recorder, or by calling Engine.Handle once an
// event is durable. Handle does cheap bookkeeping (raid counting, invite
// codes) at once and queues the rest per property; the queued work runs on
// one goroutine per busy property, in commit order, so one property's
// flood does not delay another's.
//
// Only events that may need action are queued (messages with something
// link-like, joins, name changes). Each property keeps at most
// Options.QueueSize jobs in memory; the rest spill to the store
// (Options.KV, namespace moderation/backlog) and are read back in order,
// so Handle neither drops work nor waits. Waiting would be worse than
// slow: the subscriber would wait for a worker that waits for the
// recorder, which waits for the subscriber. Without a KV, Handle does wait
// for room, and a long flood can stall the recorder; always set KV in
// production. See package workqueue.
//
// The log router consults Engine.InRaid (or wraps its router with
// Engine.RaidFilter) so that, during a raid, USER_JOIN records are kept in
// the store but not posted to log channels one by one; the JOIN_RAID
// records summarise them. Joins committed before the raid guard decided
// are held by the log deliverers (Engine.LogVerdict as
// logchannel.DelivererOptions.Hold) for Options.JoinHold, then dropped if
// they turned out to be a raid's. A bot's join is held until the
// integration guard has looked at it, and dropped when its alert tells it.
//
// The actions the engines take (a deletion, a timeout, a kick, a ban) are
// recorded by the platform with params.quiet DETAIL: the engine's own
// record, with its action and outcome, is the one log channels show.
package moderation
