package command

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// Eraser erases a user's personal data in a property (*store.Store is
// one; its Erase is safe while the bot records).
type Eraser interface {
	Erase(ctx context.Context, p audit.Platform, property, user string) (int, error)
}

// Erasure surfaces: the record's platform_type.
const (
	EraseByAPI     = "api"     // the operator's HTTP endpoint
	EraseByCommand = "command" // a moderator's chat command
)

// Erase erases user's personal data in a property in a running bot (see
// store.Store.Erase) and records the erasure as DATA_RETENTION with
// action ERASE, by as its actor and user as its one target; it returns
// how many records it changed. On a fleet's shard the record reaches the
// query nodes, which erase the user too. An empty by.ID is the operator.
func Erase(ctx context.Context, s Eraser, rec EventRecorder, p audit.Platform, property, user string, by Admin, surface string) (int, error) {
	if property == "" || user == "" {
		return 0, fmt.Errorf("erase: a property and a user are required")
	}
	n, err := s.Erase(ctx, p, property, user)
	if err != nil {
		return n, fmt.Errorf("erase %s in %s:%s: %w", user, p, property, err)
	}
	e := &audit.Event{Time: time.Now(), Platform: p, PropertyID: property, Type: audit.DataRetention,
		PlatformType: surface, Function: audit.FuncRetention, ActorType: audit.ActorAdmin,
		ActorID: by.ID, ActorName: by.Name, TargetIDs: []string{user}}
	if by.ID == "" {
		e.ActorType, e.ActorID, e.ActorName = audit.ActorSystem, "operator", "operator"
	}
	e.Params.Set(audit.ParamAction, audit.RetentionErase)
	e.Params.Set(audit.ParamCount, strconv.Itoa(n))
	if err := rec.Record(ctx, e); err != nil {
		return n, fmt.Errorf("record the erasure of %s in %s:%s: %w", user, p, property, err)
	}
	return n, nil
}
