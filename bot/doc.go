// Package bot is the running chatwarden: Run opens the store, builds the
// log router, the engines and the recorder, starts the enabled platforms,
// the HTTP API and the daily retention purge, and on shutdown stops them in
// order (platforms, then engines, then the recorder, then the store) so
// that nothing acknowledged is lost.
package bot
