// Package bot is the core of chatwarden that every other package depends on:
// the audit Event and its type catalogue (see EVENTS.md), the Recorder that
// makes events durable before anyone downstream sees them, per-property
// Settings, the log-entry formats in every supported locale, and the small
// Actions interface through which engines act on a platform.
//
// bot imports none of the other chatwarden packages; they import it.
package bot
