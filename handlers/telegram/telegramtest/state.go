package telegramtest

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// chatState is everything the server knows about one chat.
type chatState struct {
	chat          Chat
	description   string
	photoVersion  int // 0: no photo
	permissions   ChatPermissions
	members       map[int64]*ChatMember
	order         []int64 // member ids in insertion order
	messages      []*storedMessage
	byID          map[int]*storedMessage
	nextMsgID     int
	migratedTo    int64
	migratedFrom  int64
	topics        map[int]*storedMessage // thread id -> topic creation message
	links         []*ChatInviteLink
	joinRequests  map[int64]*ChatJoinRequest
	bannedSenders map[int64]int64 // sender chat id -> until
	privateUser   int64           // private chats: the other party
	botBlocked    bool            // private chats: the user blocked the bot
	instance      string          // chat_instance of callback queries
}

// storedMessage is a message plus what the server knows about how it was made.
type storedMessage struct {
	msg       Message
	byBot     bool
	deleted   bool
	method    string
	parseMode string
	rawText   string
	rawMarkup string
	params    url.Values
	file      *File
	edits     int
}

// SentMessage is a message the bot sent, with the request details Telegram
// does not echo back.
type SentMessage struct {
	Message                // as stored now (after edits); entities are the parsed ones
	Method          string // "sendMessage", "sendDocument", ...
	ParseMode       string // parse_mode as given by the bot
	RawText         string // text or caption exactly as sent (before entity parsing)
	RawReplyMarkup  string // reply_markup JSON as sent (any keyboard type)
	Params          url.Values
	File            *File // uploaded document, if any
	Deleted         bool
	EditCount       int
	DisableNotify   bool
	LinkPreviewOff  bool // disable_web_page_preview or link_preview_options.is_disabled
	RequestedThread int  // message_thread_id parameter
}

// ---------------------------------------------------------------------------
// Users

// NewUser registers a human user with an automatic id, the given first name
// and a username derived from it.
func (s *Server) NewUser(firstName string) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextUserID
	s.nextUserID++
	uname := strings.ToLower(strings.Join(strings.Fields(firstName), "_"))
	if uname == "" {
		uname = "user"
	}
	u := User{ID: id, FirstName: firstName, Username: uname + "_" + strconv.FormatInt(id%100000, 10), LanguageCode: "en"}
	s.users[id] = u
	return u
}

// AddUser registers u (any fields). A zero ID gets an automatic one. It
// returns the registered user.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) User {
	if u.ID == 0 {
		u.ID = s.nextUserID
		s.nextUserID++
	}
	if u.FirstName == "" {
		u.FirstName = "User" + strconv.FormatInt(u.ID, 10)
	}
	if u.ID == s.bot.ID {
		return s.bot
	}
	s.users[u.ID] = u
	return u
}

func (s *Server) userByUsernameLocked(name string) (User, bool) {
	name = strings.TrimPrefix(name, "@")
	for _, u := range s.users {
		if u.Username != "" && strings.EqualFold(u.Username, name) {
			return u, true
		}
	}
	return User{}, false
}

// ---------------------------------------------------------------------------
// Chats

// ChatSpec describes a chat to create with NewChat.
type ChatSpec struct {
	Type        string // ChatGroup, ChatSupergroup, ChatChannel or ChatPrivate
	Title       string
	Username    string // public @username (supergroups, channels)
	IsForum     bool   // supergroups only
	Description string
	// Owner becomes the creator (zero value: no owner is recorded). For
	// ChatPrivate, Owner is the user the bot talks to.
	Owner   User
	Members []User
	// Admins become administrators with ModeratorRights.
	Admins []User
	// BotRights makes the bot an administrator with these rights; nil makes
	// it a plain member (channels: subscribers can't be bots, so nil means
	// the bot is an administrator that can only post).
	BotRights *AdminRights
	// BotAbsent leaves the bot out of the chat (status "left").
	BotAbsent bool
	// Permissions are the chat's default member permissions; nil means all
	// allowed.
	Permissions *ChatPermissions
}

// NewChat creates a chat from spec and returns it. Nothing is enqueued.
func (s *Server) NewChat(spec ChatSpec) Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newChatLocked(spec).chat
}

// NewGroup creates a basic group owned by owner with the bot as an
// administrator holding ModeratorRights.
func (s *Server) NewGroup(title string, owner User, members ...User) Chat {
	r := ModeratorRights()
	return s.NewChat(ChatSpec{Type: ChatGroup, Title: title, Owner: owner, Members: members, BotRights: &r})
}

// NewSupergroup creates a supergroup owned by owner with the bot as an
// administrator holding ModeratorRights.
func (s *Server) NewSupergroup(title string, owner User, members ...User) Chat {
	r := ModeratorRights()
	return s.NewChat(ChatSpec{Type: ChatSupergroup, Title: title, Owner: owner, Members: members, BotRights: &r})
}

// NewForum creates a forum supergroup (is_forum) owned by owner with the bot
// as an administrator holding ModeratorRights.
func (s *Server) NewForum(title string, owner User, members ...User) Chat {
	r := ModeratorRights()
	return s.NewChat(ChatSpec{Type: ChatSupergroup, IsForum: true, Title: title, Owner: owner, Members: members, BotRights: &r})
}

// NewChannel creates a channel owned by owner with the bot as an
// administrator that can post, edit and delete messages.
func (s *Server) NewChannel(title, username string, owner User) Chat {
	r := AdminRights{CanManageChat: true, CanPostMessages: true, CanEditMessages: true,
		CanDeleteMessages: true, CanInviteUsers: true, CanRestrictMembers: true}
	return s.NewChat(ChatSpec{Type: ChatChannel, Title: title, Username: username, Owner: owner, BotRights: &r})
}

// PrivateChat returns the private chat between the bot and u, creating it
// (as if u had pressed Start) if needed.
func (s *Server) PrivateChat(u User) Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.chats[u.ID]; ok {
		return c.chat
	}
	return s.newChatLocked(ChatSpec{Type: ChatPrivate, Owner: u}).chat
}

func (s *Server) newChatLocked(spec ChatSpec) *chatState {
	c := &chatState{
		members:       map[int64]*ChatMember{},
		byID:          map[int]*storedMessage{},
		topics:        map[int]*storedMessage{},
		joinRequests:  map[int64]*ChatJoinRequest{},
		bannedSenders: map[int64]int64{},
		description:   spec.Description,
		instance:      strconv.FormatInt(int64(s.rng.Uint64()>>2), 10),
	}
	c.permissions = AllPermissions()
	if spec.Permissions != nil {
		c.permissions = *spec.Permissions
	}
	switch spec.Type {
	case ChatPrivate:
		u := s.addUserLocked(spec.Owner)
		c.chat = Chat{ID: u.ID, Type: ChatPrivate, FirstName: u.FirstName, LastName: u.LastName, Username: u.Username}
		c.privateUser = u.ID
		s.chats[u.ID] = c
		s.chatOrder = append(s.chatOrder, u.ID)
		return c
	case ChatGroup:
		c.chat = Chat{ID: -s.nextGroupID, Type: ChatGroup, Title: spec.Title}
		s.nextGroupID++
	case ChatChannel:
		c.chat = Chat{ID: -s.nextChannelID, Type: ChatChannel, Title: spec.Title, Username: spec.Username}
		s.nextChannelID++
	default:
		c.chat = Chat{ID: -s.nextChannelID, Type: ChatSupergroup, Title: spec.Title, Username: spec.Username, IsForum: spec.IsForum}
		s.nextChannelID++
	}
	if c.chat.Title == "" {
		c.chat.Title = "Chat " + strconv.FormatInt(-c.chat.ID, 10)
	}
	s.chats[c.chat.ID] = c
	s.chatOrder = append(s.chatOrder, c.chat.ID)
	if spec.Owner.ID != 0 {
		u := s.addUserLocked(spec.Owner)
		s.setMemberLocked(c, ChatMember{Status: StatusCreator, User: u})
	}
	for _, a := range spec.Admins {
		u := s.addUserLocked(a)
		s.setMemberLocked(c, ChatMember{Status: StatusAdministrator, User: u, Rights: ModeratorRights()})
	}
	for _, m := range spec.Members {
		u := s.addUserLocked(m)
		if _, ok := c.members[u.ID]; !ok {
			s.setMemberLocked(c, ChatMember{Status: StatusMember, User: u})
		}
	}
	switch {
	case spec.BotAbsent:
	case spec.BotRights != nil:
		s.setMemberLocked(c, ChatMember{Status: StatusAdministrator, User: s.bot, Rights: *spec.BotRights})
	case c.chat.Type == ChatChannel:
		s.setMemberLocked(c, ChatMember{Status: StatusAdministrator, User: s.bot, Rights: AdminRights{CanPostMessages: true}})
	default:
		s.setMemberLocked(c, ChatMember{Status: StatusMember, User: s.bot})
	}
	return c
}

// Chat returns the current state of a chat (title, type, ...).
func (s *Server) Chat(chatID int64) (Chat, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return Chat{}, false
	}
	return c.chat, true
}

// SetChatMember sets a member's state silently (no update is enqueued), for
// test setup. The user is registered if needed.
func (s *Server) SetChatMember(chatID int64, m ChatMember) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return
	}
	if m.User.ID != s.bot.ID {
		m.User = s.addUserLocked(m.User)
	} else {
		m.User = s.bot
	}
	s.setMemberLocked(c, m)
	s.notifyLocked()
}

// SetAdmin silently makes user an administrator of the chat with rights.
func (s *Server) SetAdmin(chat Chat, user User, rights AdminRights) {
	s.SetChatMember(chat.ID, ChatMember{Status: StatusAdministrator, User: user, Rights: rights})
}

// SetBotRights silently changes the bot's own status in the chat: nil makes
// it a plain member, otherwise an administrator with rights.
func (s *Server) SetBotRights(chat Chat, rights *AdminRights) {
	if rights == nil {
		s.SetChatMember(chat.ID, ChatMember{Status: StatusMember, User: s.bot})
		return
	}
	s.SetChatMember(chat.ID, ChatMember{Status: StatusAdministrator, User: s.bot, Rights: *rights})
}

// ChatMember returns the member state of userID in chatID as getChatMember
// would (status "left" for unknown members).
func (s *Server) ChatMember(chatID, userID int64) ChatMember {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return ChatMember{Status: StatusLeft, User: User{ID: userID}}
	}
	return s.memberLocked(c, userID)
}

// BannedSenderChats returns the sender chats banned in chatID with their
// until dates (0 = forever).
func (s *Server) BannedSenderChats(chatID int64) map[int64]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int64{}
	if c := s.chats[chatID]; c != nil {
		for k, v := range c.bannedSenders {
			out[k] = v
		}
	}
	return out
}

// InviteLinks returns the invite links of a chat (including revoked ones).
func (s *Server) InviteLinks(chatID int64) []ChatInviteLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChatInviteLink
	if c := s.chats[chatID]; c != nil {
		for _, l := range c.links {
			out = append(out, *l)
		}
	}
	return out
}

// PendingJoinRequests returns the users with a pending join request.
func (s *Server) PendingJoinRequests(chatID int64) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	if c := s.chats[chatID]; c != nil {
		for _, r := range c.joinRequests {
			out = append(out, r.From)
		}
	}
	return out
}

// memberLocked returns the member (copy), applying expired restrictions
// and bans first.
func (s *Server) memberLocked(c *chatState, userID int64) ChatMember {
	m, ok := c.members[userID]
	if !ok {
		u, known := s.users[userID]
		if !known {
			u = User{ID: userID}
		}
		return ChatMember{Status: StatusLeft, User: u, chatType: c.chat.Type}
	}
	now := s.unixLocked()
	if m.UntilDate != 0 && m.UntilDate <= now {
		switch m.Status {
		case StatusRestricted:
			if m.IsMember {
				*m = ChatMember{Status: StatusMember, User: m.User}
			} else {
				*m = ChatMember{Status: StatusLeft, User: m.User}
			}
		case StatusKicked:
			*m = ChatMember{Status: StatusLeft, User: m.User}
		}
	}
	out := *m
	out.chatType = c.chat.Type
	return out
}

func (s *Server) setMemberLocked(c *chatState, m ChatMember) {
	m.chatType = ""
	if _, ok := c.members[m.User.ID]; !ok {
		c.order = append(c.order, m.User.ID)
	}
	mm := m
	c.members[m.User.ID] = &mm
}

func (s *Server) botMemberLocked(c *chatState) ChatMember {
	if c.chat.Type == ChatPrivate {
		if c.botBlocked {
			return ChatMember{Status: StatusKicked, User: s.bot}
		}
		return ChatMember{Status: StatusMember, User: s.bot}
	}
	return s.memberLocked(c, s.bot.ID)
}

func (s *Server) botIsAdminLocked(c *chatState) (AdminRights, bool) {
	m := s.botMemberLocked(c)
	switch m.Status {
	case StatusCreator:
		return FullAdminRights(), true
	case StatusAdministrator:
		return m.Rights, true
	}
	return AdminRights{}, false
}

// memberCountLocked counts the users currently in the chat.
func (s *Server) memberCountLocked(c *chatState) int {
	if c.chat.Type == ChatPrivate {
		return 2
	}
	n := 0
	for _, id := range c.order {
		if s.memberLocked(c, id).IsInChat() {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// Messages

func (s *Server) newMessageLocked(c *chatState) *storedMessage {
	c.nextMsgID++
	sm := &storedMessage{msg: Message{MessageID: c.nextMsgID, Date: s.unixLocked(), Chat: c.chat}}
	c.messages = append(c.messages, sm)
	c.byID[sm.msg.MessageID] = sm
	return sm
}

// Messages returns the messages the bot sent to chatID, oldest first,
// including deleted ones (Deleted is set).
func (s *Server) Messages(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentLocked(chatID)
}

func (s *Server) sentLocked(chatID int64) []SentMessage {
	c := s.chats[chatID]
	if c == nil {
		return nil
	}
	var out []SentMessage
	for _, sm := range c.messages {
		if !sm.byBot {
			continue
		}
		out = append(out, sm.sent())
	}
	return out
}

func (sm *storedMessage) sent() SentMessage {
	out := SentMessage{
		Message: sm.msg, Method: sm.method, ParseMode: sm.parseMode, RawText: sm.rawText,
		RawReplyMarkup: sm.rawMarkup, Params: sm.params, File: sm.file, Deleted: sm.deleted,
		EditCount: sm.edits,
	}
	if sm.params != nil {
		out.DisableNotify = parseBool(sm.params.Get("disable_notification"))
		out.RequestedThread, _ = strconv.Atoi(sm.params.Get("message_thread_id"))
		out.LinkPreviewOff = parseBool(sm.params.Get("disable_web_page_preview"))
	}
	if sm.msg.LinkPreviewOptions != nil && sm.msg.LinkPreviewOptions.IsDisabled {
		out.LinkPreviewOff = true
	}
	return out
}

// WaitMessages waits until the bot has sent at least n messages to chatID
// (or the timeout elapses) and returns them.
func (s *Server) WaitMessages(chatID int64, n int, timeout time.Duration) []SentMessage {
	var out []SentMessage
	s.waitFor(timeout, func() bool {
		out = s.sentLocked(chatID)
		return len(out) >= n
	})
	return out
}

// AllMessages returns every message stored in the chat (sent by users, by
// the bot, and service messages) that has not been deleted, oldest first.
func (s *Server) AllMessages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return nil
	}
	var out []Message
	for _, sm := range c.messages {
		if !sm.deleted {
			out = append(out, sm.msg)
		}
	}
	return out
}

// MessageByID returns a stored message and whether it exists and is not
// deleted.
func (s *Server) MessageByID(chatID int64, messageID int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return Message{}, false
	}
	sm := c.byID[messageID]
	if sm == nil || sm.deleted {
		return Message{}, false
	}
	return sm.msg, true
}

// replyCopy returns a message suitable for reply_to_message (no nested reply).
func replyCopy(m Message) *Message {
	m.ReplyToMessage = nil
	return &m
}

func parseBool(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
}
