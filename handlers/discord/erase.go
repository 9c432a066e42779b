package discord

import (
	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// The member profile (names, nickname, avatar, roles) is personal data:
// store.Erase deletes it with the member's records.
func init() {
	store.RegisterUserState(store.UserState{NS: nsProfile, Key: func(p audit.Platform, guild, user string) []byte {
		if p != audit.Discord {
			return nil
		}
		return []byte(guild + "/" + user)
	}})
}
