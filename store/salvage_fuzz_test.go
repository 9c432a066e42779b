package store

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
)

// FuzzSalvage overwrites bytes anywhere in a real database (the fuzzer
// picks where and what) and salvages it. Properties: Salvage never
// panics (a panic it recovered would come back as a *DamagedError: that
// fails too); it either refuses the file with an error wrapping
// ErrDamaged or writes a copy that opens, whose every record is one that
// was written, with its hash and contents, and whose chains Verify reads
// without error.
func FuzzSalvage(f *testing.F) {
	src := filepath.Join(f.TempDir(), "source.db")
	s, err := Open(src, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	var evs []*audit.Event
	for range 400 {
		evs = append(evs, genEvent(rng))
	}
	appendAll(f, s, evs, 50)
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	orig, err := os.ReadFile(src)
	if err != nil {
		f.Fatal(err)
	}
	written := map[audit.ID]*audit.Event{}
	for _, e := range evs {
		written[e.ID] = e
	}
	const ps = 4096
	f.Add(uint32(0), []byte{0xff})             // meta page 0
	f.Add(uint32(ps+20), []byte{1, 2, 3})      // meta page 1, its fields
	f.Add(uint32(2*ps+8), []byte{0x01, 0x00})  // a page's flags
	f.Add(uint32(3*ps+10), []byte{0xff, 0xff}) // a page's count
	f.Add(uint32(4*ps+12), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Add(uint32(5*ps+16), bytes.Repeat([]byte{0xee}, 48)) // elements
	f.Add(uint32(9*ps), make([]byte, 64))
	f.Fuzz(func(t *testing.T, off uint32, data []byte) {
		if len(data) > 256 {
			data = data[:256]
		}
		b := bytes.Clone(orig)
		copy(b[int(off)%len(b):], data)
		dir := t.TempDir()
		bad, out := filepath.Join(dir, "bad.db"), filepath.Join(dir, "out.db")
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Salvage(context.Background(), bad, out)
		var de *DamagedError
		switch {
		case errors.As(err, &de):
			t.Fatalf("salvage panicked: %v", err)
		case err != nil && !errors.Is(err, ErrDamaged):
			t.Fatalf("salvage failed: %v", err)
		case err != nil:
			return
		}
		cp, err := Open(out, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("open the copy: %v", err)
		}
		defer cp.Close()
		for _, p := range cp.Properties() {
			q := Query{Platform: p.Platform, Property: p.ID, Limit: MaxLimit}
			for {
				page, err := cp.Query(context.Background(), q)
				if err != nil {
					t.Fatalf("query the copy: %v", err)
				}
				for _, e := range page.Events {
					w := written[e.ID]
					if w == nil || w.PropertyID != e.PropertyID || !bytes.Equal(w.Hash, e.Hash) || w.Content != e.Content || w.ActorName != e.ActorName {
						t.Fatalf("the copy holds a record that was not written: %+v", e)
					}
				}
				if page.Older == "" {
					break
				}
				q.Cursor = page.Older
			}
		}
		if _, err := cp.VerifyAll(context.Background()); err != nil {
			t.Fatalf("verify the copy: %v", err)
		}
	})
}
