package discord

import (
	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// Voice: VOICE_UPDATE from VOICE_STATE_UPDATE (intent GUILD_VOICE_STATES),
// compared with the state's copy from before (BeforeUpdate): a join, a
// leave, a move, a server mute or deafen. A moderator's disconnect
// (MEMBER_DISCONNECT), move (MEMBER_MOVE) or server mute and deafen
// (MEMBER_UPDATE) have audit entries that name them. A disconnect or move
// entry names no member (only the destination channel and a count), so
// it completes the first such change waiting; Discord also folds repeated
// disconnects or moves by one moderator into one entry whose count grows,
// which the gateway does not announce again. There is no REST fallback:
// voice changes are too frequent to read the audit log for each. The
// member's own mute, deafen, camera and stream are not recorded.

const (
	auditMemberMove       = discordgo.AuditLogActionMemberMove       // 26
	auditMemberDisconnect = discordgo.AuditLogActionMemberDisconnect // 27
)

func (b *Bot) onVoiceState(v *discordgo.VoiceStateUpdate) {
	if v == nil || v.VoiceState == nil || v.GuildID == "" || v.UserID == "" {
		return
	}
	if b.self != nil && v.UserID == b.self.ID {
		return
	}
	now := v.VoiceState
	var before discordgo.VoiceState
	if v.BeforeUpdate != nil {
		before = *v.BeforeUpdate
	}
	record := func(action string, apply func(*audit.Event, auditEntry), key corrKey) {
		e := b.event(v.GuildID, audit.VoiceUpdate, "VOICE_STATE_UPDATE")
		m := now.Member
		if m == nil || m.User == nil {
			m = b.stateMember(v.GuildID, v.UserID)
		}
		u := &discordgo.User{ID: v.UserID, Username: v.UserID}
		if m != nil && m.User != nil {
			u = m.User
		}
		b.setActor(e, u, m)
		e.TargetIDs = []string{v.UserID}
		e.Params.Set(audit.ParamTargetName, displayName(u, m))
		e.Params.Set(audit.ParamAction, action)
		e.ChannelID = now.ChannelID
		if e.ChannelID == "" {
			e.ChannelID = before.ChannelID
		}
		e.Params.Set("old_channel", before.ChannelID)
		e.Params.Set("new_channel", now.ChannelID)
		if apply == nil {
			b.submit(e)
			return
		}
		b.corr.await(e, apply, key)
	}
	switch {
	case before.ChannelID == "" && now.ChannelID != "":
		record(audit.VoiceJoin, nil, corrKey{})
	case before.ChannelID != "" && now.ChannelID == "":
		record(audit.VoiceLeave, func(e *audit.Event, a auditEntry) {
			b.setModerator(e, a)
			e.Params.Set(audit.ParamAction, audit.VoiceDisconnect)
		}, corrKey{v.GuildID, auditMemberDisconnect, ""})
		return
	case before.ChannelID != now.ChannelID:
		record(audit.VoiceMove, b.setModerator, corrKey{v.GuildID, auditMemberMove, now.ChannelID})
	}
	if now.ChannelID == "" || before.ChannelID == "" {
		return // a join is no mute: the member may have been muted before
	}
	if before.Mute != now.Mute {
		action := audit.VoiceMute
		if !now.Mute {
			action = audit.VoiceUnmute
		}
		record(action, b.setModerator, corrKey{v.GuildID, auditMemberUpdate, v.UserID})
	}
	if before.Deaf != now.Deaf {
		action := audit.VoiceDeafen
		if !now.Deaf {
			action = audit.VoiceUndeafen
		}
		record(action, b.setModerator, corrKey{v.GuildID, auditMemberUpdate, v.UserID + "/deaf"})
	}
}

// voiceKey is the correlation target of a voice audit entry: none for a
// disconnect, the destination for a move, the member (and /deaf for a
// deafen) for a server mute or deafen.
func voiceKey(a *discordgo.AuditLogEntry) (string, bool) {
	switch *a.ActionType {
	case auditMemberDisconnect:
		return "", true
	case auditMemberMove:
		if a.Options != nil {
			return a.Options.ChannelID, true
		}
		return "", true
	case auditMemberUpdate:
		for _, c := range a.Changes {
			if c != nil && c.Key != nil && *c.Key == discordgo.AuditLogChangeKeyDeaf {
				return a.TargetID + "/deaf", true
			}
		}
	}
	return "", false
}
