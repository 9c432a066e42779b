package telegramtest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ---------------------------------------------------------------------------
// Member changes

// changeMemberLocked makes nm the membership of its user in c, changed
// by from old, and returns the chat_member update (my_chat_member for the
// bot) that Telegram sends for it, if any is due.
func (s *Server) changeMemberLocked(c *chatState, by User, old, nm ChatMember) Update {
	s.setMemberLocked(c, nm)
	up, _ := s.emitMemberChangeLocked(c, by, old, nm, nil)
	return up
}

// botMembership is the bot's membership with rights: an administrator's,
// or a plain member's when rights is nil.
func (s *Server) botMembership(rights *AdminRights) ChatMember {
	if rights != nil {
		return ChatMember{Status: StatusAdministrator, User: s.bot, Rights: *rights}
	}
	return ChatMember{Status: StatusMember, User: s.bot}
}

// emitMemberChangeLocked enqueues the chat_member (or my_chat_member, when
// the bot itself changed) update for old -> new. Nothing is sent when the
// member did not change, as with Telegram.
func (s *Server) emitMemberChangeLocked(c *chatState, from User, old, new ChatMember, mod func(*ChatMemberUpdated)) (Update, bool) {
	old.chatType, new.chatType = c.chat.Type, c.chat.Type
	if sameJSON(old, new) {
		return Update{}, false
	}
	cmu := &ChatMemberUpdated{Chat: c.chat, From: from, Date: s.unixLocked(), OldChatMember: old, NewChatMember: new}
	if mod != nil {
		mod(cmu)
	}
	var u Update
	if new.User.ID == s.bot.ID {
		u.MyChatMember = cmu
	} else {
		u.ChatMember = cmu
	}
	return s.enqueueLocked(u), true
}

// serviceMessageLocked stores a service message in c; enqueue controls
// whether the bot receives it (it doesn't for its own actions).
func (s *Server) serviceMessageLocked(c *chatState, from User, enqueue bool, fill func(m *Message)) Update {
	sm := s.newMessageLocked(c)
	f := from
	if c.chat.Type == ChatChannel {
		ch := c.chat
		sm.msg.SenderChat = &ch
	} else {
		sm.msg.From = &f
	}
	sm.byBot = from.ID == s.bot.ID
	sm.method = "service"
	fill(&sm.msg)
	if !enqueue {
		return Update{Message: &sm.msg}
	}
	m := sm.msg
	if c.chat.Type == ChatChannel {
		return s.enqueueLocked(Update{ChannelPost: &m})
	}
	return s.enqueueLocked(Update{Message: &m})
}

func leftMessage(u User) func(*Message) {
	return func(m *Message) {
		uu := u
		m.LeftChatMember, m.LeftChatParticipant = &uu, &uu
	}
}

func (s *Server) mBanChatMember(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireRestrictRightsLocked(c); e != nil {
		return nil, e
	}
	u, e := s.resolveUserLocked(r, "user_id")
	if e != nil {
		return nil, e
	}
	if u.ID == s.bot.ID {
		return nil, badRequest("can't remove self")
	}
	old := s.memberLocked(c, u.ID)
	switch {
	case old.Status == StatusCreator:
		return nil, badRequest("can't remove chat owner")
	case old.Status == StatusAdministrator && !old.CanBeEdited:
		return nil, badRequest("user is an administrator of the chat")
	}
	until, _ := r.int64Param("until_date")
	nm := ChatMember{Status: StatusKicked, User: u, UntilDate: s.untilDateLocked(until)}
	s.setMemberLocked(c, nm)
	if r.boolean("revoke_messages") || c.chat.Type == ChatGroup {
		for _, sm := range c.messages {
			if sm.msg.From != nil && sm.msg.From.ID == u.ID && !sm.msg.IsService() {
				sm.deleted = true
			}
		}
	}
	if old.IsInChat() && c.chat.Type != ChatChannel {
		s.serviceMessageLocked(c, s.bot, false, leftMessage(u))
	}
	s.emitMemberChangeLocked(c, s.bot, old, nm, nil)
	return true, nil
}

func (s *Server) mUnbanChatMember(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireRestrictRightsLocked(c); e != nil {
		return nil, e
	}
	u, e := s.resolveUserLocked(r, "user_id")
	if e != nil {
		return nil, e
	}
	old := s.memberLocked(c, u.ID)
	onlyIfBanned := r.boolean("only_if_banned")
	switch old.Status {
	case StatusKicked:
	case StatusLeft:
		return true, nil
	case StatusCreator, StatusAdministrator:
		if onlyIfBanned {
			return true, nil
		}
		return nil, badRequest("user is an administrator of the chat")
	default: // member or restricted
		if onlyIfBanned {
			return true, nil
		}
	}
	nm := ChatMember{Status: StatusLeft, User: u}
	s.setMemberLocked(c, nm)
	if old.IsInChat() && c.chat.Type != ChatChannel {
		s.serviceMessageLocked(c, s.bot, false, leftMessage(u))
	}
	s.emitMemberChangeLocked(c, s.bot, old, nm, nil)
	return true, nil
}

// parsePermissions decodes a ChatPermissions object, accepting the legacy
// can_send_media_messages, and applies Telegram's implications unless the
// permissions are independent.
func parsePermissions(raw string, independent bool) (ChatPermissions, *apiError) {
	var in map[string]json.RawMessage
	if err := decodeJSON(raw, &in); err != nil || in == nil {
		return ChatPermissions{}, badRequest("can't parse ChatPermissions JSON object")
	}
	get := func(k string) (bool, *apiError) {
		v, ok := in[k]
		if !ok || string(v) == "null" {
			return false, nil
		}
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return false, badRequest("can't parse ChatPermissions JSON object: field %q must be of type Boolean", k)
		}
		return b, nil
	}
	var p ChatPermissions
	fields := []struct {
		k string
		p *bool
	}{
		{"can_send_messages", &p.CanSendMessages}, {"can_send_audios", &p.CanSendAudios},
		{"can_send_documents", &p.CanSendDocuments}, {"can_send_photos", &p.CanSendPhotos},
		{"can_send_videos", &p.CanSendVideos}, {"can_send_video_notes", &p.CanSendVideoNotes},
		{"can_send_voice_notes", &p.CanSendVoiceNotes}, {"can_send_polls", &p.CanSendPolls},
		{"can_send_other_messages", &p.CanSendOtherMessages}, {"can_add_web_page_previews", &p.CanAddWebPagePreviews},
		{"can_change_info", &p.CanChangeInfo}, {"can_invite_users", &p.CanInviteUsers},
		{"can_pin_messages", &p.CanPinMessages}, {"can_manage_topics", &p.CanManageTopics},
	}
	for _, f := range fields {
		b, e := get(f.k)
		if e != nil {
			return p, e
		}
		*f.p = b
	}
	media, e := get("can_send_media_messages")
	if e != nil {
		return p, e
	}
	setMedia := func() {
		p.CanSendAudios, p.CanSendDocuments, p.CanSendPhotos = true, true, true
		p.CanSendVideos, p.CanSendVideoNotes, p.CanSendVoiceNotes = true, true, true
	}
	if media {
		setMedia()
		if !independent {
			p.CanSendMessages = true
		}
	}
	if !independent {
		if p.CanSendOtherMessages || p.CanAddWebPagePreviews {
			setMedia()
			p.CanSendMessages = true
		}
		if p.CanSendPolls {
			p.CanSendMessages = true
		}
	}
	return p, nil
}

// permissionsLifted reports whether p grants everything a member of c may do.
func permissionsLifted(c *chatState, p ChatPermissions) bool {
	if !c.chat.IsForum {
		p.CanManageTopics = true
	}
	return p == AllPermissions()
}

func (s *Server) mRestrictChatMember(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if c.chat.Type != ChatSupergroup {
		if c.chat.Type == ChatPrivate {
			return nil, badRequest("chat member status can't be changed in private chats")
		}
		return nil, badRequest("method is available only for supergroups")
	}
	if e := s.requireRestrictRightsLocked(c); e != nil {
		return nil, e
	}
	u, e := s.resolveUserLocked(r, "user_id")
	if e != nil {
		return nil, e
	}
	if u.ID == s.bot.ID {
		return nil, badRequest("can't restrict self")
	}
	if !r.has("permissions") {
		return nil, badRequest("parameter \"permissions\" is required")
	}
	perms, e := parsePermissions(r.str("permissions"), r.boolean("use_independent_chat_permissions"))
	if e != nil {
		return nil, e
	}
	old := s.memberLocked(c, u.ID)
	switch old.Status {
	case StatusCreator:
		return nil, badRequest("can't remove chat owner")
	case StatusAdministrator:
		if !old.CanBeEdited {
			return nil, badRequest("user is an administrator of the chat")
		}
	}
	until, _ := r.int64Param("until_date")
	inChat := old.IsInChat()
	var nm ChatMember
	switch {
	case permissionsLifted(c, perms) && inChat:
		nm = ChatMember{Status: StatusMember, User: u}
	case permissionsLifted(c, perms):
		nm = ChatMember{Status: StatusLeft, User: u}
	default:
		nm = ChatMember{Status: StatusRestricted, User: u, Permissions: perms, IsMember: inChat,
			UntilDate: s.untilDateLocked(until)}
	}
	s.changeMemberLocked(c, s.bot, old, nm)
	return true, nil
}

func (s *Server) mSetChatPermissions(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if c.chat.Type != ChatGroup && c.chat.Type != ChatSupergroup {
		return nil, badRequest("method is available only for groups and supergroups")
	}
	if e := s.requireRestrictRightsLocked(c); e != nil {
		return nil, e
	}
	perms, e := parsePermissions(r.str("permissions"), r.boolean("use_independent_chat_permissions"))
	if e != nil {
		return nil, e
	}
	if perms == c.permissions {
		return nil, badRequest("CHAT_NOT_MODIFIED")
	}
	c.permissions = perms
	return true, nil
}

var promoteFlags = []string{"is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
	"can_manage_voice_chats", "can_restrict_members", "can_promote_members", "can_change_info",
	"can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
	"can_post_messages", "can_edit_messages", "can_pin_messages", "can_manage_topics"}

func (s *Server) mPromoteChatMember(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if c.chat.Type == ChatPrivate {
		return nil, badRequest("chat member status can't be changed in private chats")
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return nil, e
	}
	botRights, admin := s.botIsAdminLocked(c)
	if !admin || !botRights.CanPromoteMembers {
		return nil, badRequest("not enough rights")
	}
	u, e := s.resolveUserLocked(r, "user_id")
	if e != nil {
		return nil, e
	}
	if u.ID == s.bot.ID {
		return nil, badRequest("can't promote self")
	}
	old := s.memberLocked(c, u.ID)
	switch {
	case old.Status == StatusCreator:
		return nil, badRequest("can't change chat owner rights")
	case old.Status == StatusAdministrator && !old.CanBeEdited:
		return nil, badRequest("CHAT_ADMIN_REQUIRED")
	case !old.IsInChat():
		return nil, badRequest("USER_NOT_PARTICIPANT")
	}
	set := map[string]bool{}
	granted := false
	for _, k := range promoteFlags {
		if r.boolean(k) {
			set[k] = true
			if k != "is_anonymous" {
				granted = true
			}
		}
	}
	rights := AdminRights{
		IsAnonymous: set["is_anonymous"], CanManageChat: set["can_manage_chat"],
		CanDeleteMessages: set["can_delete_messages"], CanManageVideoChats: set["can_manage_video_chats"] || set["can_manage_voice_chats"],
		CanRestrictMembers: set["can_restrict_members"], CanPromoteMembers: set["can_promote_members"],
		CanChangeInfo: set["can_change_info"], CanInviteUsers: set["can_invite_users"],
		CanPostStories: set["can_post_stories"], CanEditStories: set["can_edit_stories"],
		CanDeleteStories: set["can_delete_stories"], CanPostMessages: set["can_post_messages"],
		CanEditMessages: set["can_edit_messages"], CanPinMessages: set["can_pin_messages"],
		CanManageTopics: set["can_manage_topics"],
	}
	if !rightsSubset(rights, botRights) {
		return nil, badRequest("RIGHT_FORBIDDEN")
	}
	var nm ChatMember
	if !granted && !rights.IsAnonymous {
		nm = ChatMember{Status: StatusMember, User: u}
	} else {
		rights.CanManageChat = true
		nm = ChatMember{Status: StatusAdministrator, User: u, Rights: rights, CanBeEdited: true,
			IsAnonymous: rights.IsAnonymous, CustomTitle: old.CustomTitle}
	}
	s.changeMemberLocked(c, s.bot, old, nm)
	return true, nil
}

// rightsSubset reports whether every right in a is also in b.
func rightsSubset(a, b AdminRights) bool {
	pairs := [][2]bool{
		{a.CanDeleteMessages, b.CanDeleteMessages}, {a.CanManageVideoChats, b.CanManageVideoChats},
		{a.CanRestrictMembers, b.CanRestrictMembers}, {a.CanPromoteMembers, b.CanPromoteMembers},
		{a.CanChangeInfo, b.CanChangeInfo}, {a.CanInviteUsers, b.CanInviteUsers},
		{a.CanPostStories, b.CanPostStories}, {a.CanEditStories, b.CanEditStories},
		{a.CanDeleteStories, b.CanDeleteStories}, {a.CanPostMessages, b.CanPostMessages},
		{a.CanEditMessages, b.CanEditMessages}, {a.CanPinMessages, b.CanPinMessages},
		{a.CanManageTopics, b.CanManageTopics},
	}
	for _, p := range pairs {
		if p[0] && !p[1] {
			return false
		}
	}
	return true
}

func (s *Server) senderChatParamsLocked(r *request) (*chatState, int64, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, 0, e
	}
	if c.chat.Type != ChatSupergroup && c.chat.Type != ChatChannel {
		return nil, 0, badRequest("method is available only for supergroups and channel")
	}
	if e := s.requireRestrictRightsLocked(c); e != nil {
		return nil, 0, e
	}
	id, ok := r.int64Param("sender_chat_id")
	if !ok || id == 0 {
		return nil, 0, badRequest("invalid sender_chat_id specified")
	}
	if s.chats[id] == nil {
		return nil, 0, badRequest("chat not found")
	}
	return c, id, nil
}

func (s *Server) mBanChatSenderChat(r *request) (any, *apiError) {
	c, id, e := s.senderChatParamsLocked(r)
	if e != nil {
		return nil, e
	}
	until, _ := r.int64Param("until_date")
	c.bannedSenders[id] = s.untilDateLocked(until)
	return true, nil
}

func (s *Server) mUnbanChatSenderChat(r *request) (any, *apiError) {
	c, id, e := s.senderChatParamsLocked(r)
	if e != nil {
		return nil, e
	}
	delete(c.bannedSenders, id)
	return true, nil
}

func (s *Server) mLeaveChat(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if c.chat.Type == ChatPrivate {
		return nil, badRequest("chat member status can't be changed in private chats")
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return nil, e
	}
	old := s.botMemberLocked(c)
	nm := ChatMember{Status: StatusLeft, User: s.bot}
	s.changeMemberLocked(c, s.bot, old, nm)
	return true, nil
}

// ---------------------------------------------------------------------------
// Chat information

func (s *Server) mGetChat(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if !s.visibleLocked(c) {
		return nil, badRequest("chat not found")
	}
	out := map[string]any{"id": c.chat.ID, "type": c.chat.Type, "accent_color_id": c.chat.ID % 7, "max_reaction_count": 11}
	if c.chat.Title != "" {
		out["title"] = c.chat.Title
	}
	if c.chat.Username != "" {
		out["username"] = c.chat.Username
	}
	if c.chat.FirstName != "" {
		out["first_name"] = c.chat.FirstName
	}
	if c.chat.LastName != "" {
		out["last_name"] = c.chat.LastName
	}
	if c.chat.IsForum {
		out["is_forum"] = true
	}
	if c.description != "" {
		out["description"] = c.description
	}
	if c.photoVersion > 0 {
		out["photo"] = map[string]string{
			"small_file_id": fmt.Sprintf("AQADAgAD%d_small", c.photoVersion), "small_file_unique_id": fmt.Sprintf("AQAD%ds", c.photoVersion),
			"big_file_id": fmt.Sprintf("AQADAgAD%d_big", c.photoVersion), "big_file_unique_id": fmt.Sprintf("AQAD%db", c.photoVersion),
		}
	}
	if c.chat.Type == ChatGroup || c.chat.Type == ChatSupergroup {
		out["permissions"] = c.permissions
	}
	for _, l := range c.links {
		if l.IsPrimary && !l.IsRevoked {
			out["invite_link"] = l.InviteLink
		}
	}
	return out, nil
}

func (s *Server) mGetChatMember(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if !s.visibleLocked(c) {
		return nil, badRequest("chat not found")
	}
	u, e := s.resolveUserLocked(r, "user_id")
	if e != nil {
		return nil, e
	}
	if c.chat.Type == ChatPrivate {
		if u.ID == c.privateUser {
			return ChatMember{Status: StatusMember, User: u}, nil
		}
		if u.ID == s.bot.ID {
			return s.botMemberLocked(c), nil
		}
		return nil, badRequest("user not found")
	}
	return s.memberLocked(c, u.ID), nil
}

func (s *Server) mGetChatAdministrators(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if c.chat.Type == ChatPrivate {
		return nil, badRequest("there are no administrators in the private chat")
	}
	if !s.visibleLocked(c) {
		return nil, badRequest("chat not found")
	}
	returnBots := r.boolean("return_bots")
	out := []ChatMember{}
	for _, status := range []string{StatusCreator, StatusAdministrator} {
		for _, id := range c.order {
			m := s.memberLocked(c, id)
			if m.Status != status {
				continue
			}
			if m.User.IsBot && m.User.ID != s.bot.ID && !returnBots {
				continue
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Server) mGetChatMemberCount(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if !s.visibleLocked(c) {
		return nil, badRequest("chat not found")
	}
	return s.memberCountLocked(c), nil
}

func (s *Server) requireInfoRightsLocked(c *chatState) *apiError {
	if c.chat.Type == ChatPrivate {
		return badRequest("chat info can't be changed in private chats")
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return e
	}
	rights, admin := s.botIsAdminLocked(c)
	if !admin || !rights.CanChangeInfo {
		return badRequest("not enough rights to change chat info")
	}
	return nil
}

func (s *Server) mSetChatTitle(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireInfoRightsLocked(c); e != nil {
		return nil, e
	}
	title := strings.TrimSpace(r.str("title"))
	if title == "" || UTF16Len(title) > 128 {
		return nil, badRequest("chat title is empty")
	}
	if title == c.chat.Title {
		return nil, badRequest("chat title is not modified")
	}
	c.chat.Title = title
	s.serviceMessageLocked(c, s.bot, false, func(m *Message) { m.NewChatTitle = title })
	return true, nil
}

func (s *Server) mSetChatDescription(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireInfoRightsLocked(c); e != nil {
		return nil, e
	}
	d := r.str("description")
	if d == c.description {
		return nil, badRequest("chat description is not modified")
	}
	c.description = d
	return true, nil
}
