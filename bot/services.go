package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
)

// services runs the long-lived parts of a process (platforms, API,
// retention, the fleet's publisher or consumer), each on its own
// goroutine; the first to fail stops the others, and wait returns its
// error.
type services struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func newServices(ctx context.Context) *services {
	s := &services{}
	s.ctx, s.cancel = context.WithCancel(ctx)
	return s
}

// start runs fn until the services' context ends.
func (s *services) start(name string, fn func(context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(s.ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("%s: %w", name, err)
			}
			s.mu.Unlock()
			s.cancel()
		}
	}()
}

// wait blocks until the context ends or a service fails, then until
// every service has returned, and returns the first failure.
func (s *services) wait(log zerolog.Logger) error {
	<-s.ctx.Done()
	log.Info().Msg("shutting down")
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
