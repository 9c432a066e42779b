package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/settings"
)

// authRecords returns the params of prop's API_AUTH_FAILURE records,
// newest first.
func (e *env) authRecords(prop string) []map[string]string {
	e.t.Helper()
	a := e.list(prop, testOperator, url.Values{"eventName": {"SECURITY_EVENT"}, "filters": {"kind==API_AUTH_FAILURE"}, "maxResults": {"1000"}})
	var out []map[string]string
	for _, it := range a.Items {
		if it.FunctionType != "command" || it.Actor.Type != "SYSTEM" || it.PlatformType != "http_api" {
			e.t.Errorf("failure record %+v", it)
		}
		m := map[string]string{}
		for _, p := range it.Events[0].Parameters {
			m[p.Name] = p.Value
		}
		out = append(out, m)
	}
	return out
}

// countOf sums the count param of records.
func countOf(t testing.TB, recs []map[string]string) int {
	n := 0
	for _, r := range recs {
		c, err := strconv.Atoi(r[ParamCount])
		if err != nil {
			t.Fatalf("record without a count: %v", r)
		}
		n += c
	}
	return n
}

// settle writes every aggregate that is due after moving the clock past
// the interval, and waits until prop's records add up to want failures.
func (e *env) settle(prop string, want int) []map[string]string {
	e.t.Helper()
	e.clock.Add(61 * time.Second)
	e.srv.flushAuthFailures(false)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		recs := e.authRecords(prop)
		if n := countOf(e.t, recs); n == want {
			return recs
		} else if time.Now().After(deadline) {
			e.t.Fatalf("%s: records count %d failures, want %d: %v", prop, n, want, recs)
		}
	}
}

// operatorLines returns the operator-level failure lines of the log.
func (e *env) operatorLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logBuf.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "HTTP authentication failures naming no known community" {
			out = append(out, m)
		}
	}
	return out
}

// TestAuthFailuresAggregated: failures against one community make one
// record per interval with the count, the addresses and the reasons,
// go to the community asked for or the token's, create no property and
// never hold a token.
func TestAuthFailuresAggregated(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	bogus := "cw_" + strings.Repeat("Q", 43)
	for range 5 {
		e.get("/v1/properties/"+pathA+"/activities", bogus)
	}
	e.get("/v1/properties/"+pathA+"/activities", e.tokB) // wrong property
	got := e.settle(pathA, 6)
	if len(got) > 2 {
		t.Errorf("6 failures in one interval made %d records", len(got))
	}
	last := got[0]
	if last[ParamRemoteAddr] != "127.0.0.1" || !strings.HasPrefix(last[ParamSources], "127.0.0.1 ×") ||
		last[ParamPath] != "/v1/properties/"+pathA+"/activities" {
		t.Errorf("record: %v", last)
	}
	reasons := strings.Join([]string{got[0][ParamReasons], func() string {
		if len(got) > 1 {
			return got[1][ParamReasons]
		}
		return ""
	}()}, ";")
	if !strings.Contains(reasons, ReasonUnknownToken) || !strings.Contains(reasons, ReasonWrongProperty+" ×1") {
		t.Errorf("reasons: %q", reasons)
	}
	var tokenSeen bool
	for _, r := range got {
		tokenSeen = tokenSeen || r[ParamTokenID] == command.TokenID(e.tokB) || strings.Contains(r[ParamTokenIDs], command.TokenID(e.tokB))
	}
	if !tokenSeen {
		t.Errorf("the wrong-property token's id is not in the records: %v", got)
	}

	// Against an unknown property: the token's property, or the operator;
	// no property is created.
	before := len(e.store.Properties())
	e.get("/v1/properties/discord:424242424242/activities", e.tokB)
	if got := e.settle(pathB, 1); len(got) != 1 || got[0][audit.ParamReason] != ReasonWrongProperty {
		t.Errorf("wrong-property failure on an unknown property: %v", got)
	}
	e.get("/v1/properties/discord:434343434343/activities", bogus)
	e.get("/v1/properties/all/activities", bogus)
	e.get("/v1/backup", "")
	if r := e.get("/v1/backup", e.tokB); r.StatusCode != 403 {
		t.Errorf("backup with a property token: %d", r.StatusCode)
	}
	if got := e.settle(pathB, 2); got[0][audit.ParamReason] != ReasonOperatorOnly || got[0][ParamSurfaces] != SurfaceBackup+" ×1" {
		t.Errorf("backup failure: %v", got)
	}
	if n := len(e.store.Properties()); n != before {
		t.Errorf("failures created properties: %d -> %d", before, n)
	}
	ops := e.operatorLines()
	total := 0
	for _, l := range ops {
		total += int(l[ParamCount].(float64))
	}
	if total != 3 {
		t.Errorf("operator-level failures: %d in %v", total, ops)
	}
	// Tokens never reach the log.
	logs := e.logBuf.String()
	for _, tok := range []string{bogus, e.tokA, e.tokB, testOperator} {
		if strings.Contains(logs, tok) {
			t.Errorf("the log holds a token")
		}
	}
	if n := strings.Count(logs, "HTTP authentication failed"); n != 11 {
		t.Errorf("%d failures logged at debug level, want 11", n)
	}
}

// TestAuthFailureFlood: failed authentications from 5,000 addresses on
// every surface grow the audit log and the log-channel outbox by at most
// two records per community and interval, every failure is in a count,
// and a single failure against another community is recorded there.
func TestAuthFailureFlood(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	router, _ := logchannel.NewRouter(context.Background(), nil, "en")
	router.Update(audit.Discord, propA, settings.Community{LogChannels: []settings.LogChannel{{ID: "555"}}})
	router.Update(audit.Telegram, propB, settings.Community{LogChannels: []settings.LogChannel{{ID: "-1009"}}})
	e.rec.AddRouter(router)
	depth := func() int {
		a, _ := e.store.OutboxDepth("discord")
		b, _ := e.store.OutboxDepth("telegram")
		return a + b
	}
	records := func() int { return len(e.authRecords(pathA)) + len(e.authRecords(pathB)) }
	depth0, records0 := depth(), records()

	bogus := "cw_" + strings.Repeat("Z", 43)
	type attempt struct {
		method, path, token, form, cookie string
		surface, reason                   string
		target                            string // "" for the operator
	}
	kinds := []attempt{
		{method: "GET", path: "/v1/properties/" + pathA + "/activities", token: bogus, surface: SurfaceAPI, reason: ReasonUnknownToken, target: pathA},
		{method: "GET", path: "/v1/properties/" + pathA + "/activities:watch", token: e.tokB, surface: SurfaceAPI, reason: ReasonWrongProperty, target: pathA},
		{method: "GET", path: "/v1/properties/all/activities", token: e.tokA, surface: SurfaceAPI, reason: ReasonWrongProperty, target: pathA},
		{method: "GET", path: "/v1/properties/all/activities:export", surface: SurfaceAPI, reason: ReasonMissingToken},
		{method: "GET", path: "/v1/properties/discord:777777777777/activities", token: bogus, surface: SurfaceAPI, reason: ReasonUnknownToken},
		{method: "GET", path: "/v1/backup", token: bogus, surface: SurfaceBackup, reason: ReasonUnknownToken},
		{method: "GET", path: "/v1/backup", token: e.tokA, surface: SurfaceBackup, reason: ReasonOperatorOnly, target: pathA},
		{method: "POST", path: "/login", form: "token=" + bogus, surface: SurfaceLogin, reason: ReasonUnknownToken},
		{method: "GET", path: "/", cookie: "cwv_bm90LWEtc2Vzc2lvbg", surface: SurfaceCookie, reason: ReasonUnknownSession},
		{method: "POST", path: "/login/link", form: "code=cwl_bm90LWEtbGluaw", surface: SurfaceLink, reason: ReasonUnknownLink},
		{method: "GET", path: "/v1/properties/" + pathA + "/activities", token: "x" + testOperator, surface: SurfaceAPI, reason: ReasonUnknownToken, target: pathA},
	}
	const n = 5000
	want := map[string]int{}       // surface/reason -> failures
	wantTarget := map[string]int{} // target -> failures
	for i := range n {
		k := kinds[i%len(kinds)]
		var body *strings.Reader
		if k.form != "" {
			body = strings.NewReader(k.form)
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(k.method, k.path, body)
		req.RemoteAddr = fmt.Sprintf("198.51.%d.%d:4%04d", i/250, i%250, i%10000)
		if k.token != "" {
			req.Header.Set("Authorization", "Bearer "+k.token)
		}
		if k.form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if k.cookie != "" {
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: k.cookie})
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != 401 && w.Code != 403 && !(k.surface == SurfaceCookie && w.Code == 200) && !(k.surface == SurfaceLink && w.Code == 410) {
			t.Fatalf("%s %s: %d %s", k.method, k.path, w.Code, w.Body)
		}
		want[k.surface+"/"+k.reason]++
		wantTarget[k.target]++
	}
	// One failure against B from an address that also attacked A: B
	// records it whatever A's flood does.
	req := httptest.NewRequest("GET", "/v1/properties/"+pathB+"/activities", nil)
	req.RemoteAddr = "198.51.0.1:1234"
	req.Header.Set("Authorization", "Bearer "+e.tokA)
	e.srv.ServeHTTP(httptest.NewRecorder(), req)
	want[SurfaceAPI+"/"+ReasonWrongProperty]++

	// Let the writer catch up, without moving the clock: this is the flood's
	// interval.
	time.Sleep(200 * time.Millisecond)
	e.srv.flushAuthFailures(false)
	during := records() - records0
	if during > 2 {
		t.Errorf("during the flood: %d records for 2 communities", during)
	}
	gotA := e.settle(pathA, wantTarget[pathA])
	gotB := e.settle(pathB, 1)
	if len(gotA) > 2 || len(gotB) != 1 {
		t.Errorf("records after one interval: A %d, B %d (want at most 2 and 1)", len(gotA), len(gotB))
	}
	if gotB[0][ParamRemoteAddr] != "198.51.0.1" || gotB[0][ParamTokenID] != command.TokenID(e.tokA) {
		t.Errorf("B's record: %v", gotB[0])
	}
	// Sources: ten named, the others counted.
	for _, r := range gotA {
		if c, _ := strconv.Atoi(r[ParamCount]); c > 1000 && !strings.Contains(r[ParamSources], " more") {
			t.Errorf("sources of %d failures: %q", c, r[ParamSources])
		}
		if len(r[ParamSources]) > 1024 {
			t.Errorf("sources param of %d bytes", len(r[ParamSources]))
		}
	}
	if d := depth() - depth0; d > 2*2 || d < 2 {
		t.Errorf("the outbox grew by %d posts; want 2 to 4", d)
	}
	// The operator: a bounded number of log lines, every failure counted.
	e.srv.Close()
	ops := e.operatorLines()
	total := 0
	for _, l := range ops {
		total += int(l[ParamCount].(float64))
	}
	if total != wantTarget[""] || len(ops) > 2 {
		t.Errorf("operator lines: %d lines, %d failures; want at most 2 lines, %d failures", len(ops), total, wantTarget[""])
	}
	// Every surface's failures in the metric.
	metrics := e.get("/metrics", "").String()
	for k, c := range want {
		surface, reason, _ := strings.Cut(k, "/")
		line := fmt.Sprintf(`chatwarden_api_auth_failures_total{reason=%q,surface=%q} %d`, reason, surface, c)
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("metric: no %s", line)
		}
	}
}

// TestAuthFailureBudget: with more attacked communities than the budget,
// records per minute stay within it; the rest wait, oldest first, and no
// failure is lost.
func TestAuthFailureBudget(t *testing.T) {
	const communities, budget = 12, 5
	e := newEnv(t, func(o *Options) { o.AuthFailureBudget = budget })
	var paths []string
	for i := range communities {
		id := strconv.Itoa(200000000000000000 + i)
		e.record(ev(i, audit.UserJoin, inProp(audit.Discord, id)))
		paths = append(paths, "discord:"+id)
	}
	for i := range 3 * communities {
		req := httptest.NewRequest("GET", "/v1/properties/"+paths[i%communities]+"/activities", nil)
		req.RemoteAddr = fmt.Sprintf("203.0.113.%d:80", i)
		e.srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	time.Sleep(100 * time.Millisecond)
	e.srv.flushAuthFailures(false)
	count := func() (recs, failures int) {
		for _, p := range paths {
			r := e.authRecords(p)
			recs += len(r)
			failures += countOf(t, r)
		}
		return
	}
	if recs, _ := count(); recs > budget {
		t.Errorf("%d records in the first minute; the budget is %d", recs, budget)
	}
	// Each minute another budget's worth, until every failure is in.
	for minute := 1; minute <= communities/budget+2; minute++ {
		e.clock.Add(time.Minute)
		e.srv.flushAuthFailures(false)
		recs, _ := count()
		if recs > budget*(minute+1) {
			t.Errorf("minute %d: %d records", minute, recs)
		}
	}
	if recs, failures := count(); failures != 3*communities || recs < communities {
		t.Errorf("after the backlog: %d records, %d failures; want every one of %d in at least %d records", recs, failures, 3*communities, communities)
	}
}

// BenchmarkAuthFailure: answering a wrong token against a community that
// exists (and has a record's worth of failures to aggregate) and against
// one that does not; the bare baseline is the same request's 404 route,
// which authenticates nothing. The two failure cases should match.
func BenchmarkAuthFailure(b *testing.B) {
	e := newEnv(b, func(o *Options) { o.Logger = o.Logger.Level(1) }) // info: no debug lines
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	for i := range 50 { // a store with some properties to look through
		e.record(ev(3+i, audit.UserJoin, inProp(audit.Discord, strconv.Itoa(300000000000000000+i))))
	}
	bogus := "cw_" + strings.Repeat("Q", 43)
	for _, bc := range []struct{ name, path string }{
		{"bare", "/v2/nothing"},
		{"known", "/v1/properties/" + pathA + "/activities"},
		{"unknown", "/v1/properties/discord:999999999999999999/activities"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.path, nil)
			req.Header.Set("Authorization", "Bearer "+bogus)
			i := 0
			for b.Loop() {
				i++
				req.RemoteAddr = fmt.Sprintf("198.51.%d.%d:1", i/250%250, i%250)
				w := httptest.NewRecorder()
				e.srv.ServeHTTP(w, req)
				if w.Code != 401 && w.Code != 404 {
					b.Fatalf("%d", w.Code)
				}
			}
		})
	}
}

// TestAuthFailureSourceBehindProxy: behind a configured proxy the records
// name the client's address as the proxy forwarded it (the last one it
// added, not what the client wrote before it); without the setting the
// headers are ignored.
func TestAuthFailureSourceBehindProxy(t *testing.T) {
	bogus := "cw_" + strings.Repeat("Q", 43)
	for _, tc := range []struct {
		trusted, header, value, want string
	}{
		{"", "X-Forwarded-For", "198.51.100.7", "127.0.0.1"},
		{"X-Forwarded-Proto", "X-Forwarded-For", "203.0.113.9, 198.51.100.7", "198.51.100.7"},
		{"X-Forwarded-Proto", "X-Forwarded-For", "not an address", "127.0.0.1"},
		{"Forwarded", "Forwarded", `for=203.0.113.9, for="[2001:db8::17]:4711";proto=https`, "2001:db8::17"},
		{"Forwarded", "Forwarded", "for=_hidden;proto=https", "127.0.0.1"},
		{"Forwarded", "X-Forwarded-For", "198.51.100.7", "127.0.0.1"},
	} {
		e := newEnv(t, func(o *Options) { o.TrustedProxyHeader = tc.trusted })
		e.record(ev(1, audit.UserJoin))
		e.get("/v1/properties/"+pathA+"/activities", bogus, tc.header, tc.value)
		got := e.settle(pathA, 1)
		if got[0][ParamRemoteAddr] != tc.want || !strings.HasPrefix(got[0][ParamSources], tc.want+" ×") {
			t.Errorf("trusted %q, %s: %s: recorded %q, sources %q; want %s",
				tc.trusted, tc.header, tc.value, got[0][ParamRemoteAddr], got[0][ParamSources], tc.want)
		}
	}
}
