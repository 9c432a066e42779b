package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

// Names as recorded: the viewer shows people and communities by the names
// their records carry, newest first, and lets the user filter take a name
// or an @username. Nothing is asked of the platforms: a name is what the
// log saw at the time.

// nameScanMax bounds the records read to learn names.
const nameScanMax = 5000

// maxSuggestions bounds the user filter's <datalist>.
const maxSuggestions = 200

// nameDir is what recent records say people are called.
type nameDir struct {
	byID map[string]string   // id: newest name
	ids  map[string][]string // lower-case name or username: ids, newest first
	list []option            // suggestions: name (value) and id (label), newest first
}

func (d *nameDir) add(id, name string, username bool) {
	name = logentry.OneLine(name, 0)
	if id == "" || name == "" {
		return
	}
	if _, ok := d.byID[id]; !ok && !username {
		d.byID[id] = name
		if len(d.list) < maxSuggestions {
			d.list = append(d.list, option{Value: name, Label: id})
		}
	}
	key := strings.ToLower(strings.TrimPrefix(name, "@"))
	for _, known := range d.ids[key] {
		if known == id {
			return
		}
	}
	d.ids[key] = append(d.ids[key], id)
}

// names reads the newest records of prop for the names in them.
func (s *Server) names(ctx context.Context, prop Property) (*nameDir, error) {
	d := &nameDir{byID: map[string]string{}, ids: map[string][]string{}}
	n := 0
	err := s.store.Scan(ctx, store.Query{Platform: prop.Platform, Property: prop.ID}, func(e *audit.Event) error {
		if n++; n > nameScanMax {
			return errEnough
		}
		if e.Redacted {
			return nil
		}
		d.add(e.ActorID, e.ActorName, false)
		if len(e.TargetIDs) > 0 {
			d.add(e.TargetIDs[0], e.Params[audit.ParamTargetName], false)
			if e.Type == audit.UserUpdate && strings.Contains(e.Params[audit.ParamField], "name") {
				d.add(e.TargetIDs[0], e.Params[audit.ParamNewValue], e.Params[audit.ParamField] == "username")
				d.add(e.TargetIDs[0], e.Params[audit.ParamOldValue], e.Params[audit.ParamField] == "username")
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("names of %s: %w", prop, err)
	}
	return d, nil
}

// resolve turns what was typed in the user filter into an id: an id the
// log knows, else a name or @username (any case), else the text as typed.
// others lists the other ids going by that name.
func (d *nameDir) resolve(typed string) (id string, others []string) {
	if _, ok := d.byID[typed]; ok && !strings.HasPrefix(typed, "@") {
		return typed, nil
	}
	ids := d.ids[strings.ToLower(strings.TrimPrefix(typed, "@"))]
	if len(ids) == 0 {
		return typed, nil
	}
	return ids[0], ids[1:]
}

// communityName is prop's name (Discord's server name, Telegram's chat
// title): the one its handler last saw (store.PropertyName), else the
// newest the log recorded, "" when neither is known.
func (s *Server) communityName(ctx context.Context, prop Property) (string, error) {
	if name, err := s.store.PropertyName(prop.Platform, prop.ID); err != nil {
		return "", fmt.Errorf("name of %s: %w", prop, err)
	} else if name != "" {
		return logentry.OneLine(name, 0), nil
	}
	var name string
	n := 0
	err := s.store.Scan(ctx, store.Query{Platform: prop.Platform, Property: prop.ID, Types: []audit.EventType{audit.PropertyUpdate}}, func(e *audit.Event) error {
		if n++; n > 1000 {
			return errEnough
		}
		if v := e.Params["new_name"]; v != "" {
			name = v
		} else if f := e.Params[audit.ParamField]; (f == "title" || f == "name") && e.Params[audit.ParamNewValue] != "" {
			name = e.Params[audit.ParamNewValue]
		}
		if name != "" {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return "", fmt.Errorf("name of %s: %w", prop, err)
	}
	return logentry.OneLine(name, 0), nil
}

// viewerNames fills the log page's community name and name suggestions
// and resolves its user filter to an id.
func (s *Server) viewerNames(ctx context.Context, prop Property, srch *search, page *viewerPage) error {
	if prop.All {
		return nil
	}
	name, err := s.communityName(ctx, prop)
	if err != nil {
		return err
	}
	page.Community = name
	d, err := s.names(ctx, prop)
	if err != nil {
		return err
	}
	page.Suggestions = d.list
	if srch != nil && srch.q.User != "" {
		id, others := d.resolve(srch.q.User)
		if id != srch.q.User {
			page.UserNote = fmt.Sprintf("%s: %s", srch.q.User, id)
			if len(others) > 0 {
				page.UserNote += " (" + strings.Join(others, ", ") + ")"
			}
		}
		srch.q.User = id
	}
	return nil
}
