package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/chatwarden/chatwarden/recorder"
)

// State submitted with events is written in their commit, and a delete
// removes it: handlers keep what they saw of members without a write
// transaction of their own.
func TestStateCommitsWithTheEvents(t *testing.T) {
	s := openTest(t)
	rec := recorder.New(s, recorder.Options{})
	defer rec.Close(context.Background())
	ev := genEvent(rand.New(rand.NewPCG(1, 2)))
	done := make(chan error, 2)
	state := []recorder.State{{NS: "test/profile", Key: []byte("g/u"), Value: []byte(`{"nick":"a"}`)}}
	if err := rec.SubmitState(context.Background(), func(err error) { done <- err }, state, ev); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetKV("test/profile", []byte("g/u")); err != nil || string(v) != `{"nick":"a"}` {
		t.Fatalf("state after commit: %q, %v", v, err)
	}
	if _, err := s.Get(context.Background(), ev.Platform, ev.PropertyID, ev.ID); err != nil {
		t.Fatalf("the event of the same commit: %v", err)
	}
	// State alone, then its delete.
	del := []recorder.State{{NS: "test/profile", Key: []byte("g/u"), Delete: true}}
	if err := rec.SubmitState(context.Background(), func(err error) { done <- err }, del); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKV("test/profile", []byte("g/u")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state after delete: %v", err)
	}
}
