package httpapi

import (
	"fmt"

	"github.com/chatwarden/chatwarden/audit"
)

// Folding: a raid is tens or hundreds of join records in a row; the log
// page shows such a run as one card that opens (<details>, no script) on
// the entries it holds.

// foldMin is the fewest joins in a row that fold into one card.
const foldMin = 5

// listItem is one card of the log: an entry, or a fold of entries.
type listItem struct {
	Entry pageEntry
	Fold  *fold
}

type fold struct {
	Summary string
	Entries []pageEntry
}

// foldJoins folds runs of foldMin or more USER_JOIN records (and the
// JOIN_RAID records among them) of one property; events and entries are
// parallel, newest first.
func foldJoins(events []*audit.Event, entries []pageEntry, locale string) []listItem {
	var out []listItem
	joinish := func(e *audit.Event) bool {
		return e.Type == audit.UserJoin || e.Type == audit.SecurityEvent && e.Params[audit.ParamKind] == audit.KindJoinRaid
	}
	for i := 0; i < len(events); {
		j, joins, raid := i, 0, false
		for j < len(events) && joinish(events[j]) && events[j].PropertyID == events[i].PropertyID && events[j].Platform == events[i].Platform {
			if events[j].Type == audit.UserJoin {
				joins++
			} else {
				raid = true
			}
			j++
		}
		if joins < foldMin {
			out = append(out, listItem{Entry: entries[i]})
			i++
			continue
		}
		key := "fold_joins"
		if raid {
			key = "fold_raid"
		}
		f := &fold{Entries: entries[i:j], Summary: fmt.Sprintf(pageLabel(locale, key), joins, entries[j-1].TimeText, entries[i].TimeText)}
		out = append(out, listItem{Fold: f})
		i = j
	}
	return out
}
