package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

func record() *audit.Event {
	e := &audit.Event{ID: audit.MakeID(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), 1),
		Time: time.Date(2026, 12, 1, 11, 0, 0, 0, time.FixedZone("x", 3600)), Platform: audit.Discord, PropertyID: "1",
		Type: audit.ChatMessage, PlatformType: "MESSAGE_CREATE", Function: audit.FuncGateway, ActorType: audit.ActorAdmin,
		ActorID: "2", ActorName: "@everyone", TargetIDs: []string{"3", "4"}, Content: "=HYPERLINK(\"x\")"}
	e.Params.Set(audit.ParamReason, "+1")
	return e
}

func TestCSV(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, CSV)
	if err := w.Write(record()); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !slices.Equal(rows[0], CSVHeader) {
		t.Fatalf("rows %q", rows)
	}
	cell := func(name string) string { return rows[1][slices.Index(CSVHeader, name)] }
	for name, want := range map[string]string{
		"time": "2026-12-01T10:00:00Z", "content": `'=HYPERLINK("x")`, "actor_name": "'@everyone",
		"params": `{"reason":"+1"}`, "target_ids": "3 4", "event_type": "CHAT_MESSAGE", "attachments": "",
	} {
		if got := cell(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestEmptyCSVHasItsHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := NewWriter(&buf, CSV).Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(buf.String()); got != strings.Join(CSVHeader, ",") {
		t.Fatalf("empty export %q", got)
	}
}

func TestNDJSON(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, NDJSON)
	for range 2 {
		if err := w.Write(record()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var e audit.Event
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || e.Content != record().Content || e.ID != record().ID {
		t.Fatalf("decoded %+v, %v", e, err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": NDJSON, "ndjson": NDJSON, " CSV": CSV} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xlsx"); err == nil {
		t.Error("xlsx accepted")
	}
	if CSV.ContentType() != "text/csv; charset=utf-8" || NDJSON.ContentType() != "application/x-ndjson; charset=utf-8" {
		t.Error("content types")
	}
}
