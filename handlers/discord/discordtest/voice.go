package discordtest

import (
	"sync"

	"github.com/bwmarrin/discordgo"
)

// Voice and AutoMod as Discord reports them. VOICE_STATE_UPDATE reaches
// only sessions with GUILD_VOICE_STATES, AUTO_MODERATION_ACTION_EXECUTION
// only those with AUTO_MODERATION_EXECUTION (intents.go).

var voiceStates sync.Map // *Server -> *voice

type voice struct {
	mu     sync.Mutex
	states map[string]discordgo.VoiceState // guild/user -> state
}

func (s *Server) voice() *voice {
	v, _ := voiceStates.LoadOrStore(s, &voice{states: map[string]discordgo.VoiceState{}})
	return v.(*voice)
}

// setVoice changes a member's voice state and dispatches the
// VOICE_STATE_UPDATE payload the documentation shows (channel_id null
// when they left).
func (s *Server) setVoice(guild, user string, fn func(v *discordgo.VoiceState)) {
	x := s.voice()
	x.mu.Lock()
	st := x.states[guild+"/"+user]
	st.GuildID, st.UserID = guild, user
	if st.SessionID == "" {
		st.SessionID = "voice-" + s.Snowflake()
	}
	fn(&st)
	x.states[guild+"/"+user] = st
	x.mu.Unlock()
	var channel any
	if st.ChannelID != "" {
		channel = st.ChannelID
	}
	var member any
	if m := s.member(guild, user); m != nil {
		s.mu.Lock()
		member = map[string]any{"user": m.User, "roles": append([]string{}, m.Roles...), "nick": m.Nick,
			"joined_at": m.JoinedAt, "deaf": st.Deaf, "mute": st.Mute}
		s.mu.Unlock()
	}
	s.Dispatch("VOICE_STATE_UPDATE", map[string]any{"guild_id": guild, "channel_id": channel, "user_id": user,
		"member": member, "session_id": st.SessionID, "deaf": st.Deaf, "mute": st.Mute, "self_deaf": st.SelfDeaf,
		"self_mute": st.SelfMute, "self_video": false, "suppress": false, "request_to_speak_timestamp": nil})
}

// VoiceJoin connects a member to a voice channel (or moves them there
// themselves).
func (s *Server) VoiceJoin(guild, channel, user string) {
	s.setVoice(guild, user, func(v *discordgo.VoiceState) { v.ChannelID = channel })
}

// VoiceLeave disconnects a member themselves.
func (s *Server) VoiceLeave(guild, user string) {
	s.setVoice(guild, user, func(v *discordgo.VoiceState) { v.ChannelID = "" })
}

// DisconnectBy disconnects a member from voice as a moderator does: the
// update, then a MEMBER_DISCONNECT entry, which names no member (options
// count only).
func (s *Server) DisconnectBy(guild, moderator, user string) {
	s.VoiceLeave(guild, user)
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMemberDisconnect, "", "", &discordgo.AuditLogOptions{Count: "1"})
}

// MoveBy moves a member to another voice channel as a moderator does:
// the update, then a MEMBER_MOVE entry naming the destination.
func (s *Server) MoveBy(guild, moderator, user, channel string) {
	s.VoiceJoin(guild, channel, user)
	s.AuditEntry(guild, moderator, discordgo.AuditLogActionMemberMove, "", "", &discordgo.AuditLogOptions{ChannelID: channel, Count: "1"})
}

// ServerMuteBy mutes (or unmutes) a member server-side as a moderator
// does: the update, then a MEMBER_UPDATE entry with the mute change.
func (s *Server) ServerMuteBy(guild, moderator, user string, mute bool, reason string) {
	s.setVoice(guild, user, func(v *discordgo.VoiceState) { v.Mute = mute })
	s.auditChanges(guild, moderator, discordgo.AuditLogActionMemberUpdate, user, reason, nil,
		change{key: "mute", old: !mute, new: mute})
}
