package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// A role's page lists the records that gave or took the role: the log
// filtered by a role, which the store has no index for, so the newest
// USER_UPDATE records are scanned.

// roleScanMax bounds the records a role page examines.
const roleScanMax = 20000

type rolePage struct {
	basePage
	Role    string
	Entries []pageEntry
	Partial bool
}

// roleIDs splits a roles_added or roles_removed value.
func roleIDs(v string) []string {
	var out []string
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// handleRole shows the records that gave or took a role: /role?id=.
func (s *Server) handleRole(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.viewerScope(w, r, "role")
	if !ok {
		return
	}
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	page := &rolePage{basePage: sc.base, Role: id}
	if id == "" || len(id) > audit.MaxIDLen || strings.Contains(id, ",") {
		page.Error = fmt.Sprintf("id: give a role id of at most %d bytes", audit.MaxIDLen)
		s.showPage(w, http.StatusBadRequest, "error", &page.basePage)
		return
	}
	n := 0
	err := s.store.Scan(r.Context(), store.Query{Platform: sc.prop.Platform, Property: sc.prop.ID, Types: []audit.EventType{audit.UserUpdate}}, func(e *audit.Event) error {
		if n++; n > roleScanMax {
			page.Partial = true
			return errEnough
		}
		if slices.Contains(roleIDs(e.Params[audit.ParamRolesAdded]), id) || slices.Contains(roleIDs(e.Params[audit.ParamRolesRemoved]), id) {
			page.Entries = append(page.Entries, sc.entry(e))
			if len(page.Entries) == modPageRows {
				page.Partial = true
				return errEnough
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		s.fail(w, r, fmt.Errorf("role page: %w", err))
		return
	}
	s.showPage(w, http.StatusOK, "role", page)
}
