package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/store"
)

// opsHandler serves what operators need of a running bot until the full
// HTTP API is in place: /healthz, and /v1/backup (a consistent copy of the
// database under one read transaction) for the operator token.
func opsHandler(s *store.Store, operatorToken string, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if operatorToken == "" || !ok || subtle.ConstantTimeCompare([]byte(token), []byte(operatorToken)) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":401,"message":"the operator token is required"}}`)
			log.Warn().Str("remote", r.RemoteAddr).Msg("backup refused: bad operator token")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="chatwarden.db"`)
		if n, err := s.Backup(r.Context(), w); err != nil {
			log.Error().Err(err).Int64("bytes", n).Msg("online backup failed")
		}
	})
	return mux
}

// serveOps runs the ops endpoints until ctx ends.
func serveOps(ctx context.Context, listen string, h http.Handler) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// onlineBackup fetches a consistent copy from a running bot.
func onlineBackup(ctx context.Context, from, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(from, "/")+"/v1/backup", nil)
	if err != nil {
		return 0, fmt.Errorf("backup from %s: %w", from, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("backup from %s: %w", from, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("backup from %s: %s", from, resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("backup from %s: %w", from, err)
	}
	return n, nil
}
