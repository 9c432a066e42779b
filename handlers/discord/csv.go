package discord

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// ndjsonToCSV converts exported records to CSV, defusing formula cells.
func ndjsonToCSV(ndjson []byte) ([]byte, error) {
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.Write([]string{"id", "time", "event_type", "platform_type", "function_type", "actor_id", "actor_name",
		"actor_type", "target_ids", "channel_id", "message_id", "params", "content"})
	sc := bufio.NewScanner(bytes.NewReader(ndjson))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, err
		}
		params, _ := json.Marshal(e.Params)
		row := []string{e.ID.String(), e.Time.Format(time.RFC3339Nano), e.Type.String(), e.PlatformType,
			e.Function.String(), e.ActorID, e.ActorName, e.ActorType.String(), strings.Join(e.TargetIDs, " "),
			e.ChannelID, e.MessageID, string(params), e.Content}
		for i, c := range row {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				row[i] = "'" + c
			}
		}
		w.Write(row)
	}
	w.Flush()
	return out.Bytes(), w.Error()
}
