package telegramtest

// TrimHistory lets a long-running test (a soak test) keep the fake's
// memory flat: it forgets the call, getUpdates and webhook logs and the
// dropped updates, and keeps only the newest keep messages of every chat
// (older ones can no longer be edited, replied to or deleted). It returns
// how many of the forgotten messages the bot had sent, by chat, so the
// caller can keep counting them. Rate-limit violations are kept.
func (s *Server) TrimHistory(keep int) map[int64]int {
	if keep < 0 {
		keep = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.polls, s.deliveries, s.dropped = nil, nil, nil, nil
	forgot := map[int64]int{}
	for id, c := range s.chats {
		if len(c.messages) <= keep {
			continue
		}
		old := c.messages[:len(c.messages)-keep]
		for _, sm := range old {
			if sm.byBot && sm.method != "service" {
				forgot[id]++
			}
			delete(c.byID, sm.msg.MessageID)
		}
		c.messages = append([]*storedMessage(nil), c.messages[len(c.messages)-keep:]...)
	}
	return forgot
}
