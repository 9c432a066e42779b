package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/bot"
)

// FuzzListParams sends activities.list hostile query strings (unknown and
// repeated parameters, invalid snowflakes, unknown event types, bad times,
// altered page tokens) through the real handler with a fixture store.
// Properties: no panic; the answer is 200 or a 400 whose error names a
// parameter, never a 500; every answer matches the OpenAPI document; a 200
// holds only records of the token's property, at most maxResults of them.
func FuzzListParams(f *testing.F) {
	e := newEnv(f)
	var events []*bot.Event
	for i := range 30 {
		events = append(events, ev(i, []bot.EventType{bot.ChatMessage, bot.UserJoin, bot.ModerationLink}[i%3],
			withParams("url", "https://x.example/"+strconv.Itoa(i))))
	}
	events = append(events, ev(99, bot.UserJoin, inProp(bot.Telegram, propB)))
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
			var b errorBody
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatalf("%q: 400 with %v", raw, err)
			}
			known := append(slices.Clone(listParams), "query")
			// A parameter with an empty name is the one case of an empty
			// "parameter" (omitted from the JSON).
			_, emptyName := req.URL.Query()[""]
			if (b.Error.Parameter == "" && !emptyName) || b.Error.Message == "" {
				t.Fatalf("%q: 400 that names no parameter: %s", raw, body)
			}
			if v, err := url.ParseQuery(raw); err == nil && !slices.Contains(known, b.Error.Parameter) {
				// JSON carries an invalid UTF-8 name with U+FFFD in it.
				given := slices.ContainsFunc(slices.Collect(maps.Keys(v)), func(k string) bool {
					var shown string
					raw, _ := json.Marshal(k)
					return json.Unmarshal(raw, &shown) == nil && shown == b.Error.Parameter
				})
				if !given {
					t.Fatalf("%q: 400 names %q, which is neither a parameter of the endpoint nor given", raw, b.Error.Parameter)
				}
			}
		default:
			t.Fatalf("%q: status %d: %s", raw, w.Code, body)
		}
	})
}
