package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// Page sizes of activities.list.
const (
	DefaultMaxResults = 100
	MaxMaxResults     = store.MaxLimit
	// MaxFilters caps the name==value terms of the filters parameter.
	MaxFilters = 20
)

// ParamError is a bad query parameter: it answers 400 with a message that
// names the parameter.
type ParamError struct {
	Param string // the query parameter, as spelt in the URL
	Msg   string
}

// Error returns "param: message".
func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

func badParam(param, format string, a ...any) error {
	return &ParamError{Param: param, Msg: fmt.Sprintf(format, a...)}
}

// The query parameters, by endpoint.
var (
	listParams   = []string{"eventName", "eventType", "actor", "target", "user", "channel", "startTime", "endTime", "maxResults", "pageToken", "filters"}
	exportParams = []string{"eventName", "eventType", "actor", "target", "user", "channel", "startTime", "endTime", "filters", "format"}
	watchParams  = []string{"eventName", "eventType", "actor", "target", "user", "channel", "filters", "lastEventId"}
)

// search is a parsed request: the store query and what the store cannot
// filter on (event parameters).
type search struct {
	q       store.Query
	filters []paramFilter
	none    bool // eventName and eventType have no type in common: nothing matches
	max     int
}

// paramFilter is one term of the filters parameter.
type paramFilter struct {
	name, value string
	neq         bool // <> instead of ==
}

// queryOf parses r's query strictly: net/http's URL.Query drops a badly
// escaped pair (?%zz=1) without a word, which would let a parameter the
// endpoint refuses pass unseen.
func queryOf(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("query", "it is not a valid URL query: %v", err)
	}
	return v, nil
}

// checkNames refuses a query that has a parameter not in allowed, a
// parameter with no name, or a parameter given twice (except eventName
// and eventType). Names are checked in order, so that a query with
// several faults always gets the same answer.
func checkNames(v url.Values, allowed []string) error {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		switch {
		case name == "":
			// No parameter name to give: the error names the query.
			return badParam("query", "it has a parameter with no name (such as ?=x); this endpoint takes %s", takes(allowed))
		case !slices.Contains(allowed, name):
			return badParam(name, "unknown parameter (this endpoint takes %s)", takes(allowed))
		case len(v[name]) > 1 && name != "eventName" && name != "eventType":
			return badParam(name, "given more than once")
		}
	}
	return nil
}

// takes lists an endpoint's parameters for an error message.
func takes(allowed []string) string {
	if len(allowed) == 0 {
		return "none"
	}
	return strings.Join(allowed, ", ")
}

// parseRequest reads r's query (queryOf) as an endpoint's search; v is
// the query, for the parameters that are not filters.
func parseRequest(r *http.Request, prop Property, allowed []string) (s search, v url.Values, err error) {
	if v, err = queryOf(r); err != nil {
		return s, nil, err
	}
	s, err = parseSearch(v, prop, allowed)
	return s, v, err
}

// parseSearch reads the parameters of one endpoint (allowed lists them);
// unknown, nameless and repeated parameters are errors (checkNames).
func parseSearch(v url.Values, prop Property, allowed []string) (search, error) {
	var s search
	if err := checkNames(v, allowed); err != nil {
		return s, err
	}
	s.q.Platform, s.q.Property = prop.Platform, prop.ID
	if prop.All {
		s.q.Platform, s.q.Property = 0, ""
	}

	names, err := parseTypeList("eventName", v["eventName"], false)
	if err != nil {
		return s, err
	}
	groups, err := parseTypeList("eventType", v["eventType"], true)
	if err != nil {
		return s, err
	}
	switch {
	case names != nil && groups != nil:
		s.q.Types = slices.DeleteFunc(names, func(t audit.EventType) bool { return !slices.Contains(groups, t) })
		s.none = len(s.q.Types) == 0
	case names != nil:
		s.q.Types = names
	default:
		s.q.Types = groups
	}
	if len(s.q.Types) == len(audit.EventTypes()) {
		s.q.Types = nil // every type: no need for the type index
	}

	for _, f := range []struct {
		param string
		dst   *string
	}{{"actor", &s.q.Actor}, {"target", &s.q.Target}, {"user", &s.q.User}, {"channel", &s.q.Channel}} {
		val := v.Get(f.param)
		if len(val) > audit.MaxIDLen {
			return s, badParam(f.param, "longer than %d bytes", audit.MaxIDLen)
		}
		*f.dst = val
	}

	if s.q.Since, err = parseTime("startTime", v.Get("startTime")); err != nil {
		return s, err
	}
	if s.q.Until, err = parseTime("endTime", v.Get("endTime")); err != nil {
		return s, err
	}
	if !s.q.Since.IsZero() && !s.q.Until.IsZero() && !s.q.Since.Before(s.q.Until) {
		return s, badParam("startTime", "must be before endTime")
	}

	s.max = DefaultMaxResults
	if raw := v.Get("maxResults"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxMaxResults {
			return s, badParam("maxResults", "must be an integer from 1 to %d, not %q", MaxMaxResults, raw)
		}
		s.max = n
	}

	if s.filters, err = parseFilters(v.Get("filters")); err != nil {
		return s, err
	}
	if tok := v.Get("pageToken"); tok != "" {
		cursor, err := s.untoken(tok)
		if err != nil {
			return s, err
		}
		s.q.Cursor = cursor
	}
	return s, nil
}

// parseTypeList reads comma-separated universal event types; with groups,
// also the presets (audit.PresetNames: all, the categories, roles,
// permissions, voice, automod). It
// returns nil when the parameter is absent.
func parseTypeList(param string, vals []string, groups bool) ([]audit.EventType, error) {
	var out []audit.EventType
	seen := false
	for _, val := range vals {
		for _, name := range strings.Split(val, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			seen = true
			if groups {
				if types, ok := audit.Preset(strings.ToLower(name)); ok {
					if types == nil {
						types = audit.EventTypes()
					}
					out = append(out, types...)
					continue
				}
			}
			t, err := audit.ParseEventType(name)
			if err != nil {
				if groups {
					return nil, badParam(param, "%q is neither an event type (such as USER_JOIN) nor a preset (%s)", name, strings.Join(audit.PresetNames(), ", "))
				}
				return nil, badParam(param, "%q is not an event type (such as USER_JOIN or CHAT_MESSAGE)", name)
			}
			out = append(out, t)
		}
	}
	if !seen {
		return nil, nil
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// parseTime reads an RFC 3339 time; "" is the zero time.
func parseTime(param, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badParam(param, "%q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", s)
	}
	if t.Before(time.Unix(0, 0)) || t.Year() > 2200 {
		return time.Time{}, badParam(param, "%q is out of range (1970 to 2200)", s)
	}
	return t.UTC(), nil
}

// parseFilters reads name==value and name<>value terms separated by
// commas; a backslash escapes a comma or a backslash in a value.
func parseFilters(s string) ([]paramFilter, error) {
	if s == "" {
		return nil, nil
	}
	var terms []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == ',' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case c == ',':
			terms = append(terms, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	terms = append(terms, cur.String())
	if len(terms) > MaxFilters {
		return nil, badParam("filters", "at most %d terms", MaxFilters)
	}
	out := make([]paramFilter, 0, len(terms))
	for _, term := range terms {
		var f paramFilter
		name, value, ok := strings.Cut(term, "==")
		if !ok {
			if name, value, ok = strings.Cut(term, "<>"); !ok {
				return nil, badParam("filters", "%q is not name==value or name<>value", term)
			}
			f.neq = true
		}
		if !isParamName(name) {
			return nil, badParam("filters", "%q is not a parameter name (snake_case, such as kind or reason)", name)
		}
		if len(value) > audit.MaxParamLen {
			return nil, badParam("filters", "the value for %s is longer than %d bytes", name, audit.MaxParamLen)
		}
		f.name, f.value = name, value
		out = append(out, f)
	}
	return out, nil
}

func isParamName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// matchParams reports whether e passes every filter term.
func matchParams(filters []paramFilter, e *audit.Event) bool {
	for _, f := range filters {
		if (e.Params[f.name] == f.value) == f.neq {
			return false
		}
	}
	return true
}

// match is the whole predicate of a search, for records that did not come
// from a store query (the live feed).
func (s *search) match(e *audit.Event) bool {
	q := &s.q
	switch {
	case s.none:
		return false
	case q.Property != "" && (e.Platform != q.Platform || e.PropertyID != q.Property):
		return false
	case len(q.Types) > 0 && !slices.Contains(q.Types, e.Type):
		return false
	case q.Actor != "" && e.ActorID != q.Actor:
		return false
	case q.Target != "" && !slices.Contains(e.TargetIDs, q.Target):
		return false
	case q.User != "" && e.ActorID != q.User && !slices.Contains(e.TargetIDs, q.User):
		return false
	case q.Channel != "" && e.ChannelID != q.Channel:
		return false
	}
	return matchParams(s.filters, e)
}

// filterTag binds a page token to the filters parameter, which the store's
// cursor does not cover; it is not secret (the cursor carries the store's
// MAC), only a guard against reusing a token with other filters.
func (s *search) filterTag() string {
	if len(s.filters) == 0 {
		return ""
	}
	terms := make([]string, len(s.filters))
	for i, f := range s.filters {
		op := "=="
		if f.neq {
			op = "<>"
		}
		terms[i] = strconv.Quote(f.name) + op + strconv.Quote(f.value)
	}
	slices.Sort(terms)
	sum := sha256.Sum256([]byte(strings.Join(terms, ",")))
	return hex.EncodeToString(sum[:6])
}

// token turns a store cursor into a pageToken.
func (s *search) token(cursor string) string {
	if cursor == "" {
		return ""
	}
	if tag := s.filterTag(); tag != "" {
		return cursor + "." + tag
	}
	return cursor
}

// untoken checks a pageToken against the filters and returns its store
// cursor.
func (s *search) untoken(tok string) (string, error) {
	cursor, tag, _ := strings.Cut(tok, ".")
	if tag != s.filterTag() || cursor == "" {
		return "", badParam("pageToken", "it belongs to a query with other filters, or was altered")
	}
	return cursor, nil
}

// queryError turns a store error about the query into a ParamError.
func queryError(err error) error {
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return badParam("pageToken", "%s", strings.TrimPrefix(err.Error(), store.ErrBadCursor.Error()+": "))
	case errors.Is(err, store.ErrBadQuery):
		return badParam("query", "%s", strings.TrimPrefix(err.Error(), store.ErrBadQuery.Error()+": "))
	}
	return err
}
