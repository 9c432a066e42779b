package httpapi

import (
	"net/http"
	"strings"

	"github.com/chatwarden/chatwarden/command"
)

// eraseSuffix ends the path of the erasure endpoint: a custom method on a
// member, in the style of the activities' :export and :watch (ServeMux
// wildcards are whole segments, so the handler takes the suffix off).
const eraseSuffix = ":erase"

// Erasure is the answer of POST /v1/properties/{property}/members/{user}:erase.
type Erasure struct {
	Kind     string `json:"kind"`
	Property string `json:"property"`
	User     string `json:"user"`
	// Erased is how many records lost their personal part.
	Erased int `json:"erased"`
}

// handleErase erases a member's personal data in a community (operator
// only) while the bot runs, and records DATA_RETENTION (action ERASE,
// the operator as actor, the member as target). On a fleet's shard that
// record reaches every query node, which erases the member too; a query
// node itself refuses, since its records are the shards'.
func (s *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	prop, p, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if !p.operator {
		s.authFailed(r, SurfaceAPI, ReasonOperatorOnly, &prop, &p.token)
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "only the operator token may erase a member's data; a community's admins can use /audit erase or /erase")
		return
	}
	user, found := strings.CutSuffix(r.PathValue("user"), eraseSuffix)
	if !found {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "", "no such endpoint: %s %s (did you mean .../members/{user}:erase?)", logField(r.Method), logField(r.URL.Path))
		return
	}
	if prop.All {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "property", "property: erase one community at a time, not %s", AllProperties)
		return
	}
	if !isDecimal(user) || len(user) > 20 {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "user", "user: %q is not a user id (a decimal number of at most 20 digits without leading zeros)", logField(user))
		return
	}
	if s.store.IsReplica() {
		writeError(w, http.StatusConflict, "FAILED_PRECONDITION", "",
			"this is a query node: its records are the shards'. Erase on the shard that records %s; the erasure reaches every query node", prop)
		return
	}
	n, err := command.Erase(r.Context(), s.store, s.rec, prop.Platform, prop.ID, user, command.Admin{}, command.EraseByAPI)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info().Str("property", prop.String()).Str("user", user).Int("records", n).Msg("erased a member's personal data at the operator's request")
	writeJSON(w, Erasure{Kind: "chatwarden#erasure", Property: prop.String(), User: user, Erased: n})
}
