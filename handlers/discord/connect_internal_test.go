package discord

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestGatewayErrorExplainsCloseCodes: the close codes no retry can fix end
// the reconnect loop with what to do; the others are retried.
func TestGatewayErrorExplainsCloseCodes(t *testing.T) {
	b := &Bot{opts: Options{ShardID: 1, ShardCount: 2}}
	for _, tc := range []struct {
		code  int
		fatal bool
		is    error
		says  string
	}{
		{4004, true, ErrTokenRejected, "developer portal"},
		{4010, true, nil, "discord.shard_id"},
		{4011, true, nil, "discord.shard_count"},
		{4012, true, nil, "bug"},
		{4013, true, nil, "bug"},
		{4014, true, ErrIntentsDisabled, "MESSAGE CONTENT INTENT"},
		{4000, false, nil, "connect to the gateway"},
		{4009, false, nil, "connect to the gateway"},
		{websocket.CloseAbnormalClosure, false, nil, "connect to the gateway"},
	} {
		err := fmt.Errorf("read: %w", &websocket.CloseError{Code: tc.code, Text: "x"})
		msg, fatal := b.gatewayError(err)
		if fatal != tc.fatal {
			t.Errorf("close %d: fatal %v, want %v", tc.code, fatal, tc.fatal)
		}
		if tc.is != nil && !errors.Is(msg, tc.is) {
			t.Errorf("close %d: %v is not %v", tc.code, msg, tc.is)
		}
		if !strings.Contains(msg.Error(), tc.says) {
			t.Errorf("close %d: %q does not say %q", tc.code, msg, tc.says)
		}
	}
	if msg, fatal := b.gatewayError(io.ErrUnexpectedEOF); fatal || !strings.Contains(msg.Error(), "unexpected EOF") {
		t.Error("a dropped socket must be retried and named")
	}
}
