package telegramtest

import (
	"errors"
	"fmt"
)

// Forward injects user forwarding message messageID of chat src into chat,
// as a client does: the new message carries forward_origin and, from the
// older Bot API, forward_from_chat and forward_from_message_id (channel
// posts) or forward_from (users' messages). Bots use it to let an admin
// prove a channel is theirs ("send /setlog in the channel, forward it to
// the group").
func (s *Server) Forward(chat Chat, user User, src Chat, messageID int) (Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.chats[src.ID]
	if from == nil {
		return Update{}, errors.New("telegramtest: unknown source chat")
	}
	orig := from.byID[messageID]
	if orig == nil || orig.deleted {
		return Update{}, fmt.Errorf("telegramtest: no message %d in chat %d", messageID, src.ID)
	}
	if orig.msg.IsService() {
		return Update{}, errors.New("telegramtest: service messages can't be forwarded")
	}
	c := s.chatForLocked(chat)
	sm := s.newMessageLocked(c)
	m := &sm.msg
	u := s.ensureMemberLocked(c, user)
	m.From = &u
	m.Text, m.Entities, m.Document, m.Caption, m.CaptionEntities =
		orig.msg.Text, orig.msg.Entities, orig.msg.Document, orig.msg.Caption, orig.msg.CaptionEntities
	origin := &MessageOrigin{Date: orig.msg.Date}
	switch {
	case from.chat.Type == ChatChannel:
		ch := from.chat
		origin.Type, origin.Chat, origin.MessageID, origin.AuthorSignature = "channel", &ch, messageID, orig.msg.AuthorSignature
		m.ForwardFromChat, m.ForwardFromMessageID = &ch, messageID
	case orig.msg.SenderChat != nil:
		sc := *orig.msg.SenderChat
		origin.Type, origin.SenderChat = "chat", &sc
		m.ForwardFromChat = &sc
	case orig.msg.From != nil:
		fu := *orig.msg.From
		origin.Type, origin.SenderUser = "user", &fu
		m.ForwardFrom = &fu
	}
	m.ForwardOrigin, m.ForwardDate = origin, orig.msg.Date
	cp := sm.msg
	if c.chat.Type == ChatChannel {
		return s.enqueueLocked(Update{ChannelPost: &cp}), nil
	}
	return s.enqueueLocked(Update{Message: &cp}), nil
}
