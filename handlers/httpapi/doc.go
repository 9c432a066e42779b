// Package httpapi serves chatwarden's audit log over HTTP: the query API
// shaped after the Admin SDK Reports API activities.list
// (GET /v1/properties/{property}/activities), a streaming export
// (activities:export), a live Server-Sent Events feed (activities:watch),
// an online backup and member erasure (members/{user}:erase) for the
// operator, a server-rendered log viewer at /,
// Prometheus metrics at /metrics and health checks at /healthz and /readyz.
//
// Every request for data is scoped to one property (a Discord guild or a
// Telegram chat), written discord:ID or telegram:ID in the path, and
// authorised by a bearer token: a property token, created by the
// property's admins (see Tokens) and stored only as a SHA-256 hash, or the
// operator token from the configuration, which may read every property.
// Queries are built as store.Query values, the same queries the chat
// commands and the CLI run. docs/openapi.yaml describes the API; the
// package's tests validate every response against it.
//
// bot.Run builds a Server with New, adds a readiness check per platform
// with AddReady, and runs it with Serve; ExampleNew shows the calls.
package httpapi
