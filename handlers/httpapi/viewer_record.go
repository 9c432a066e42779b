package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

// pageEntry is a record as the pages show it: the log channels' entry in
// the page's locale, with the people in it linked to their member pages
// and the record's permalink.
type pageEntry struct {
	logentry.Entry
	Time, TimeText string
	Class          string
	Actor          person
	Targets        []person
	Channel        person   // its URL is the log filtered by the channel
	Roles          []person // roles given or taken, linked to their pages
	URL            string
	Long           bool   // content long enough to be folded in a <details>
	Preview        string // its first line or so, the <summary>
	// An edit's before/after view, its changed words marked.
	Diff                    bool
	Before, After           []diffPart
	BeforeLabel, AfterLabel string
}

// longContent is the length (bytes) from which content is folded in a
// <details>.
const longContent = 600

func (sc *scope) entry(e *audit.Event) pageEntry {
	pe := pageEntry{Entry: render(e, sc.locale), Time: e.Time.UTC().Format(time.RFC3339Nano), TimeText: sc.timeText(e.Time),
		Class: "cat-" + e.Type.Category().String(), URL: sc.recordURL(e.ID)}
	if e.ActorID != "" || e.ActorName != "" {
		pe.Actor = sc.person(e.ActorID, e.ActorName)
	}
	for i, t := range e.TargetIDs {
		name := ""
		if i == 0 {
			name = e.Params[audit.ParamTargetName]
		}
		pe.Targets = append(pe.Targets, sc.person(t, name))
		if i == 9 {
			break
		}
	}
	for _, k := range []string{audit.ParamRolesAdded, audit.ParamRolesRemoved} {
		for _, id := range roleIDs(e.Params[k]) {
			if len(pe.Roles) < 20 {
				pe.Roles = append(pe.Roles, person{ID: id, URL: sc.href("/role", "id", id)})
			}
		}
	}
	for i, f := range pe.Fields {
		if w := enumWord(sc.locale, f.Key, f.Value); w != f.Value {
			pe.Fields[i].Value = w
		}
	}
	if e.ChannelID != "" {
		pe.Channel = person{ID: e.ChannelID, Name: logentry.OneLine(e.Params[audit.ParamChannelName], 0), URL: sc.href("/", "channel", e.ChannelID)}
	}
	// No diff when either side is unknown: the earlier state, or the new
	// text the platform withheld (it did not become empty).
	if old, ok := e.Params[audit.ParamOldContent]; ok && e.Type == audit.ChatMessageEdit && e.Params[audit.ParamUnknownBefore] == "" &&
		e.Params[audit.ParamContentUnavailable] == "" {
		pe.Diff = true
		pe.Before, pe.After = sides(wordDiff(old, e.Content))
		pe.BeforeLabel, pe.AfterLabel = pageLabel(sc.locale, "before"), pageLabel(sc.locale, "after")
		pe.Fields = slices.DeleteFunc(slices.Clone(pe.Fields), func(f logentry.Field) bool { return f.Key == audit.ParamOldContent })
	}
	if pe.Long = len(pe.Content) > longContent || strings.Count(pe.Content, "\n") > 8; pe.Long {
		pe.Preview = logentry.OneLine(pe.Content, 160)
	}
	return pe
}

type recordPage struct {
	basePage
	Entry pageEntry
}

// handleRecord is a record's permalink: /record?id=ID.
func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.viewerScope(w, r, "record")
	if !ok {
		return
	}
	page := &recordPage{basePage: sc.base}
	id, err := audit.ParseID(r.URL.Query().Get("id"))
	if err != nil {
		page.Error = "id: not a record id"
		s.showPage(w, http.StatusBadRequest, "error", &page.basePage)
		return
	}
	e, err := s.store.Get(r.Context(), sc.prop.Platform, sc.prop.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		page.Error = pageLabel(sc.locale, "not_found")
		s.showPage(w, http.StatusNotFound, "error", &page.basePage)
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("record page: %w", err))
		return
	}
	page.Entry = sc.entry(e)
	s.showPage(w, http.StatusOK, "record", page)
}
