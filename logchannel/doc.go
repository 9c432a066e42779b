// Package logchannel decides which log channels receive an event (Router,
// from each community's settings) and delivers the entries from the
// store's outbox to the platform in order, retrying after rate limits and
// outages and pausing channels the bot can no longer post to (Deliverer).
package logchannel
