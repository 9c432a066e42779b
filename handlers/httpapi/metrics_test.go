package httpapi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/chatwarden/chatwarden/audit"
)

// TestMetricsLint: every family lints clean the way promtool check
// metrics does, and the Go and process collectors are there.
func TestMetricsLint(t *testing.T) {
	m := NewMetrics()
	m.EngineAction("DELETE")
	m.Reconnect("discord")
	m.apiRequest("GET /healthz", 200, time.Millisecond)
	m.GaugeFunc("chatwarden_test_value", "A test gauge.", []string{"platform"},
		func(emit func(float64, ...string)) { emit(1, "discord"); emit(2) /* wrong labels: dropped */ })
	var nilMetrics *Metrics
	nilMetrics.EngineAction("x") // no panic
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes",
		"process_start_time_seconds", MetricBuildInfo, MetricEngineActions, "chatwarden_test_value"} {
		if !names[want] {
			t.Errorf("no %s among %d families", want, len(names))
		}
	}
	if n := testutil.ToFloat64(m.reconnects.WithLabelValues("telegram")); n != 0 {
		t.Errorf("telegram reconnects start at %v", n)
	}
	if n := testutil.CollectAndCount(m.reconnects); n != 2 {
		t.Errorf("%d reconnect series, want one per platform", n)
	}
}

// TestMetricsEndpoint: the recorder, outbox and API families over HTTP,
// in the text format and in OpenMetrics when asked.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin), ev(3, audit.ChatMessage, inProp(audit.Telegram, propB)))
	e.record(ev(4, audit.UserJoin))
	e.get("/v1/properties/"+pathA+"/activities", e.tokA)
	e.get("/v1/properties/"+pathA+"/activities", "")
	e.srv.Metrics().Reconnect("discord")
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
		`chatwarden_api_requests_total{code="200",route="GET /v1/properties/{property}/activities"} 1`,
		`chatwarden_api_requests_total{code="401",route="GET /v1/properties/{property}/activities"} 1`,
		`chatwarden_api_request_seconds_count{route="GET /v1/properties/{property}/activities"} 2`,
		`chatwarden_api_auth_failures_total{reason="MISSING_TOKEN",surface="api"} 1`,
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
	for _, want := range []string{"chatwarden_store_size_bytes ", "chatwarden_store_free_bytes ", "go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(out, "\n"+want) {
			t.Errorf("no %s sample", want)
		}
	}
	lintText(t, out)

	// OpenMetrics, as Prometheus asks for it.
	r := e.get("/metrics", "", "Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("asked for OpenMetrics, got %q", ct)
	}
	if !strings.HasSuffix(r.String(), "# EOF\n") {
		t.Errorf("OpenMetrics without its # EOF")
	}
}

// lintText parses a text exposition and lints it like promtool.
func lintText(t *testing.T, text string) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("not the text format: %v", err)
	}
	var list []*dto.MetricFamily
	for _, mf := range mfs {
		list = append(list, mf)
	}
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
