package moderation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation/skeleton"
	"github.com/chatwarden/chatwarden/platform"
)

// nameFields are the USER_UPDATE fields (params.field) that hold a name.
var nameFields = []string{
	"username", "global_name", "display_name", "nickname", "nick", "name",
	"first_name", "last_name", "full_name",
}

// partialName are the name fields that are a part of the name a member
// shows (Telegram's first and last name): the impersonation guard
// compares the whole name instead.
var partialName = map[string]bool{"first_name": true, "last_name": true}

// IsNameField reports whether a USER_UPDATE's params.field is a name the
// impersonation guard checks: username, global_name, display_name,
// nickname (Discord); first_name, last_name, username, name, full_name
// (Telegram).
func IsNameField(field string) bool { return slices.Contains(nameFields, field) }

// Protected is a name the impersonation guard protects; Owner is the
// staff member whose name it is ("" for a configured name).
type Protected struct {
	Name  string
	Owner string
}

// Candidate is one name a member shows, and where it shows it.
type Candidate struct {
	Name  string
	Field string // "name", "nickname", "username" ...
}

// Match is a name found confusable with a protected name.
type Match struct {
	Candidate
	Protected
	NameSkeleton, ProtectedSkeleton string
}

// FindImpersonation compares a member's names with the protected names
// and returns the first confusable pair. A protected name owned by the
// member is skipped: nobody impersonates themselves.
func FindImpersonation(user string, names []Candidate, protected []Protected) (Match, bool) {
	for _, n := range names {
		if strings.TrimSpace(n.Name) == "" {
			continue
		}
		for _, p := range protected {
			if p.Owner != "" && p.Owner == user {
				continue
			}
			if ok, ns, ps := skeleton.Confusable(n.Name, p.Name); ok {
				return Match{Candidate: n, Protected: p, NameSkeleton: ns, ProtectedSkeleton: ps}, true
			}
		}
	}
	return Match{}, false
}

// ProtectedNames lists the staff's names and the configured ones, without
// duplicates. Names are protected whole: a directory lists the names a
// staff member shows (their display name, their username), not parts of
// them, so that "Alice" does not match the admin "Alice Admin".
func ProtectedNames(staff []Member, configured []string) []Protected {
	var out []Protected
	seen := map[Protected]bool{}
	add := func(p Protected) {
		if strings.TrimSpace(p.Name) != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, m := range staff {
		for _, n := range m.Names {
			add(Protected{Name: n, Owner: m.ID})
		}
	}
	for _, n := range configured {
		add(Protected{Name: n})
	}
	return out
}

// checkImpersonation runs the impersonation guard on a join or a name
// change. Staff members are never checked: they are the people the guard
// protects, and never flagged for their own names. Names an admin gave a
// member (a nickname set by a moderator) are not checked either.
func (e *Engine) checkImpersonation(ctx context.Context, pl *attached, ev *audit.Event, cfg ImpersonationConfig) {
	if !cfg.Enabled {
		return
	}
	k := propKey{ev.Platform, ev.PropertyID}
	var user string
	var names []Candidate
	switch ev.Type {
	case audit.UserJoin:
		user = ev.ActorID
		if ev.ActorType == audit.ActorAdmin {
			return
		}
		names = append(names, Candidate{Name: ev.ActorName, Field: "name"})
	case audit.UserUpdate:
		user = ev.Target()
		if user == "" {
			user = ev.ActorID
		}
		if ev.ActorType == audit.ActorAdmin && ev.ActorID != "" && ev.ActorID != user {
			return // an admin chose this member's name
		}
		// Names are compared whole: a first or last name alone is part
		// of the member's name (target_name), not a name they show.
		if f := ev.Params.Get(audit.ParamField); !partialName[f] {
			names = append(names, Candidate{Name: ev.Params.Get(audit.ParamNewValue), Field: f})
		}
		names = append(names, Candidate{Name: ev.Params.Get(audit.ParamTargetName), Field: "name"})
	default:
		return
	}
	if user == "" {
		return
	}
	if self, _ := pl.dir.Self(); user == self {
		return
	}
	staff := e.staffOf(ctx, pl, k)
	if slices.ContainsFunc(staff, func(m Member) bool { return m.ID == user }) {
		return
	}
	if nl, ok := pl.dir.(NameLister); ok {
		more, err := nl.MemberNames(ctx, k.id, user)
		switch {
		case errors.Is(err, platform.ErrNotFound):
			// Gone already (a member who joined and left at once): the
			// names the event carries are all there is.
		case err != nil:
			e.log.Warn().Err(err).Str("user", user).Msg("list member names")
		}
		for _, n := range more {
			names = append(names, Candidate{Name: n, Field: "name"})
		}
	}
	m, ok := FindImpersonation(user, names, ProtectedNames(staff, cfg.ProtectedNames))
	if !ok {
		return
	}
	if !e.firstSeen(fmt.Sprintf("imp\x00%s\x00%s\x00%s\x00%s\x00%s", k.p, k.id, user, m.NameSkeleton, m.ProtectedSkeleton)) {
		return
	}
	log := e.log.With().Str("platform", k.p.String()).Str("property", k.id).Str("user", user).
		Str("name", m.Candidate.Name).Str("protected", m.Protected.Name).Logger()
	log.Info().Msg("impersonation")

	// The action is a detail of the alert, which says what was done.
	cause := platform.Cause{Function: audit.FuncImpersonation, Quiet: audit.QuietDetail,
		Reason: fmt.Sprintf("impersonation: %q looks like %q", m.Candidate.Name, m.Protected.Name)}
	act, res := ActFlag, OutcomeNone
	var err error
	switch cfg.Action {
	case ActionQuarantine:
		act = ActQuarantine
		err = pl.actions.Timeout(ctx, k.id, user, e.clock.Now().Add(cfg.Quarantine), cause)
	case ActionKick:
		act = ActKick
		err = pl.actions.Kick(ctx, k.id, user, cause)
	case ActionBan:
		act = ActBan
		err = pl.actions.Ban(ctx, k.id, user, cause)
	}
	if act != ActFlag {
		res = outcome(err)
	}
	if err != nil {
		log.Warn().Err(err).Str("action", act).Msg("act on an impersonator")
	}
	rec := e.synthetic(pl, k, audit.SecurityEvent, audit.FuncImpersonation)
	rec.TargetIDs = []string{user}
	if m.Owner != "" {
		rec.TargetIDs = append(rec.TargetIDs, m.Owner)
	}
	rec.Params.Set(audit.ParamKind, audit.KindImpersonation)
	rec.Params.Set(audit.ParamTargetName, m.Candidate.Name)
	rec.Params.Set(audit.ParamField, m.Field)
	rec.Params.Set(audit.ParamMatchedName, m.Protected.Name)
	rec.Params.Set(audit.ParamNameSkeleton, m.NameSkeleton)
	rec.Params.Set(audit.ParamMatchedSkeleton, m.ProtectedSkeleton)
	rec.Params.Set(audit.ParamAction, act)
	rec.Params.Set(audit.ParamOutcome, res)
	if act == ActQuarantine {
		rec.Params.Set(audit.ParamDuration, cfg.Quarantine.String())
	}
	e.record(ctx, rec)
}
