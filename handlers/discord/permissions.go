package discord

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// permissionNames are Discord's permission flags by bit (Discord API
// documentation, Permissions: bitwise permission flags), named as
// documented; a bit not listed shows as BIT_n.
var permissionNames = map[int]string{
	0: "CREATE_INSTANT_INVITE", 1: "KICK_MEMBERS", 2: "BAN_MEMBERS", 3: "ADMINISTRATOR",
	4: "MANAGE_CHANNELS", 5: "MANAGE_GUILD", 6: "ADD_REACTIONS", 7: "VIEW_AUDIT_LOG",
	8: "PRIORITY_SPEAKER", 9: "STREAM", 10: "VIEW_CHANNEL", 11: "SEND_MESSAGES",
	12: "SEND_TTS_MESSAGES", 13: "MANAGE_MESSAGES", 14: "EMBED_LINKS", 15: "ATTACH_FILES",
	16: "READ_MESSAGE_HISTORY", 17: "MENTION_EVERYONE", 18: "USE_EXTERNAL_EMOJIS", 19: "VIEW_GUILD_INSIGHTS",
	20: "CONNECT", 21: "SPEAK", 22: "MUTE_MEMBERS", 23: "DEAFEN_MEMBERS", 24: "MOVE_MEMBERS",
	25: "USE_VAD", 26: "CHANGE_NICKNAME", 27: "MANAGE_NICKNAMES", 28: "MANAGE_ROLES",
	29: "MANAGE_WEBHOOKS", 30: "MANAGE_GUILD_EXPRESSIONS", 31: "USE_APPLICATION_COMMANDS",
	32: "REQUEST_TO_SPEAK", 33: "MANAGE_EVENTS", 34: "MANAGE_THREADS", 35: "CREATE_PUBLIC_THREADS",
	36: "CREATE_PRIVATE_THREADS", 37: "USE_EXTERNAL_STICKERS", 38: "SEND_MESSAGES_IN_THREADS",
	39: "USE_EMBEDDED_ACTIVITIES", 40: "MODERATE_MEMBERS", 41: "VIEW_CREATOR_MONETIZATION_ANALYTICS",
	42: "USE_SOUNDBOARD", 43: "CREATE_GUILD_EXPRESSIONS", 44: "CREATE_EVENTS", 45: "USE_EXTERNAL_SOUNDS",
	46: "SEND_VOICE_MESSAGES", 49: "SEND_POLLS", 50: "USE_EXTERNAL_APPS",
}

// dangerousPerms are the permissions whose grant is flagged
// (dangerous_granted): they let a holder take over or wreck the server.
const dangerousPerms = 1<<3 | // ADMINISTRATOR
	1<<5 | // MANAGE_GUILD
	1<<28 | // MANAGE_ROLES
	1<<4 | // MANAGE_CHANNELS
	1<<29 | // MANAGE_WEBHOOKS
	1<<2 | // BAN_MEMBERS
	1<<1 | // KICK_MEMBERS
	1<<17 // MENTION_EVERYONE

// permNames lists the permissions of a bit set by name, in bit order,
// comma-separated; "" for none.
func permNames(p uint64) string {
	var out []string
	for p != 0 {
		bit := bits.TrailingZeros64(p)
		p &^= 1 << bit
		name, ok := permissionNames[bit]
		if !ok {
			name = fmt.Sprintf("BIT_%d", bit)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}

// parsePerms reads a permission set as Discord serialises it (a decimal
// string); a number (older payloads) is taken too. ok is false for
// anything else.
func parsePerms(v any) (uint64, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseUint(x, 10, 64)
		return n, err == nil
	case float64:
		if x >= 0 && x < 1<<63 {
			return uint64(x), true
		}
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// permDiff is what a change of a permission set granted and revoked.
type permDiff struct {
	added, removed, dangerous string
}

func diffPerms(old, now uint64) permDiff {
	added := now &^ old
	return permDiff{added: permNames(added), removed: permNames(old &^ now), dangerous: permNames(added & dangerousPerms)}
}
