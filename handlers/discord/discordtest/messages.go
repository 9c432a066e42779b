package discordtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
)

// Messages over REST. The fake keeps every message it dispatched
// (MESSAGE_CREATE, its MESSAGE_UPDATEs, forgotten at MESSAGE_DELETE) and
// serves them as Discord does: GET /channels/{id}/messages/{id} and
// GET /channels/{id}/messages (newest first; limit 1-100, default 50;
// before, after). The Message Content restriction applies over REST by
// the application's flag, whatever intents its sessions identified with
// (Gateway: "HTTP Restrictions"): without FlagMessageContent or
// FlagMessageContentLimited the content fields are emptied with the same
// exceptions as on the gateway (intents.go).

var channelMessages sync.Map // *Server -> *messageLog

// keptPerChannel is how many of a channel's latest messages the fake
// keeps; older ones answer 404 Unknown Message, as if deleted.
const keptPerChannel = 1000

type messageLog struct {
	mu   sync.Mutex
	byID map[string]json.RawMessage
	// order of ids by channel, oldest first
	order map[string][]string
}

func (s *Server) messageLog() *messageLog {
	v, _ := channelMessages.LoadOrStore(s, &messageLog{byID: map[string]json.RawMessage{}, order: map[string][]string{}})
	return v.(*messageLog)
}

// keepMessage follows a dispatched message event (Dispatch calls it).
func (s *Server) keepMessage(name string, raw json.RawMessage) {
	if name != "MESSAGE_CREATE" && name != "MESSAGE_UPDATE" && name != "MESSAGE_DELETE" {
		return
	}
	var head struct {
		ID        string `json:"id"`
		ChannelID string `json:"channel_id"`
	}
	if json.Unmarshal(raw, &head) != nil || head.ID == "" || head.ChannelID == "" {
		return
	}
	l := s.messageLog()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch _, known := l.byID[head.ID]; {
	case name == "MESSAGE_DELETE":
		delete(l.byID, head.ID)
		l.order[head.ChannelID] = slices.DeleteFunc(l.order[head.ChannelID], func(id string) bool { return id == head.ID })
	case name == "MESSAGE_CREATE" && !known:
		l.byID[head.ID] = slices.Clone(raw)
		l.order[head.ChannelID] = append(l.order[head.ChannelID], head.ID)
		if ids := l.order[head.ChannelID]; len(ids) > keptPerChannel { // soak tests post for hours
			delete(l.byID, ids[0])
			l.order[head.ChannelID] = ids[1:]
		}
	case name == "MESSAGE_UPDATE" && known:
		l.byID[head.ID] = slices.Clone(raw)
	}
}

// trimMessages keeps only the newest keep messages of every channel
// (TrimHistory); older ones answer 404 as if deleted.
func (s *Server) trimMessages(keep int) {
	l := s.messageLog()
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch, ids := range l.order {
		if len(ids) <= keep {
			continue
		}
		for _, id := range ids[:len(ids)-keep] {
			delete(l.byID, id)
		}
		l.order[ch] = slices.Clone(ids[len(ids)-keep:])
	}
}

// messageReads serves the message reads; it reports whether route was
// one.
func (s *Server) messageReads(w http.ResponseWriter, route string, parts []string, q url.Values) bool {
	switch route {
	case "GET channels/:/messages/:", "GET channels/:/messages":
	default:
		return false
	}
	s.mu.Lock()
	denied := s.denied[parts[1]]
	s.mu.Unlock()
	if denied {
		writeErr(w, http.StatusForbidden, 50001, "Missing Access")
		return true
	}
	_, flags := s.credentials()
	shown := func(raw json.RawMessage) json.RawMessage {
		if flags&(FlagMessageContent|FlagMessageContentLimited) == 0 {
			return s.withholdContent(raw)
		}
		return raw
	}
	l := s.messageLog()
	l.mu.Lock()
	defer l.mu.Unlock()
	if route == "GET channels/:/messages/:" {
		raw, ok := l.byID[parts[3]]
		if !ok || !slices.Contains(l.order[parts[1]], parts[3]) {
			writeErr(w, http.StatusNotFound, 10008, "Unknown Message")
			return true
		}
		writeJSON(w, shown(raw))
		return true
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeErr(w, http.StatusBadRequest, 50035, "Invalid Form Body: limit: must be between 1 and 100")
			return true
		}
		limit = n
	}
	// Newest first: the newest before `before` (or of all), or with
	// `after` the ones closest after it.
	before, after := q.Get("before"), q.Get("after")
	var ids []string
	for _, id := range l.order[parts[1]] {
		if (before == "" || cmpID(id, before) < 0) && (after == "" || cmpID(id, after) > 0) {
			ids = append(ids, id)
		}
	}
	if len(ids) > limit {
		if after != "" && before == "" {
			ids = ids[:limit]
		} else {
			ids = ids[len(ids)-limit:]
		}
	}
	out := []json.RawMessage{}
	for i := len(ids) - 1; i >= 0; i-- {
		out = append(out, shown(l.byID[ids[i]]))
	}
	writeJSON(w, out)
	return true
}
