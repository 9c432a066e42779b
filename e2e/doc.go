// Package e2e holds the whole-system tests: the real bot (bot.Run or the
// chatwarden binary) against the fake Discord and Telegram under faults,
// repeated kill -9, and a soak run (behind the soak build tag); the web
// viewer reached through the chat commands' login links (in headless
// Chromium when one is installed); and the checks that the README, the
// Dockerfile and .ci/run agree with the code. It has no code of its own
// outside its tests.
package e2e
