package telegramtest

import (
	"encoding/json"
	"strconv"
	"strings"
)

type methodFunc func(*Server, *request) (any, *apiError)

type methodSpec struct {
	name string
	fn   methodFunc
}

// methodTable maps lower-case method names (the Bot API is
// case-insensitive) to handlers.
func methodTable() map[string]methodSpec {
	impl := map[string]methodFunc{
		"getMe":                  (*Server).mGetMe,
		"getUpdates":             nil, // handled in ServeHTTP: it blocks
		"setWebhook":             (*Server).mSetWebhook,
		"deleteWebhook":          (*Server).mDeleteWebhook,
		"getWebhookInfo":         (*Server).mGetWebhookInfo,
		"sendMessage":            (*Server).mSendMessage,
		"sendDocument":           (*Server).mSendDocument,
		"forwardMessage":         (*Server).mForwardMessage,
		"copyMessage":            (*Server).mCopyMessage,
		"editMessageText":        (*Server).mEditMessageText,
		"editMessageReplyMarkup": (*Server).mEditMessageReplyMarkup,
		"deleteMessage":          (*Server).mDeleteMessage,
		"deleteMessages":         (*Server).mDeleteMessages,
		"getFile":                (*Server).mGetFile,
		"sendChatAction":         (*Server).mSendChatAction,
		"pinChatMessage":         (*Server).mPinChatMessage,
		"unpinChatMessage":       (*Server).mUnpinChatMessage,
		"unpinAllChatMessages":   (*Server).mUnpinAllChatMessages,
		"banChatMember":          (*Server).mBanChatMember,
		"kickChatMember":         (*Server).mBanChatMember,
		"unbanChatMember":        (*Server).mUnbanChatMember,
		"restrictChatMember":     (*Server).mRestrictChatMember,
		"promoteChatMember":      (*Server).mPromoteChatMember,
		"setChatPermissions":     (*Server).mSetChatPermissions,
		"banChatSenderChat":      (*Server).mBanChatSenderChat,
		"unbanChatSenderChat":    (*Server).mUnbanChatSenderChat,
		"getChat":                (*Server).mGetChat,
		"getChatMember":          (*Server).mGetChatMember,
		"getChatAdministrators":  (*Server).mGetChatAdministrators,
		"getChatMemberCount":     (*Server).mGetChatMemberCount,
		"getChatMembersCount":    (*Server).mGetChatMemberCount,
		"leaveChat":              (*Server).mLeaveChat,
		"answerCallbackQuery":    (*Server).mAnswerCallbackQuery,
		"setMyCommands":          (*Server).mSetMyCommands,
		"getMyCommands":          (*Server).mGetMyCommands,
		"deleteMyCommands":       (*Server).mDeleteMyCommands,
		"createChatInviteLink":   (*Server).mCreateChatInviteLink,
		"editChatInviteLink":     (*Server).mEditChatInviteLink,
		"revokeChatInviteLink":   (*Server).mRevokeChatInviteLink,
		"exportChatInviteLink":   (*Server).mExportChatInviteLink,
		"approveChatJoinRequest": (*Server).mApproveChatJoinRequest,
		"declineChatJoinRequest": (*Server).mDeclineChatJoinRequest,
		"setChatTitle":           (*Server).mSetChatTitle,
		"setChatDescription":     (*Server).mSetChatDescription,
	}
	// Real Bot API methods this fake does not model: they answer 501 so a
	// test notices instead of a silent 404 "method not found".
	notImplemented := []string{
		"logOut", "close", "sendPhoto", "sendAudio", "sendVideo", "sendAnimation", "sendVoice",
		"sendVideoNote", "sendPaidMedia", "sendMediaGroup", "sendLocation", "sendVenue", "sendContact",
		"sendPoll", "sendDice", "sendSticker", "sendInvoice", "sendGame", "forwardMessages",
		"copyMessages", "setMessageReaction", "getUserProfilePhotos", "setChatAdministratorCustomTitle",
		"setChatPhoto", "deleteChatPhoto", "setChatStickerSet", "deleteChatStickerSet",
		"getForumTopicIconStickers", "createForumTopic", "editForumTopic", "closeForumTopic",
		"reopenForumTopic", "deleteForumTopic", "unpinAllForumTopicMessages", "editGeneralForumTopic",
		"closeGeneralForumTopic", "reopenGeneralForumTopic", "hideGeneralForumTopic",
		"unhideGeneralForumTopic", "getUserChatBoosts", "getBusinessConnection", "setMyName", "getMyName",
		"setMyDescription", "getMyDescription", "setMyShortDescription", "getMyShortDescription",
		"setChatMenuButton", "getChatMenuButton", "setMyDefaultAdministratorRights",
		"getMyDefaultAdministratorRights", "editMessageCaption", "editMessageMedia",
		"editMessageLiveLocation", "stopMessageLiveLocation", "stopPoll", "answerInlineQuery",
		"answerWebAppQuery", "createChatSubscriptionInviteLink", "editChatSubscriptionInviteLink",
		"sendChecklist", "getStarTransactions", "refundStarPayment",
	}
	out := map[string]methodSpec{}
	for name, fn := range impl {
		if fn == nil && name != "getUpdates" {
			continue
		}
		out[strings.ToLower(name)] = methodSpec{name: name, fn: fn}
	}
	for _, name := range notImplemented {
		n := name
		out[strings.ToLower(n)] = methodSpec{name: n, fn: func(*Server, *request) (any, *apiError) {
			return nil, errorf(501, "Not Implemented: telegramtest does not implement %s", n)
		}}
	}
	return out
}

// ---------------------------------------------------------------------------
// Parameter helpers

func (r *request) str(k string) string { return r.params.Get(k) }

func (r *request) has(k string) bool { return strings.TrimSpace(r.params.Get(k)) != "" }

func (r *request) boolean(k string) bool { return parseBool(r.params.Get(k)) }

// int64Param parses an integer parameter; ok is false when absent or invalid.
func (r *request) int64Param(k string) (int64, bool) {
	v := strings.TrimSpace(r.params.Get(k))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func decodeJSON(raw string, v any) error { return json.Unmarshal([]byte(raw), v) }

// resolveChatLocked finds the chat named by a chat_id parameter.
func (s *Server) resolveChatLocked(raw string) (*chatState, *apiError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, badRequest("chat_id is empty")
	}
	var c *chatState
	if name, ok := strings.CutPrefix(raw, "@"); ok {
		for _, id := range s.chatOrder {
			cs := s.chats[id]
			if cs.chat.Type != ChatPrivate && cs.chat.Username != "" && strings.EqualFold(cs.chat.Username, name) {
				c = cs
				break
			}
		}
	} else if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
		c = s.chats[id]
		if u, known := s.users[id]; c == nil && known && id != s.bot.ID {
			// A user the bot has seen but who never opened a private chat.
			if u.IsBot {
				return nil, forbidden("bot can't send messages to bots")
			}
			return nil, forbidden("bot can't initiate conversation with a user")
		}
	}
	if c == nil {
		return nil, badRequest("chat not found")
	}
	if c.migratedTo != 0 {
		return nil, &apiError{code: 400, desc: "Bad Request: group chat was upgraded to a supergroup chat", migrateTo: c.migratedTo}
	}
	return c, nil
}

// resolveUserLocked finds the user named by a user_id parameter.
func (s *Server) resolveUserLocked(r *request, key string) (User, *apiError) {
	id, ok := r.int64Param(key)
	if !ok || id <= 0 {
		return User{}, badRequest("invalid user_id specified")
	}
	u, known := s.users[id]
	if !known {
		return User{}, badRequest("user not found")
	}
	return u, nil
}

func chatTypeWord(c *chatState) string {
	switch c.chat.Type {
	case ChatChannel:
		return "channel"
	case ChatSupergroup:
		return "supergroup"
	}
	return "group"
}

// requireBotInChatLocked answers 403 like Telegram when the bot is not in c.
func (s *Server) requireBotInChatLocked(c *chatState) *apiError {
	if c.chat.Type == ChatPrivate {
		if c.botBlocked {
			return forbidden("bot was blocked by the user")
		}
		return nil
	}
	m := s.botMemberLocked(c)
	switch {
	case m.Status == StatusKicked:
		return forbidden("bot was kicked from the %s chat", chatTypeWord(c))
	case !m.IsInChat():
		return forbidden("bot is not a member of the %s chat", chatTypeWord(c))
	}
	return nil
}

// visibleLocked reports whether the bot may read information about c.
func (s *Server) visibleLocked(c *chatState) bool {
	return c.chat.Type == ChatPrivate || c.chat.Username != "" || s.botMemberLocked(c).IsInChat()
}

// canSendLocked checks that the bot may post in c; what is "text messages"
// or "documents" for the error text.
func (s *Server) canSendLocked(c *chatState, what string) *apiError {
	if e := s.requireBotInChatLocked(c); e != nil {
		return e
	}
	if c.chat.Type == ChatPrivate {
		return nil
	}
	rights, admin := s.botIsAdminLocked(c)
	if c.chat.Type == ChatChannel {
		if !admin || !rights.CanPostMessages {
			return badRequest("need administrator rights in the channel chat")
		}
		return nil
	}
	if admin {
		return nil
	}
	perms := c.permissions
	if m := s.botMemberLocked(c); m.Status == StatusRestricted {
		perms = m.Permissions
	}
	allowed := perms.CanSendMessages
	if what == "documents" {
		allowed = perms.CanSendDocuments
	}
	if !allowed {
		return badRequest("not enough rights to send %s to the chat", what)
	}
	return nil
}

// requireRestrictRightsLocked checks the bot may ban/restrict in c.
func (s *Server) requireRestrictRightsLocked(c *chatState) *apiError {
	if c.chat.Type == ChatPrivate {
		return badRequest("chat member status can't be changed in private chats")
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return e
	}
	rights, admin := s.botIsAdminLocked(c)
	if !admin || !rights.CanRestrictMembers {
		return badRequest("not enough rights to restrict/unrestrict chat member")
	}
	return nil
}

// untilDateLocked normalises until_date: more than 366 days or less than
// 30 seconds from now means forever (0).
func (s *Server) untilDateLocked(v int64) int64 {
	now := s.unixLocked()
	if v <= now+30 || v > now+366*24*3600 {
		return 0
	}
	return v
}
