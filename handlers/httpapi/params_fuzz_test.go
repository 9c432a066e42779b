package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/export"
)

// FuzzListParams sends activities.list hostile query strings (unknown and
// repeated parameters, invalid snowflakes, unknown event types, bad times,
// altered page tokens) through the real handler with a fixture store.
// Properties: no panic; the answer is 200 or a 400 whose error names a
// parameter (checkParamError), never a 500; every answer matches the
// OpenAPI document; a 200 holds only records of the token's property, at
// most maxResults of them.
func FuzzListParams(f *testing.F) {
	e := newEnv(f)
	var events []*audit.Event
	for i := range 30 {
		events = append(events, ev(i, []audit.EventType{audit.ChatMessage, audit.UserJoin, audit.ModerationLink}[i%3],
			withParams("url", "https://x.example/"+strconv.Itoa(i))))
	}
	events = append(events, ev(99, audit.UserJoin, inProp(audit.Telegram, propB)))
	e.record(events...)
	path := "/v1/properties/" + pathA + "/activities"
	first := e.list(pathA, e.tokA, url.Values{"maxResults": {"4"}})
	filtered := e.list(pathA, e.tokA, url.Values{"maxResults": {"2"}, "filters": {"url==https://x.example/3"}})
	for _, q := range []string{
		"",
		"maxResults=4&pageToken=" + url.QueryEscape(first.NextPageToken),
		"maxResults=4&pageToken=" + url.QueryEscape(first.NextPageToken) + "&actor=u1",
		"maxResults=2&filters=url%3D%3Dhttps%3A%2F%2Fx.example%2F3&pageToken=" + url.QueryEscape(filtered.NextPageToken),
		"pageToken=" + url.QueryEscape(filtered.NextPageToken),
		"eventName=CHAT_MESSAGE&eventName=USER_JOIN&eventType=members",
		"eventName=NOT_A_TYPE",
		"eventType=nonsense",
		"actor=not-a-snowflake&target=%00&user=" + strings.Repeat("9", 200),
		"startTime=2026-10-01T00:00:00Z&endTime=2026-09-01T00:00:00Z",
		"startTime=yesterday",
		"maxResults=0", "maxResults=-1", "maxResults=99999999999999999999", "maxResults=1&maxResults=2",
		"filters=url<>x,domain==y", "filters===", "filters=" + strings.Repeat("a==b,", 30),
		"unknown=1", "%zz=1", "channel=<%23123>&eventName=%40everyone",
		"=x", "=", "maxResults=2&=x", "&&maxResults=2&", "format=csv", "lastEventId=x",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > 4<<10 {
			return
		}
		req, err := http.NewRequest("GET", "http://api"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = raw
		req.Header.Set("Authorization", "Bearer "+e.tokA)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		body := w.Body.Bytes()
		if err := e.spec.checkResponse("GET", path, w.Code, w.Header().Get("Content-Type"), body); err != nil {
			t.Fatalf("%q: OpenAPI: %v\n%.300s", raw, err, body)
		}
		switch w.Code {
		case http.StatusOK:
			var a Activities
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("%q: 200 with %v", raw, err)
			}
			limit := DefaultMaxResults
			if v, err := url.ParseQuery(raw); err == nil && v.Get("maxResults") != "" {
				limit, _ = strconv.Atoi(v.Get("maxResults"))
			}
			if len(a.Items) > limit {
				t.Fatalf("%q: %d items, more than %d", raw, len(a.Items), limit)
			}
			for _, it := range a.Items {
				if it.ID.PropertyID != propA || it.ID.Platform != "discord" {
					t.Fatalf("%q: a record of %s:%s", raw, it.ID.Platform, it.ID.PropertyID)
				}
			}
		case http.StatusBadRequest:
			checkParamError(t, raw, body, listParams)
		default:
			t.Fatalf("%q: status %d: %s", raw, w.Code, body)
		}
	})
}

// checkParamError checks a 400 answer to the query raw of an endpoint that
// takes the parameters allowed: an error document whose message starts
// with the parameter it gives, which is one of allowed, one given in raw,
// "query" (the query as a whole), or one of headers.
func checkParamError(t *testing.T, raw string, body []byte, allowed []string, headers ...string) {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%q: 400 with %v", raw, err)
	}
	p := b.Error.Parameter
	if p == "" || !strings.HasPrefix(b.Error.Message, p+": ") || len(b.Error.Message) == len(p)+2 {
		t.Fatalf("%q: 400 that does not name its parameter: %s", raw, body)
	}
	known := slices.Concat(allowed, []string{"query"}, headers)
	if slices.Contains(known, p) {
		return
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		v = (&url.URL{RawQuery: raw}).Query() // what the server read: the well-formed pairs
	}
	// JSON carries an invalid UTF-8 name with U+FFFD in it.
	given := slices.ContainsFunc(slices.Collect(maps.Keys(v)), func(k string) bool {
		var shown string
		raw, _ := json.Marshal(k)
		return k != "" && json.Unmarshal(raw, &shown) == nil && shown == p
	})
	if !given {
		t.Fatalf("%q: 400 names %q, which is neither a parameter of the endpoint nor given", raw, p)
	}
}

// exportSeeds and watchSeeds are query strings for activities:export and
// activities:watch, valid and not.
var (
	exportSeeds = []string{
		"", "format=ndjson", "format=csv", "format=CSV", "format=xml", "format=", "format=csv&format=csv",
		"format=csv&eventType=members&startTime=2026-10-01T00:00:00Z&endTime=2026-10-02T00:00:00Z",
		"filters=url%3D%3Dhttps%3A%2F%2Fx.example%2F3&format=ndjson", "filters=url", "eventName=USER_JOIN&actor=u1",
		"maxResults=5", "pageToken=x", "lastEventId=x", "=x", "=", "format=csv&=", "%zz=1&format=csv",
	}
	watchSeeds = []string{
		"", "eventName=CHAT_MESSAGE", "eventType=members&actor=u1&filters=url%3D%3Dhttps%3A%2F%2Fx.example%2F3",
		"lastEventId=", "lastEventId=short", "lastEventId=" + strings.Repeat("0", 20), "lastEventId=a&lastEventId=b",
		"startTime=2026-11-01T00:00:00Z", "maxResults=1", "format=csv", "=x", "=", "eventType=nope",
	}
)

// FuzzExportParams sends activities:export hostile query strings through
// the real handler. Properties: no panic; the answer is 200 or a 400 that
// names a parameter (checkParamError), never a 500; every answer matches
// the OpenAPI document; a 200 is the format asked for (ndjson by
// default, csv with its header row) and holds only records of the token's
// property.
func FuzzExportParams(f *testing.F) {
	e := newEnv(f)
	var events []*audit.Event
	for i := range 12 {
		events = append(events, ev(i, []audit.EventType{audit.ChatMessage, audit.UserJoin}[i%2],
			withParams("url", "https://x.example/"+strconv.Itoa(i))))
	}
	events = append(events, ev(99, audit.UserJoin, inProp(audit.Telegram, propB)))
	e.record(events...)
	path := "/v1/properties/" + pathA + "/activities:export"
	for _, q := range exportSeeds {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > 4<<10 {
			return
		}
		w := serveRaw(t, e, path, raw, "")
		body := w.Body.Bytes()
		if err := e.spec.checkResponse("GET", path, w.Code, w.Header().Get("Content-Type"), body); err != nil {
			t.Fatalf("%q: OpenAPI: %v\n%.300s", raw, err, body)
		}
		switch w.Code {
		case http.StatusOK:
			ct := w.Header().Get("Content-Type")
			if strings.HasPrefix(ct, "text/csv") {
				rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
				if err != nil || len(rows) == 0 || !slices.Equal(rows[0], export.CSVHeader) {
					t.Fatalf("%q: csv export without its header (%v): %.300s", raw, err, body)
				}
				for _, row := range rows[1:] {
					if row[2] != "discord" || row[3] != propA {
						t.Fatalf("%q: a record of %s:%s", raw, row[2], row[3])
					}
				}
				return
			}
			if !strings.HasPrefix(ct, "application/x-ndjson") {
				t.Fatalf("%q: export as %q", raw, ct)
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			for dec.More() {
				var rec audit.Event
				if err := dec.Decode(&rec); err != nil {
					t.Fatalf("%q: ndjson export: %v", raw, err)
				}
				if rec.Platform != audit.Discord || rec.PropertyID != propA {
					t.Fatalf("%q: a record of %s:%s", raw, rec.Platform, rec.PropertyID)
				}
			}
		case http.StatusBadRequest:
			checkParamError(t, raw, body, exportParams)
		default:
			t.Fatalf("%q: status %d: %s", raw, w.Code, body)
		}
	})
}

// FuzzWatchParams sends activities:watch hostile query strings and
// Last-Event-ID headers through the real handler; a stream that opens is
// ended at once. Properties: no panic; the answer is 200 (the event
// stream), a 400 that names a parameter or the Last-Event-ID header
// (checkParamError), or a 410 naming where the resume point came from,
// never a 500; every answer matches the OpenAPI document.
func FuzzWatchParams(f *testing.F) {
	e := newEnv(f, func(o *Options) { o.Watch.MaxReplay = 5 })
	var events []*audit.Event
	for i := range 12 {
		events = append(events, ev(i, audit.ChatMessage))
	}
	e.record(events...)
	path := "/v1/properties/" + pathA + "/activities:watch"
	for _, q := range watchSeeds {
		f.Add(q, "")
	}
	for _, last := range []string{events[0].ID.String(), events[10].ID.String(), "not-an-id", strings.Repeat("Z", 20), "\x00"} {
		f.Add("", last)
		f.Add("lastEventId="+events[11].ID.String(), last)
	}
	f.Fuzz(func(t *testing.T, raw, lastEventID string) {
		if len(raw) > 4<<10 || len(lastEventID) > 4<<10 {
			return
		}
		w := serveRaw(t, e, path, raw, lastEventID)
		body := w.Body.Bytes()
		if err := e.spec.checkResponse("GET", path, w.Code, w.Header().Get("Content-Type"), body); err != nil {
			t.Fatalf("%q (Last-Event-ID %q): OpenAPI: %v\n%.300s", raw, lastEventID, err, body)
		}
		switch w.Code {
		case http.StatusOK:
			if !bytes.HasPrefix(body, []byte("retry: ")) {
				t.Fatalf("%q (Last-Event-ID %q): stream starts %.100q", raw, lastEventID, body)
			}
		case http.StatusBadRequest:
			checkParamError(t, raw, body, watchParams, "Last-Event-ID")
		case http.StatusGone:
			var b errorBody
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatalf("%q: 410 with %v", raw, err)
			}
			want := "Last-Event-ID"
			if lastEventID == "" {
				want = "lastEventId"
			}
			if b.Error.Parameter != want || !strings.HasPrefix(b.Error.Message, want+": ") {
				t.Fatalf("%q (Last-Event-ID %q): 410 that does not name %s: %s", raw, lastEventID, want, body)
			}
		default:
			t.Fatalf("%q (Last-Event-ID %q): status %d: %s", raw, lastEventID, w.Code, body)
		}
	})
}

// serveRaw sends GET path?raw with the token of propA (and a
// Last-Event-ID header unless lastEventID is empty) through the server's
// handler and returns the answer. A 200 cancels the request as it is
// written, so that a watch stream ends instead of waiting for records.
func serveRaw(t *testing.T, e *env, path, raw, lastEventID string) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://api"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = raw
	req.Header.Set("Authorization", "Bearer "+e.tokA)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	w := &endOnOK{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
	e.srv.ServeHTTP(w, req)
	return w.ResponseRecorder
}

// endOnOK is a recorder that cancels its request when the answer is 200.
type endOnOK struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (w *endOnOK) WriteHeader(code int) {
	w.ResponseRecorder.WriteHeader(code)
	if code == http.StatusOK && strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		w.cancel()
	}
}

// Unwrap lets http.ResponseController flush the recorder.
func (w *endOnOK) Unwrap() http.ResponseWriter { return w.ResponseRecorder }
