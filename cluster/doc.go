// Package cluster connects a chatwarden process to a fleet through NATS
// JetStream: every committed record is queued, in its own commit, in the
// store's outbox under the namespace Sink, and a Publisher drains that
// outbox into a JetStream stream, one subject per platform and property
// (chatwarden.records.<platform>.<property>), with an id JetStream
// de-duplicates on so that a retried publish lands once, and with the
// record's chain material in headers. A query node's Consumer copies the
// stream into its store as replicas (store.AppendReplica): every record
// under its shard's id and hash, every chain the shard's. Community API
// tokens (their hashes) go from shards (TokenSync) to query nodes
// (TokenMirror) through a key-value bucket.
//
// A Coordinator implements package coord over a JetStream key-value
// bucket: the lease that elects the Telegram poller and keeps its update
// offset, the Discord identify gate and shard claims.
//
// It is the only package that imports the NATS client: the store writes
// and reads the outbox and knows nothing of NATS, and bot.Run wires a
// Publisher only when cluster.nats_url is set.
package cluster
