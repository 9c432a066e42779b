package telegramtest

import (
	"strings"
)

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
