package discordtest

// TrimHistory lets a long-running test (a soak test) keep the fake's
// memory flat: it forgets the REST call log and the bodies of accepted
// posts, shortens each connected session's replay log to as many of its
// newest frames as frames says (a disconnected session keeps all of its
// log, so that a resume still replays what it missed) and keeps as many
// of every channel's newest messages as messages says for REST reads
// (messages.go; older ones answer 404 Unknown Message, as if deleted).
// It returns how many
// accepted posts it forgot, by channel, so the caller can keep counting
// them.
func (s *Server) TrimHistory(frames, messages int) map[string]int {
	frames, messages = max(frames, 0), max(messages, 0)
	s.mu.Lock()
	forgot := make(map[string]int, len(s.posts))
	for ch, bodies := range s.posts {
		if len(bodies) > 0 {
			forgot[ch] = len(bodies)
		}
		delete(s.posts, ch)
		delete(s.postIDs, ch)
	}
	s.calls = nil
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	s.trimMessages(messages)
	for _, sess := range sessions {
		sess.wmu.Lock()
		if sess.conn != nil && len(sess.sent) > frames {
			sess.sent = append([]frame(nil), sess.sent[len(sess.sent)-frames:]...)
		}
		sess.wmu.Unlock()
	}
	return forgot
}
