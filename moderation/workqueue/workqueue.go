// Package workqueue runs the engines' work (moderation, verification) in
// order per key, one goroutine per busy key, without blocking the producer
// and without dropping work: each key keeps at most Size jobs in memory
// and the rest spill to the store in chunks, read back in order once the
// key's memory queue is empty.
//
// It exists because engines are fed from the recorder's subscriber: if the
// subscriber waited for room in a queue whose worker waits for the
// recorder (every platform action records its result), a flood would
// deadlock the recorder. Spilling breaks that cycle; a write to the store
// never waits for a subscriber.
//
// Spilled chunks survive a restart: New finds them and runs them once
// their keys are resumed (the engine resumes a platform's keys when the
// platform is attached). Jobs still in memory are not durable, like any
// in-memory queue; the events they came from are in the store.
package workqueue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// KV is where chunks spill; *store.Store is one.
type KV interface {
	Put(ns string, key, value []byte) error
	DeleteKV(ns string, key []byte) error
	ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error
}

// Options tune a Queue.
type Options struct {
	// Size is how many jobs of one key are kept in memory (default 1024).
	Size int
	// Chunk is how many jobs a spilled chunk holds (default 256).
	Chunk int
	// KV and Namespace say where chunks spill. Without KV, Push waits for
	// room instead (backpressure).
	KV        KV
	Namespace string
	Logger    zerolog.Logger
}

// ErrClosed is returned by Push after Close.
var ErrClosed = errors.New("work queue closed")

// Queue runs jobs of type T (which must survive encoding/json when
// spilling) in order per key. Its methods are safe for concurrent use.
type Queue[T any] struct {
	opts Options
	run  func(key string, job T)

	mu     sync.Mutex
	keys   map[string]*keyState[T]
	seq    uint64 // last chunk number
	active int    // keys whose worker runs
	space  *sync.Cond
	idle   *sync.Cond
	closed bool
}

type keyState[T any] struct {
	mem     []T
	spill   []T // newer than every chunk, not yet written
	chunks  int // chunks in the store
	running bool
	parked  bool // restored from the store; waits for Resume
}

// New returns a queue calling run for each job. It finds the chunks a
// previous process spilled; their keys wait for Resume.
func New[T any](opts Options, run func(key string, job T)) (*Queue[T], error) {
	if opts.Size <= 0 {
		opts.Size = 1024
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 256
	}
	q := &Queue[T]{opts: opts, run: run, keys: make(map[string]*keyState[T])}
	q.space = sync.NewCond(&q.mu)
	q.idle = sync.NewCond(&q.mu)
	if opts.KV == nil {
		return q, nil
	}
	err := opts.KV.ScanKV(opts.Namespace, nil, func(k, _ []byte) error {
		key, seq, ok := splitChunkKey(k)
		if !ok {
			return nil
		}
		st := q.state(key)
		st.chunks++
		st.parked = true
		q.seq = max(q.seq, seq)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("work queue: load spilled chunks: %w", err)
	}
	return q, nil
}

func chunkKey(key string, seq uint64) []byte {
	b := make([]byte, 0, len(key)+9)
	b = append(b, key...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, seq)
}

func splitChunkKey(k []byte) (string, uint64, bool) {
	if len(k) < 9 || k[len(k)-9] != 0 {
		return "", 0, false
	}
	return string(k[:len(k)-9]), binary.BigEndian.Uint64(k[len(k)-8:]), true
}

func (q *Queue[T]) state(key string) *keyState[T] {
	st := q.keys[key]
	if st == nil {
		st = &keyState[T]{}
		q.keys[key] = st
	}
	return st
}

// Push queues job under key. It returns at once unless the key's memory
// queue is full and there is no KV to spill to; then it waits for room or
// for ctx.
func (q *Queue[T]) Push(ctx context.Context, key string, job T) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if q.closed {
			return ErrClosed
		}
		st := q.state(key)
		switch {
		case !st.parked && st.chunks == 0 && len(st.spill) == 0 && len(st.mem) < q.opts.Size:
			st.mem = append(st.mem, job)
		case q.opts.KV != nil:
			st.spill = append(st.spill, job)
			if len(st.spill) >= q.opts.Chunk {
				q.writeChunk(key, st)
			}
		default:
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("work queue %q is full: %w", key, err)
			}
			if stop == nil {
				stop = context.AfterFunc(ctx, func() {
					q.mu.Lock()
					q.space.Broadcast()
					q.mu.Unlock()
				})
			}
			q.space.Wait()
			continue
		}
		q.start(key, st)
		return nil
	}
}

// writeChunk moves the key's spill buffer to the store. On failure the
// jobs stay in memory (and are logged): nothing is dropped.
func (q *Queue[T]) writeChunk(key string, st *keyState[T]) {
	v, err := json.Marshal(st.spill)
	if err == nil {
		q.seq++
		err = q.opts.KV.Put(q.opts.Namespace, chunkKey(key, q.seq), v)
	}
	if err != nil {
		q.opts.Logger.Error().Err(err).Str("queue", q.opts.Namespace).Int("jobs", len(st.spill)).
			Msg("spill jobs to the store; keeping them in memory")
		return
	}
	st.spill = nil
	st.chunks++
}

// start runs the key's worker if it is not running or parked.
func (q *Queue[T]) start(key string, st *keyState[T]) {
	if st.running || st.parked {
		return
	}
	st.running = true
	q.active++
	go q.work(key, st)
}

// Resume starts the keys restored from the store whose key begins with
// prefix.
func (q *Queue[T]) Resume(prefix string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, st := range q.keys {
		if st.parked && strings.HasPrefix(key, prefix) {
			st.parked = false
			q.start(key, st)
		}
	}
}

func (q *Queue[T]) work(key string, st *keyState[T]) {
	for {
		q.mu.Lock()
		if len(st.mem) == 0 {
			switch {
			case st.chunks > 0:
				q.mu.Unlock()
				jobs := q.readChunk(key)
				q.mu.Lock()
				st.chunks--
				st.mem = jobs
				q.mu.Unlock()
				continue
			case len(st.spill) > 0:
				st.mem, st.spill = st.spill, nil
			default:
				st.running = false
				if q.keys[key] == st {
					delete(q.keys, key)
				}
				if q.active--; q.active == 0 {
					q.idle.Broadcast()
				}
				q.mu.Unlock()
				return
			}
		}
		job := st.mem[0]
		var zero T
		st.mem[0] = zero
		st.mem = st.mem[1:]
		q.space.Broadcast()
		q.mu.Unlock()
		q.call(key, job)
	}
}

var errStop = errors.New("stop")

// readChunk takes the key's oldest chunk out of the store. A chunk that
// cannot be read is logged and skipped.
func (q *Queue[T]) readChunk(key string) []T {
	var k, v []byte
	prefix := append([]byte(key), 0)
	err := q.opts.KV.ScanKV(q.opts.Namespace, prefix, func(key, value []byte) error {
		if len(key) == len(prefix)+8 {
			k, v = append([]byte(nil), key...), append([]byte(nil), value...)
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		q.opts.Logger.Error().Err(err).Str("queue", q.opts.Namespace).Msg("read spilled jobs")
		return nil
	}
	if k == nil {
		return nil
	}
	var jobs []T
	if err := json.Unmarshal(v, &jobs); err != nil {
		q.opts.Logger.Error().Err(err).Str("queue", q.opts.Namespace).Msg("decode spilled jobs; skipped")
	}
	if err := q.opts.KV.DeleteKV(q.opts.Namespace, k); err != nil {
		q.opts.Logger.Error().Err(err).Str("queue", q.opts.Namespace).Msg("delete spilled jobs")
	}
	return jobs
}

func (q *Queue[T]) call(key string, job T) {
	defer func() {
		if r := recover(); r != nil {
			q.opts.Logger.Error().Interface("panic", r).Bytes("stack", debug.Stack()).
				Str("queue", q.opts.Namespace).Msg("job panicked")
		}
	}()
	q.run(key, job)
}

// Flush waits until every running key's jobs are done (parked keys
// excepted), or ctx ends.
func (q *Queue[T]) Flush(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.idle.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	for q.active > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("work queue flush: %w", err)
		}
		q.idle.Wait()
	}
	return nil
}

// Close refuses further pushes and writes the spill buffers to the store
// so that they survive; jobs in memory still run (see Flush).
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	q.space.Broadcast()
	if q.opts.KV == nil {
		return
	}
	for key, st := range q.keys {
		if len(st.spill) > 0 {
			q.writeChunk(key, st)
		}
	}
}
