package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Online backups. The copy is taken into a local snapshot under a short
// read transaction (store.Snapshot) and streamed from there, so a slow or
// stalled client holds a file descriptor and a temporary file, never a
// transaction that the writer would wait for.
const (
	// maxBackups bounds the backups streamed at once (each holds a
	// temporary copy of the database); more get 429.
	maxBackups = 2
	// backupChunk is the unit written under one write deadline.
	backupChunk = 64 << 10
	// backupChunkTimeout is how long one chunk may take to be accepted
	// by the client: slower than about 1 KB/s and the backup is cut.
	backupChunkTimeout = time.Minute
	// backupMaxDuration bounds a whole backup.
	backupMaxDuration = 6 * time.Hour
)

// handleBackup streams a consistent copy of the database (operator only).
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	p, reason, err := s.authenticate(r.Context(), bearer(r))
	switch {
	case err != nil:
		s.fail(w, r, err)
		return
	case reason != "":
		s.authFailed(r, SurfaceBackup, reason, nil, nil)
		unauthorized(w, reason)
		return
	case !p.operator:
		s.authFailed(r, SurfaceBackup, ReasonOperatorOnly, nil, &p.token)
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "only the operator token may take backups")
		return
	}
	v, err := queryOf(r)
	if err == nil {
		err = checkNames(v, nil)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	select {
	case s.backups <- struct{}{}:
		defer func() { <-s.backups }()
	default:
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "",
			"%d online backups are already in progress; try again when one has finished", maxBackups)
		return
	}
	snap, err := s.store.Snapshot(r.Context(), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer snap.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="chatwarden.db"`)
	w.Header().Set("Content-Length", strconv.FormatInt(snap.Size, 10))
	rc := http.NewResponseController(w)
	end := s.now().Add(backupMaxDuration)
	buf := make([]byte, backupChunk)
	var n int64
	for {
		k, rerr := snap.Read(buf)
		if k > 0 {
			deadline := time.Now().Add(backupChunkTimeout)
			if wall := time.Now().Add(end.Sub(s.now())); wall.Before(deadline) {
				deadline = wall
			}
			// Not every ResponseWriter supports deadlines (tests'
			// recorders); the server's own does.
			_ = rc.SetWriteDeadline(deadline)
			if _, err := w.Write(buf[:k]); err != nil {
				s.log.Warn().Err(err).Int64("bytes", n).Int64("size", snap.Size).Str("remote", clientIP(r)).Msg("online backup cut: the client stopped reading")
				panic(http.ErrAbortHandler)
			}
			n += int64(k)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			s.log.Error().Err(rerr).Int64("bytes", n).Msg("online backup failed")
			panic(http.ErrAbortHandler)
		}
	}
	_ = rc.SetWriteDeadline(time.Time{})
	s.log.Info().Int64("bytes", n).Str("remote", clientIP(r)).Msg("online backup taken")
}
