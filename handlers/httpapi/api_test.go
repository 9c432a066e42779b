package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/export"
	"github.com/chatwarden/chatwarden/store"
)

func TestParseProperty(t *testing.T) {
	good := map[string]Property{
		"discord:123456789012345678": {Platform: audit.Discord, ID: "123456789012345678"},
		"telegram:-1001234567890":    {Platform: audit.Telegram, ID: "-1001234567890"},
		"telegram:42":                {Platform: audit.Telegram, ID: "42"},
		"all":                        {All: true},
	}
	for in, want := range good {
		got, err := ParseProperty(in)
		if err != nil || got != want {
			t.Errorf("ParseProperty(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	for _, in := range []string{"", "discord", "discord:", "Discord:1", "DISCORD:1", "slack:1", "discord:-1",
		"discord:0", "discord:0123", "discord:12a", "discord: 1", "telegram:--1", "telegram:-0", "telegram:-",
		"discord:1:2", "discord:123456789012345678901", "All", "discord:１２"} {
		if p, err := ParseProperty(in); err == nil {
			t.Errorf("ParseProperty(%q) = %+v, want an error", in, p)
		}
	}
}

// TestListShape checks an item field by field.
func TestListShape(t *testing.T) {
	e := newEnv(t)
	rec := ev(1, audit.ModerationLink, func(x *audit.Event) {
		x.Function, x.ActorType, x.ActorID, x.ActorName = audit.FuncLinkFilter, audit.ActorBot, "bot1", "Warden"
		x.PlatformType = "MESSAGE_CREATE"
		x.TargetIDs = []string{"u7", "u8"}
		x.MessageID = "555"
		x.Content = "see https://bad.example"
		x.Attachments = []audit.Attachment{{Name: "a.png", URL: "https://cdn/a.png", Size: 12, Hash: "ab"}}
		x.Params = audit.Params{"url": "https://bad.example", "domain": "bad.example", "action": "DELETE"}
	})
	e.record(rec)
	a := e.list(pathA, e.tokA, url.Values{"eventName": {"MODERATION_LINK"}})
	if a.Kind != "chatwarden#activities" || len(a.Items) != 1 || a.NextPageToken != "" {
		t.Fatalf("got %+v", a)
	}
	it := a.Items[0]
	want := Activity{
		Kind: "chatwarden#activity",
		ID: ActivityID{Time: rec.Time.Format(time.RFC3339Nano), UniqueQualifier: rec.ID.String(),
			Platform: "discord", PropertyID: propA},
		Actor:     Actor{ID: "bot1", Name: "Warden", Type: "BOT"},
		EventType: "MODERATION_LINK", PlatformType: "MESSAGE_CREATE", FunctionType: "link_filter",
		Events: []ActivityEvent{{Type: "moderation", Name: "MODERATION_LINK", Parameters: []Parameter{
			{"action", "DELETE"}, {"domain", "bad.example"}, {"url", "https://bad.example"}}}},
		TargetIDs: []string{"u7", "u8"}, ChannelID: "c1", MessageID: "555", Content: "see https://bad.example",
		Attachments: rec.Attachments, Hash: rec.Hash.String(),
	}
	gotJSON, _ := json.Marshal(it)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("item\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

// TestListParameters runs every filter parameter against a seeded store.
func TestListParameters(t *testing.T) {
	e := newEnv(t)
	types := []audit.EventType{audit.UserJoin, audit.ChatMessage, audit.ChatMessageDelete, audit.UserBan, audit.SecurityEvent, audit.SettingsChange}
	var all []*audit.Event
	for i := range 150 {
		x := ev(i, types[i%len(types)], func(x *audit.Event) {
			if i%4 == 0 {
				x.TargetIDs = []string{fmt.Sprintf("u%d", (i+1)%5)}
			}
			switch i % 3 {
			case 0:
				x.Params = audit.Params{"reason": "spam, really", "kind": "JOIN_RAID"}
			case 1:
				x.Params = audit.Params{"reason": "other"}
			}
		})
		all = append(all, x)
	}
	e.record(all...)
	// Another property's records must never show up.
	e.record(ev(1, audit.UserJoin, inProp(audit.Telegram, propB)), ev(2, audit.UserJoin, inProp(audit.Discord, propC)))

	pick := func(f func(*audit.Event) bool) []string {
		var out []*audit.Event
		for _, x := range all {
			if f(x) {
				out = append(out, x)
			}
		}
		return newestFirst(out)
	}
	t0 := base.Add(30 * time.Minute)
	t1 := base.Add(90 * time.Minute)
	cases := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"none", url.Values{}, pick(func(*audit.Event) bool { return true })},
		{"eventName", url.Values{"eventName": {"USER_BAN"}}, pick(func(x *audit.Event) bool { return x.Type == audit.UserBan })},
		{"eventName lower case, list", url.Values{"eventName": {"user_ban,CHAT_MESSAGE"}},
			pick(func(x *audit.Event) bool { return x.Type == audit.UserBan || x.Type == audit.ChatMessage })},
		{"eventName repeated", url.Values{"eventName": {"USER_BAN", "CHAT_MESSAGE"}},
			pick(func(x *audit.Event) bool { return x.Type == audit.UserBan || x.Type == audit.ChatMessage })},
		{"eventType category", url.Values{"eventType": {"messages"}},
			pick(func(x *audit.Event) bool { return x.Type.Category() == audit.CategoryMessages })},
		{"eventType all", url.Values{"eventType": {"all"}}, pick(func(*audit.Event) bool { return true })},
		{"eventType and eventName intersect", url.Values{"eventType": {"moderation"}, "eventName": {"USER_BAN,USER_JOIN"}},
			pick(func(x *audit.Event) bool { return x.Type == audit.UserBan })},
		{"eventType and eventName disjoint", url.Values{"eventType": {"messages"}, "eventName": {"USER_JOIN"}}, nil},
		{"actor", url.Values{"actor": {"u2"}}, pick(func(x *audit.Event) bool { return x.ActorID == "u2" })},
		{"target", url.Values{"target": {"u3"}}, pick(func(x *audit.Event) bool { return slices.Contains(x.TargetIDs, "u3") })},
		{"user", url.Values{"user": {"u3"}},
			pick(func(x *audit.Event) bool { return x.ActorID == "u3" || slices.Contains(x.TargetIDs, "u3") })},
		{"actor unknown", url.Values{"actor": {"nobody"}}, nil},
		{"channel", url.Values{"channel": {"c2"}}, pick(func(x *audit.Event) bool { return x.ChannelID == "c2" })},
		{"startTime", url.Values{"startTime": {t0.Format(time.RFC3339)}}, pick(func(x *audit.Event) bool { return !x.Time.Before(t0) })},
		{"endTime", url.Values{"endTime": {t1.Format(time.RFC3339)}}, pick(func(x *audit.Event) bool { return x.Time.Before(t1) })},
		{"startTime and endTime, offset zone", url.Values{"startTime": {t0.In(time.FixedZone("x", 3600)).Format(time.RFC3339)},
			"endTime": {t1.Format(time.RFC3339Nano)}},
			pick(func(x *audit.Event) bool { return !x.Time.Before(t0) && x.Time.Before(t1) })},
		{"filters ==", url.Values{"filters": {`reason==spam\, really`}},
			pick(func(x *audit.Event) bool { return x.Params["reason"] == "spam, really" })},
		{"filters <>", url.Values{"filters": {"reason<>other"}}, pick(func(x *audit.Event) bool { return x.Params["reason"] != "other" })},
		{"filters empty value", url.Values{"filters": {"reason=="}}, pick(func(x *audit.Event) bool { return x.Params["reason"] == "" })},
		{"filters two terms", url.Values{"filters": {"kind==JOIN_RAID,reason<>other"}},
			pick(func(x *audit.Event) bool { return x.Params["kind"] == "JOIN_RAID" })},
		{"everything", url.Values{"eventType": {"members,moderation"}, "user": {"u1"}, "channel": {"c0"},
			"startTime": {base.Format(time.RFC3339)}, "filters": {"kind<>X"}},
			pick(func(x *audit.Event) bool {
				c := x.Type.Category()
				return (c == audit.CategoryMembers || c == audit.CategoryModeration) &&
					(x.ActorID == "u1" || slices.Contains(x.TargetIDs, "u1")) && x.ChannelID == "c0"
			})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []string{"", "7", "1000"} {
				q := cloneValues(c.q)
				if size != "" {
					q.Set("maxResults", size)
				}
				got := e.listAll(pathA, e.tokA, q)
				if !slices.Equal(got, c.want) {
					t.Errorf("maxResults=%s: got %d ids, want %d\n got %v\nwant %v", size, len(got), len(c.want), got, c.want)
				}
			}
		})
	}
	// maxResults: default 100, and exact sizes.
	if a := e.list(pathA, e.tokA, nil); len(a.Items) != 100 || a.NextPageToken == "" {
		t.Errorf("default page: %d items, token %q", len(a.Items), a.NextPageToken)
	}
	if a := e.list(pathA, e.tokA, url.Values{"maxResults": {"1"}}); len(a.Items) != 1 {
		t.Errorf("maxResults=1: %d items", len(a.Items))
	}
	if a := e.list(pathA, e.tokA, url.Values{"maxResults": {"1000"}}); len(a.Items) != 150 || a.NextPageToken != "" {
		t.Errorf("maxResults=1000: %d items, token %q", len(a.Items), a.NextPageToken)
	}
}

// TestBadParameters: every bad parameter answers 400 naming it.
func TestBadParameters(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		e.record(ev(i, audit.ChatMessage))
	}
	e.record(ev(1, audit.UserJoin, inProp(audit.Telegram, propB)), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	first := e.list(pathA, e.tokA, url.Values{"maxResults": {"5"}})
	tok := first.NextPageToken
	filtered := e.list(pathA, e.tokA, url.Values{"maxResults": {"5"}, "filters": {"reason<>x"}}).NextPageToken
	otherProp := e.list(pathB, testOperator, url.Values{"maxResults": {"1"}}).NextPageToken
	_ = otherProp
	tampered := []byte(tok)
	tampered[5] ^= 1
	if tampered[5] == '-' || tampered[5] == '_' {
		tampered[5] = 'A'
	}

	cases := []struct {
		query string
		param string
	}{
		{"eventName=NOT_A_TYPE", "eventName"},
		{"eventName=members", "eventName"}, // categories go in eventType
		{"eventType=colours", "eventType"},
		{"startTime=yesterday", "startTime"},
		{"startTime=2026-11-01", "startTime"},
		{"startTime=1969-12-31T23:59:59Z", "startTime"},
		{"endTime=2026-13-01T00:00:00Z", "endTime"},
		{"startTime=2026-11-02T00:00:00Z&endTime=2026-11-01T00:00:00Z", "startTime"},
		{"startTime=2026-11-01T00:00:00Z&endTime=2026-11-01T00:00:00Z", "startTime"},
		{"maxResults=0", "maxResults"},
		{"maxResults=1001", "maxResults"},
		{"maxResults=-5", "maxResults"},
		{"maxResults=ten", "maxResults"},
		{"maxResults=1&maxResults=2", "maxResults"},
		{"pageToken=garbage", "pageToken"},
		{"pageToken=" + url.QueryEscape(string(tampered)), "pageToken"},
		{"maxResults=5&eventName=CHAT_MESSAGE&pageToken=" + url.QueryEscape(tok), "pageToken"}, // other filters
		{"pageToken=" + url.QueryEscape(filtered), "pageToken"},                                // token of a filtered query
		{"filters=reason<>x&pageToken=" + url.QueryEscape(tok), "pageToken"},
		{"filters=reason<>y&pageToken=" + url.QueryEscape(filtered), "pageToken"},
		{"pageToken=" + url.QueryEscape(otherProp), "pageToken"}, // another property's token
		{"filters=reason", "filters"},
		{"filters=Reason==x", "filters"},
		{"filters===x", "filters"},
		{"filters=" + url.QueryEscape(strings.Repeat("a==b,", 20)+"a==b"), "filters"},
		{"actor=" + strings.Repeat("9", 129), "actor"},
		{"userKey=1", "userKey"},
		{"format=csv", "format"}, // an export parameter
	}
	for _, c := range cases {
		r := e.get("/v1/properties/"+pathA+"/activities?"+c.query, e.tokA)
		if r.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400 (%s)", c.query, r.StatusCode, r.body)
			continue
		}
		er := r.errorOf()
		if er.Parameter != c.param || !strings.HasPrefix(er.Message, c.param+":") || er.Status != "INVALID_ARGUMENT" {
			t.Errorf("%s: error %+v, want one naming %s", c.query, er, c.param)
		}
		if strings.Contains(string(r.body), "items") {
			t.Errorf("%s: error body carries data: %s", c.query, r.body)
		}
	}
	// The path's property is checked strictly too (after authentication).
	for _, p := range []string{"discord:0123", "Discord:" + propA, "discord:12a", "slack:1", "discord%3A" + propA + "x"} {
		r := e.get("/v1/properties/"+p+"/activities", testOperator)
		if r.StatusCode != 400 || r.errorOf().Parameter != "property" {
			t.Errorf("property %s: %d %s", p, r.StatusCode, r.body)
		}
	}
	// Percent-encoded colons are the same path.
	if r := e.get("/v1/properties/discord%3A"+propA+"/activities", e.tokA); r.StatusCode != 200 {
		t.Errorf("escaped colon: %d %s", r.StatusCode, r.body)
	}
	// Export and watch check their parameters the same way.
	for _, c := range []struct{ path, param string }{
		{"activities:export?format=xml", "format"},
		{"activities:export?maxResults=5", "maxResults"},
		{"activities:export?eventName=NOPE", "eventName"},
		{"activities:watch?startTime=2026-11-01T00:00:00Z", "startTime"},
		{"activities:watch?eventType=nope", "eventType"},
		{"activities:watch?lastEventId=short", "lastEventId"},
	} {
		r := e.get("/v1/properties/"+pathA+"/"+c.path, e.tokA)
		if r.StatusCode != 400 || r.errorOf().Parameter != c.param {
			t.Errorf("%s: %d %s", c.path, r.StatusCode, r.body)
		}
	}
	if r := e.get("/v1/properties/"+pathA+"/activities:watch", e.tokA, "Last-Event-ID", "not-an-id"); r.StatusCode != 400 ||
		r.errorOf().Parameter != "Last-Event-ID" {
		t.Errorf("bad Last-Event-ID: %d %s", r.StatusCode, r.body)
	}
	if r := e.get("/v1/nothing", e.tokA); r.StatusCode != 404 {
		t.Errorf("unknown path: %d", r.StatusCode)
	}
}

// TestMalformedQueries: a nameless parameter (?=x) and a badly escaped
// pair (?%zz=1, which net/http's URL.Query drops without a word) are
// refused like an unknown parameter, with a 400 that names the query and
// says what is wrong, on every endpoint; empty pairs (?&) are no
// parameter.
func TestMalformedQueries(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.ChatMessage))
	prefix := "/v1/properties/" + pathA + "/"
	const noName, badEscape = "parameter with no name", "not a valid URL query"
	for _, c := range []struct{ path, token, says string }{
		{prefix + "activities?=x", e.tokA, noName},
		{prefix + "activities?=", e.tokA, noName},
		{prefix + "activities?maxResults=5&=x", e.tokA, noName},
		{prefix + "activities?%3Dx=1&=", e.tokA, noName}, // an escaped "=" is a name; the bare one is not
		{prefix + "activities:export?format=csv&=x", e.tokA, noName},
		{prefix + "activities:watch?=x", e.tokA, noName},
		{"/v1/backup?=x", testOperator, noName},
		{prefix + "activities?%zz=1", e.tokA, badEscape},
		{prefix + "activities?maxResults=5&actor=%G1", e.tokA, badEscape},
		{prefix + "activities:export?format=csv&%zz=1", e.tokA, badEscape},
		{prefix + "activities:watch?%zz", e.tokA, badEscape},
		{"/v1/backup?%zz=1", testOperator, badEscape},
	} {
		r := e.get(c.path, c.token)
		if r.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400 (%s)", c.path, r.StatusCode, r.body)
			continue
		}
		er := r.errorOf()
		if er.Parameter != "query" || !strings.HasPrefix(er.Message, "query: ") ||
			!strings.Contains(er.Message, c.says) || er.Status != "INVALID_ARGUMENT" {
			t.Errorf("%s: error %+v, want one naming the query and saying %q", c.path, er, c.says)
		}
	}
	for _, path := range []string{prefix + "activities?&", prefix + "activities?&&maxResults=1&", prefix + "activities:export?&format=csv"} {
		if r := e.get(path, e.tokA); r.StatusCode != 200 {
			t.Errorf("%s: status %d, want 200 (%s)", path, r.StatusCode, r.body)
		}
	}
}

// TestPaginationAcrossInserts: pages continue strictly below the previous
// one while records arrive, newer and older.
func TestPaginationAcrossInserts(t *testing.T) {
	e := newEnv(t)
	var seeded []*audit.Event
	for i := range 25 {
		seeded = append(seeded, ev(100+i*2, audit.ChatMessage))
	}
	e.record(seeded...)
	q := url.Values{"maxResults": {"10"}}
	p1 := e.list(pathA, e.tokA, q)
	if len(p1.Items) != 10 {
		t.Fatalf("page 1: %d items", len(p1.Items))
	}
	// Newer records arrive, one with the very time of the page's last item,
	// and older ones land below the cursor and between pages.
	var newer, older []*audit.Event
	for i := range 5 {
		newer = append(newer, ev(1000+i, audit.UserJoin))
		older = append(older, ev(101+i*2, audit.UserJoin)) // between seeded records 0..4
	}
	e.record(append(newer, older...)...)
	var got []string
	for _, it := range p1.Items {
		got = append(got, it.ID.UniqueQualifier)
	}
	q.Set("pageToken", p1.NextPageToken)
	got = append(got, e.listAll(pathA, e.tokA, q)...)
	want := newestFirst(append(slices.Clone(seeded), older...))
	if !slices.Equal(got, want) {
		t.Errorf("pages across inserts\n got %v\nwant %v", got, want)
	}
	// A fresh walk sees everything exactly once.
	all := e.listAll(pathA, e.tokA, url.Values{"maxResults": {"3"}})
	if want := newestFirst(slices.Concat(seeded, newer, older)); !slices.Equal(all, want) {
		t.Errorf("fresh walk: %d ids, want %d", len(all), len(want))
	}
}

// TestFilteredPages: parameter filters page exactly, and a scan budget
// gives short pages that still continue.
func TestFilteredPages(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ScanBudget = 250 })
	var all, spam []*audit.Event
	for i := range 2000 {
		x := ev(i, audit.ChatMessage)
		if i%37 == 0 {
			x.Params = audit.Params{"reason": "spam"}
			spam = append(spam, x)
		}
		all = append(all, x)
	}
	e.record(all...)
	want := newestFirst(spam)
	for _, size := range []string{"1", "2", "5", "55", "1000"} {
		q := url.Values{"maxResults": {size}, "filters": {"reason==spam"}}
		got := e.listAll(pathA, e.tokA, q)
		if !slices.Equal(got, want) {
			t.Errorf("maxResults=%s: got %d, want %d", size, len(got), len(want))
		}
	}
	// Every page respects maxResults, and budget-limited pages may be short.
	q := url.Values{"maxResults": {"20"}, "filters": {"reason==spam"}}
	short := false
	for {
		a := e.list(pathA, e.tokA, q)
		if len(a.Items) > 20 {
			t.Fatalf("%d items > maxResults", len(a.Items))
		}
		if len(a.Items) < 20 && a.NextPageToken != "" {
			short = true
		}
		if a.NextPageToken == "" {
			break
		}
		q.Set("pageToken", a.NextPageToken)
	}
	if !short {
		t.Error("the scan budget never cut a page short")
	}
}

// TestIsolation: tokens read their own property only; the operator reads
// all; errors carry no data.
func TestIsolation(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)), ev(3, audit.UserJoin, inProp(audit.Discord, propC)))
	for _, c := range []struct {
		path, token string
		code        int
		n           int
	}{
		{pathA, e.tokA, 200, 1},
		{pathB, e.tokB, 200, 1},
		{pathB, e.tokA, 403, 0},
		{pathA, e.tokB, 403, 0},
		{pathC, e.tokA, 403, 0},
		{"discord:999999999999999999", e.tokA, 403, 0}, // unknown property: the same answer
		{"telegram:" + propA, e.tokA, 403, 0},          // same id, other platform
		{AllProperties, e.tokA, 403, 0},
		{pathA, "", 401, 0},
		{pathA, "cw_" + strings.Repeat("A", 43), 401, 0},
		{pathA, "nonsense", 401, 0},
		{pathA, testOperator + "x", 401, 0},
		{pathA, testOperator, 200, 1},
		{pathC, testOperator, 200, 1},
		{AllProperties, testOperator, 200, 3},
	} {
		for _, ep := range []string{"activities", "activities:export"} {
			r := e.get("/v1/properties/"+c.path+"/"+ep+"?eventName=USER_JOIN", c.token)
			if r.StatusCode != c.code {
				t.Errorf("%s %s with %.8s: %d, want %d: %s", c.path, ep, c.token, r.StatusCode, c.code, r.body)
				continue
			}
			if c.code != 200 {
				if strings.Contains(string(r.body), "u1") || strings.Contains(string(r.body), "items") {
					t.Errorf("%s: error body leaks data: %s", c.path, r.body)
				}
				if c.code == 401 && r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
				continue
			}
			n := strings.Count(string(r.body), `"platform_type"`)
			if ep == "activities" {
				var a Activities
				r.json(&a)
				n = len(a.Items)
			}
			if n != c.n {
				t.Errorf("%s %s: %d records, want %d", c.path, ep, n, c.n)
			}
		}
	}
	// The Authorization scheme is case-insensitive; a token in the query is not read.
	if r := e.get("/v1/properties/"+pathA+"/activities", "", "Authorization", "bearer "+e.tokA); r.StatusCode != 200 {
		t.Errorf("lower-case bearer: %d", r.StatusCode)
	}
	if r := e.get("/v1/properties/"+pathA+"/activities", "", "Authorization", "Basic "+e.tokA); r.StatusCode != 401 {
		t.Errorf("basic auth: %d", r.StatusCode)
	}
	// Revoked tokens stop working at once.
	if _, err := e.srv.Tokens().Revoke(context.Background(), audit.Discord, propA, command.TokenID(e.tokA), testAdmin); err != nil {
		t.Fatal(err)
	}
	if r := e.get("/v1/properties/"+pathA+"/activities", e.tokA); r.StatusCode != 401 {
		t.Errorf("revoked token: %d", r.StatusCode)
	}
}

// TestTokens: creation and revocation, hashed storage, records.
func TestTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tk := e.srv.Tokens()
	token, info, err := tk.Create(ctx, audit.Discord, propA, testAdmin, "grafana\nboard")
	if err != nil {
		t.Fatal(err)
	}
	if !command.WellFormedToken(token) || !strings.HasPrefix(token, "cw_") || len(token) != 46 {
		t.Errorf("token %q has the wrong shape", token)
	}
	if info.ID != command.TokenID(token) || info.Label != "grafana board" || info.CreatedBy != testAdmin.ID {
		t.Errorf("info %+v", info)
	}
	list, err := tk.List(ctx, audit.Discord, propA)
	if err != nil || len(list) != 2 || !slices.ContainsFunc(list, func(i command.TokenInfo) bool { return i == info }) {
		t.Fatalf("List: %+v, %v", list, err)
	}
	if got, err := tk.Lookup(ctx, token); err != nil || got.ID != info.ID || got.Property != propA {
		t.Errorf("Lookup: %+v, %v", got, err)
	}
	// Only hashes are stored: the raw token is nowhere in the database file.
	raw, err := os.ReadFile(e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token, e.tokA, e.tokB} {
		if strings.Contains(string(raw), tok) || strings.Contains(string(raw), strings.TrimPrefix(tok, "cw_")) {
			t.Errorf("token %s found in the database file", command.TokenID(tok))
		}
	}
	// Revocation is scoped to the property.
	if _, err := tk.Revoke(ctx, audit.Telegram, propB, info.ID, testAdmin); !errors.Is(err, command.ErrTokenNotFound) {
		t.Errorf("revoke from another property: %v", err)
	}
	if _, err := tk.Revoke(ctx, audit.Discord, propA, "zz", testAdmin); !errors.Is(err, command.ErrTokenNotFound) {
		t.Errorf("revoke garbage: %v", err)
	}
	if _, err := tk.Revoke(ctx, audit.Discord, propA, token, testAdmin); err != nil { // by the token itself
		t.Errorf("revoke: %v", err)
	}
	if _, err := tk.Lookup(ctx, token); !errors.Is(err, command.ErrTokenNotFound) {
		t.Errorf("Lookup after revoke: %v", err)
	}
	// Both changes are on record, with the id and never the token.
	a := e.list(pathA, testOperator, url.Values{"eventName": {"SETTINGS_CHANGE"}})
	var news []string
	for _, it := range a.Items {
		b, _ := json.Marshal(it)
		if strings.Contains(string(b), token) {
			t.Errorf("a record carries the token: %s", b)
		}
		params := map[string]string{}
		for _, p := range it.Events[0].Parameters {
			params[p.Name] = p.Value
		}
		if params["setting"] != "api_token" || it.Actor.ID != testAdmin.ID || it.Actor.Type != "ADMIN" || it.FunctionType != "command" {
			t.Errorf("record %s", b)
		}
		if params[ParamTokenID] == info.ID {
			news = append(news, params["new_value"])
		}
	}
	if !slices.Equal(news, []string{"revoked", "created"}) {
		t.Errorf("records of the token: %v", news)
	}
	// A property holds a bounded number of tokens.
	for range command.MaxTokensPerProperty - 1 {
		if _, _, err := tk.Create(ctx, audit.Telegram, propB, testAdmin, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := tk.Create(ctx, audit.Telegram, propB, testAdmin, ""); !errors.Is(err, command.ErrTooManyTokens) {
		t.Errorf("token %d: %v", command.MaxTokensPerProperty+1, err)
	}
}

func (r *response) String() string { return string(r.body) }

// TestExport streams NDJSON and CSV.
func TestExport(t *testing.T) {
	e := newEnv(t)
	var all []*audit.Event
	for i := range 2500 {
		x := ev(i, []audit.EventType{audit.ChatMessage, audit.UserJoin}[i%2])
		if i == 7 {
			x.ActorName = "=HYPERLINK(\"x\")"
			x.Content = "line one\nline, two"
			x.Params = audit.Params{"reason": "r"}
		}
		all = append(all, x)
	}
	e.record(all...)
	want := newestFirst(all)

	r := e.get("/v1/properties/"+pathA+"/activities:export", e.tokA) // NDJSON by default
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") ||
		!strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.StatusCode, r.Header)
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	var got []string
	for _, l := range lines {
		var x audit.Event
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatal(err)
		}
		got = append(got, x.ID.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("ndjson: %d records, want %d", len(got), len(want))
	}

	r = e.get("/v1/properties/"+pathA+"/activities:export?format=csv&eventName=USER_JOIN&filters=reason%3C%3Er", e.tokA)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", r.StatusCode, r.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], export.CSVHeader) || len(rows) != 1+1250-1 {
		t.Errorf("csv: header %v, %d rows", rows[0], len(rows))
	}
	r = e.get("/v1/properties/"+pathA+"/activities:export?format=csv&filters=reason%3D%3Dr", e.tokA)
	rows, _ = csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if len(rows) != 2 || rows[1][8] != `'=HYPERLINK("x")` || rows[1][14] != "line one\nline, two" || rows[1][13] != `{"reason":"r"}` {
		t.Errorf("csv row: %q", rows)
	}
	// Disjoint type filters: an empty export, not an error.
	r = e.get("/v1/properties/"+pathA+"/activities:export?eventName=USER_JOIN&eventType=messages", e.tokA)
	if r.StatusCode != 200 || len(r.body) != 0 {
		t.Errorf("empty export: %d %q", r.StatusCode, r.body)
	}
}

// TestBackup: the operator takes a consistent copy; nobody else can.
func TestBackup(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	for _, c := range []struct {
		token string
		code  int
	}{{"", 401}, {"nope", 401}, {e.tokA, 403}, {testOperator, 200}} {
		r := e.get("/v1/backup", c.token)
		if r.StatusCode != c.code {
			t.Fatalf("backup with %.6s: %d, want %d", c.token, r.StatusCode, c.code)
		}
		if c.code != 200 {
			continue
		}
		path := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(path, r.body, 0o600); err != nil {
			t.Fatal(err)
		}
		cp, err := store.Open(path, store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(cp.Properties()); got != 2 {
			t.Errorf("the copy has %d properties", got)
		}
		cp.Close()
	}
	if r := e.get("/v1/backup?x=1", testOperator); r.StatusCode != 400 {
		t.Errorf("backup with a parameter: %d", r.StatusCode)
	}
}

// TestHealth: /healthz always, /readyz per component.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/healthz", ""); r.StatusCode != 200 || !strings.Contains(r.String(), `"ok"`) {
		t.Errorf("healthz: %d %s", r.StatusCode, r.body)
	}
	var rd Readiness
	r := e.get("/readyz", "")
	r.json(&rd)
	if r.StatusCode != 200 || rd.Status != "ready" || rd.Checks["store"] != "ok" {
		t.Errorf("readyz: %d %+v", r.StatusCode, rd)
	}
	var connected atomic.Bool
	e.srv.AddReady("discord", func(context.Context) error {
		if !connected.Load() {
			return errors.New("gateway disconnected")
		}
		return nil
	})
	e.srv.AddReady("telegram", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	r = e.get("/readyz", "")
	rd = Readiness{}
	r.json(&rd)
	if r.StatusCode != 503 || rd.Checks["discord"] != "gateway disconnected" || rd.Checks["telegram"] == "ok" || rd.Checks["store"] != "ok" {
		t.Errorf("readyz, disconnected: %d %+v", r.StatusCode, rd)
	}
	connected.Store(true)
	e.srv.AddReady("telegram", func(context.Context) error { return nil })
	if r := e.get("/readyz", ""); r.StatusCode != 200 {
		t.Errorf("readyz, connected: %d %s", r.StatusCode, r.body)
	}
	// A closed store is not ready.
	e.store.Close()
	if r := e.get("/readyz", ""); r.StatusCode != 503 || !strings.Contains(r.String(), "store") {
		t.Errorf("readyz, store closed: %d %s", r.StatusCode, r.body)
	}
}
