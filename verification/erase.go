package verification

import (
	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// A member's pending challenge is deleted with their records by
// store.Erase. The store counts the pending challenges by platform (the
// keys' first byte) for the pending-verifications gauge.
func init() {
	store.RegisterUserState(store.UserState{NS: NSPending, Key: func(p audit.Platform, property, user string) []byte {
		return []byte(pendingKey(p, property, user))
	}})
	store.CountKeys(NSPending)
}
