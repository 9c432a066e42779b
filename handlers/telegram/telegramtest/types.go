package telegramtest

import "encoding/json"

// Well-known service accounts Telegram uses as the "from" of special messages.
var (
	// ChannelBot is the sender Telegram puts in "from" of messages sent on
	// behalf of a channel in a group (sender_chat holds the channel).
	ChannelBot = User{ID: 136817688, IsBot: true, FirstName: "Channel", Username: "Channel_Bot"}
	// GroupAnonymousBot is the sender of messages from anonymous group
	// administrators (sender_chat holds the group itself).
	GroupAnonymousBot = User{ID: 1087968824, IsBot: true, FirstName: "Group", Username: "GroupAnonymousBot"}
	// TelegramService is the sender (id 777000) of channel posts automatically
	// forwarded to a linked discussion group.
	TelegramService = User{ID: 777000, FirstName: "Telegram"}
)

// Chat types.
const (
	ChatPrivate    = "private"
	ChatGroup      = "group"
	ChatSupergroup = "supergroup"
	ChatChannel    = "channel"
)

// Chat member statuses.
const (
	StatusCreator       = "creator"
	StatusAdministrator = "administrator"
	StatusMember        = "member"
	StatusRestricted    = "restricted"
	StatusLeft          = "left"
	StatusKicked        = "kicked"
)

// Update kinds as named in allowed_updates.
const (
	KindMessage           = "message"
	KindEditedMessage     = "edited_message"
	KindChannelPost       = "channel_post"
	KindEditedChannelPost = "edited_channel_post"
	KindCallbackQuery     = "callback_query"
	KindMyChatMember      = "my_chat_member"
	KindChatMember        = "chat_member"
	KindChatJoinRequest   = "chat_join_request"
)

// allUpdateKinds lists every update type of Bot API 7.x, the ones this
// server can produce and the others, as get_allowed_update_types knows them.
var allUpdateKinds = []string{
	"message", "edited_message", "channel_post", "edited_channel_post",
	"business_connection", "business_message", "edited_business_message",
	"deleted_business_messages", "message_reaction", "message_reaction_count",
	"inline_query", "chosen_inline_result", "callback_query", "shipping_query",
	"pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
	"my_chat_member", "chat_member", "chat_join_request", "chat_boost",
	"removed_chat_boost",
}

// optInUpdateKinds are delivered only when explicitly requested.
var optInUpdateKinds = map[string]bool{
	"chat_member": true, "message_reaction": true, "message_reaction_count": true,
}

// User is a Telegram user or bot.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
	IsPremium    bool   `json:"is_premium,omitempty"`
}

// Chat is the short chat object embedded in messages and updates.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	IsForum   bool   `json:"is_forum,omitempty"`
}

// MessageEntity is a special entity in a text or caption; offsets and
// lengths are in UTF-16 code units.
type MessageEntity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	User          *User  `json:"user,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// LinkPreviewOptions mirrors the Bot API object of the same name.
type LinkPreviewOptions struct {
	IsDisabled       bool   `json:"is_disabled,omitempty"`
	URL              string `json:"url,omitempty"`
	PreferSmallMedia bool   `json:"prefer_small_media,omitempty"`
	PreferLargeMedia bool   `json:"prefer_large_media,omitempty"`
	ShowAboveText    bool   `json:"show_above_text,omitempty"`
}

// Document describes a file sent as a document.
type Document struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// ForumTopicCreated is the service payload of a topic creation message.
type ForumTopicCreated struct {
	Name              string `json:"name"`
	IconColor         int    `json:"icon_color"`
	IconCustomEmojiID string `json:"icon_custom_emoji_id,omitempty"`
}

// ForumTopicEdited is the service payload of a topic's edit: the new name
// and icon, each only when it changed (an empty icon id: the icon was
// removed).
type ForumTopicEdited struct {
	Name              string  `json:"name,omitempty"`
	IconCustomEmojiID *string `json:"icon_custom_emoji_id,omitempty"`
}

// InlineKeyboardButton is one button of an inline keyboard. Exactly one of
// the optional fields is set on a valid button.
type InlineKeyboardButton struct {
	Text                         string          `json:"text"`
	URL                          string          `json:"url,omitempty"`
	CallbackData                 *string         `json:"callback_data,omitempty"`
	SwitchInlineQuery            *string         `json:"switch_inline_query,omitempty"`
	SwitchInlineQueryCurrentChat *string         `json:"switch_inline_query_current_chat,omitempty"`
	LoginURL                     json.RawMessage `json:"login_url,omitempty"`
	WebApp                       json.RawMessage `json:"web_app,omitempty"`
	CopyText                     json.RawMessage `json:"copy_text,omitempty"`
	CallbackGame                 json.RawMessage `json:"callback_game,omitempty"`
	Pay                          bool            `json:"pay,omitempty"`
}

// InlineKeyboardMarkup is an inline keyboard attached to a message.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// Message is a Bot API message (Bot API 7.x fields used by moderation bots).
// An inaccessible message (deleted, or referenced by an old callback) has
// only Chat, MessageID and Date 0.
type Message struct {
	MessageID            int                   `json:"message_id"`
	MessageThreadID      int                   `json:"message_thread_id,omitempty"`
	From                 *User                 `json:"from,omitempty"`
	SenderChat           *Chat                 `json:"sender_chat,omitempty"`
	Date                 int64                 `json:"date"`
	Chat                 Chat                  `json:"chat"`
	IsTopicMessage       bool                  `json:"is_topic_message,omitempty"`
	IsAutomaticForward   bool                  `json:"is_automatic_forward,omitempty"`
	ForwardOrigin        *MessageOrigin        `json:"forward_origin,omitempty"`
	ForwardFrom          *User                 `json:"forward_from,omitempty"`
	ForwardFromChat      *Chat                 `json:"forward_from_chat,omitempty"`
	ForwardFromMessageID int                   `json:"forward_from_message_id,omitempty"`
	ForwardDate          int64                 `json:"forward_date,omitempty"`
	ReplyToMessage       *Message              `json:"reply_to_message,omitempty"`
	ViaBot               *User                 `json:"via_bot,omitempty"`
	EditDate             int64                 `json:"edit_date,omitempty"`
	HasProtectedContent  bool                  `json:"has_protected_content,omitempty"`
	AuthorSignature      string                `json:"author_signature,omitempty"`
	Text                 string                `json:"text,omitempty"`
	Entities             []MessageEntity       `json:"entities,omitempty"`
	LinkPreviewOptions   *LinkPreviewOptions   `json:"link_preview_options,omitempty"`
	Document             *Document             `json:"document,omitempty"`
	Photo                []PhotoSize           `json:"photo,omitempty"`
	Caption              string                `json:"caption,omitempty"`
	CaptionEntities      []MessageEntity       `json:"caption_entities,omitempty"`
	NewChatParticipant   *User                 `json:"new_chat_participant,omitempty"`
	NewChatMember        *User                 `json:"new_chat_member,omitempty"`
	NewChatMembers       []User                `json:"new_chat_members,omitempty"`
	LeftChatParticipant  *User                 `json:"left_chat_participant,omitempty"`
	LeftChatMember       *User                 `json:"left_chat_member,omitempty"`
	NewChatTitle         string                `json:"new_chat_title,omitempty"`
	NewChatPhoto         []PhotoSize           `json:"new_chat_photo,omitempty"`
	DeleteChatPhoto      bool                  `json:"delete_chat_photo,omitempty"`
	GroupChatCreated     bool                  `json:"group_chat_created,omitempty"`
	MigrateToChatID      int64                 `json:"migrate_to_chat_id,omitempty"`
	MigrateFromChatID    int64                 `json:"migrate_from_chat_id,omitempty"`
	PinnedMessage        *Message              `json:"pinned_message,omitempty"`
	ForumTopicCreated    *ForumTopicCreated    `json:"forum_topic_created,omitempty"`
	ForumTopicEdited     *ForumTopicEdited     `json:"forum_topic_edited,omitempty"`
	ForumTopicClosed     *struct{}             `json:"forum_topic_closed,omitempty"`
	ForumTopicReopened   *struct{}             `json:"forum_topic_reopened,omitempty"`
	ReplyMarkup          *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// IsService reports whether the message is a service message (member
// joined/left, title changed, migration, topic created, ...).
func (m Message) IsService() bool {
	return len(m.NewChatMembers) > 0 || m.LeftChatMember != nil ||
		m.NewChatTitle != "" || len(m.NewChatPhoto) > 0 || m.DeleteChatPhoto ||
		m.MigrateToChatID != 0 || m.MigrateFromChatID != 0 || m.ForumTopicCreated != nil ||
		m.PinnedMessage != nil || m.GroupChatCreated || m.ForumTopicClosed != nil ||
		m.ForumTopicReopened != nil || m.ForumTopicEdited != nil
}

// AdminRights are the rights of a chat administrator
// (ChatAdministratorRights in the Bot API).
type AdminRights struct {
	IsAnonymous         bool `json:"is_anonymous"`
	CanManageChat       bool `json:"can_manage_chat"`
	CanDeleteMessages   bool `json:"can_delete_messages"`
	CanManageVideoChats bool `json:"can_manage_video_chats"`
	CanRestrictMembers  bool `json:"can_restrict_members"`
	CanPromoteMembers   bool `json:"can_promote_members"`
	CanChangeInfo       bool `json:"can_change_info"`
	CanInviteUsers      bool `json:"can_invite_users"`
	CanPostStories      bool `json:"can_post_stories"`
	CanEditStories      bool `json:"can_edit_stories"`
	CanDeleteStories    bool `json:"can_delete_stories"`
	CanPostMessages     bool `json:"can_post_messages,omitempty"`
	CanEditMessages     bool `json:"can_edit_messages,omitempty"`
	CanPinMessages      bool `json:"can_pin_messages,omitempty"`
	CanManageTopics     bool `json:"can_manage_topics,omitempty"`
}

// FullAdminRights returns every administrator right (not anonymous).
func FullAdminRights() AdminRights {
	return AdminRights{
		CanManageChat: true, CanDeleteMessages: true, CanManageVideoChats: true,
		CanRestrictMembers: true, CanPromoteMembers: true, CanChangeInfo: true,
		CanInviteUsers: true, CanPostStories: true, CanEditStories: true,
		CanDeleteStories: true, CanPostMessages: true, CanEditMessages: true,
		CanPinMessages: true, CanManageTopics: true,
	}
}

// ModeratorRights returns the rights a moderation bot usually gets:
// delete messages, restrict/ban members, invite users, pin messages.
func ModeratorRights() AdminRights {
	return AdminRights{
		CanManageChat: true, CanDeleteMessages: true, CanRestrictMembers: true,
		CanInviteUsers: true, CanPinMessages: true, CanManageTopics: true,
	}
}

// ChatPermissions are the actions a non-administrator may take (Bot API 6.5+
// granular media permissions).
type ChatPermissions struct {
	CanSendMessages       bool `json:"can_send_messages"`
	CanSendAudios         bool `json:"can_send_audios"`
	CanSendDocuments      bool `json:"can_send_documents"`
	CanSendPhotos         bool `json:"can_send_photos"`
	CanSendVideos         bool `json:"can_send_videos"`
	CanSendVideoNotes     bool `json:"can_send_video_notes"`
	CanSendVoiceNotes     bool `json:"can_send_voice_notes"`
	CanSendPolls          bool `json:"can_send_polls"`
	CanSendOtherMessages  bool `json:"can_send_other_messages"`
	CanAddWebPagePreviews bool `json:"can_add_web_page_previews"`
	CanChangeInfo         bool `json:"can_change_info"`
	CanInviteUsers        bool `json:"can_invite_users"`
	CanPinMessages        bool `json:"can_pin_messages"`
	CanManageTopics       bool `json:"can_manage_topics"`
}

// AllPermissions returns permissions with everything allowed.
func AllPermissions() ChatPermissions {
	return ChatPermissions{
		CanSendMessages: true, CanSendAudios: true, CanSendDocuments: true,
		CanSendPhotos: true, CanSendVideos: true, CanSendVideoNotes: true,
		CanSendVoiceNotes: true, CanSendPolls: true, CanSendOtherMessages: true,
		CanAddWebPagePreviews: true, CanChangeInfo: true, CanInviteUsers: true,
		CanPinMessages: true, CanManageTopics: true,
	}
}

// ChatMember is the state of a user in a chat. It marshals to the exact Bot
// API shape for its Status (ChatMemberOwner, ChatMemberAdministrator,
// ChatMemberMember, ChatMemberRestricted, ChatMemberLeft, ChatMemberBanned).
type ChatMember struct {
	Status      string
	User        User
	IsAnonymous bool   // creator, administrator
	CustomTitle string // creator, administrator
	CanBeEdited bool   // administrator: the bot may edit this admin's rights
	Rights      AdminRights
	Permissions ChatPermissions // restricted
	IsMember    bool            // restricted: still a member of the chat
	UntilDate   int64           // restricted, kicked; 0 means forever

	chatType string // set by the server: selects channel-only or group-only rights
}

// IsInChat reports whether the member currently belongs to the chat.
func (m ChatMember) IsInChat() bool {
	switch m.Status {
	case StatusCreator, StatusAdministrator, StatusMember:
		return true
	case StatusRestricted:
		return m.IsMember
	}
	return false
}

// MarshalJSON encodes the member with the fields of its status.
func (m ChatMember) MarshalJSON() ([]byte, error) {
	out := map[string]any{"status": m.Status, "user": m.User}
	switch m.Status {
	case StatusCreator:
		out["is_anonymous"] = m.IsAnonymous
		if m.CustomTitle != "" {
			out["custom_title"] = m.CustomTitle
		}
	case StatusAdministrator:
		r := m.Rights
		out["can_be_edited"] = m.CanBeEdited
		out["is_anonymous"] = m.IsAnonymous || r.IsAnonymous
		out["can_manage_chat"] = r.CanManageChat
		out["can_delete_messages"] = r.CanDeleteMessages
		out["can_manage_video_chats"] = r.CanManageVideoChats
		out["can_restrict_members"] = r.CanRestrictMembers
		out["can_promote_members"] = r.CanPromoteMembers
		out["can_change_info"] = r.CanChangeInfo
		out["can_invite_users"] = r.CanInviteUsers
		out["can_post_stories"] = r.CanPostStories
		out["can_edit_stories"] = r.CanEditStories
		out["can_delete_stories"] = r.CanDeleteStories
		// can_post_messages/can_edit_messages exist for channels only,
		// can_pin_messages for groups, can_manage_topics for supergroups.
		switch m.chatType {
		case ChatChannel:
			out["can_post_messages"] = r.CanPostMessages
			out["can_edit_messages"] = r.CanEditMessages
		case ChatGroup:
			out["can_pin_messages"] = r.CanPinMessages
		case ChatSupergroup:
			out["can_pin_messages"] = r.CanPinMessages
			out["can_manage_topics"] = r.CanManageTopics
		default:
			out["can_post_messages"] = r.CanPostMessages
			out["can_edit_messages"] = r.CanEditMessages
			out["can_pin_messages"] = r.CanPinMessages
			out["can_manage_topics"] = r.CanManageTopics
		}
		if m.CustomTitle != "" {
			out["custom_title"] = m.CustomTitle
		}
	case StatusMember:
		if m.UntilDate != 0 {
			out["until_date"] = m.UntilDate
		}
	case StatusRestricted:
		p := m.Permissions
		out["is_member"] = m.IsMember
		out["can_send_messages"] = p.CanSendMessages
		out["can_send_audios"] = p.CanSendAudios
		out["can_send_documents"] = p.CanSendDocuments
		out["can_send_photos"] = p.CanSendPhotos
		out["can_send_videos"] = p.CanSendVideos
		out["can_send_video_notes"] = p.CanSendVideoNotes
		out["can_send_voice_notes"] = p.CanSendVoiceNotes
		out["can_send_polls"] = p.CanSendPolls
		out["can_send_other_messages"] = p.CanSendOtherMessages
		out["can_add_web_page_previews"] = p.CanAddWebPagePreviews
		out["can_change_info"] = p.CanChangeInfo
		out["can_invite_users"] = p.CanInviteUsers
		out["can_pin_messages"] = p.CanPinMessages
		out["can_manage_topics"] = p.CanManageTopics
		out["until_date"] = m.UntilDate
	case StatusKicked:
		out["until_date"] = m.UntilDate
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes any of the ChatMember shapes.
func (m *ChatMember) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status      string `json:"status"`
		User        User   `json:"user"`
		IsAnonymous bool   `json:"is_anonymous"`
		CustomTitle string `json:"custom_title"`
		CanBeEdited bool   `json:"can_be_edited"`
		IsMember    bool   `json:"is_member"`
		UntilDate   int64  `json:"until_date"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = ChatMember{Status: raw.Status, User: raw.User, IsAnonymous: raw.IsAnonymous,
		CustomTitle: raw.CustomTitle, CanBeEdited: raw.CanBeEdited, IsMember: raw.IsMember,
		UntilDate: raw.UntilDate}
	switch raw.Status {
	case StatusAdministrator:
		if err := json.Unmarshal(b, &m.Rights); err != nil {
			return err
		}
	case StatusRestricted:
		if err := json.Unmarshal(b, &m.Permissions); err != nil {
			return err
		}
	}
	return nil
}

// ChatInviteLink is an invite link of a chat.
type ChatInviteLink struct {
	InviteLink              string `json:"invite_link"`
	Creator                 User   `json:"creator"`
	CreatesJoinRequest      bool   `json:"creates_join_request"`
	IsPrimary               bool   `json:"is_primary"`
	IsRevoked               bool   `json:"is_revoked"`
	Name                    string `json:"name,omitempty"`
	ExpireDate              int64  `json:"expire_date,omitempty"`
	MemberLimit             int    `json:"member_limit,omitempty"`
	PendingJoinRequestCount int    `json:"pending_join_request_count,omitempty"`
}

// ChatMemberUpdated is the payload of chat_member and my_chat_member updates.
type ChatMemberUpdated struct {
	Chat                    Chat            `json:"chat"`
	From                    User            `json:"from"`
	Date                    int64           `json:"date"`
	OldChatMember           ChatMember      `json:"old_chat_member"`
	NewChatMember           ChatMember      `json:"new_chat_member"`
	InviteLink              *ChatInviteLink `json:"invite_link,omitempty"`
	ViaJoinRequest          bool            `json:"via_join_request,omitempty"`
	ViaChatFolderInviteLink bool            `json:"via_chat_folder_invite_link,omitempty"`
}

// ChatJoinRequest is the payload of a chat_join_request update.
type ChatJoinRequest struct {
	Chat       Chat            `json:"chat"`
	From       User            `json:"from"`
	UserChatID int64           `json:"user_chat_id"`
	Date       int64           `json:"date"`
	Bio        string          `json:"bio,omitempty"`
	InviteLink *ChatInviteLink `json:"invite_link,omitempty"`
}

// CallbackQuery is the payload of a callback_query update.
type CallbackQuery struct {
	ID              string   `json:"id"`
	From            User     `json:"from"`
	Message         *Message `json:"message,omitempty"`
	InlineMessageID string   `json:"inline_message_id,omitempty"`
	ChatInstance    string   `json:"chat_instance"`
	Data            string   `json:"data,omitempty"`
	GameShortName   string   `json:"game_short_name,omitempty"`
}

// BotCommand is a command shown in the client's menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// BotCommandScope selects the users and chats a command list applies to.
// ChatID is resolved to a numeric id when a @username was given.
type BotCommandScope struct {
	Type   string `json:"type"`
	ChatID int64  `json:"chat_id,omitempty"`
	UserID int64  `json:"user_id,omitempty"`
}

// Update is one incoming update. Exactly one payload field is set; Extra
// carries payloads of kinds this package has no type for (see InjectUpdate).
type Update struct {
	UpdateID          int                        `json:"update_id"`
	Message           *Message                   `json:"message,omitempty"`
	EditedMessage     *Message                   `json:"edited_message,omitempty"`
	ChannelPost       *Message                   `json:"channel_post,omitempty"`
	EditedChannelPost *Message                   `json:"edited_channel_post,omitempty"`
	CallbackQuery     *CallbackQuery             `json:"callback_query,omitempty"`
	MyChatMember      *ChatMemberUpdated         `json:"my_chat_member,omitempty"`
	ChatMember        *ChatMemberUpdated         `json:"chat_member,omitempty"`
	ChatJoinRequest   *ChatJoinRequest           `json:"chat_join_request,omitempty"`
	Extra             map[string]json.RawMessage `json:"-"`
}

// Kind returns the update type as named in allowed_updates ("message",
// "chat_member", ...), or "" for an empty update.
func (u Update) Kind() string {
	switch {
	case u.Message != nil:
		return KindMessage
	case u.EditedMessage != nil:
		return KindEditedMessage
	case u.ChannelPost != nil:
		return KindChannelPost
	case u.EditedChannelPost != nil:
		return KindEditedChannelPost
	case u.CallbackQuery != nil:
		return KindCallbackQuery
	case u.MyChatMember != nil:
		return KindMyChatMember
	case u.ChatMember != nil:
		return KindChatMember
	case u.ChatJoinRequest != nil:
		return KindChatJoinRequest
	}
	for k := range u.Extra {
		return k
	}
	return ""
}

// MarshalJSON encodes the update including Extra payloads.
func (u Update) MarshalJSON() ([]byte, error) {
	type plain Update
	b, err := json.Marshal(plain(u))
	if err != nil || len(u.Extra) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range u.Extra {
		if _, taken := m[k]; !taken && k != "update_id" {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes an update, keeping unknown payloads in Extra.
func (u *Update) UnmarshalJSON(b []byte) error {
	type plain Update
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	known := map[string]bool{"update_id": true, "message": true, "edited_message": true,
		"channel_post": true, "edited_channel_post": true, "callback_query": true,
		"my_chat_member": true, "chat_member": true, "chat_join_request": true}
	for k, v := range m {
		if !known[k] {
			if p.Extra == nil {
				p.Extra = map[string]json.RawMessage{}
			}
			p.Extra[k] = v
		}
	}
	*u = Update(p)
	return nil
}

// chat returns the chat an update belongs to (nil if none).
func (u Update) chat() *Chat {
	switch {
	case u.Message != nil:
		return &u.Message.Chat
	case u.EditedMessage != nil:
		return &u.EditedMessage.Chat
	case u.ChannelPost != nil:
		return &u.ChannelPost.Chat
	case u.EditedChannelPost != nil:
		return &u.EditedChannelPost.Chat
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil:
		return &u.CallbackQuery.Message.Chat
	case u.MyChatMember != nil:
		return &u.MyChatMember.Chat
	case u.ChatMember != nil:
		return &u.ChatMember.Chat
	case u.ChatJoinRequest != nil:
		return &u.ChatJoinRequest.Chat
	}
	return nil
}

// MessageOrigin describes where a forwarded message came from (Bot API 7.0).
type MessageOrigin struct {
	Type            string `json:"type"` // "user", "hidden_user", "chat" or "channel"
	Date            int64  `json:"date"`
	SenderUser      *User  `json:"sender_user,omitempty"`
	SenderUserName  string `json:"sender_user_name,omitempty"`
	SenderChat      *Chat  `json:"sender_chat,omitempty"`
	Chat            *Chat  `json:"chat,omitempty"`
	MessageID       int    `json:"message_id,omitempty"`
	AuthorSignature string `json:"author_signature,omitempty"`
}
