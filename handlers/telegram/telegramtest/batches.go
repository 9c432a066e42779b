package telegramtest

// PauseUpdates keeps getUpdates from handing out updates until
// ResumeUpdates: updates injected meanwhile queue up, and the bot then
// receives them in batches of up to its limit (100), as Telegram delivers
// a backlog.
func (s *Server) PauseUpdates() {
	s.mu.Lock()
	s.updatesPaused = true
	s.mu.Unlock()
}

// ResumeUpdates lets getUpdates hand out the queued updates again.
func (s *Server) ResumeUpdates() {
	s.mu.Lock()
	s.updatesPaused = false
	s.notifyLocked()
	s.mu.Unlock()
}

// BatchSizes returns how many updates each getUpdates answer held, in
// order (empty answers left out).
func (s *Server) BatchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batchSizes...)
}
