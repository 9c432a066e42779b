package telegramtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The helpers in this file inject updates the way Telegram would produce
// them for user activity. Each assigns update_id and date, updates the
// server state and returns what was enqueued. An update Telegram would not
// send to the bot (see Dropped) is returned with UpdateID 0.

// MessageSpec describes a message posted by someone other than the bot.
type MessageSpec struct {
	Chat Chat
	// From is the human sender. Ignored in channels and when SenderChat is
	// set (Telegram then uses Channel_Bot, GroupAnonymousBot or 777000).
	From User
	// SenderChat posts on behalf of a chat: a channel (from = Channel_Bot),
	// the group itself (anonymous admin, from = GroupAnonymousBot) or, with
	// IsAutomaticForward, the linked channel (from = 777000).
	SenderChat         *Chat
	IsAutomaticForward bool
	Text               string
	// Entities are added to the automatically detected ones (bot_command,
	// url, mention, hashtag, email); use it for text_link, bold, ...
	Entities []MessageEntity
	// ThreadID puts the message in a forum topic (message_thread_id).
	ThreadID int
	// ReplyTo is the id of the message replied to.
	ReplyTo         int
	Document        *File // sends a document; Text becomes the caption
	AuthorSignature string
	ViaBot          *User
}

// chatForLocked returns the state of ch, registering the chat if the test
// built it by hand.
func (s *Server) chatForLocked(ch Chat) *chatState {
	if c := s.chats[ch.ID]; c != nil {
		return c
	}
	if ch.Type == ChatPrivate || ch.ID > 0 {
		u, ok := s.users[ch.ID]
		if !ok {
			u = User{ID: ch.ID, FirstName: ch.FirstName, LastName: ch.LastName, Username: ch.Username}
		}
		return s.newChatLocked(ChatSpec{Type: ChatPrivate, Owner: u})
	}
	typ := ch.Type
	if typ == "" {
		typ = ChatSupergroup
	}
	c := s.newChatLocked(ChatSpec{Type: typ, Title: ch.Title, Username: ch.Username, IsForum: ch.IsForum})
	if ch.ID != 0 {
		delete(s.chats, c.chat.ID)
		s.chatOrder[len(s.chatOrder)-1] = ch.ID
		c.chat.ID = ch.ID
		s.chats[ch.ID] = c
	}
	return c
}

// ensureMemberLocked registers u and makes it a member of c if it had no
// status there (someone who posts is a member).
func (s *Server) ensureMemberLocked(c *chatState, u User) User {
	u = s.addUserLocked(u)
	if c.chat.Type == ChatPrivate || u.ID == s.bot.ID {
		return u
	}
	// Banned users and restricted non-members keep their status.
	if s.memberLocked(c, u.ID).Status == StatusLeft {
		s.setMemberLocked(c, ChatMember{Status: StatusMember, User: u})
	}
	return u
}

// Message injects a text message from a user. Entities such as
// bot_command and url are detected as Telegram does.
func (s *Server) Message(chat Chat, from User, text string) Update {
	return s.MessageWith(MessageSpec{Chat: chat, From: from, Text: text})
}

// Command injects a command message such as "/logs 10" (a leading "/" is
// added if missing).
func (s *Server) Command(chat Chat, from User, text string) Update {
	if !strings.HasPrefix(text, "/") {
		text = "/" + text
	}
	return s.Message(chat, from, text)
}

// ReplyTo injects a message from a user replying to messageID.
func (s *Server) ReplyTo(chat Chat, from User, messageID int, text string) Update {
	return s.MessageWith(MessageSpec{Chat: chat, From: from, Text: text, ReplyTo: messageID})
}

// TopicMessage injects a message in forum topic threadID. Like Telegram, a
// topic message that replies to nothing carries the topic creation message
// in reply_to_message.
func (s *Server) TopicMessage(chat Chat, from User, threadID int, text string) Update {
	return s.MessageWith(MessageSpec{Chat: chat, From: from, Text: text, ThreadID: threadID})
}

// ChannelPost injects a post in a channel (channel_post update; sender_chat
// is the channel, no from).
func (s *Server) ChannelPost(channel Chat, text string) Update {
	return s.MessageWith(MessageSpec{Chat: channel, Text: text})
}

// MessageFromChannel injects a message sent in a group on behalf of a
// channel: sender_chat is the channel and from is Channel_Bot (136817688).
func (s *Server) MessageFromChannel(chat, channel Chat, text string) Update {
	return s.MessageWith(MessageSpec{Chat: chat, SenderChat: &channel, Text: text})
}

// AnonymousAdminMessage injects a message from an anonymous administrator:
// sender_chat is the group itself and from is GroupAnonymousBot.
func (s *Server) AnonymousAdminMessage(chat Chat, text string) Update {
	return s.MessageWith(MessageSpec{Chat: chat, SenderChat: &chat, Text: text})
}

// AutomaticForward injects a channel post automatically forwarded to its
// linked discussion group (is_automatic_forward, from = 777000).
func (s *Server) AutomaticForward(group, channel Chat, text string) Update {
	return s.MessageWith(MessageSpec{Chat: group, SenderChat: &channel, IsAutomaticForward: true, Text: text})
}

// MessageWith injects a message described by spec.
func (s *Server) MessageWith(spec MessageSpec) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(spec.Chat)
	sm := s.newMessageLocked(c)
	m := &sm.msg
	switch {
	case c.chat.Type == ChatChannel:
		ch := c.chat
		m.SenderChat, m.AuthorSignature = &ch, spec.AuthorSignature
	case spec.SenderChat != nil:
		sc := *spec.SenderChat
		if known := s.chats[sc.ID]; known != nil {
			sc = known.chat
		}
		m.SenderChat = &sc
		var from User
		switch {
		case spec.IsAutomaticForward:
			from, m.IsAutomaticForward = TelegramService, true
		case sc.ID == c.chat.ID:
			from = GroupAnonymousBot
		default:
			from = ChannelBot
		}
		m.From = &from
		m.AuthorSignature = spec.AuthorSignature
	default:
		u := s.ensureMemberLocked(c, spec.From)
		m.From = &u
		sm.byBot = u.ID == s.bot.ID
	}
	if spec.ViaBot != nil {
		vb := *spec.ViaBot
		m.ViaBot = &vb
	}
	ents := detectEntities(spec.Text, append([]MessageEntity(nil), spec.Entities...))
	if spec.Document != nil {
		f := *spec.Document
		if f.Field == "" {
			f.Field = "document"
		}
		if f.MimeType == "" {
			f.MimeType = mimeFor(f.Name)
		}
		sf := s.storeFileLocked(f)
		m.Document = &Document{FileID: sf.id, FileUniqueID: sf.uniqueID, FileName: f.Name,
			MimeType: f.MimeType, FileSize: int64(len(f.Data))}
		m.Caption, m.CaptionEntities = spec.Text, ents
		sm.file = &f
	} else {
		m.Text, m.Entities = spec.Text, ents
	}
	s.placeInjectedLocked(c, m, spec.ThreadID, spec.ReplyTo)
	cp := sm.msg
	if c.chat.Type == ChatChannel {
		return s.enqueueLocked(Update{ChannelPost: &cp})
	}
	return s.enqueueLocked(Update{Message: &cp})
}

func (s *Server) placeInjectedLocked(c *chatState, m *Message, thread, replyTo int) {
	if replyTo != 0 {
		if t := c.byID[replyTo]; t != nil && !t.deleted {
			m.ReplyToMessage = replyCopy(t.msg)
			if thread == 0 {
				thread = t.msg.MessageThreadID
			}
		}
	}
	if thread == 0 {
		return
	}
	m.MessageThreadID = thread
	if c.chat.IsForum {
		m.IsTopicMessage = true
		if t := c.topics[thread]; m.ReplyToMessage == nil && t != nil {
			m.ReplyToMessage = replyCopy(t.msg)
		}
	}
}

// EditMessage injects an edit of an existing message (edited_message, or
// edited_channel_post in channels) with edit_date set.
func (s *Server) EditMessage(chat Chat, messageID int, newText string) (Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chat.ID]
	if c == nil {
		return Update{}, errors.New("telegramtest: unknown chat")
	}
	sm := c.byID[messageID]
	if sm == nil || sm.deleted {
		return Update{}, fmt.Errorf("telegramtest: no message %d in chat %d", messageID, chat.ID)
	}
	ents := detectEntities(newText, nil)
	if sm.msg.Document != nil {
		sm.msg.Caption, sm.msg.CaptionEntities = newText, ents
	} else {
		sm.msg.Text, sm.msg.Entities = newText, ents
	}
	sm.msg.EditDate = s.unixLocked()
	sm.edits++
	cp := sm.msg
	if c.chat.Type == ChatChannel {
		return s.enqueueLocked(Update{EditedChannelPost: &cp}), nil
	}
	return s.enqueueLocked(Update{EditedMessage: &cp}), nil
}

// ---------------------------------------------------------------------------
// Membership

// JoinOptions qualify how a member joined.
type JoinOptions struct {
	// InviteLink is the link used (created by the bot, or any
	// "https://t.me/+..." string, which then appears with its tail replaced
	// by "..." as Telegram does for links of other admins).
	InviteLink              string
	ViaJoinRequest          bool
	ViaChatFolderInviteLink bool
	// ApprovedBy is the admin who approved a join request (from of the
	// chat_member update); default: the chat owner.
	ApprovedBy User
	// NoServiceMessage suppresses the new_chat_members message (large
	// supergroups may hide join messages).
	NoServiceMessage bool
}

func newMembersMessage(users []User) func(*Message) {
	return func(m *Message) {
		first := users[0]
		m.NewChatMembers = append([]User(nil), users...)
		m.NewChatMember, m.NewChatParticipant = &first, &first
	}
}

func (s *Server) ownerLocked(c *chatState) User {
	for _, id := range c.order {
		if m := s.memberLocked(c, id); m.Status == StatusCreator {
			return m.User
		}
	}
	return User{}
}

// JoinMember injects a user joining by themselves: the chat_member update
// (left -> member, with invite_link / via_join_request as given) and the
// new_chat_members service message, as Telegram sends both. The order of
// the two updates is not guaranteed by Telegram; here chat_member comes
// first.
func (s *Server) JoinMember(chat Chat, user User, opts ...JoinOptions) []Update {
	var o JoinOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	u := s.addUserLocked(user)
	old := s.memberLocked(c, u.ID)
	nm := ChatMember{Status: StatusMember, User: u}
	if old.Status == StatusRestricted {
		nm = old
		nm.IsMember = true
	}
	s.setMemberLocked(c, nm)
	link := s.publicLinkLocked(c, o.InviteLink)
	from := u
	if o.ViaJoinRequest {
		from = o.ApprovedBy
		if from.ID == 0 {
			from = s.ownerLocked(c)
		}
		delete(c.joinRequests, u.ID)
	}
	up, _ := s.emitMemberChangeLocked(c, from, old, nm, func(cmu *ChatMemberUpdated) {
		cmu.InviteLink, cmu.ViaJoinRequest, cmu.ViaChatFolderInviteLink = link, o.ViaJoinRequest, o.ViaChatFolderInviteLink
	})
	out := []Update{up}
	if c.chat.Type != ChatChannel && !o.NoServiceMessage {
		out = append(out, s.serviceMessageLocked(c, u, true, newMembersMessage([]User{u})))
	}
	return out
}

// AddMemberByAdmin injects admin adding users: one chat_member update per
// user (from = admin) and one new_chat_members message from admin.
func (s *Server) AddMemberByAdmin(chat Chat, admin User, users ...User) []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	a := s.ensureMemberLocked(c, admin)
	var out []Update
	var added []User
	for _, user := range users {
		u := s.addUserLocked(user)
		old := s.memberLocked(c, u.ID)
		nm := ChatMember{Status: StatusMember, User: u}
		s.setMemberLocked(c, nm)
		if up, ok := s.emitMemberChangeLocked(c, a, old, nm, nil); ok {
			out = append(out, up)
		}
		added = append(added, u)
	}
	if len(added) > 0 && c.chat.Type != ChatChannel {
		out = append(out, s.serviceMessageLocked(c, a, true, newMembersMessage(added)))
	}
	return out
}

// LeaveMember injects a user leaving: chat_member (member -> left) and the
// left_chat_member service message.
func (s *Server) LeaveMember(chat Chat, user User) []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	u := s.addUserLocked(user)
	old := s.memberLocked(c, u.ID)
	nm := ChatMember{Status: StatusLeft, User: u}
	up := s.changeMemberLocked(c, u, old, nm)
	out := []Update{up}
	if old.IsInChat() && c.chat.Type != ChatChannel {
		out = append(out, s.serviceMessageLocked(c, u, true, leftMessage(u)))
	}
	return out
}

// KickMember injects an admin removing a user (in supergroups the user ends
// up "kicked", i.e. banned until unbanned): chat_member from the admin and
// the left_chat_member service message.
func (s *Server) KickMember(chat Chat, admin, user User) []Update {
	return s.BanMember(chat, admin, user, time.Time{})
}

// BanMember injects an admin banning a user until the given time (zero:
// forever).
func (s *Server) BanMember(chat Chat, admin, user User, until time.Time) []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	a := s.ensureMemberLocked(c, admin)
	u := s.addUserLocked(user)
	old := s.memberLocked(c, u.ID)
	var ud int64
	if !until.IsZero() {
		ud = s.untilDateLocked(until.Unix())
	}
	nm := ChatMember{Status: StatusKicked, User: u, UntilDate: ud}
	up := s.changeMemberLocked(c, a, old, nm)
	out := []Update{up}
	if old.IsInChat() && c.chat.Type != ChatChannel {
		out = append(out, s.serviceMessageLocked(c, a, true, leftMessage(u)))
	}
	return out
}

// Unban injects an admin lifting a ban (kicked -> left).
func (s *Server) Unban(chat Chat, admin, user User) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	a := s.ensureMemberLocked(c, admin)
	u := s.addUserLocked(user)
	old := s.memberLocked(c, u.ID)
	nm := ChatMember{Status: StatusLeft, User: u}
	up := s.changeMemberLocked(c, a, old, nm)
	return up
}

// Restrict injects an admin restricting a user (member -> restricted) until
// the given time (zero: forever).
func (s *Server) Restrict(chat Chat, admin, user User, perms ChatPermissions, until time.Time) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	a := s.ensureMemberLocked(c, admin)
	u := s.addUserLocked(user)
	old := s.memberLocked(c, u.ID)
	var ud int64
	if !until.IsZero() {
		ud = s.untilDateLocked(until.Unix())
	}
	nm := ChatMember{Status: StatusRestricted, User: u, Permissions: perms, IsMember: old.IsInChat(), UntilDate: ud}
	up := s.changeMemberLocked(c, a, old, nm)
	return up
}

// PromoteAdmin injects by promoting user to administrator with rights.
func (s *Server) PromoteAdmin(chat Chat, by, user User, rights AdminRights) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	u := s.ensureMemberLocked(c, user)
	old := s.memberLocked(c, u.ID)
	rights.CanManageChat = true
	nm := ChatMember{Status: StatusAdministrator, User: u, Rights: rights, IsAnonymous: rights.IsAnonymous}
	up := s.changeMemberLocked(c, b, old, nm)
	return up
}

// DemoteAdmin injects by demoting an administrator to a plain member.
func (s *Server) DemoteAdmin(chat Chat, by, user User) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	u := s.addUserLocked(user)
	old := s.memberLocked(c, u.ID)
	nm := ChatMember{Status: StatusMember, User: u}
	up := s.changeMemberLocked(c, b, old, nm)
	return up
}

// BotAddedToGroup injects by adding the bot to a chat: the my_chat_member
// update (left -> member, or administrator when rights is not nil) and, in
// groups, the new_chat_members message that lists the bot.
func (s *Server) BotAddedToGroup(chat Chat, by User, rights *AdminRights) []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	old := s.botMemberLocked(c)
	nm := s.botMembership(rights)
	up := s.changeMemberLocked(c, b, old, nm)
	out := []Update{up}
	if c.chat.Type != ChatChannel {
		out = append(out, s.serviceMessageLocked(c, b, true, newMembersMessage([]User{s.bot})))
	}
	return out
}

// BotRightsChanged injects by changing the bot's status (my_chat_member):
// nil rights make it a plain member, otherwise an administrator.
func (s *Server) BotRightsChanged(chat Chat, by User, rights *AdminRights) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	old := s.botMemberLocked(c)
	nm := s.botMembership(rights)
	up := s.changeMemberLocked(c, b, old, nm)
	return up
}

// BotRemoved injects by removing the bot from the chat (my_chat_member:
// "left" in basic groups, "kicked" elsewhere).
func (s *Server) BotRemoved(chat Chat, by User) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	old := s.botMemberLocked(c)
	nm := ChatMember{Status: StatusKicked, User: s.bot}
	if c.chat.Type == ChatGroup {
		nm.Status = StatusLeft
	}
	up := s.changeMemberLocked(c, b, old, nm)
	return up
}

// BlockBot injects user blocking the bot in their private chat
// (my_chat_member member -> kicked); sending to them then fails with 403.
func (s *Server) BlockBot(user User) Update { return s.setBlocked(user, true) }

// UnblockBot injects user unblocking the bot.
func (s *Server) UnblockBot(user User) Update { return s.setBlocked(user, false) }

func (s *Server) setBlocked(user User, blocked bool) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.addUserLocked(user)
	c := s.chats[u.ID]
	if c == nil {
		c = s.newChatLocked(ChatSpec{Type: ChatPrivate, Owner: u})
	}
	old := s.botMemberLocked(c)
	c.botBlocked = blocked
	nm := s.botMemberLocked(c)
	up, _ := s.emitMemberChangeLocked(c, u, old, nm, nil)
	return up
}

// ---------------------------------------------------------------------------
// Chat changes

// SetTitle injects by renaming the chat (new_chat_title service message).
func (s *Server) SetTitle(chat Chat, by User, title string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	c.chat.Title = title
	return s.serviceMessageLocked(c, b, true, func(m *Message) { m.NewChatTitle = title })
}

// SetPhoto injects by setting a new chat photo (new_chat_photo).
func (s *Server) SetPhoto(chat Chat, by User) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	c.photoVersion++
	v := c.photoVersion
	return s.serviceMessageLocked(c, b, true, func(m *Message) {
		for i, size := range []int{160, 320, 640} {
			m.NewChatPhoto = append(m.NewChatPhoto, PhotoSize{
				FileID:       fmt.Sprintf("AgACAgIAAxkBAAI%d_%d", v, i),
				FileUniqueID: fmt.Sprintf("AQAD%d%d", v, i), Width: size, Height: size, FileSize: int64(size * 40),
			})
		}
	})
}

// DeletePhoto injects by deleting the chat photo (delete_chat_photo).
func (s *Server) DeletePhoto(chat Chat, by User) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	c.photoVersion = 0
	return s.serviceMessageLocked(c, b, true, func(m *Message) { m.DeleteChatPhoto = true })
}

// ForumTopicCreated injects by creating a forum topic. The service message
// has forum_topic_created, is_topic_message and message_thread_id equal to
// its own message_id, which is the new topic's thread id.
func (s *Server) ForumTopicCreated(chat Chat, by User, name string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	colors := []int{7322096, 16766590, 13338331, 9367192, 16749490, 16478047}
	var stored *storedMessage
	up := s.serviceMessageLocked(c, b, false, func(m *Message) {
		m.ForumTopicCreated = &ForumTopicCreated{Name: name, IconColor: colors[len(c.topics)%len(colors)]}
		m.MessageThreadID, m.IsTopicMessage = m.MessageID, true
		stored = c.byID[m.MessageID]
	})
	c.topics[up.Message.MessageID] = stored
	cp := stored.msg
	return s.enqueueLocked(Update{Message: &cp})
}

// ForumTopicEdited injects by renaming forum topic thread. Like Telegram,
// the service message is in the topic, carries forum_topic_edited with the
// new name only, and replies to the topic's creation message, which keeps
// the name the topic was created with.
func (s *Server) ForumTopicEdited(chat Chat, by User, thread int, name string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	up := s.serviceMessageLocked(c, b, false, func(m *Message) {
		m.ForumTopicEdited = &ForumTopicEdited{Name: name}
		s.placeInjectedLocked(c, m, thread, 0)
	})
	cp := *up.Message
	return s.enqueueLocked(Update{Message: &cp})
}

// ForumTopicClosed injects by closing (or, with closed false, reopening)
// forum topic thread: a service message in the topic with
// forum_topic_closed or forum_topic_reopened, both empty objects.
func (s *Server) ForumTopicClosed(chat Chat, by User, thread int, closed bool) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	b := s.ensureMemberLocked(c, by)
	up := s.serviceMessageLocked(c, b, false, func(m *Message) {
		if closed {
			m.ForumTopicClosed = &struct{}{}
		} else {
			m.ForumTopicReopened = &struct{}{}
		}
		s.placeInjectedLocked(c, m, thread, 0)
	})
	cp := *up.Message
	return s.enqueueLocked(Update{Message: &cp})
}

// MigrateToSupergroup injects the upgrade of a basic group: a message with
// migrate_to_chat_id in the old group and one with migrate_from_chat_id in
// the new supergroup. Members move to the supergroup; afterwards any call
// with the old chat id fails with 400 and parameters.migrate_to_chat_id.
func (s *Server) MigrateToSupergroup(group Chat, by User) (Chat, []Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[group.ID]
	if c == nil || c.chat.Type != ChatGroup {
		return Chat{}, nil, errors.New("telegramtest: MigrateToSupergroup needs a basic group")
	}
	if c.migratedTo != 0 {
		return Chat{}, nil, errors.New("telegramtest: group already migrated")
	}
	b := s.ensureMemberLocked(c, by)
	nc := s.newChatLocked(ChatSpec{Type: ChatSupergroup, Title: c.chat.Title, Description: c.description,
		Permissions: &c.permissions, BotAbsent: true})
	for _, id := range c.order {
		m := *c.members[id]
		if m.Status == StatusAdministrator && m.User.ID != s.bot.ID {
			m.CanBeEdited = false
		}
		s.setMemberLocked(nc, m)
	}
	nc.migratedFrom = c.chat.ID
	u1 := s.serviceMessageLocked(c, b, true, func(m *Message) { m.MigrateToChatID = nc.chat.ID })
	c.migratedTo = nc.chat.ID
	u2 := s.serviceMessageLocked(nc, b, true, func(m *Message) { m.MigrateFromChatID = c.chat.ID })
	return nc.chat, []Update{u1, u2}, nil
}

// ---------------------------------------------------------------------------
// Callback queries and join requests

// Callback is a pressed inline button; Wait for the bot's answer.
type Callback struct {
	ID     string
	Update Update
	s      *Server
	st     *callbackState
}

// Wait waits for answerCallbackQuery and returns the answer; ok is false on
// timeout.
func (cb *Callback) Wait(timeout time.Duration) (CallbackAnswer, bool) {
	cb.s.waitFor(timeout, func() bool { return cb.st.answered })
	return cb.Answer()
}

// Answer returns the answer if the bot has answered.
func (cb *Callback) Answer() (CallbackAnswer, bool) {
	cb.s.mu.Lock()
	defer cb.s.mu.Unlock()
	return cb.st.answer, cb.st.answered
}

// PressButton injects user pressing the inline button with callback_data
// data on the bot's message messageID (callback_query with id, from,
// message, chat_instance, data).
func (s *Server) PressButton(chat Chat, user User, messageID int, data string) (*Callback, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chat.ID]
	if c == nil {
		return nil, errors.New("telegramtest: unknown chat")
	}
	sm := c.byID[messageID]
	if sm == nil || sm.deleted {
		return nil, fmt.Errorf("telegramtest: no message %d in chat %d", messageID, chat.ID)
	}
	found := false
	if sm.msg.ReplyMarkup != nil {
		for _, row := range sm.msg.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData != nil && *b.CallbackData == data {
					found = true
				}
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("telegramtest: message %d has no button with callback_data %q", messageID, data)
	}
	u := s.addUserLocked(user)
	id := strconv.FormatUint(s.rng.Uint64()>>1, 10)
	st := &callbackState{id: id, created: s.nowLocked()}
	s.callbacks[id] = st
	msg := sm.msg
	up := s.enqueueLocked(Update{CallbackQuery: &CallbackQuery{ID: id, From: u, Message: &msg,
		ChatInstance: c.instance, Data: data}})
	return &Callback{ID: id, Update: up, s: s, st: st}, nil
}

// JoinRequestOptions qualify a join request.
type JoinRequestOptions struct {
	Bio        string
	InviteLink string // a link with creates_join_request, if any
}

// JoinRequest injects user asking to join (chat_join_request). Approve or
// decline it with approveChatJoinRequest / declineChatJoinRequest.
func (s *Server) JoinRequest(chat Chat, user User, opts ...JoinRequestOptions) Update {
	var o JoinRequestOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatForLocked(chat)
	u := s.addUserLocked(user)
	jr := &ChatJoinRequest{Chat: c.chat, From: u, UserChatID: u.ID, Date: s.unixLocked(), Bio: o.Bio,
		InviteLink: s.publicLinkLocked(c, o.InviteLink)}
	c.joinRequests[u.ID] = jr
	cp := *jr
	return s.enqueueLocked(Update{ChatJoinRequest: &cp})
}

// InjectUpdate enqueues an arbitrary update (its UpdateID is assigned).
// Use Extra for update kinds this package has no type for, e.g.
// {"message_reaction": {...}}.
func (s *Server) InjectUpdate(u Update) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.UpdateID = 0
	return s.enqueueLocked(u)
}
