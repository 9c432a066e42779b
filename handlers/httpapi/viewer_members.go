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

// memberScanMax bounds the records a member page examines (newest first).
const memberScanMax = 50000

// memberShown bounds each list of a member page.
const memberShown = 50

type memberPage struct {
	basePage
	Member       person
	FirstSeen    string
	Joins        []string // times, newest first
	Leaves       []string
	Names        []nameSeen // oldest first
	Messages     int
	Edits        int
	Deletions    int
	Actions      []modRow
	ReportsBy    []pageEntry
	ReportsAbout []pageEntry
	LogURL       string // the log filtered by them
	ModURL       string // the actions they took as a moderator
	Partial      bool   // the scan stopped at memberScanMax
}

// nameSeen is a name someone went by, from when it was first recorded.
type nameSeen struct {
	Name, Since string
}

// handleMember shows what the log knows of one person: /member?user=ID.
func (s *Server) handleMember(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.viewerScope(w, r, "member")
	if !ok {
		return
	}
	id := strings.TrimSpace(r.URL.Query().Get("user"))
	page := &memberPage{basePage: sc.base}
	if id == "" || len(id) > audit.MaxIDLen {
		page.Error = fmt.Sprintf("user: give a user id of at most %d bytes", audit.MaxIDLen)
		s.showPage(w, http.StatusBadRequest, "error", &page.basePage)
		return
	}
	d, err := s.names(r.Context(), sc.prop)
	if err != nil {
		s.fail(w, r, fmt.Errorf("member page: %w", err))
		return
	}
	id, _ = d.resolve(id) // a name or @username works too
	if err := s.memberHistory(r, sc, id, page); err != nil {
		s.fail(w, r, fmt.Errorf("member page: %w", err))
		return
	}
	s.showPage(w, http.StatusOK, "member", page)
}

// memberHistory fills page from one newest-first scan of the records
// whose actor or target is id.
func (s *Server) memberHistory(r *http.Request, sc *scope, id string, page *memberPage) error {
	var (
		first    time.Time
		names    []nameSeen // newest first while scanning
		seen     = map[string]int{}
		examined int
	)
	addName := func(name string, t time.Time) {
		name = logentry.OneLine(name, 0)
		if name == "" {
			return
		}
		if i, ok := seen[name]; ok {
			names[i].Since = sc.timeText(t) // older sighting
			return
		}
		seen[name] = len(names)
		names = append(names, nameSeen{Name: name, Since: sc.timeText(t)})
	}
	q := store.Query{Platform: sc.prop.Platform, Property: sc.prop.ID, User: id}
	err := s.store.Scan(r.Context(), q, func(e *audit.Event) error {
		if examined++; examined > memberScanMax {
			page.Partial = true
			return errEnough
		}
		first = e.Time
		isActor := e.ActorID == id
		isTarget := len(e.TargetIDs) > 0 && e.TargetIDs[0] == id
		if isActor {
			addName(e.ActorName, e.Time)
		}
		if isTarget {
			addName(e.Params[audit.ParamTargetName], e.Time)
		}
		switch e.Type {
		case audit.UserJoin:
			if (isActor || isTarget) && len(page.Joins) < memberShown {
				page.Joins = append(page.Joins, sc.timeText(e.Time))
			}
		case audit.UserRemove:
			if (isTarget || isActor && len(e.TargetIDs) == 0) && e.Params[audit.ParamRemoval] != audit.RemovalKicked && len(page.Leaves) < memberShown {
				page.Leaves = append(page.Leaves, sc.timeText(e.Time))
			}
		case audit.ChatMessage:
			if isActor {
				page.Messages++
			}
		case audit.ChatMessageEdit:
			if isActor {
				page.Edits++
			}
		case audit.ChatMessageDelete:
			if isTarget || isActor && len(e.TargetIDs) == 0 {
				page.Deletions++
			}
		case audit.MessageReport:
			switch {
			case isActor && len(page.ReportsBy) < memberShown:
				page.ReportsBy = append(page.ReportsBy, sc.entry(e))
			case (isTarget || e.Params[audit.ParamReportedAuthor] == id) && len(page.ReportsAbout) < memberShown:
				page.ReportsAbout = append(page.ReportsAbout, sc.entry(e))
			}
		}
		if act, who := moderatorAction(e); act != "" && who == id && len(page.Actions) < memberShown {
			page.Actions = append(page.Actions, sc.modRow(e, act, who))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return err
	}
	slices.Reverse(names)
	page.Names = names
	name := ""
	if len(names) > 0 {
		name = names[len(names)-1].Name
	}
	page.Member = sc.person(id, name)
	if !first.IsZero() {
		page.FirstSeen = sc.timeText(first)
	}
	page.LogURL = sc.href("/", "user", id)
	page.ModURL = sc.href("/moderation", "moderator", id)
	return nil
}
