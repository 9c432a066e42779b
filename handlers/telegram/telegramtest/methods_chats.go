package telegramtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ---------------------------------------------------------------------------
// Member changes

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
	s.setMemberLocked(c, nm)
	s.emitMemberChangeLocked(c, s.bot, old, nm, nil)
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
	s.setMemberLocked(c, nm)
	s.emitMemberChangeLocked(c, s.bot, old, nm, nil)
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
	s.setMemberLocked(c, nm)
	s.emitMemberChangeLocked(c, s.bot, old, nm, nil)
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

// ---------------------------------------------------------------------------
// Callback queries

// CallbackAnswer is what the bot answered to a callback query.
type CallbackAnswer struct {
	Text      string
	ShowAlert bool
	URL       string
	CacheTime int
	Time      time.Time // real time of the answer
}

type callbackState struct {
	id       string
	created  time.Time // fake time
	answered bool
	answer   CallbackAnswer
}

func (s *Server) mAnswerCallbackQuery(r *request) (any, *apiError) {
	st := s.callbacks[strings.TrimSpace(r.str("callback_query_id"))]
	expired := st != nil && s.opts.CallbackTimeout > 0 && s.nowLocked().Sub(st.created) > s.opts.CallbackTimeout
	if st == nil || st.answered || expired {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	text := r.str("text")
	if UTF16Len(text) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	cache, _ := r.int64Param("cache_time")
	st.answered = true
	st.answer = CallbackAnswer{Text: text, ShowAlert: r.boolean("show_alert"), URL: r.str("url"),
		CacheTime: int(cache), Time: time.Now()}
	s.notifyLocked()
	return true, nil
}

// ---------------------------------------------------------------------------
// Bot commands

type commandKey struct {
	scope BotCommandScope
	lang  string
}

var (
	reCommandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	reLangCode    = regexp.MustCompile(`^[a-z]{2}$`)
	reSecretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

func (s *Server) commandKeyLocked(r *request) (string, commandKey, *apiError) {
	k := commandKey{scope: BotCommandScope{Type: "default"}, lang: r.str("language_code")}
	if k.lang != "" && !reLangCode.MatchString(k.lang) {
		return "", k, badRequest("invalid language code specified")
	}
	if raw := strings.TrimSpace(r.str("scope")); raw != "" && raw != "null" {
		var in struct {
			Type   string          `json:"type"`
			ChatID json.RawMessage `json:"chat_id"`
			UserID int64           `json:"user_id"`
		}
		if err := decodeJSON(raw, &in); err != nil {
			return "", k, badRequest("can't parse BotCommandScope JSON object")
		}
		k.scope.Type = in.Type
		switch in.Type {
		case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
		case "chat", "chat_administrators", "chat_member":
			if len(in.ChatID) == 0 || string(in.ChatID) == "null" {
				return "", k, badRequest("chat_id is empty")
			}
			c, e := s.resolveChatLocked(strings.Trim(string(in.ChatID), `"`))
			if e != nil {
				return "", k, e
			}
			k.scope.ChatID = c.chat.ID
			if in.Type == "chat_member" {
				if _, ok := s.users[in.UserID]; !ok || in.UserID <= 0 {
					return "", k, badRequest("invalid user_id specified")
				}
				k.scope.UserID = in.UserID
			}
		default:
			return "", k, badRequest("unsupported bot command scope type \"%s\"", in.Type)
		}
	}
	return fmt.Sprintf("%s|%d|%d|%s", k.scope.Type, k.scope.ChatID, k.scope.UserID, k.lang), k, nil
}

func (s *Server) mSetMyCommands(r *request) (any, *apiError) {
	key, k, e := s.commandKeyLocked(r)
	if e != nil {
		return nil, e
	}
	var cmds []BotCommand
	if raw := strings.TrimSpace(r.str("commands")); raw != "" && raw != "null" {
		if err := decodeJSON(raw, &cmds); err != nil {
			return nil, badRequest("can't parse commands JSON object")
		}
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands specified")
	}
	for _, c := range cmds {
		if !reCommandName.MatchString(c.Command) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := UTF16Len(c.Description); n < 1 || n > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	if len(cmds) == 0 {
		delete(s.commands, key)
		delete(s.scopes, key)
		return true, nil
	}
	s.commands[key] = cmds
	s.scopes[key] = k
	s.notifyLocked()
	return true, nil
}

func (s *Server) mGetMyCommands(r *request) (any, *apiError) {
	key, _, e := s.commandKeyLocked(r)
	if e != nil {
		return nil, e
	}
	out := append([]BotCommand{}, s.commands[key]...)
	return out, nil
}

func (s *Server) mDeleteMyCommands(r *request) (any, *apiError) {
	key, _, e := s.commandKeyLocked(r)
	if e != nil {
		return nil, e
	}
	delete(s.commands, key)
	delete(s.scopes, key)
	s.notifyLocked()
	return true, nil
}

// Commands returns the commands stored for scope and language code (""
// for all languages). ChatID in scope must be numeric.
func (s *Server) Commands(scope BotCommandScope, languageCode string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	if scope.Type == "" {
		scope.Type = "default"
	}
	key := fmt.Sprintf("%s|%d|%d|%s", scope.Type, scope.ChatID, scope.UserID, languageCode)
	return append([]BotCommand(nil), s.commands[key]...)
}

// CommandSet is the command list stored for one scope and language code.
type CommandSet struct {
	Scope        BotCommandScope
	LanguageCode string
	Commands     []BotCommand
}

// CommandSets returns every command list the bot has set, sorted by scope.
func (s *Server) CommandSets() []CommandSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.scopes))
	for k := range s.scopes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]CommandSet, 0, len(keys))
	for _, k := range keys {
		ck := s.scopes[k]
		out = append(out, CommandSet{Scope: ck.scope, LanguageCode: ck.lang,
			Commands: append([]BotCommand(nil), s.commands[k]...)})
	}
	return out
}

// ---------------------------------------------------------------------------
// Invite links and join requests

func (s *Server) requireInviteRightsLocked(c *chatState) *apiError {
	if c.chat.Type == ChatPrivate {
		return badRequest("can't invite members to a private chat")
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return e
	}
	rights, admin := s.botIsAdminLocked(c)
	if !admin || !rights.CanInviteUsers {
		return badRequest("not enough rights to manage chat invite link")
	}
	return nil
}

func (s *Server) newLinkLocked(c *chatState, creator User) *ChatInviteLink {
	l := &ChatInviteLink{InviteLink: "https://t.me/+" + s.randToken(16), Creator: creator}
	c.links = append(c.links, l)
	return l
}

func (s *Server) linkOptionsLocked(r *request, l *ChatInviteLink) *apiError {
	name := r.str("name")
	if UTF16Len(name) > 32 {
		return badRequest("invite link name is too long")
	}
	expire, _ := r.int64Param("expire_date")
	if expire != 0 && expire <= s.unixLocked() {
		return badRequest("EXPIRE_DATE_INVALID")
	}
	limit, _ := r.int64Param("member_limit")
	if limit < 0 || limit > 99999 {
		return badRequest("USAGE_LIMIT_INVALID")
	}
	cjr := r.boolean("creates_join_request")
	if cjr && limit != 0 {
		return badRequest("member limit can't be specified for links requiring administrator approval")
	}
	l.Name, l.ExpireDate, l.MemberLimit, l.CreatesJoinRequest = name, expire, int(limit), cjr
	return nil
}

func (s *Server) mCreateChatInviteLink(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireInviteRightsLocked(c); e != nil {
		return nil, e
	}
	var l ChatInviteLink
	if e := s.linkOptionsLocked(r, &l); e != nil {
		return nil, e
	}
	nl := s.newLinkLocked(c, s.bot)
	nl.Name, nl.ExpireDate, nl.MemberLimit, nl.CreatesJoinRequest = l.Name, l.ExpireDate, l.MemberLimit, l.CreatesJoinRequest
	return *nl, nil
}

func (s *Server) findLinkLocked(c *chatState, link string) *ChatInviteLink {
	for _, l := range c.links {
		if l.InviteLink == strings.TrimSpace(link) {
			return l
		}
	}
	return nil
}

func (s *Server) mEditChatInviteLink(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireInviteRightsLocked(c); e != nil {
		return nil, e
	}
	l := s.findLinkLocked(c, r.str("invite_link"))
	if l == nil || l.IsRevoked || l.Creator.ID != s.bot.ID {
		return nil, badRequest("INVITE_HASH_EXPIRED")
	}
	if e := s.linkOptionsLocked(r, l); e != nil {
		return nil, e
	}
	return *l, nil
}

func (s *Server) mRevokeChatInviteLink(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireInviteRightsLocked(c); e != nil {
		return nil, e
	}
	l := s.findLinkLocked(c, r.str("invite_link"))
	if l == nil {
		return nil, badRequest("INVITE_HASH_EXPIRED")
	}
	l.IsRevoked = true
	if l.IsPrimary {
		l.IsPrimary = false
		s.newLinkLocked(c, s.bot).IsPrimary = true
	}
	return *l, nil
}

func (s *Server) mExportChatInviteLink(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireInviteRightsLocked(c); e != nil {
		return nil, e
	}
	for _, l := range c.links {
		if l.IsPrimary && l.Creator.ID == s.bot.ID {
			l.IsPrimary, l.IsRevoked = false, true
		}
	}
	l := s.newLinkLocked(c, s.bot)
	l.IsPrimary = true
	return l.InviteLink, nil
}

// publicLinkLocked returns the invite link object as it appears in
// updates: links not created by the bot have their tail replaced by "...".
func (s *Server) publicLinkLocked(c *chatState, link string) *ChatInviteLink {
	if strings.TrimSpace(link) == "" {
		return nil
	}
	l := s.findLinkLocked(c, link)
	if l == nil {
		var creator User
		for _, id := range c.order {
			if m := s.memberLocked(c, id); m.Status == StatusCreator {
				creator = m.User
			}
		}
		l = &ChatInviteLink{InviteLink: link, Creator: creator}
		c.links = append(c.links, l)
	}
	out := *l
	if out.Creator.ID != s.bot.ID {
		if i := strings.Index(out.InviteLink, "/+"); i >= 0 && len(out.InviteLink) > i+6 {
			out.InviteLink = out.InviteLink[:i+6] + "..."
		}
	}
	return &out
}

func (s *Server) joinRequestLocked(r *request) (*chatState, *ChatJoinRequest, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, nil, e
	}
	if e := s.requireInviteRightsLocked(c); e != nil {
		return nil, nil, e
	}
	u, e := s.resolveUserLocked(r, "user_id")
	if e != nil {
		return nil, nil, e
	}
	jr := c.joinRequests[u.ID]
	if jr == nil {
		if s.memberLocked(c, u.ID).IsInChat() {
			return nil, nil, badRequest("USER_ALREADY_PARTICIPANT")
		}
		return nil, nil, badRequest("HIDE_REQUESTER_MISSING")
	}
	return c, jr, nil
}

func (s *Server) mApproveChatJoinRequest(r *request) (any, *apiError) {
	c, jr, e := s.joinRequestLocked(r)
	if e != nil {
		return nil, e
	}
	delete(c.joinRequests, jr.From.ID)
	u := jr.From
	old := s.memberLocked(c, u.ID)
	nm := ChatMember{Status: StatusMember, User: u}
	if old.Status == StatusRestricted {
		nm = old
		nm.IsMember = true
		nm.chatType = ""
	}
	s.setMemberLocked(c, nm)
	s.emitMemberChangeLocked(c, s.bot, old, nm, func(cmu *ChatMemberUpdated) {
		cmu.InviteLink = jr.InviteLink
		cmu.ViaJoinRequest = jr.InviteLink == nil
	})
	if c.chat.Type != ChatChannel {
		s.serviceMessageLocked(c, u, true, func(m *Message) {
			uu := u
			m.NewChatMembers, m.NewChatMember, m.NewChatParticipant = []User{u}, &uu, &uu
		})
	}
	return true, nil
}

func (s *Server) mDeclineChatJoinRequest(r *request) (any, *apiError) {
	c, jr, e := s.joinRequestLocked(r)
	if e != nil {
		return nil, e
	}
	delete(c.joinRequests, jr.From.ID)
	s.notifyLocked()
	return true, nil
}

// ---------------------------------------------------------------------------
// Webhook

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) mSetWebhook(r *request) (any, *apiError) {
	raw := strings.TrimSpace(r.str("url"))
	if raw == "" {
		return s.mDeleteWebhook(r)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, badRequest("bad webhook: Failed to resolve host: Name or service not known")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		// Telegram requires HTTPS; plain HTTP is accepted for loopback
		// test servers only.
	default:
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	secret := r.str("secret_token")
	if secret != "" && !reSecretToken.MatchString(secret) {
		return nil, badRequest("bad webhook: secret token contains unallowed characters")
	}
	maxConn := 40
	if v, ok := r.int64Param("max_connections"); ok {
		maxConn = clampInt(int(v), 1, 100)
	}
	if list, ok := parseAllowedList(r.str("allowed_updates")); ok {
		s.allowed = resolveAllowed(list)
	}
	if r.boolean("drop_pending_updates") {
		s.queue = nil
	}
	same := s.webhook.url == raw && s.webhook.secret == secret
	s.webhook = webhookState{url: raw, secret: secret, maxConnections: maxConn,
		ipAddress: "127.0.0.1", hasCertificate: r.files["certificate"].Data != nil}
	s.pollGen++ // a held getUpdates ends with 409
	s.notifyLocked()
	if same {
		return withDescription{true, "Webhook is already set"}, nil
	}
	return withDescription{true, "Webhook was set"}, nil
}

func (s *Server) mDeleteWebhook(r *request) (any, *apiError) {
	if r.boolean("drop_pending_updates") {
		s.queue = nil
	}
	was := s.webhook.url != ""
	s.webhook = webhookState{}
	s.notifyLocked()
	if !was {
		return withDescription{true, "Webhook is already deleted"}, nil
	}
	return withDescription{true, "Webhook was deleted"}, nil
}

func (s *Server) mGetWebhookInfo(*request) (any, *apiError) {
	out := map[string]any{"url": s.webhook.url, "has_custom_certificate": s.webhook.hasCertificate,
		"pending_update_count": len(s.queue)}
	if s.webhook.url == "" {
		return out, nil
	}
	out["max_connections"] = s.webhook.maxConnections
	out["ip_address"] = s.webhook.ipAddress
	if s.webhook.lastErrorDate != 0 {
		out["last_error_date"] = s.webhook.lastErrorDate
		out["last_error_message"] = s.webhook.lastErrorMessage
	}
	if s.allowed != nil {
		var list []string
		for _, k := range allUpdateKinds {
			if s.allowed[k] {
				list = append(list, k)
			}
		}
		out["allowed_updates"] = list
	}
	return out, nil
}
