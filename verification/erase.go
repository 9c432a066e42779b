package verification

import (
	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// A member's pending challenge and last finish are deleted with their
// records by store.Erase. The store counts the pending challenges by
// platform (the keys' first byte) for the pending-verifications gauge.
func init() {
	key := func(p audit.Platform, property, user string) []byte { return []byte(pendingKey(p, property, user)) }
	store.RegisterUserState(store.UserState{NS: NSPending, Key: key}, store.UserState{NS: NSFinished, Key: key})
	store.CountKeys(NSPending)
}
