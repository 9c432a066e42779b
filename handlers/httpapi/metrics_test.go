package httpapi

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// expositionLine matches a sample or comment line of the text format.
var expositionLine = regexp.MustCompile(`^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfa]+)$`)

func TestMetricsRegistry(t *testing.T) {
	m := NewMetrics()
	m.Inc(MetricEngineActions, "kind", "DELETE")
	m.Inc(MetricEngineActions, "kind", "DELETE")
	m.Add(MetricEngineActions, 3, "kind", `we"ird\kind`+"\n")
	m.Observe(MetricBatchSize, 3)
	m.Observe(MetricBatchSize, 20000)
	m.Histogram("test_seconds", "A test histogram.", []float64{0.1, 1}, "route")
	m.Observe("test_seconds", 0.05, "route", "a")
	m.Observe("test_seconds", 0.5, "route", "a")
	m.Observe("test_seconds", 0.1, "route", "a") // on a bound: le="0.1"
	// Misuse changes nothing but the misuse counter.
	m.Inc("chatwarden_nope_total")
	m.Inc(MetricEngineActions, "engine", "x")
	m.Inc(MetricEngineActions)
	m.Inc(MetricEngineActions, "kind", "A", "kind", "B")
	m.Observe(MetricEngineActions, 1, "kind", "A")
	m.Add(MetricEngineActions, -1, "kind", "DELETE")
	var nilMetrics *Metrics
	nilMetrics.Inc(MetricEngineActions, "kind", "x") // no panic

	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE chatwarden_engine_actions_total counter",
		`chatwarden_engine_actions_total{kind="DELETE"} 2`,
		`chatwarden_engine_actions_total{kind="we\"ird\\kind\n"} 3`,
		`chatwarden_recorder_batch_size_bucket{le="2"} 0`,
		`chatwarden_recorder_batch_size_bucket{le="5"} 1`,
		`chatwarden_recorder_batch_size_bucket{le="16384"} 1`,
		`chatwarden_recorder_batch_size_bucket{le="+Inf"} 2`,
		`chatwarden_recorder_batch_size_sum 20003`,
		`chatwarden_recorder_batch_size_count 2`,
		`test_seconds_bucket{route="a",le="0.1"} 2`,
		`test_seconds_bucket{route="a",le="1"} 3`,
		`test_seconds_bucket{route="a",le="+Inf"} 3`,
		`chatwarden_metrics_misuse_total 6`,
		`chatwarden_reconnects_total{platform="telegram"} 0`,
		`chatwarden_delivery_failures_total{platform="discord"} 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	checkExposition(t, out)
}

func checkExposition(t *testing.T, out string) {
	t.Helper()
	types := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !expositionLine.MatchString(line) {
			t.Errorf("not exposition format: %q", line)
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name := strings.Fields(rest)[0]
			if types[name] {
				t.Errorf("%s declared twice", name)
			}
			types[name] = true
		}
	}
}

// TestMetricsEndpoint: the recorder, outbox and API families over HTTP.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin), ev(3, audit.ChatMessage, inProp(audit.Telegram, propB)))
	e.record(ev(4, audit.UserJoin))
	e.get("/v1/properties/"+pathA+"/activities", e.tokA)
	e.get("/v1/properties/"+pathA+"/activities", "")
	e.srv.Metrics().Inc(MetricReconnects, "platform", "discord")
	wants := []string{
		`chatwarden_events_recorded_total{platform="discord",type="USER_JOIN"} 3`,
		`chatwarden_events_recorded_total{platform="telegram",type="CHAT_MESSAGE"} 1`,
		`chatwarden_events_recorded_total{platform="discord",type="SECURITY_EVENT"} 1`, // the failed request
		`chatwarden_recorder_batch_size_count 3`,
		`chatwarden_recorder_commit_seconds_count 3`,
		`chatwarden_recorder_commits_total 3`,
		`chatwarden_recorder_failures_total 0`,
		`chatwarden_outbox_depth{platform="discord"} 0`,
		`chatwarden_outbox_depth{platform="telegram"} 0`,
		`chatwarden_reconnects_total{platform="discord"} 1`,
		`chatwarden_api_requests_total{route="GET /v1/properties/{property}/activities",code="200"} 1`,
		`chatwarden_api_requests_total{route="GET /v1/properties/{property}/activities",code="401"} 1`,
		`chatwarden_api_request_seconds_count{route="GET /v1/properties/{property}/activities"} 2`,
		`chatwarden_api_auth_failures_total{reason="MISSING_TOKEN"} 1`,
		`chatwarden_api_watch_clients 0`,
	}
	// Subscribers see a commit shortly after Record returns: poll.
	var out string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := e.get("/metrics", "")
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Fatalf("metrics: %d %v", r.StatusCode, r.Header)
		}
		out = r.String()
		missing := slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(out, w+"\n") })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("missing %q in\n%s", missing, out)
		}
	}
	checkExposition(t, out)
}
