package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

// Moderator actions, as the moderation view names them. A kick is a
// USER_REMOVE with removal KICKED by someone other than the member, a
// timeout a USER_UPDATE of the timeout field, a moderator deletion a
// CHAT_MESSAGE_DELETE by someone other than the author (the link filter's
// own deletion is told by its MODERATION_LINK, so it is left out).
const (
	actBan         = "ban"
	actUnban       = "unban"
	actKick        = "kick"
	actTimeout     = "timeout"
	actTimeoutLift = "timeout_lift"
	actQuarantine  = "quarantine"
	actDelete      = "delete"
	actLink        = "link"
	actVerifyPass  = "verify_pass"
	actVerifyFail  = "verify_fail"
)

// modActions lists the actions in the filter's order, with the types that
// may hold them.
var modActions = []struct {
	key   string
	types []audit.EventType
}{
	{actBan, []audit.EventType{audit.UserBan}},
	{actUnban, []audit.EventType{audit.UserBanRemove}},
	{actKick, []audit.EventType{audit.UserRemove}},
	{actTimeout, []audit.EventType{audit.UserUpdate}},
	{actTimeoutLift, []audit.EventType{audit.UserUpdate}},
	{actQuarantine, []audit.EventType{audit.SecurityEvent}},
	{actDelete, []audit.EventType{audit.ChatMessageDelete}},
	{actLink, []audit.EventType{audit.ModerationLink}},
	{actVerifyPass, []audit.EventType{audit.VerificationSuccess}},
	{actVerifyFail, []audit.EventType{audit.VerificationFailure}},
}

// modTypes are the types any moderator action is recorded as.
var modTypes = []audit.EventType{audit.UserBan, audit.UserBanRemove, audit.UserRemove, audit.UserUpdate,
	audit.SecurityEvent, audit.ChatMessageDelete, audit.ModerationLink, audit.VerificationSuccess, audit.VerificationFailure}

// moderatorAction classifies e: the action ("" when e is none) and the
// member it was taken on.
func moderatorAction(e *audit.Event) (action, member string) {
	if len(e.TargetIDs) > 0 {
		member = e.TargetIDs[0]
	}
	byOther := e.ActorID != member || e.ActorID == "" && e.ActorType == audit.ActorAdmin
	switch e.Type {
	case audit.UserBan:
		return actBan, member
	case audit.UserBanRemove:
		return actUnban, member
	case audit.UserRemove:
		if e.Params[audit.ParamRemoval] == audit.RemovalKicked && member != "" && (e.ActorID != "" || e.ActorName != "") && e.ActorID != member {
			return actKick, member
		}
	case audit.UserUpdate:
		if strings.EqualFold(e.Params[audit.ParamField], "timeout") {
			if e.Params[audit.ParamNewValue] == "" && e.Params[audit.ParamUntil] == "" && e.Params[audit.ParamDuration] == "" {
				return actTimeoutLift, member
			}
			return actTimeout, member
		}
	case audit.SecurityEvent:
		if e.Params[audit.ParamAction] == "QUARANTINE" {
			return actQuarantine, member
		}
	case audit.ChatMessageDelete:
		if e.Function != audit.FuncLinkFilter && byOther && (e.ActorID != "" || e.ActorType == audit.ActorAdmin) {
			return actDelete, member
		}
	case audit.ModerationLink:
		return actLink, member
	case audit.VerificationSuccess:
		return actVerifyPass, member
	case audit.VerificationFailure:
		return actVerifyFail, member
	}
	return "", ""
}

// modRow is one line of the moderation table.
type modRow struct {
	Time, TimeText string
	Moderator      person
	Member         person
	Action         string // the key, for CSS and tests
	ActionText     string
	Reason         string
	NoReason       bool
	RecordURL      string
}

type moderationPage struct {
	basePage
	Suggestions []option // names for the moderator filter
	ModNote     string   // what a name typed there was taken for
	Moderator   string
	Action      string
	Actions     []option
	Rows        []modRow
	OlderURL    string
}

// Moderation view bounds: rows a page shows, records a page examines.
const (
	modPageRows = 100
	modScanMax  = 20000
)

var errEnough = errors.New("enough")

// handleModeration shows the table of moderator actions, newest first,
// filtered by moderator (id or name as recorded) and action; ?before= a
// record id pages to older actions.
func (s *Server) handleModeration(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.viewerScope(w, r, "moderation")
	if !ok {
		return
	}
	v := r.URL.Query()
	page := &moderationPage{basePage: sc.base, Moderator: strings.TrimSpace(v.Get("moderator")), Action: v.Get("action")}
	page.Actions = []option{{Value: "", Label: pageLabel(sc.locale, "all_actions")}}
	types := modTypes
	for _, a := range modActions {
		page.Actions = append(page.Actions, option{Value: a.key, Label: pageLabel(sc.locale, "act_"+a.key), Selected: a.key == page.Action})
		if a.key == page.Action {
			types = a.types
		}
	}
	code := http.StatusOK
	if page.Action != "" && len(types) == len(modTypes) {
		page.Error, code = "action: unknown action "+fmt.Sprintf("%q", page.Action), http.StatusBadRequest
	}
	if len(page.Moderator) > audit.MaxNameLen {
		page.Error, code = fmt.Sprintf("moderator: longer than %d bytes", audit.MaxNameLen), http.StatusBadRequest
	}
	var before audit.ID
	if raw := v.Get("before"); raw != "" {
		id, err := audit.ParseID(raw)
		if err != nil {
			page.Error, code = "before: not a record id", http.StatusBadRequest
		}
		before = id
	}
	if code != http.StatusOK {
		s.showPage(w, code, "moderation", page)
		return
	}
	d, err := s.names(r.Context(), sc.prop)
	if err != nil {
		s.fail(w, r, fmt.Errorf("moderation view: %w", err))
		return
	}
	page.Suggestions = d.list
	moderator := page.Moderator
	if id, _ := d.resolve(moderator); moderator != "" && id != moderator {
		moderator = id // a name or @username: that person's id
		page.ModNote = page.Moderator + ": " + id
	}
	rows, last, more, err := s.moderatorActions(r.Context(), sc, types, moderator, page.Action, before, "", modPageRows)
	if err != nil {
		s.fail(w, r, fmt.Errorf("moderation view: %w", err))
		return
	}
	page.Rows = rows
	if more {
		page.OlderURL = sc.href("/moderation", "moderator", page.Moderator, "action", page.Action, "before", last.String())
	}
	s.showPage(w, http.StatusOK, "moderation", page)
}

// moderatorActions scans the property newest first for moderator actions
// of the given types older than before (when set), by moderator (id or
// name, any case; "" for anyone), of action ("" for any), on member ("" for
// anyone). It returns at most max rows, the id of the last, and whether
// there may be more.
func (s *Server) moderatorActions(ctx context.Context, sc *scope, types []audit.EventType, moderator, action string, before audit.ID, member string, max int) (rows []modRow, last audit.ID, more bool, err error) {
	q := store.Query{Platform: sc.prop.Platform, Property: sc.prop.ID, Types: types, User: member}
	if before != (audit.ID{}) {
		q.Until = before.Time().Add(time.Nanosecond)
	}
	examined := 0
	err = s.store.Scan(ctx, q, func(e *audit.Event) error {
		if examined++; examined > modScanMax {
			more = len(rows) > 0
			return errEnough
		}
		if before != (audit.ID{}) && bytes.Compare(e.ID[:], before[:]) >= 0 {
			return nil
		}
		act, who := moderatorAction(e)
		if act == "" || action != "" && act != action || member != "" && who != member {
			return nil
		}
		if moderator != "" && e.ActorID != moderator && !strings.EqualFold(e.ActorName, moderator) {
			return nil
		}
		if len(rows) == max {
			more = true
			return errEnough
		}
		rows = append(rows, sc.modRow(e, act, who))
		last = e.ID
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return rows, last, more, err
}

func (sc *scope) modRow(e *audit.Event, act, member string) modRow {
	row := modRow{Time: e.Time.UTC().Format(time.RFC3339Nano), TimeText: sc.timeText(e.Time), Action: act,
		ActionText: pageLabel(sc.locale, "act_"+act), RecordURL: sc.recordURL(e.ID),
		Moderator: sc.person(e.ActorID, e.ActorName), Member: sc.person(member, e.Params[audit.ParamTargetName])}
	if row.Moderator.Name == "" && row.Moderator.ID == "" {
		row.Moderator.Name = logentry.Word(sc.locale, "someone")
	}
	row.Reason = enumWord(sc.locale, audit.ParamReason, e.Params[audit.ParamReason])
	if row.Reason == "" && act == actLink {
		row.Reason = strings.TrimSpace(enumWord(sc.locale, audit.ParamRule, e.Params[audit.ParamRule]) + " " + e.Params[audit.ParamDomain])
	}
	row.NoReason = row.Reason == ""
	if row.NoReason {
		row.Reason = pageLabel(sc.locale, "no_reason")
	}
	return row
}
