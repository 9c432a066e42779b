package discord

import (
	"strings"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/verification"
)

// Custom ids of the bot's buttons. Discord hands a pressed button's
// custom_id back as the bot set it, but a hostile client can send any
// string of up to 100 characters, so each kind of id is built by one
// function and parsed by one pure function that refuses every id the
// builder cannot make. Parsing slices the id and makes a few passes over
// at most maxCustomID bytes, whatever the client sends.

// maxCustomID is Discord's limit on a component's custom_id.
const maxCustomID = 100

const (
	pagePrefix     = "cw:p:"
	reversalPrefix = "cw:r:"
	raidPrefix     = "cw:R:" // a raid entry's buttons (raid.go)
)

// buttonKind says which handler serves a pressed button.
type buttonKind int

const (
	buttonUnknown buttonKind = iota
	buttonVerification
	buttonPage
	buttonReversal
	buttonRaid
	buttonErase // /audit erase's confirmation (commands_erase.go)
)

// kindOf routes a pressed button's custom id by its prefix alone; the
// handler of the kind parses the rest and refuses what it did not make.
func kindOf(customID string) buttonKind {
	switch {
	case verification.IsButton(customID):
		return buttonVerification
	case strings.HasPrefix(customID, pagePrefix):
		return buttonPage
	case strings.HasPrefix(customID, reversalPrefix):
		return buttonReversal
	case strings.HasPrefix(customID, raidPrefix):
		return buttonRaid
	case strings.HasPrefix(customID, erasePrefix):
		return buttonErase
	}
	return buttonUnknown
}

// pageCustomID is the custom id of an Older/Newer button: the id under
// which command.Pages saved the search, and the cursor of the page the
// button shows.
func pageCustomID(pageID, cursor string) string {
	return pagePrefix + pageID + ":" + cursor
}

// parsePageCustomID splits a pager button's custom id into the saved
// search's id and the cursor. ok is false for an id pageCustomID cannot
// make: another prefix, longer than Discord allows, no page id, or a page
// id that is not command.Pages' base64url. An empty cursor is accepted
// (it asks for the search's first page); whether the search and the
// cursor belong to the presser's guild is for command.Pages and the store
// to say.
func parsePageCustomID(customID string) (pageID, cursor string, ok bool) {
	if len(customID) > maxCustomID {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(customID, pagePrefix)
	if !ok {
		return "", "", false
	}
	pageID, cursor, ok = strings.Cut(rest, ":")
	if !ok || pageID == "" || !isBase64URL(pageID) {
		return "", "", false
	}
	return pageID, cursor, true
}

// reversalCustomID is the custom id of a reversal button: the action (a
// key of reversals) and the log entry's record id.
func reversalCustomID(action string, record audit.ID) string {
	return reversalPrefix + action + ":" + record.String()
}

// parseReversalCustomID splits a reversal button's custom id into its
// action and record id. ok is false for an id reversalCustomID cannot
// make: another prefix, longer than Discord allows, an unknown action, or
// a record id that is not the canonical text of an ID (audit.ParseID
// ignores the unused low bits of the last character; the canonical check
// refuses the variants). Whether the record is in the presser's guild is
// for the store to say.
func parseReversalCustomID(customID string) (action string, record audit.ID, ok bool) {
	if len(customID) > maxCustomID {
		return "", audit.ID{}, false
	}
	rest, ok := strings.CutPrefix(customID, reversalPrefix)
	if !ok {
		return "", audit.ID{}, false
	}
	action, raw, ok := strings.Cut(rest, ":")
	if _, known := reversals[action]; !ok || !known {
		return "", audit.ID{}, false
	}
	record, err := audit.ParseID(raw)
	if err != nil || record.String() != raw {
		return "", audit.ID{}, false
	}
	return action, record, true
}

// verificationAnswer reports whether verification button data is an
// answer (verification's op letter after the platform is not 's', the
// Verify button): answers sit on the member's ephemeral message, which a
// slow press edits in place, while a Verify press gets a new message.
func verificationAnswer(data string) bool {
	return len(data) > 2 && data[2] != 's'
}

// isBase64URL reports whether s uses only the unpadded base64url
// alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
