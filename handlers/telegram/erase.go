package telegram

import (
	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// Per-member state that store.Erase deletes with the member's records: the
// names kept to diff updates, the join/leave deduplication marks, and the
// join message remembered for verification.
func init() {
	key := func(suffix string) func(audit.Platform, string, string) []byte {
		return func(p audit.Platform, chat, user string) []byte {
			if p != audit.Telegram {
				return nil
			}
			return []byte(chat + "/" + user + suffix)
		}
	}
	store.RegisterUserState(
		store.UserState{NS: nsProfile, Key: key("")},
		store.UserState{NS: nsJoinMsg, Key: key("")},
		store.UserState{NS: nsSeen, Key: key("/"), Prefix: true},
	)
}
