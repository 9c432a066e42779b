package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/store"
)

// update is the library's Update plus the fields v5.5.1 lacks, read from
// the same JSON.
type update struct {
	tgbotapi.Update
	ext struct {
		Message       *messageExt `json:"message"`
		EditedMessage *messageExt `json:"edited_message"`
		ChatMember    *struct {
			ViaJoinRequest bool `json:"via_join_request"`
		} `json:"chat_member"`
	}
}

type messageExt struct {
	MessageThreadID   int  `json:"message_thread_id"`
	IsTopicMessage    bool `json:"is_topic_message"`
	ForumTopicCreated *struct {
		Name string `json:"name"`
	} `json:"forum_topic_created"`
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

// Store namespaces of the Telegram handler's state.
const (
	nsProfile = "telegram/profile" // chat/user -> names
	nsChat    = "telegram/chat"    // chat -> title
	nsSeen    = "telegram/seen"    // chat/user/join|leave -> unix time, for deduplication
)

func chatID(c *tgbotapi.Chat) string { return strconv.FormatInt(c.ID, 10) }
func userID(u *tgbotapi.User) string { return strconv.FormatInt(u.ID, 10) }

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

func (b *Bot) event(chat *tgbotapi.Chat, typ bot.EventType, platformType string, date int) *bot.Event {
	e := &bot.Event{Platform: bot.Telegram, PropertyID: chatID(chat), Type: typ, PlatformType: platformType,
		Function: bot.FuncGateway, ActorType: bot.ActorSystem}
	if date > 0 {
		e.Time = time.Unix(int64(date), 0)
	}
	return e
}

func (b *Bot) setActor(e *bot.Event, u *tgbotapi.User) {
	if u == nil {
		return
	}
	e.ActorID, e.ActorName = userID(u), userName(u)
	e.ActorType = bot.ActorNonAdmin
	if u.IsBot {
		e.ActorType = bot.ActorBot
	}
}

// translate turns one update into records.
func (b *Bot) translate(ctx context.Context, u *update) []*bot.Event {
	switch {
	case u.Message != nil:
		return b.onMessage(ctx, u.Message, u.ext.Message, "message")
	case u.EditedMessage != nil:
		return b.onEdit(ctx, u.EditedMessage)
	case u.ChannelPost != nil:
		return b.onMessage(ctx, u.ChannelPost, nil, "channel_post")
	case u.ChatMember != nil:
		via := u.ext.ChatMember != nil && u.ext.ChatMember.ViaJoinRequest
		return b.onChatMember(u.ChatMember, via)
	case u.MyChatMember != nil:
		return b.onMyChatMember(u.MyChatMember)
	}
	return nil
}

func (b *Bot) onMessage(ctx context.Context, m *tgbotapi.Message, ext *messageExt, platformType string) []*bot.Event {
	if m.Chat == nil || m.Chat.Type == "private" {
		return nil
	}
	switch {
	case len(m.NewChatMembers) > 0:
		var out []*bot.Event
		for i := range m.NewChatMembers {
			nu := &m.NewChatMembers[i]
			if !b.firstSight(m.Chat, nu, "join") {
				continue // already recorded from chat_member
			}
			e := b.event(m.Chat, bot.UserJoin, "new_chat_members", m.Date)
			b.setActor(e, nu)
			if m.From != nil && m.From.ID != nu.ID {
				b.setActor(e, m.From)
				e.TargetIDs = []string{userID(nu)}
				e.Params.Set(bot.ParamTargetName, userName(nu))
			}
			out = append(out, e)
		}
		return out
	case m.LeftChatMember != nil:
		if !b.firstSight(m.Chat, m.LeftChatMember, "leave") {
			return nil
		}
		e := b.event(m.Chat, bot.UserRemove, "left_chat_member", m.Date)
		b.setActor(e, m.From)
		e.TargetIDs = []string{userID(m.LeftChatMember)}
		e.Params.Set(bot.ParamTargetName, userName(m.LeftChatMember))
		e.Params.Set(bot.ParamRemoval, bot.RemovalLeft)
		if m.From != nil && m.From.ID != m.LeftChatMember.ID {
			e.Params.Set(bot.ParamRemoval, bot.RemovalKicked)
		}
		return []*bot.Event{e}
	case m.NewChatTitle != "":
		e := b.event(m.Chat, bot.PropertyUpdate, "new_chat_title", m.Date)
		b.setActor(e, m.From)
		old, _ := b.opts.Store.GetKV(nsChat, []byte(chatID(m.Chat)))
		_ = b.opts.Store.Put(nsChat, []byte(chatID(m.Chat)), []byte(m.NewChatTitle))
		e.Params.Set(bot.ParamChanged, "title")
		e.Params.Set(bot.ParamOldValue, string(old))
		e.Params.Set(bot.ParamNewValue, m.NewChatTitle)
		return []*bot.Event{e}
	case len(m.NewChatPhoto) > 0 || m.DeleteChatPhoto:
		pt := "new_chat_photo"
		if m.DeleteChatPhoto {
			pt = "delete_chat_photo"
		}
		e := b.event(m.Chat, bot.PropertyUpdate, pt, m.Date)
		b.setActor(e, m.From)
		e.Params.Set(bot.ParamChanged, "photo")
		return []*bot.Event{e}
	case m.MigrateToChatID != 0 || m.MigrateFromChatID != 0:
		return nil // the handler keeps both ids; no record of its own
	case ext != nil && ext.ForumTopicCreated != nil:
		e := b.event(m.Chat, bot.ChannelCreate, "forum_topic_created", m.Date)
		b.setActor(e, m.From)
		e.ChannelID = strconv.Itoa(ext.MessageThreadID)
		e.Params.Set(bot.ParamChannelName, ext.ForumTopicCreated.Name)
		e.Params.Set(bot.ParamChannelKind, "FORUM_TOPIC")
		return []*bot.Event{e}
	}
	e := b.event(m.Chat, bot.ChatMessage, platformType, m.Date)
	b.setActor(e, m.From)
	if m.SenderChat != nil {
		// Sent on behalf of a channel or anonymously by an admin: the chat
		// is the author.
		e.ActorID, e.ActorName = chatID(m.SenderChat), m.SenderChat.Title
		e.ActorType = bot.ActorNonAdmin
		if m.SenderChat.ID == m.Chat.ID {
			e.ActorType = bot.ActorAdmin
		}
		e.Params.Set(bot.ParamSenderChat, chatID(m.SenderChat))
	}
	e.MessageID = strconv.Itoa(m.MessageID)
	if ext != nil && ext.IsTopicMessage {
		e.ChannelID = strconv.Itoa(ext.MessageThreadID)
	}
	fillContent(e, m)
	out := []*bot.Event{e}
	if m.From != nil && m.SenderChat == nil {
		out = append(out, b.renamed(m)...)
	}
	return out
}

// fillContent adds text, caption, attachments and text links.
func fillContent(e *bot.Event, m *tgbotapi.Message) {
	e.Content = m.Text
	if e.Content == "" {
		e.Content = m.Caption
	}
	if m.Document != nil {
		e.Attachments = append(e.Attachments, bot.Attachment{Name: m.Document.FileName, Size: int64(m.Document.FileSize), Hash: m.Document.FileUniqueID})
	}
	if len(m.Photo) > 0 {
		p := m.Photo[len(m.Photo)-1]
		e.Attachments = append(e.Attachments, bot.Attachment{Name: "photo", Size: int64(p.FileSize), Hash: p.FileUniqueID})
	}
	if len(e.Attachments) > 0 {
		e.Params.Set(bot.ParamAttachmentStatus, bot.HasAttachment)
	}
	var links []string
	for _, ent := range append(m.Entities, m.CaptionEntities...) {
		if ent.Type == "text_link" && ent.URL != "" {
			links = append(links, ent.URL)
		}
	}
	if len(links) > 0 {
		e.Params.Set(bot.ParamEmbedURLs, strings.Join(links, " "))
	}
}

// renamed records a USER_UPDATE when a sender's names differ from the
// stored profile.
func (b *Bot) renamed(m *tgbotapi.Message) []*bot.Event {
	key := []byte(chatID(m.Chat) + "/" + userID(m.From))
	now := map[string]string{"first_name": m.From.FirstName, "last_name": m.From.LastName, "username": m.From.UserName}
	cur, _ := json.Marshal(now)
	old, err := b.opts.Store.GetKV(nsProfile, key)
	if err == nil && string(old) == string(cur) {
		return nil
	}
	_ = b.opts.Store.Put(nsProfile, key, cur)
	if err != nil {
		return nil // first sight
	}
	var before map[string]string
	_ = json.Unmarshal(old, &before)
	var out []*bot.Event
	for _, field := range []string{"first_name", "last_name", "username"} {
		if before[field] == now[field] {
			continue
		}
		e := b.event(m.Chat, bot.UserUpdate, "message", m.Date)
		b.setActor(e, m.From)
		e.TargetIDs = []string{userID(m.From)}
		e.Params.Set(bot.ParamTargetName, userName(m.From))
		e.Params.Set(bot.ParamField, field)
		e.Params.Set(bot.ParamOldValue, before[field])
		e.Params.Set(bot.ParamNewValue, now[field])
		out = append(out, e)
	}
	return out
}

func (b *Bot) onEdit(ctx context.Context, m *tgbotapi.Message) []*bot.Event {
	if m.Chat == nil || m.Chat.Type == "private" {
		return nil
	}
	e := b.event(m.Chat, bot.ChatMessageEdit, "edited_message", m.EditDate)
	b.setActor(e, m.From)
	e.MessageID = strconv.Itoa(m.MessageID)
	fillContent(e, m)
	prev, err := b.opts.Store.FindMessage(ctx, bot.Telegram, chatID(m.Chat), e.MessageID)
	switch {
	case err == nil:
		e.Params.Set(bot.ParamOldContent, prev.Content)
	case errors.Is(err, store.ErrNotFound):
		e.Params.Set(bot.ParamUnknownBefore, "true")
	}
	return []*bot.Event{e}
}

// firstSight reports whether a join or leave of user in chat was not yet
// recorded from its other form (chat_member and the service message both
// announce it), and notes it.
func (b *Bot) firstSight(chat *tgbotapi.Chat, u *tgbotapi.User, what string) bool {
	key := []byte(chatID(chat) + "/" + userID(u) + "/" + what)
	now := time.Now()
	if v, err := b.opts.Store.GetKV(nsSeen, key); err == nil {
		if t, err := strconv.ParseInt(string(v), 10, 64); err == nil && now.Sub(time.Unix(t, 0)) < b.opts.DedupWindow {
			_ = b.opts.Store.DeleteKV(nsSeen, key)
			return false
		}
	}
	_ = b.opts.Store.Put(nsSeen, key, []byte(strconv.FormatInt(now.Unix(), 10)))
	return true
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

// onChatMember is the source of truth for joins, leaves, bans and unbans,
// and records rights changes.
func (b *Bot) onChatMember(c *tgbotapi.ChatMemberUpdated, viaJoinRequest bool) []*bot.Event {
	oldM, newM := c.OldChatMember, c.NewChatMember
	if newM.User == nil {
		return nil
	}
	target := newM.User
	byOther := c.From.ID != target.ID
	mk := func(typ bot.EventType) *bot.Event {
		e := b.event(&c.Chat, typ, "chat_member", c.Date)
		b.setActor(e, &c.From)
		if byOther && !c.From.IsBot {
			e.ActorType = bot.ActorAdmin // only admins change other members' status
		}
		e.TargetIDs = []string{userID(target)}
		e.Params.Set(bot.ParamTargetName, userName(target))
		return e
	}
	switch {
	case !isMember(oldM) && oldM.Status != "kicked" && isMember(newM),
		oldM.Status == "kicked" && isMember(newM):
		if !b.firstSight(&c.Chat, target, "join") {
			return nil
		}
		e := mk(bot.UserJoin)
		if !byOther {
			e.TargetIDs = nil
			delete(e.Params, bot.ParamTargetName)
		}
		if c.InviteLink != nil {
			e.Params.Set(bot.ParamInviteCode, c.InviteLink.InviteLink)
		}
		if viaJoinRequest {
			e.Params.Set(bot.ParamViaJoinRequest, "true")
		}
		return []*bot.Event{e}
	case newM.Status == "kicked" && oldM.Status != "kicked":
		// The ban implies the removal: its left_chat_member message is not
		// a second story.
		b.firstSight(&c.Chat, target, "leave")
		e := mk(bot.UserBan)
		if newM.UntilDate > 0 {
			e.Params.Set(bot.ParamUntil, time.Unix(newM.UntilDate, 0).UTC().Format(time.RFC3339))
		}
		return []*bot.Event{e}
	case oldM.Status == "kicked" && newM.Status == "left":
		return []*bot.Event{mk(bot.UserBanRemove)}
	case isMember(oldM) && !isMember(newM):
		if !b.firstSight(&c.Chat, target, "leave") {
			return nil
		}
		e := mk(bot.UserRemove)
		e.Params.Set(bot.ParamRemoval, bot.RemovalLeft)
		if byOther {
			e.Params.Set(bot.ParamRemoval, bot.RemovalKicked)
		}
		return []*bot.Event{e}
	case oldM.Status != newM.Status || rights(oldM) != rights(newM):
		e := mk(bot.UserUpdate)
		e.Params.Set(bot.ParamField, "status")
		e.Params.Set(bot.ParamOldValue, oldM.Status+rights(oldM))
		e.Params.Set(bot.ParamNewValue, newM.Status+rights(newM))
		if newM.Status == "restricted" && newM.UntilDate > 0 {
			e.Params.Set(bot.ParamUntil, time.Unix(newM.UntilDate, 0).UTC().Format(time.RFC3339))
		}
		return []*bot.Event{e}
	}
	return nil
}

// rights summarises the rights that matter to moderation.
func rights(m tgbotapi.ChatMember) string {
	var r []string
	for name, on := range map[string]bool{"restrict": m.CanRestrictMembers, "delete": m.CanDeleteMessages,
		"promote": m.CanPromoteMembers, "invite": m.CanInviteUsers, "send": m.CanSendMessages} {
		if on {
			r = append(r, name)
		}
	}
	if len(r) == 0 {
		return ""
	}
	sort.Strings(r)
	return " (" + strings.Join(r, ",") + ")"
}

// onMyChatMember records the bot losing (or gaining) its admin rights.
func (b *Bot) onMyChatMember(c *tgbotapi.ChatMemberUpdated) []*bot.Event {
	oldM, newM := c.OldChatMember, c.NewChatMember
	if oldM.Status == "administrator" && newM.Status != "administrator" ||
		oldM.CanRestrictMembers && !newM.CanRestrictMembers || oldM.CanDeleteMessages && !newM.CanDeleteMessages {
		e := b.event(&c.Chat, bot.SecurityEvent, "my_chat_member", c.Date)
		b.setActor(e, &c.From)
		e.TargetIDs = []string{strconv.FormatInt(b.self.ID, 10)}
		e.Params.Set(bot.ParamTargetName, b.self.UserName)
		e.Params.Set(bot.ParamKind, bot.KindBotRightsLost)
		e.Params.Set(bot.ParamOldValue, oldM.Status+rights(oldM))
		e.Params.Set(bot.ParamNewValue, newM.Status+rights(newM))
		return []*bot.Event{e}
	}
	return nil
}
