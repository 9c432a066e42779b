package bot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// retentionEvent is the DATA_RETENTION record of an operator's action.
func RetentionEvent(p audit.Platform, property, action string, n int) *audit.Event {
	e := &audit.Event{Time: time.Now(), Platform: p, PropertyID: property, Type: audit.DataRetention,
		PlatformType: "cli", Function: audit.FuncRetention, ActorType: audit.ActorSystem, ActorID: "operator", ActorName: "operator"}
	e.Params.Set(audit.ParamAction, action)
	e.Params.Set(audit.ParamCount, strconv.Itoa(n))
	return e
}

// purgeAll purges every property's records older than its retention period
// (the property's own setting, else days) and records one DATA_RETENTION
// event per property that lost records.
func PurgeAll(ctx context.Context, s *store.Store, days int, now func() time.Time, record func(*audit.Event) error) (int, error) {
	if now == nil {
		now = time.Now
	}
	total := 0
	for _, p := range s.Properties() {
		keep := days
		if set, err := s.Settings(ctx, p.Platform, p.ID); err == nil && set.RetentionDays > 0 {
			keep = set.RetentionDays
		}
		if keep <= 0 {
			continue
		}
		before := now().AddDate(0, 0, -keep)
		n, err := s.Purge(ctx, p.Platform, p.ID, before)
		total += n
		if err != nil {
			return total, err
		}
		if n > 0 {
			e := RetentionEvent(p.Platform, p.ID, audit.RetentionPurge, n)
			e.Params.Set(audit.ParamDays, strconv.Itoa(keep))
			e.Params.Set(audit.ParamBefore, before.UTC().Format(time.RFC3339))
			if err := record(e); err != nil {
				return total, fmt.Errorf("record the purge of %s:%s: %w", p.Platform, p.ID, err)
			}
		}
	}
	return total, nil
}
