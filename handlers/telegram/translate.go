package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// update is the library's Update plus the fields v5.5.1 lacks, read from
// the same JSON.
type update struct {
	tgbotapi.Update
	ext struct {
		Message       *messageExt      `json:"message"`
		EditedMessage *messageExt      `json:"edited_message"`
		ChannelPost   *messageExt      `json:"channel_post"`
		ChatMember    *memberUpdateExt `json:"chat_member"`
		MyChatMember  *memberUpdateExt `json:"my_chat_member"`
	}
}

type messageExt struct {
	MessageThreadID   int  `json:"message_thread_id"`
	IsTopicMessage    bool `json:"is_topic_message"`
	ForumTopicCreated *struct {
		Name string `json:"name"`
	} `json:"forum_topic_created"`
	// ForumTopicEdited has the new name only when it changed.
	ForumTopicEdited *struct {
		Name              string  `json:"name"`
		IconCustomEmojiID *string `json:"icon_custom_emoji_id"`
	} `json:"forum_topic_edited"`
	ForumTopicClosed   *struct{} `json:"forum_topic_closed"`
	ForumTopicReopened *struct{} `json:"forum_topic_reopened"`
	// ReplyToMessage of a topic message that replies to nothing is the
	// topic's creation message, with the name the topic was created with.
	ReplyToMessage *struct {
		MessageID         int `json:"message_id"`
		ForumTopicCreated *struct {
			Name string `json:"name"`
		} `json:"forum_topic_created"`
	} `json:"reply_to_message"`
	// ForwardOrigin (Bot API 7.0) replaced forward_from_chat and
	// forward_from_message_id, which tgbotapi still reads.
	ForwardOrigin *struct {
		Type      string         `json:"type"`
		Chat      *tgbotapi.Chat `json:"chat"`
		MessageID int            `json:"message_id"`
	} `json:"forward_origin"`
}

// forwardedFrom returns the channel (or chat) and message a forwarded
// message came from, from either generation of fields.
func forwardedFrom(m *tgbotapi.Message, ext *messageExt) (int64, int) {
	if ext != nil && ext.ForwardOrigin != nil && ext.ForwardOrigin.Chat != nil {
		return ext.ForwardOrigin.Chat.ID, ext.ForwardOrigin.MessageID
	}
	if m.ForwardFromChat != nil {
		return m.ForwardFromChat.ID, m.ForwardFromMessageID
	}
	return 0, 0
}

type memberUpdateExt struct {
	ViaJoinRequest bool `json:"via_join_request"`
	OldChatMember  struct {
		CanManageTopics bool `json:"can_manage_topics"`
	} `json:"old_chat_member"`
	NewChatMember struct {
		CanManageTopics bool `json:"can_manage_topics"`
	} `json:"new_chat_member"`
}

func (u *update) decode(raw []byte) error {
	if err := json.Unmarshal(raw, &u.Update); err != nil {
		return fmt.Errorf("decode update: %w", err)
	}
	if err := json.Unmarshal(raw, &u.ext); err != nil {
		return fmt.Errorf("decode update extension: %w", err)
	}
	return nil
}

// Store namespaces of the Telegram handler's state. Keys start with the
// chat id and "/".
const (
	nsProfile = "telegram/profile" // chat/user -> names (JSON)
	nsChat    = "telegram/chat"    // chat -> title
	nsTopic   = "telegram/topic"   // chat/thread -> forum topic name
	nsSeen    = "telegram/seen"    // chat/user/join|leave -> unix time, for deduplication
	nsInvites = "telegram/invites" // chat/link -> "" once its creation is recorded
)

// ParamAddedBy is the USER_JOIN param naming who added the member, when
// someone else did (verification.ParamAddedBy); ParamAddedByName is their
// name, which the entry shows with the id.
const (
	ParamAddedBy     = "added_by"
	ParamAddedByName = "added_by_name"
)

// ParamTextLinks carries a message's text_link URLs
// (moderation.ParamTextLinks).
const ParamTextLinks = "text_links"

func chatID(c *tgbotapi.Chat) string { return itoa(c.ID) }
func userID(u *tgbotapi.User) string { return itoa(u.ID) }

func userName(u *tgbotapi.User) string {
	if u == nil {
		return ""
	}
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if name == "" {
		name = u.UserName
	}
	return name
}

func (b *Bot) event(chat *tgbotapi.Chat, typ audit.EventType, platformType string, date int) *audit.Event {
	e := &audit.Event{Platform: audit.Telegram, PropertyID: chatID(chat), Type: typ, PlatformType: platformType,
		Function: audit.FuncGateway, ActorType: audit.ActorSystem}
	if date > 0 {
		e.Time = time.Unix(int64(date), 0)
	}
	return e
}

func (b *Bot) setActor(e *audit.Event, u *tgbotapi.User) {
	if u == nil {
		return
	}
	e.ActorID, e.ActorName = userID(u), userName(u)
	e.ActorType = audit.ActorNonAdmin
	if u.IsBot {
		e.ActorType = audit.ActorBot
	}
}

// translate turns one update into records and queues what to do once they
// are durable.
func (b *Bot) translate(t *batch, u *update) []*audit.Event {
	if c := titledChat(u); c != nil {
		b.noteTitle(t, c, c.Title)
	}
	switch {
	case u.Message != nil:
		return b.onMessage(t, u.Message, u.ext.Message, "message")
	case u.EditedMessage != nil:
		return b.onEdit(t, u.EditedMessage, u.ext.EditedMessage)
	case u.ChannelPost != nil:
		return b.onMessage(t, u.ChannelPost, u.ext.ChannelPost, "channel_post")
	case u.ChatMember != nil:
		via := u.ext.ChatMember != nil && u.ext.ChatMember.ViaJoinRequest
		return b.onChatMember(t, u.ChatMember, via)
	case u.MyChatMember != nil:
		return b.onMyChatMember(t, u.MyChatMember)
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		t.after(func() { b.onCallback(q) })
	}
	return nil
}

func (b *Bot) onMessage(t *batch, m *tgbotapi.Message, ext *messageExt, platformType string) []*audit.Event {
	if m.Chat == nil {
		return nil
	}
	if m.Chat.Type == "private" {
		b.privateMessage(t, m, ext)
		return nil
	}
	switch {
	case len(m.NewChatMembers) > 0:
		var out []*audit.Event
		for i := range m.NewChatMembers {
			nu := &m.NewChatMembers[i]
			if nu.ID == b.self.ID {
				continue // the bot's own arrival comes as my_chat_member
			}
			if b.opts.Verification != nil {
				t.put(nsJoinMsg, profileKey(m.Chat.ID, nu.ID), []byte(strconv.Itoa(m.MessageID)))
			}
			if !b.firstSight(t, m.Chat, nu, "join") {
				continue // already recorded from chat_member
			}
			e := b.joinEvent(t, m.Chat, nu, m.From, "new_chat_members", m.Date, false)
			e.MessageID = strconv.Itoa(m.MessageID)
			out = append(out, e)
		}
		b.cleanupService(t, m)
		return out
	case m.LeftChatMember != nil:
		b.cleanupService(t, m)
		if m.LeftChatMember.ID == b.self.ID || !b.firstSight(t, m.Chat, m.LeftChatMember, "leave") {
			return nil
		}
		e := b.event(m.Chat, audit.UserRemove, "left_chat_member", m.Date)
		b.setActor(e, m.From)
		e.TargetIDs = []string{userID(m.LeftChatMember)}
		e.Params.Set(audit.ParamTargetName, userName(m.LeftChatMember))
		e.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
		if m.From != nil && m.From.ID != m.LeftChatMember.ID {
			e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
			e.ActorType = audit.ActorAdmin
		}
		return []*audit.Event{e}
	case m.NewChatTitle != "":
		e := b.event(m.Chat, audit.PropertyUpdate, "new_chat_title", m.Date)
		b.setActor(e, m.From)
		old, _ := t.get(nsChat, chatID(m.Chat))
		b.noteTitle(t, m.Chat, m.NewChatTitle)
		e.Params.Set(audit.ParamChanged, "title")
		e.Params.Set(audit.ParamField, "title")
		e.Params.Set(audit.ParamOldValue, string(old))
		e.Params.Set(audit.ParamNewValue, m.NewChatTitle)
		return []*audit.Event{e}
	case len(m.NewChatPhoto) > 0 || m.DeleteChatPhoto:
		pt := "new_chat_photo"
		if m.DeleteChatPhoto {
			pt = "delete_chat_photo"
		}
		e := b.event(m.Chat, audit.PropertyUpdate, pt, m.Date)
		b.setActor(e, m.From)
		e.Params.Set(audit.ParamChanged, "photo")
		e.Params.Set(audit.ParamField, "photo")
		return []*audit.Event{e}
	case m.MigrateToChatID != 0:
		b.migrate(t, m.Chat.ID, m.MigrateToChatID)
		return nil // the new chat's migrate_from message is the record
	case m.MigrateFromChatID != 0:
		b.migrate(t, m.MigrateFromChatID, m.Chat.ID)
		e := b.event(m.Chat, audit.PropertyUpdate, "migrate_from_chat_id", m.Date)
		b.setActor(e, m.From)
		e.Params.Set(audit.ParamChanged, "chat_id")
		e.Params.Set(audit.ParamField, "chat_id")
		e.Params.Set(audit.ParamOldValue, itoa(m.MigrateFromChatID))
		e.Params.Set(audit.ParamNewValue, chatID(m.Chat))
		return []*audit.Event{e}
	case ext != nil && ext.ForumTopicCreated != nil:
		e := b.event(m.Chat, audit.ChannelCreate, "forum_topic_created", m.Date)
		b.setActor(e, m.From)
		e.ChannelID = strconv.Itoa(ext.MessageThreadID)
		noteTopic(t, m.Chat, e.ChannelID, ext.ForumTopicCreated.Name)
		e.Params.Set(audit.ParamChannelName, ext.ForumTopicCreated.Name)
		e.Params.Set(audit.ParamChannelKind, "FORUM_TOPIC")
		return []*audit.Event{e}
	case ext != nil && (ext.ForumTopicEdited != nil || ext.ForumTopicClosed != nil || ext.ForumTopicReopened != nil):
		return b.topicChanged(t, m, ext)
	case m.GroupChatCreated || m.SuperGroupChatCreated || m.ChannelChatCreated || m.PinnedMessage != nil:
		return nil
	}
	e := b.event(m.Chat, audit.ChatMessage, platformType, m.Date)
	b.setActor(e, m.From)
	if m.SenderChat != nil {
		// Sent on behalf of a channel or anonymously by an admin: the chat
		// is the author, and the one to act on (banChatSenderChat).
		e.ActorID, e.ActorName = chatID(m.SenderChat), m.SenderChat.Title
		e.ActorType = audit.ActorNonAdmin
		if m.SenderChat.ID == m.Chat.ID {
			e.ActorType = audit.ActorAdmin
		}
		e.Params.Set(audit.ParamSenderChat, chatID(m.SenderChat))
	}
	e.MessageID = strconv.Itoa(m.MessageID)
	b.inTopic(t, e, m.Chat, ext)
	if m.ReplyToMessage != nil && !(ext != nil && ext.IsTopicMessage && m.ReplyToMessage.MessageID == ext.MessageThreadID) {
		e.Params.Set(audit.ParamReplyTo, strconv.Itoa(m.ReplyToMessage.MessageID))
	}
	fillContent(e, m)
	out := []*audit.Event{e}
	if m.From != nil && m.SenderChat == nil {
		out = append(out, b.renamed(t, m)...)
	}
	out = append(out, b.command(t, m, ext)...)
	return out
}

// topicChanged records CHANNEL_UPDATE for a forum topic renamed, given
// another icon, closed or reopened, and remembers its new name.
func (b *Bot) topicChanged(t *batch, m *tgbotapi.Message, ext *messageExt) []*audit.Event {
	e := b.event(m.Chat, audit.ChannelUpdate, "forum_topic_edited", m.Date)
	b.setActor(e, m.From)
	b.inTopic(t, e, m.Chat, ext)
	if e.ChannelID == "" && ext.MessageThreadID != 0 {
		e.ChannelID = strconv.Itoa(ext.MessageThreadID)
	}
	e.Params.Set(audit.ParamChannelKind, "FORUM_TOPIC")
	var changed []string
	switch {
	case ext.ForumTopicClosed != nil:
		e.PlatformType = "forum_topic_closed"
		changed = append(changed, "closed")
		e.Params.Set("old_closed", "false")
		e.Params.Set("new_closed", "true")
	case ext.ForumTopicReopened != nil:
		e.PlatformType = "forum_topic_reopened"
		changed = append(changed, "closed")
		e.Params.Set("old_closed", "true")
		e.Params.Set("new_closed", "false")
	default:
		ed := ext.ForumTopicEdited
		if ed.Name != "" {
			changed = append(changed, "name")
			e.Params.Set("old_name", e.Params.Get(audit.ParamChannelName))
			e.Params.Set("new_name", ed.Name)
			e.Params.Set(audit.ParamChannelName, ed.Name)
			if e.ChannelID != "" {
				noteTopic(t, m.Chat, e.ChannelID, ed.Name)
			}
		}
		if ed.IconCustomEmojiID != nil {
			changed = append(changed, "icon_custom_emoji_id")
			e.Params.Set("new_icon_custom_emoji_id", *ed.IconCustomEmojiID)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	e.Params.Set(audit.ParamChanged, strings.Join(changed, ","))
	return []*audit.Event{e}
}

// fillContent adds text, caption, attachments and text links.
func fillContent(e *audit.Event, m *tgbotapi.Message) {
	e.Content = m.Text
	if e.Content == "" {
		e.Content = m.Caption
	}
	if m.Document != nil {
		e.Attachments = append(e.Attachments, audit.Attachment{Name: m.Document.FileName, Size: int64(m.Document.FileSize), Hash: m.Document.FileUniqueID})
	}
	if len(m.Photo) > 0 {
		p := m.Photo[len(m.Photo)-1]
		e.Attachments = append(e.Attachments, audit.Attachment{Name: "photo", Size: int64(p.FileSize), Hash: p.FileUniqueID})
	}
	if m.Video != nil {
		e.Attachments = append(e.Attachments, audit.Attachment{Name: m.Video.FileName, Size: int64(m.Video.FileSize), Hash: m.Video.FileUniqueID})
	}
	if m.Audio != nil {
		e.Attachments = append(e.Attachments, audit.Attachment{Name: m.Audio.FileName, Size: int64(m.Audio.FileSize), Hash: m.Audio.FileUniqueID})
	}
	if m.Voice != nil {
		e.Attachments = append(e.Attachments, audit.Attachment{Name: "voice", Size: int64(m.Voice.FileSize), Hash: m.Voice.FileUniqueID})
	}
	if m.Sticker != nil {
		e.Attachments = append(e.Attachments, audit.Attachment{Name: "sticker " + m.Sticker.Emoji, Size: int64(m.Sticker.FileSize), Hash: m.Sticker.FileUniqueID})
	}
	if len(e.Attachments) > 0 {
		e.Params.Set(audit.ParamAttachmentStatus, audit.HasAttachment)
	}
	var links []string
	for _, ent := range append(slicesClone(m.Entities), m.CaptionEntities...) {
		if ent.Type == "text_link" && ent.URL != "" {
			links = append(links, ent.URL)
		}
	}
	if len(links) > 0 {
		e.Params.Set(ParamTextLinks, strings.Join(links, " "))
	}
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// profile is what the handler remembers of a member's names.
type profile struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

func (p profile) field(name string) string {
	switch name {
	case "first_name":
		return p.FirstName
	case "last_name":
		return p.LastName
	}
	return p.Username
}

func profileOf(u *tgbotapi.User) profile {
	return profile{FirstName: u.FirstName, LastName: u.LastName, Username: u.UserName}
}

func profileKey(chat int64, user int64) string { return itoa(chat) + "/" + itoa(user) }

// notice remembers a member's names without recording anything (a join).
func (b *Bot) notice(t *batch, chat int64, u *tgbotapi.User) {
	cur, _ := json.Marshal(profileOf(u))
	key := profileKey(chat, u.ID)
	if old, ok := t.get(nsProfile, key); !ok || string(old) != string(cur) {
		t.put(nsProfile, key, cur)
	}
}

// renamed records one USER_UPDATE when the sender's names differ from the
// stored profile: one change of profile is one record, however many
// fields it touched ("changed" lists them). One field changed is that
// field with its old and new value; several are field "name" with the
// whole names before and after, a changed username riding along as
// old_username and new_username.
func (b *Bot) renamed(t *batch, m *tgbotapi.Message) []*audit.Event {
	key := profileKey(m.Chat.ID, m.From.ID)
	now := profileOf(m.From)
	cur, _ := json.Marshal(now)
	old, seen := t.get(nsProfile, key)
	if seen && string(old) == string(cur) {
		return nil
	}
	t.put(nsProfile, key, cur)
	if !seen {
		return nil // first sight
	}
	var before profile
	_ = json.Unmarshal(old, &before)
	var changed []string
	for _, field := range []string{"first_name", "last_name", "username"} {
		if before.field(field) != now.field(field) {
			changed = append(changed, field)
		}
	}
	if len(changed) == 0 {
		return nil // the same names, stored differently
	}
	// A renamed admin's new names must be protected at once.
	chat := chatID(m.Chat)
	t.after(func() { b.forgetStaff(chat) })
	e := b.event(m.Chat, audit.UserUpdate, "message", m.Date)
	b.setActor(e, m.From)
	e.TargetIDs = []string{userID(m.From)}
	e.Params.Set(audit.ParamTargetName, userName(m.From))
	e.Params.Set(audit.ParamChanged, strings.Join(changed, ","))
	if len(changed) == 1 {
		f := changed[0]
		e.Params.Set(audit.ParamField, f)
		e.Params.Set(audit.ParamOldValue, before.field(f))
		e.Params.Set(audit.ParamNewValue, now.field(f))
		return []*audit.Event{e}
	}
	e.Params.Set(audit.ParamField, "name")
	e.Params.Set(audit.ParamOldValue, strings.TrimSpace(before.FirstName+" "+before.LastName))
	e.Params.Set(audit.ParamNewValue, strings.TrimSpace(now.FirstName+" "+now.LastName))
	if before.Username != now.Username {
		e.Params.Set("old_username", before.Username)
		e.Params.Set("new_username", now.Username)
	}
	return []*audit.Event{e}
}

func (b *Bot) onEdit(t *batch, m *tgbotapi.Message, ext *messageExt) []*audit.Event {
	if m.Chat == nil || m.Chat.Type == "private" {
		return nil
	}
	e := b.event(m.Chat, audit.ChatMessageEdit, "edited_message", m.EditDate)
	b.setActor(e, m.From)
	if m.SenderChat != nil {
		e.ActorID, e.ActorName = chatID(m.SenderChat), m.SenderChat.Title
	}
	e.MessageID = strconv.Itoa(m.MessageID)
	b.inTopic(t, e, m.Chat, ext)
	fillContent(e, m)
	// The earlier text: from this batch if the message is in it, else
	// from the store.
	for i := len(t.events) - 1; i >= 0; i-- {
		p := t.events[i]
		if p.PropertyID == e.PropertyID && p.MessageID == e.MessageID &&
			(p.Type == audit.ChatMessage || p.Type == audit.ChatMessageEdit) {
			e.Params.Set(audit.ParamOldContent, p.Content)
			return []*audit.Event{e}
		}
	}
	prev, err := b.opts.Store.FindMessage(b.life, audit.Telegram, chatID(m.Chat), e.MessageID)
	switch {
	case err == nil:
		e.Params.Set(audit.ParamOldContent, prev.Content)
	case errors.Is(err, store.ErrNotFound):
		e.Params.Set(audit.ParamUnknownBefore, "true")
	}
	return []*audit.Event{e}
}

// firstSight reports whether a join or leave of user in chat was not yet
// recorded from its other form (chat_member and the service message both
// announce it), and notes it.
func (b *Bot) firstSight(t *batch, chat *tgbotapi.Chat, u *tgbotapi.User, what string) bool {
	key := chatID(chat) + "/" + userID(u) + "/" + what
	now := time.Now()
	if v, ok := t.get(nsSeen, key); ok {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && now.Sub(time.Unix(n, 0)) < b.opts.DedupWindow {
			t.del(nsSeen, key)
			return false
		}
	}
	t.put(nsSeen, key, []byte(strconv.FormatInt(now.Unix(), 10)))
	return true
}

// cleanupService deletes a join or leave service message, when configured,
// once the batch is recorded.
func (b *Bot) cleanupService(t *batch, m *tgbotapi.Message) {
	if !b.opts.DeleteServiceMessages {
		return
	}
	chat, id := m.Chat.ID, m.MessageID
	t.after(func() {
		if err := b.call("deleteMessage", tgbotapi.Params{"chat_id": itoa(chat), "message_id": strconv.Itoa(id)}, nil); err != nil {
			b.log.Debug().Err(err).Int64("chat", chat).Msg("delete service message")
		}
	})
}

func isMember(m tgbotapi.ChatMember) bool {
	switch m.Status {
	case "creator", "administrator", "member":
		return true
	case "restricted":
		return m.IsMember
	}
	return false
}

// joinEvent is a USER_JOIN: the member is the actor; who added them, when
// someone else did, is in added_by.
func (b *Bot) joinEvent(t *batch, chat *tgbotapi.Chat, member, by *tgbotapi.User, platformType string, date int, viaRequest bool) *audit.Event {
	e := b.event(chat, audit.UserJoin, platformType, date)
	b.setActor(e, member)
	if member.IsBot {
		e.Params.Set(audit.ParamIsBot, "true")
	}
	if by != nil && by.ID != member.ID && !viaRequest {
		e.Params.Set(ParamAddedBy, userID(by))
		e.Params.Set(ParamAddedByName, userName(by))
	}
	b.notice(t, chat.ID, member)
	return e
}

// onChatMember is the source of truth for joins, leaves, bans and unbans,
// and records rights changes.
func (b *Bot) onChatMember(t *batch, c *tgbotapi.ChatMemberUpdated, viaJoinRequest bool) []*audit.Event {
	oldM, newM := c.OldChatMember, c.NewChatMember
	if newM.User == nil {
		return nil
	}
	target := newM.User
	b.admins.note(c.Chat.ID, newM, time.Now())
	if staffChanged(oldM, newM) {
		chat := chatID(&c.Chat)
		t.after(func() { b.forgetStaff(chat) })
	}
	byOther := c.From.ID != target.ID
	mk := func(typ audit.EventType) *audit.Event {
		e := b.event(&c.Chat, typ, "chat_member", c.Date)
		b.setActor(e, &c.From)
		if byOther && !c.From.IsBot {
			e.ActorType = audit.ActorAdmin // only admins change other members' status
		}
		e.TargetIDs = []string{userID(target)}
		e.Params.Set(audit.ParamTargetName, userName(target))
		return e
	}
	var out []*audit.Event
	echo := ""
	switch {
	case !isMember(oldM) && isMember(newM):
		if oldM.Status == "kicked" {
			echo = "unban"
		}
		if c.InviteLink != nil {
			out = append(out, b.inviteSeen(t, &c.Chat, c.InviteLink, c.Date)...)
		}
		if !b.firstSight(t, &c.Chat, target, "join") {
			return out
		}
		e := b.joinEvent(t, &c.Chat, target, &c.From, "chat_member", c.Date, viaJoinRequest)
		if c.InviteLink != nil {
			e.Params.Set(audit.ParamInviteCode, c.InviteLink.InviteLink)
		}
		if viaJoinRequest {
			e.Params.Set(audit.ParamViaJoinRequest, "true")
		}
		out = append(out, e)
	case newM.Status == "kicked" && oldM.Status != "kicked":
		// The ban implies the removal: its left_chat_member message is not
		// a second story.
		b.firstSight(t, &c.Chat, target, "leave")
		echo = "ban"
		e := mk(audit.UserBan)
		if newM.UntilDate > 0 {
			e.Params.Set(audit.ParamUntil, time.Unix(newM.UntilDate, 0).UTC().Format(time.RFC3339))
		}
		out = append(out, e)
	case oldM.Status == "kicked" && newM.Status == "left":
		echo = "unban"
		out = append(out, mk(audit.UserBanRemove))
	case isMember(oldM) && !isMember(newM):
		if !b.firstSight(t, &c.Chat, target, "leave") {
			break
		}
		e := mk(audit.UserRemove)
		e.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
		if byOther {
			e.Params.Set(audit.ParamRemoval, audit.RemovalKicked)
		}
		out = append(out, e)
	case oldM.Status != newM.Status || rights(oldM) != rights(newM) || oldM.UntilDate != newM.UntilDate:
		switch newM.Status {
		case "restricted":
			echo = "restrict"
		case "member":
			echo = "unrestrict"
		}
		e := mk(audit.UserUpdate)
		e.Params.Set(audit.ParamField, "status")
		e.Params.Set(audit.ParamOldValue, oldM.Status+rights(oldM))
		e.Params.Set(audit.ParamNewValue, newM.Status+rights(newM))
		if newM.Status == "restricted" && newM.UntilDate > 0 {
			e.Params.Set(audit.ParamUntil, time.Unix(newM.UntilDate, 0).UTC().Format(time.RFC3339))
		}
		out = append(out, e)
	}
	// The bot's own actions are recorded by the action itself, with the
	// reason; their echo here is not a second record.
	if c.From.ID == b.self.ID && echo != "" && b.echo.Take(echo, itoa(c.Chat.ID), itoa(target.ID)) {
		return nil
	}
	return out
}

// inviteSeen records PROPERTY_INVITE_CREATE the first time a link shows up.
func (b *Bot) inviteSeen(t *batch, chat *tgbotapi.Chat, l *tgbotapi.ChatInviteLink, date int) []*audit.Event {
	key := chatID(chat) + "/" + l.InviteLink
	if _, ok := t.get(nsInvites, key); ok {
		return nil
	}
	t.put(nsInvites, key, nil)
	e := b.event(chat, audit.PropertyInviteCreate, "chat_member.invite_link", date)
	b.setActor(e, &l.Creator)
	e.ActorType = audit.ActorAdmin // only admins create links
	e.Params.Set(audit.ParamInviteCode, l.InviteLink)
	if l.MemberLimit > 0 {
		e.Params.Set(audit.ParamMaxUses, strconv.Itoa(l.MemberLimit))
	}
	if l.IsPrimary {
		e.Params.Set(audit.ParamChannelKind, "PRIMARY_LINK")
	}
	return []*audit.Event{e}
}

// rights summarises the rights and permissions that matter to moderation.
func rights(m tgbotapi.ChatMember) string {
	var r []string
	add := func(name string, on bool) {
		if on {
			r = append(r, name)
		}
	}
	switch m.Status {
	case "administrator":
		add("restrict", m.CanRestrictMembers)
		add("delete", m.CanDeleteMessages)
		add("promote", m.CanPromoteMembers)
		add("invite", m.CanInviteUsers)
		add("change_info", m.CanChangeInfo)
		add("pin", m.CanPinMessages)
	case "restricted":
		add("send", m.CanSendMessages)
		add("media", m.CanSendMediaMessages)
		add("other", m.CanSendOtherMessages)
	}
	if len(r) == 0 {
		return ""
	}
	sort.Strings(r)
	return " (" + strings.Join(r, ",") + ")"
}

// botNeeds are the admin rights chatwarden uses, and what it cannot do
// without each.
var botNeeds = []struct {
	right string
	has   func(tgbotapi.ChatMember) bool
	loses string
}{
	{"can_delete_messages", func(m tgbotapi.ChatMember) bool { return m.CanDeleteMessages }, "delete messages"},
	{"can_restrict_members", func(m tgbotapi.ChatMember) bool { return m.CanRestrictMembers }, "restrict, ban or unban members"},
	{"can_invite_users", func(m tgbotapi.ChatMember) bool { return m.CanInviteUsers }, "see join requests"},
	{"administrator", func(m tgbotapi.ChatMember) bool { return true }, "see joins, leaves and bans (Telegram sends member updates to admins only)"},
}

func botHas(m tgbotapi.ChatMember, i int) bool {
	switch m.Status {
	case "creator":
		return true
	case "administrator":
		return botNeeds[i].has(m)
	}
	return false
}

// onMyChatMember records the bot losing rights it needs (or the chat
// altogether); the record reaches the log chat, saying what the bot can no
// longer do.
func (b *Bot) onMyChatMember(t *batch, c *tgbotapi.ChatMemberUpdated) []*audit.Event {
	if c.Chat.Type == "private" {
		return nil
	}
	oldM, newM := c.OldChatMember, c.NewChatMember
	var lost, cannot []string
	for i, n := range botNeeds {
		if botHas(oldM, i) && !botHas(newM, i) {
			lost = append(lost, n.right)
			cannot = append(cannot, n.loses)
		}
	}
	removed := isMember(oldM) && (newM.Status == "left" || newM.Status == "kicked")
	if len(lost) == 0 && !removed {
		return nil
	}
	e := b.event(&c.Chat, audit.SecurityEvent, "my_chat_member", c.Date)
	b.setActor(e, &c.From)
	if !c.From.IsBot {
		e.ActorType = audit.ActorAdmin
	}
	e.TargetIDs = []string{itoa(b.self.ID)}
	e.Params.Set(audit.ParamTargetName, b.self.UserName)
	e.Params.Set(audit.ParamKind, audit.KindBotRightsLost)
	e.Params.Set(audit.ParamOldValue, oldM.Status+rights(oldM))
	e.Params.Set(audit.ParamNewValue, newM.Status+rights(newM))
	e.Params.Set(audit.ParamChanged, strings.Join(lost, ","))
	if removed {
		e.Params.Set(audit.ParamReason, "chatwarden was removed from the group and can no longer record anything there")
	} else {
		e.Params.Set(audit.ParamReason, "chatwarden can no longer "+strings.Join(cannot, "; "))
	}
	return []*audit.Event{e}
}
