package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

const (
	propA = "100000000000000001" // discord
	propB = "-1001000000000002"  // telegram
	propC = "100000000000000003" // discord, never given a token
)

var (
	pathA = "discord:" + propA
	pathB = "telegram:" + propB
	pathC = "discord:" + propC
)

const testOperator = "operator-token-0123456789abcdef-0123456789"

// env is a running API over a real store and recorder.
type env struct {
	t      testing.TB
	store  *store.Store
	rec    *recorder.Recorder
	srv    *Server
	ts     *httptest.Server
	spec   *spec
	tokA   string // property token of propA
	tokB   string // property token of propB
	logBuf *testlog.Buffer
	clock  *testClock
	// published is the highest Seq subscribers have been handed; the
	// test's subscriber runs after the server's.
	published atomic.Uint64
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testAdmin = command.Admin{ID: "900", Name: "Admin Person"}

func newEnv(t testing.TB, tweak ...func(*Options)) *env {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "api.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(s, recorder.Options{MaxDelay: 100 * time.Microsecond})
	e := &env{t: t, store: s, rec: rec, spec: loadSpec(t), logBuf: &testlog.Buffer{},
		clock: &testClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}
	opts := Options{
		Store: s, Recorder: rec, OperatorToken: testOperator,
		Logger: zerolog.New(e.logBuf).Level(zerolog.DebugLevel), Now: e.clock.Now,
	}
	for _, f := range tweak {
		f(&opts)
	}
	if e.srv, err = New(opts); err != nil {
		t.Fatal(err)
	}
	rec.Subscribe(func(evs []*audit.Event) {
		for _, x := range evs {
			if x.Seq > e.published.Load() {
				e.published.Store(x.Seq)
			}
		}
	})
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(func() {
		e.srv.Close()
		e.ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rec.Close(ctx)
		s.Close()
	})
	// The fixtures' tokens are made without records, so that tests see
	// only the records they make.
	ctx, quiet := context.Background(), command.NewTokens(s, nopRecorder{})
	if e.tokA, _, err = quiet.Create(ctx, audit.Discord, propA, testAdmin, "tests"); err != nil {
		t.Fatal(err)
	}
	if e.tokB, _, err = quiet.Create(ctx, audit.Telegram, propB, testAdmin, ""); err != nil {
		t.Fatal(err)
	}
	return e
}

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, ...*audit.Event) error { return nil }

// base is the time of the first seeded record.
var base = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// ev builds a record of propA (or of the platform and property given).
func ev(i int, typ audit.EventType, opts ...func(*audit.Event)) *audit.Event {
	e := &audit.Event{
		Time: base.Add(time.Duration(i) * time.Minute), Platform: audit.Discord, PropertyID: propA,
		Type: typ, PlatformType: "TEST_" + typ.String(), Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin,
		ActorID: fmt.Sprintf("u%d", i%5), ActorName: fmt.Sprintf("user %d", i%5),
		ChannelID: fmt.Sprintf("c%d", i%3),
	}
	for _, f := range opts {
		f(e)
	}
	return e
}

func inProp(p audit.Platform, id string) func(*audit.Event) {
	return func(e *audit.Event) { e.Platform, e.PropertyID = p, id }
}

func withParams(kv ...string) func(*audit.Event) {
	return func(e *audit.Event) {
		for i := 0; i < len(kv); i += 2 {
			e.Params.Set(kv[i], kv[i+1])
		}
	}
}

// record records events and waits until subscribers (the live feed, the
// metrics) have seen them, so that a stream opened next does not get them.
func (e *env) record(events ...*audit.Event) {
	e.t.Helper()
	if err := e.rec.Record(context.Background(), events...); err != nil {
		e.t.Fatal(err)
	}
	var top uint64
	for _, x := range events {
		top = max(top, x.Seq)
	}
	for deadline := time.Now().Add(5 * time.Second); e.published.Load() < top; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatal("subscribers did not see the records")
		}
	}
}

// response is a response read whole, already checked against the
// OpenAPI document.
type response struct {
	*http.Response
	body []byte
}

func (r *response) json(v any) {
	if err := json.Unmarshal(r.body, v); err != nil {
		panic(fmt.Sprintf("decode %s: %v", r.body, err))
	}
}

// errorOf returns the error document of a response.
func (r *response) errorOf() errorDetail {
	var b errorBody
	r.json(&b)
	return b.Error
}

// get requests path (with query) with a bearer token ("" for none) and
// checks the response against the OpenAPI document.
func (e *env) get(path, token string, header ...string) *response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	u, _ := url.Parse(path)
	if _, _, err := e.spec.operation("GET", u.Path); err != nil && resp.StatusCode == 404 {
		if er := (&response{resp, body}).errorOf(); er.Code != 404 || er.Status != "NOT_FOUND" {
			e.t.Errorf("404 body %s", body)
		}
		return &response{resp, body}
	}
	if err := e.spec.checkResponse("GET", u.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
		e.t.Errorf("OpenAPI: %v\nbody: %.500s", err, body)
	}
	return &response{resp, body}
}

// list runs activities.list and decodes it, failing on a non-200.
func (e *env) list(prop, token string, q url.Values) Activities {
	e.t.Helper()
	r := e.get("/v1/properties/"+prop+"/activities?"+q.Encode(), token)
	if r.StatusCode != 200 {
		e.t.Fatalf("list %s %v: %d %s", prop, q, r.StatusCode, r.body)
	}
	var a Activities
	r.json(&a)
	return a
}

// listAll follows nextPageToken to the end and returns the record ids.
func (e *env) listAll(prop, token string, q url.Values) []string {
	e.t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 10000 {
			e.t.Fatal("too many pages")
		}
		a := e.list(prop, token, q)
		for _, it := range a.Items {
			ids = append(ids, it.ID.UniqueQualifier)
		}
		if a.NextPageToken == "" {
			return ids
		}
		q = cloneValues(q)
		q.Set("pageToken", a.NextPageToken)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vals := range v {
		out[k] = append([]string(nil), vals...)
	}
	return out
}

func idsOf(events []*audit.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID.String()
	}
	return out
}

// newestFirst returns the ids of events in the store's order.
func newestFirst(events []*audit.Event) []string {
	cp := append([]*audit.Event(nil), events...)
	sortNewestFirst(cp)
	return idsOf(cp)
}

func sortNewestFirst(evs []*audit.Event) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && bytes.Compare(evs[j].ID[:], evs[j-1].ID[:]) > 0; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
