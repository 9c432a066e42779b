package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

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
