// Package audit is chatwarden's event model, which every other package
// depends on: the audit Event, its record id, its three tiers of type
// (platform, universal, function; see EVENTS.md) with their stable codes
// and routing categories, and the named parameters events carry.
//
// audit imports no other chatwarden package.
package audit
