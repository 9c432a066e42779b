package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent copy of the database in a local file that
// holds only live data: free pages are zeros. The file is already
// unlinked; Close releases it.
type Snapshot struct {
	*os.File
	Size int64
}

// Snapshot copies the database to an unlinked temporary file in dir (the
// database's own directory when dir is ""; the system's temporary directory
// when that is not writable), under one read transaction that lasts only
// as long as the local copy, then zeroes the copy's free pages. Streaming
// the snapshot holds no transaction: a slow reader cannot hold back the
// writer, which needs every read transaction gone before it can grow the
// file's memory map.
func (s *Store) Snapshot(ctx context.Context, dir string) (_ *Snapshot, err error) {
	defer recoverDamaged(s.path, &err)
	snap, err := s.snapshot(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", s.path, err)
	}
	return snap, nil
}

func (s *Store) snapshot(ctx context.Context, dir string) (_ *Snapshot, err error) {
	if dir == "" {
		dir = filepath.Dir(s.path)
	}
	tmp, err := os.CreateTemp(dir, ".chatwarden-backup-*")
	if err != nil {
		if tmp, err = os.CreateTemp("", ".chatwarden-backup-*"); err != nil {
			return nil, err
		}
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	// Zero the copy's free pages: pages the snapshot's tree does not reach
	// (freed records, pages being reused by writers while it was copied).
	if err := preflight(name, Options{}); err != nil {
		var d *DamagedError
		if errors.As(err, &d) {
			d.Path = s.path // the copy is page for page the database
		}
		return nil, err
	}
	db, err := bolt.Open(name, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType, NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("open copy: %w", err)
	}
	_, serr := scrubFree(ctx, db, name, nil)
	if err := errors.Join(serr, db.Close()); err != nil {
		return nil, fmt.Errorf("scrub copy: %w", err)
	}
	if tmp, err = os.Open(name); err != nil {
		return nil, err
	}
	os.Remove(name) // unlinked: nothing is left behind if the process dies
	fi, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	return &Snapshot{File: tmp, Size: fi.Size()}, nil
}

// Backup writes a consistent copy of the database to w that holds only
// live data (see Snapshot); it may run while events are being written, and
// holds no transaction while w is slow.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	snap, err := s.Snapshot(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer snap.Close()
	n, err := io.Copy(ctxWriter{ctx, w}, snap)
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", s.path, err)
	}
	return n, nil
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
