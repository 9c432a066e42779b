package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/export"
	"github.com/chatwarden/chatwarden/store"
)

// Activities is the answer of activities.list.
type Activities struct {
	Kind          string     `json:"kind"` // "chatwarden#activities"
	Items         []Activity `json:"items"`
	NextPageToken string     `json:"nextPageToken,omitempty"`
}

// Activity is one record in the shape of an Admin SDK Reports activity.
type Activity struct {
	Kind         string     `json:"kind"` // "chatwarden#activity"
	ID           ActivityID `json:"id"`
	Actor        Actor      `json:"actor"`
	EventType    string     `json:"eventType"`    // universal type, e.g. USER_JOIN
	PlatformType string     `json:"platformType"` // e.g. GUILD_MEMBER_ADD
	FunctionType string     `json:"functionType"` // e.g. gateway
	// Events holds one event: type is the category (members, messages,
	// moderation, server), name the universal type, parameters the
	// record's params sorted by name.
	Events      []ActivityEvent    `json:"events"`
	TargetIDs   []string           `json:"targetIds,omitempty"`
	ChannelID   string             `json:"channelId,omitempty"`
	MessageID   string             `json:"messageId,omitempty"`
	Content     string             `json:"content,omitempty"`
	Attachments []audit.Attachment `json:"attachments,omitempty"`
	Redacted    bool               `json:"redacted,omitempty"`
	Hash        string             `json:"hash,omitempty"`
}

// ActivityID identifies a record.
type ActivityID struct {
	Time            string `json:"time"`            // RFC 3339, UTC, nanoseconds
	UniqueQualifier string `json:"uniqueQualifier"` // the record id
	Platform        string `json:"platform"`
	PropertyID      string `json:"propertyId"`
}

// Actor is who did it.
type Actor struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type"` // ADMIN, NON_ADMIN, BOT, SYSTEM
}

// ActivityEvent is the event of an activity.
type ActivityEvent struct {
	Type       string      `json:"type"`
	Name       string      `json:"name"`
	Parameters []Parameter `json:"parameters"`
}

// Parameter is one param of a record.
type Parameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewActivity converts a record to its API shape.
func NewActivity(e *audit.Event) Activity {
	a := Activity{
		Kind: "chatwarden#activity",
		ID: ActivityID{Time: e.Time.UTC().Format(time.RFC3339Nano), UniqueQualifier: e.ID.String(),
			Platform: e.Platform.String(), PropertyID: e.PropertyID},
		Actor:        Actor{ID: e.ActorID, Name: e.ActorName, Type: e.ActorType.String()},
		EventType:    e.Type.String(),
		PlatformType: e.PlatformType,
		FunctionType: e.Function.String(),
		TargetIDs:    e.TargetIDs,
		ChannelID:    e.ChannelID,
		MessageID:    e.MessageID,
		Content:      e.Content,
		Attachments:  e.Attachments,
		Redacted:     e.Redacted,
		Hash:         e.Hash.String(),
	}
	params := make([]Parameter, 0, len(e.Params))
	for _, k := range e.Params.Keys() {
		params = append(params, Parameter{Name: k, Value: e.Params[k]})
	}
	a.Events = []ActivityEvent{{Type: e.Type.Category().String(), Name: e.Type.String(), Parameters: params}}
	return a
}

// handleList serves activities.list.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	prop, _, ok := s.authorize(w, r)
	if !ok {
		return
	}
	srch, _, err := parseRequest(r, prop, listParams)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, next, err := s.page(r.Context(), &srch)
	if err != nil {
		s.fail(w, r, queryError(err))
		return
	}
	out := Activities{Kind: "chatwarden#activities", Items: make([]Activity, len(events)), NextPageToken: srch.token(next)}
	for i, e := range events {
		out.Items[i] = NewActivity(e)
	}
	writeJSON(w, out)
}

// page runs a search for one page, newest first, and returns the store
// cursor of the next older page. Without parameter filters it is one
// store query. With them, records are fetched in chunks and filtered; the
// page ends on a record boundary the store can resume from, after at most
// ScanBudget records.
func (s *Server) page(ctx context.Context, srch *search) ([]*audit.Event, string, error) {
	if srch.none {
		return nil, "", nil
	}
	q := srch.q
	if len(srch.filters) == 0 {
		q.Limit = srch.max
		p, err := s.store.Query(ctx, q)
		return p.Events, p.Older, err
	}
	var out []*audit.Event
	scanned := 0
	for {
		need := srch.max - len(out)
		q.Limit = min(max(4*need, 100), store.MaxLimit)
		p, err := s.store.Query(ctx, q)
		if err != nil {
			return nil, "", err
		}
		// If this chunk holds more matches than needed, shrink it to end
		// on the last match needed so that its cursor resumes right after.
		for {
			n, cut := 0, -1
			for i, e := range p.Events {
				if matchParams(srch.filters, e) {
					if n++; n == need {
						cut = i
					}
				}
			}
			if n <= need || cut+1 >= len(p.Events) {
				break
			}
			q.Limit = cut + 1
			if p, err = s.store.Query(ctx, q); err != nil {
				return nil, "", err
			}
		}
		for _, e := range p.Events {
			if matchParams(srch.filters, e) && len(out) < srch.max {
				out = append(out, e)
			}
		}
		scanned += len(p.Events)
		if p.Older == "" || len(out) >= srch.max || scanned >= s.opts.ScanBudget {
			return out, p.Older, nil
		}
		q.Cursor = p.Older
	}
}

// handleExport streams every match as NDJSON or CSV, newest first, a
// thousand records per read transaction. A failure after the first byte
// aborts the connection so that the client sees a truncated transfer
// instead of a short file that looks complete.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	prop, _, ok := s.authorize(w, r)
	if !ok {
		return
	}
	s.export(w, r, prop, exportParams)
}

// export writes an export of the search in r's query (params lists the
// parameters allowed).
func (s *Server) export(w http.ResponseWriter, r *http.Request, prop Property, params []string) {
	srch, v, err := parseRequest(r, prop, params)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.stream(w, r, prop, &srch, v.Get("format"))
}

// stream writes every record matching srch in format (ndjson, the
// default, or csv).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, prop Property, srch *search, format string) {
	f, err := export.ParseFormat(format)
	if err != nil {
		s.fail(w, r, badParam("format", "%v", err))
		return
	}
	w.Header().Set("Content-Type", f.ContentType())
	ew := export.NewWriter(w, f)
	write, flush := ew.Write, ew.Flush
	name := "chatwarden-" + strings.ReplaceAll(prop.String(), ":", "-") + "-" + s.now().UTC().Format("20060102T150405Z") + "." + string(f)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if srch.none {
		flush()
		return
	}
	rc := http.NewResponseController(w)
	n := 0
	err = s.store.Scan(r.Context(), srch.q, func(e *audit.Event) error {
		if !matchParams(srch.filters, e) {
			return nil
		}
		if err := write(e); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			if err := flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Error().Err(err).Int("records", n).Str("property", prop.String()).Msg("export failed midway")
		}
		panic(http.ErrAbortHandler)
	}
}

// handleHealthz answers while the process serves HTTP.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]string{"status": "ok"})
}

// Readiness is the answer of /readyz.
type Readiness struct {
	Status string            `json:"status"` // "ready" or "not ready"
	Checks map[string]string `json:"checks"` // component -> "ok" or what is wrong
}

// handleReadyz runs every readiness check (the store's first) within two
// seconds and answers 200 when all pass, else 503.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	s.readyMu.Lock()
	checks := make(map[string]ReadyFunc, len(s.ready)+1)
	for k, v := range s.ready {
		checks[k] = v
	}
	s.readyMu.Unlock()
	checks["store"] = func(ctx context.Context) error {
		_, err := s.store.GetKV(command.TokenNamespace, []byte{0})
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(checks))
	for name, fn := range checks {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					results <- result{name, fmt.Errorf("check panicked: %v", p)}
				}
			}()
			results <- result{name, fn(ctx)}
		}()
	}
	out := Readiness{Status: "ready", Checks: make(map[string]string, len(checks))}
	for range checks {
		select {
		case res := <-results:
			out.Checks[res.name] = "ok"
			if res.err != nil {
				out.Checks[res.name] = res.err.Error()
				out.Status = "not ready"
			}
			continue
		case <-ctx.Done():
		}
		for name := range checks {
			if _, done := out.Checks[name]; !done {
				out.Checks[name] = "timed out"
			}
		}
		out.Status = "not ready"
		break
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if out.Status != "ready" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(out)
}
