// Package store keeps chatwarden's audit log in an embedded bbolt database:
// events with their secondary indexes and per-property hash chain, queries
// and pagination cursors, retention (purge and erase), the log-delivery
// outbox, per-property settings, platform cursors and small namespaced
// key-value state for the engines; and Salvage, which copies what a
// damaged file still holds into a new one, reading it without bbolt. A
// query node's store is a replica: it holds records as their shards wrote
// them (AppendReplica), with one chain per property and origin (the shard
// store that wrote it, Origin), each as its shard wrote it; Verify and
// VerifyChains check each.
//
// # Layout
//
// Every property (a guild or a chat) gets a 4-byte number; user and channel
// ids get 4-byte numbers in a dictionary. Keys are big-endian so that bbolt's
// byte order is time order:
//
//	ev      prop(4) id(12)                 -> record (see codec.go)
//	ixtype  prop(4) type(1) id(12)         -> nil
//	ixuser  prop(4) user(4) id(12)         -> role(1) type(1)
//	ixchan  prop(4) chan(4) id(12)         -> type(1)
//	ixmsg   prop(4) message key            -> id(12) of the message's newest record
//	props   platform(1) property id        -> property state (number, chain head)
//	propnum prop(4)                        -> platform(1) property id
//	dict    kind(1) string                 -> number(4)
//	bridge  prop(4) seq(8)                 -> hash of a purged record
//	outbox  sink 0 target 0 seq(8)         -> prop(4) id(12)
//	settings platform(1) property id       -> JSON settings.Community
//	cursors name                           -> value
//	kv      namespace/ key                 -> value
//	meta    schema, seq, secret            -> values
//
// A replica keeps its origins' chains in KV namespaces (origin.go):
// replica/chains (each origin's chain head and count but the default
// origin's, which is the property's own), replica/origin (the origin of
// each record not of the default origin), replica/bridges (their
// bridges) and replica/renamed (the shard's id of a record stored under
// the next free nanosecond because another origin's record had its id);
// replica/held holds records waiting for their predecessor, keyed by
// origin too.
//
// An ID's time is the event's time, so a query's time range is a key range
// in every index. The hash chain follows commit order instead (the global
// sequence number Seq), which a late event cannot disturb.
//
// Nothing counted is stored: the outbox depth of each sink and the keys of
// the KV namespaces registered with CountKeys are counted in memory, by
// one scan at Open and then by the writes that change them (counts.go),
// so that gauges read them without a scan.
package store
