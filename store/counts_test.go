package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

const countedNS = "test/counted"

func init() {
	CountKeys(countedNS)
	RegisterUserState(UserState{NS: countedNS, Key: func(p audit.Platform, property, user string) []byte {
		return []byte{byte(p), 'u', user[len(user)-1]} // one key per user, by the id's last character
	}})
}

// scanCounts counts what the counts keep by scanning, as OutboxDepth did
// before it kept a count.
func scanCounts(t *testing.T, s *Store) (outbox map[string]int, kv [256]int) {
	t.Helper()
	outbox = map[string]int{}
	must(t, s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bOutbox).ForEach(func(k, _ []byte) error {
			sink, _, _ := bytes.Cut(k, []byte{0})
			outbox[string(sink)]++
			return nil
		}); err != nil {
			return err
		}
		if b := tx.Bucket(bKV).Bucket([]byte(countedNS)); b != nil {
			return b.ForEach(func(k, _ []byte) error {
				kv[k[0]]++
				return nil
			})
		}
		return nil
	}))
	return outbox, kv
}

// checkCounts compares the kept counts with a scan.
func checkCounts(t *testing.T, s *Store, when string) {
	t.Helper()
	outbox, kv := scanCounts(t, s)
	for _, sink := range []string{"discord", "telegram", "cluster"} {
		if n, err := s.OutboxDepth(sink); err != nil || n != outbox[sink] {
			t.Fatalf("%s: OutboxDepth(%s) = %d, %v; the outbox holds %d", when, sink, n, err, outbox[sink])
		}
	}
	for _, first := range []byte{'a', 'b', 'c', byte(audit.Discord), byte(audit.Telegram)} {
		if n, err := s.KeyCount(countedNS, first); err != nil || n != kv[first] {
			t.Fatalf("%s: KeyCount(%q) = %d, %v; the namespace holds %d", when, first, n, err, kv[first])
		}
	}
}

// The outbox depth and the counted KV keys are kept with the writes, not
// scanned: they must equal a scan after every kind of write (appends with
// repeated routes, deliveries done twice, state in batches, KV puts and
// deletes, erasure), after writes that fail, and after reopening.
func TestCountsStayExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counts.db")
	s, err := Open(path, Options{NoSync: true})
	must(t, err)
	defer func() { s.Close() }()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(20, 3))
	sinks := []string{"discord", "telegram", "cluster"}
	kvKey := func() []byte { return []byte{"abc"[rng.IntN(3)], byte('0' + rng.IntN(8))} }
	var seq int
	for step := range 400 {
		when := fmt.Sprintf("step %d", step)
		switch op := rng.IntN(10); {
		case op < 4: // a batch with routes (some repeated) and state
			n := 1 + rng.IntN(20)
			b := &recorder.Batch{Routes: make([][]recorder.Route, n)}
			for i := range n {
				seq++
				b.Events = append(b.Events, &audit.Event{Platform: audit.Discord, PropertyID: "g", Type: audit.ChatMessage,
					Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: fmt.Sprintf("u%d", rng.IntN(5)),
					Time: testBase.Add(time.Duration(seq) * time.Second)})
				for range rng.IntN(4) {
					b.Routes[i] = append(b.Routes[i], recorder.Route{Sink: sinks[rng.IntN(3)], Target: fmt.Sprint(rng.IntN(2))})
				}
			}
			for range rng.IntN(3) {
				b.State = append(b.State, recorder.State{NS: countedNS, Key: kvKey(), Value: []byte("v"), Delete: rng.IntN(3) == 0})
			}
			must(t, s.Append(ctx, b))
		case op < 6: // deliveries done, some twice, some in one call twice
			for _, sink := range sinks {
				for _, target := range []string{"0", "1"} {
					p, err := s.OutboxPending(ctx, sink, target, rng.IntN(10))
					must(t, err)
					var keys [][]byte
					for _, d := range p {
						keys = append(keys, d.Key)
						if rng.IntN(4) == 0 {
							keys = append(keys, d.Key)
						}
					}
					must(t, s.OutboxDone(ctx, keys...))
					if len(keys) > 0 && rng.IntN(3) == 0 {
						must(t, s.OutboxDone(ctx, keys[0]))
					}
				}
			}
		case op < 8: // KV puts and deletes, some of keys present, some absent
			if rng.IntN(2) == 0 {
				must(t, s.Put(countedNS, kvKey(), []byte("v")))
			} else {
				must(t, s.DeleteKV(countedNS, kvKey()))
			}
			must(t, s.ApplyState([]recorder.State{{NS: countedNS, Key: kvKey(), Value: []byte("w")},
				{NS: countedNS, Key: kvKey(), Delete: true}}))
		case op < 9: // erasing a member removes their registered state
			user := fmt.Sprintf("u%d", rng.IntN(5))
			must(t, s.Put(countedNS, []byte{byte(audit.Discord), 'u', user[1]}, []byte("v")))
			checkCounts(t, s, when+" (before erase)")
			_, err := s.Erase(ctx, audit.Discord, "g", user)
			must(t, err)
		default: // writes that fail change nothing
			bad := &recorder.Batch{Events: []*audit.Event{{Platform: audit.Discord, PropertyID: "g", Type: audit.ChatMessage,
				Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "u1", Time: testBase}},
				Routes: [][]recorder.Route{{{Sink: "discord", Target: "0"}, {Sink: "telegram", Target: strings.Repeat("x", bolt.MaxKeySize)}}},
				State:  []recorder.State{{NS: countedNS, Key: []byte("c9"), Value: []byte("v")}}}
			if err := s.Append(ctx, bad); err == nil {
				t.Fatalf("%s: a batch with an outbox key over bbolt's limit was committed", when)
			}
			if err := s.ApplyState([]recorder.State{{NS: countedNS, Key: []byte("b9"), Value: []byte("v")},
				{NS: countedNS, Key: bytes.Repeat([]byte("b"), bolt.MaxKeySize+1), Value: []byte("v")}}); err == nil {
				t.Fatalf("%s: state with a key over bbolt's limit was written", when)
			}
			if err := s.Put(countedNS, bytes.Repeat([]byte("a"), bolt.MaxKeySize+1), []byte("v")); err == nil {
				t.Fatalf("%s: a key over bbolt's limit was written", when)
			}
		}
		checkCounts(t, s, when)
		if rng.IntN(25) == 0 {
			must(t, s.Close())
			s, err = Open(path, Options{NoSync: true})
			must(t, err)
			checkCounts(t, s, when+" (reopened)")
		}
	}
	if n, _ := s.OutboxDepth("discord"); n == 0 {
		t.Fatal("the random writes left no discord deliveries: the test checks too little")
	}
	if _, err := s.KeyCount("test/not-counted", 'a'); err == nil {
		t.Fatal("KeyCount of a namespace not registered answered")
	}
}
