// Package verification runs chatwarden's member verification: a newcomer
// proves they are a person before they may take part, or is removed.
//
// On Discord the admins configure a channel, a role, a kind and a timeout;
// the bot posts a persistent Verify button there (PostPrompt). Pressing it
// starts a challenge in a reply only the presser sees; success grants the
// role. On Telegram a newcomer is restricted at once and the bot posts the
// challenge in the group, naming the member, with inline buttons only that
// member may press; success lifts the restriction and deletes the prompt.
// Two kinds exist: button (one confirmation) and math (a sum with four
// answer buttons, new numbers on every attempt). Wrong answers are allowed
// up to a limit; failure or timeout kicks (or bans) the member. A member
// who leaves while pending fails with reason LEFT. Every outcome is
// recorded as VERIFICATION_SUCCESS or VERIFICATION_FAILURE with the kind,
// the attempts and the time taken.
//
// Pending challenges and their deadlines live in the store (KV namespace
// "verification/pending"), so that after a restart every deadline still
// fires, overdue ones at once. Button data is at most 64 bytes and carries
// an HMAC (keyed by a secret kept in the store) binding it to the
// platform, property, member, challenge and round: a press cannot be
// forged, replayed by another member, or replayed from an earlier round.
//
// The engine knows nothing of Discord or Telegram: it acts through
// platform.Actions and returns a Reply for the platform adapter to render.
//
// # Wiring
//
// Each platform calls Engine.Attach with its actions and directory, feeds
// committed USER_JOIN, USER_REMOVE and USER_BAN records to Engine.Handle
// (or subscribes Engine.Committed), routes presses of buttons for which IsButton
// holds to Engine.OnPress and renders the Reply; Discord's
// settings command calls Engine.PostPrompt. Handle queues per property
// and spills to the store like the moderation engine (package
// moderation/workqueue), so it never stalls the recorder.
package verification
