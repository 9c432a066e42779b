// Package export writes audit records as NDJSON or CSV, the formats of
// `chatwarden export`, the HTTP API's activities:export and Discord's
// /audit export: one writer, so that every surface gives the same columns
// and the same defusing of spreadsheet formulas.
package export

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Format is an export format.
type Format string

// Formats.
const (
	NDJSON Format = "ndjson" // one JSON record a line, as the HTTP API returns them
	CSV    Format = "csv"    // the columns of CSVHeader
)

// ParseFormat reads a format's name; "" is NDJSON.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return NDJSON, nil
	case NDJSON, CSV:
		return f, nil
	}
	return "", fmt.Errorf("must be ndjson or csv, not %q", s)
}

// ContentType is the format's media type.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/x-ndjson; charset=utf-8"
}

// CSVHeader is the column order of CSV exports.
var CSVHeader = []string{"id", "time", "platform", "property_id", "event_type", "platform_type", "function_type",
	"actor_id", "actor_name", "actor_type", "target_ids", "channel_id", "message_id", "params", "content",
	"attachments", "hash"}

// CSVRow returns a record's cells in CSVHeader order. Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func CSVRow(e *audit.Event) []string {
	var params, atts []byte
	if len(e.Params) > 0 {
		params, _ = json.Marshal(e.Params)
	}
	if len(e.Attachments) > 0 {
		atts, _ = json.Marshal(e.Attachments)
	}
	row := []string{e.ID.String(), e.Time.UTC().Format(time.RFC3339Nano), e.Platform.String(), e.PropertyID,
		e.Type.String(), e.PlatformType, e.Function.String(), e.ActorID, e.ActorName, e.ActorType.String(),
		strings.Join(e.TargetIDs, " "), e.ChannelID, e.MessageID, string(params), e.Content, string(atts),
		e.Hash.String()}
	for i, c := range row {
		row[i] = defuse(c)
	}
	return row
}

// defuse keeps a spreadsheet from running a cell: one starting with = + -
// @ tab or carriage return is prefixed with a quote and shown as text.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Writer writes records in one format. A CSV export starts with its
// header, even when it has no record.
type Writer struct {
	format Format
	json   *json.Encoder
	csv    *csv.Writer
	header bool
}

// NewWriter returns a writer of format f to w.
func NewWriter(w io.Writer, f Format) *Writer {
	if f == CSV {
		return &Writer{format: f, csv: csv.NewWriter(w)}
	}
	return &Writer{format: NDJSON, json: json.NewEncoder(w)}
}

// Write writes one record. CSV output is buffered until Flush.
func (w *Writer) Write(e *audit.Event) error {
	if w.csv == nil {
		return w.json.Encode(e)
	}
	w.writeHeader()
	return w.csv.Write(CSVRow(e))
}

func (w *Writer) writeHeader() {
	if !w.header {
		w.header = true
		w.csv.Write(CSVHeader) // buffered; an error surfaces at Flush
	}
}

// Flush writes what is buffered and reports the first write error.
func (w *Writer) Flush() error {
	if w.csv == nil {
		return nil
	}
	w.writeHeader()
	w.csv.Flush()
	return w.csv.Error()
}
