// Package platform is what the engines and reversal buttons may ask of a
// chat platform: the small Actions interface (delete, time out, kick, ban,
// roles, send) that each handler implements, the Cause recorded with every
// action, platform-neutral messages with buttons, and the errors actions
// return.
package platform
