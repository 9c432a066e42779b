package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// Metric names registered by NewMetrics. Other packages increment the
// counters through a *Metrics, for example
//
//	m.Inc(httpapi.MetricEngineActions, "kind", "DELETE")
//	m.Inc(httpapi.MetricReconnects, "platform", "discord")
//
// Label values are given as name, value pairs; the names must be the ones
// the metric was registered with (in any order).
const (
	MetricEventsRecorded   = "chatwarden_events_recorded_total"       // counter {platform, type}
	MetricBatchSize        = "chatwarden_recorder_batch_size"         // histogram: events per commit
	MetricCommitSeconds    = "chatwarden_recorder_commit_seconds"     // histogram: commit latency
	MetricRecorderCommits  = "chatwarden_recorder_commits_total"      // counter
	MetricRecorderFailures = "chatwarden_recorder_failures_total"     // counter: failed commit attempts
	MetricOutboxDepth      = "chatwarden_outbox_depth"                // gauge {platform}: pending log deliveries
	MetricDeliveryFailures = "chatwarden_delivery_failures_total"     // counter {platform}
	MetricReconnects       = "chatwarden_reconnects_total"            // counter {platform}: gateway / poll reconnects
	MetricEngineActions    = "chatwarden_engine_actions_total"        // counter {kind}
	MetricAPIRequests      = "chatwarden_api_requests_total"          // counter {route, code}
	MetricAPISeconds       = "chatwarden_api_request_seconds"         // histogram {route}
	MetricAuthFailures     = "chatwarden_api_auth_failures_total"     // counter {reason}
	MetricWatchClients     = "chatwarden_api_watch_clients"           // gauge
	MetricWatchDropped     = "chatwarden_api_watch_disconnects_total" // counter {reason}
	MetricMisuse           = "chatwarden_metrics_misuse_total"        // counter: Inc/Observe calls with unknown names or labels
)

// Metrics is a small registry of counters, histograms and gauges written
// in the Prometheus text exposition format (version 0.0.4). It is safe for
// concurrent use, and a nil *Metrics ignores every call, so components may
// take one optionally.
//
// Register a family once (Counter, Histogram, GaugeFunc, CounterFunc), then
// Inc, Add or Observe it by name. A call naming an unregistered family or
// the wrong labels changes nothing but MetricMisuse, so that a typo never
// takes the bot down.
type Metrics struct {
	mu       sync.Mutex
	families map[string]*family
	order    []string
}

type metricKind string

const (
	kindCounter   metricKind = "counter"
	kindGauge     metricKind = "gauge"
	kindHistogram metricKind = "histogram"
)

type family struct {
	name, help string
	kind       metricKind
	labels     []string
	buckets    []float64 // histograms: upper bounds, ascending, without +Inf
	series     map[string]*series
	fn         func(emit func(v float64, labelValues ...string)) // computed at scrape time
}

type series struct {
	values []string // label values in family.labels order
	value  float64  // counters
	counts []uint64 // histograms: per bucket, not cumulative; last is +Inf
	sum    float64
	count  uint64
}

// Default histogram buckets.
var (
	// BatchBuckets suit events per recorder commit.
	BatchBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 16384}
	// LatencyBuckets suit latencies in seconds, from 100µs to 10s.
	LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// NewMetrics returns a registry with chatwarden's standard families
// registered (the Metric* constants). Families computed from other state
// (outbox depth, recorder counters) are added by New when it has the store
// and the recorder.
func NewMetrics() *Metrics {
	m := &Metrics{families: make(map[string]*family)}
	m.Counter(MetricEventsRecorded, "Events committed by the recorder, by platform and universal type.", "platform", "type")
	m.Histogram(MetricBatchSize, "Events per recorder commit (one bbolt transaction).", BatchBuckets)
	m.Histogram(MetricCommitSeconds, "Recorder commit latency in seconds, fsync included.", LatencyBuckets)
	m.Counter(MetricDeliveryFailures, "Failed log-channel deliveries, by platform.", "platform")
	m.Counter(MetricReconnects, "Discord gateway and Telegram polling reconnects, by platform.", "platform")
	m.Counter(MetricEngineActions, "Actions taken by the moderation and verification engines, by kind.", "kind")
	m.Counter(MetricAPIRequests, "HTTP requests, by route and status code.", "route", "code")
	m.Histogram(MetricAPISeconds, "HTTP request latency in seconds (until the handler returns), by route.", LatencyBuckets, "route")
	m.Counter(MetricAuthFailures, "Rejected HTTP API authentications, by reason.", "reason")
	m.Counter(MetricWatchDropped, "activities:watch streams ended by the server, by reason.", "reason")
	m.Counter(MetricMisuse, "Metrics calls naming an unregistered metric or wrong labels (a bug).")
	for _, p := range []string{"discord", "telegram"} {
		// Start the per-platform counters at zero so that rate() works
		// from the first scrape.
		m.Add(MetricDeliveryFailures, 0, "platform", p)
		m.Add(MetricReconnects, 0, "platform", p)
	}
	return m
}

func (m *Metrics) register(f *family) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.families[f.name]; ok {
		return // the first registration wins
	}
	f.series = make(map[string]*series)
	m.families[f.name] = f
	m.order = append(m.order, f.name)
}

// Counter registers a counter with the given label names.
func (m *Metrics) Counter(name, help string, labels ...string) {
	m.register(&family{name: name, help: help, kind: kindCounter, labels: labels})
}

// Histogram registers a histogram with ascending bucket upper bounds (the
// +Inf bucket is implied) and the given label names.
func (m *Metrics) Histogram(name, help string, buckets []float64, labels ...string) {
	m.register(&family{name: name, help: help, kind: kindHistogram, labels: labels,
		buckets: slices.Clone(buckets)})
}

// GaugeFunc registers a gauge computed at every scrape: fn calls emit once
// per series, with label values in the order of labels.
func (m *Metrics) GaugeFunc(name, help string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	m.register(&family{name: name, help: help, kind: kindGauge, labels: labels, fn: fn})
}

// CounterFunc registers a counter read from elsewhere at every scrape.
func (m *Metrics) CounterFunc(name, help string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	m.register(&family{name: name, help: help, kind: kindCounter, labels: labels, fn: fn})
}

// Inc adds 1 to a counter. labels are name, value pairs.
func (m *Metrics) Inc(name string, labels ...string) { m.Add(name, 1, labels...) }

// Add adds v (which must not be negative) to a counter.
func (m *Metrics) Add(name string, v float64, labels ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.lookup(name, kindCounter, labels)
	if s == nil || v < 0 {
		m.misuse()
		return
	}
	s.value += v
}

// Observe records one value in a histogram.
func (m *Metrics) Observe(name string, v float64, labels ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.lookup(name, kindHistogram, labels)
	if s == nil || math.IsNaN(v) {
		m.misuse()
		return
	}
	f := m.families[name]
	i, _ := slices.BinarySearch(f.buckets, v) // first bound >= v
	s.counts[i]++
	s.sum += v
	s.count++
}

// ObserveDuration records a duration in seconds in a histogram.
func (m *Metrics) ObserveDuration(name string, d time.Duration, labels ...string) {
	m.Observe(name, d.Seconds(), labels...)
}

// misuse counts a bad call; m.mu is held.
func (m *Metrics) misuse() {
	if f := m.families[MetricMisuse]; f != nil {
		if s := f.get(nil); s != nil {
			s.value++
		}
	}
}

// lookup finds or creates the series of a family; m.mu is held. It
// returns nil for an unknown family, a family of another kind, or labels
// that are not exactly the family's.
func (m *Metrics) lookup(name string, kind metricKind, pairs []string) *series {
	f := m.families[name]
	if f == nil || f.kind != kind || f.fn != nil || len(pairs) != 2*len(f.labels) {
		return nil
	}
	values := make([]string, len(f.labels))
	for i := 0; i < len(pairs); i += 2 {
		j := slices.Index(f.labels, pairs[i])
		if j < 0 || values[j] != "" {
			return nil
		}
		values[j] = pairs[i+1]
	}
	return f.get(values)
}

// get returns the series with these label values, creating it.
func (f *family) get(values []string) *series {
	key := strings.Join(values, "\xff")
	s := f.series[key]
	if s == nil {
		s = &series{values: values}
		if f.kind == kindHistogram {
			s.counts = make([]uint64, len(f.buckets)+1)
		}
		f.series[key] = s
	}
	return s
}

// WriteTo writes every family in the text exposition format, families in
// registration order and series sorted by label values.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	if m == nil {
		return 0, nil
	}
	m.mu.Lock()
	fams := make([]*family, len(m.order))
	for i, name := range m.order {
		fams[i] = m.families[name]
	}
	m.mu.Unlock()

	cw := &countWriter{w: bufio.NewWriter(w)}
	for _, f := range fams {
		// Computed families run outside the lock: they may do I/O.
		var computed []*series
		if f.fn != nil {
			f.fn(func(v float64, values ...string) {
				if len(values) == len(f.labels) {
					computed = append(computed, &series{values: slices.Clone(values), value: v})
				}
			})
		}
		m.mu.Lock()
		list := computed
		if f.fn == nil {
			if len(f.labels) == 0 {
				f.get(nil) // an unlabelled family always has its one series
			}
			list = make([]*series, 0, len(f.series))
			for _, s := range f.series {
				cp := *s
				cp.counts = slices.Clone(s.counts)
				list = append(list, &cp)
			}
		}
		m.mu.Unlock()
		slices.SortFunc(list, func(a, b *series) int { return slices.Compare(a.values, b.values) })

		cw.printf("# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		for _, s := range list {
			if f.kind != kindHistogram {
				cw.printf("%s%s %s\n", f.name, labelText(f.labels, s.values, "", ""), formatFloat(s.value))
				continue
			}
			var cum uint64
			for i, bound := range f.buckets {
				cum += s.counts[i]
				cw.printf("%s_bucket%s %d\n", f.name, labelText(f.labels, s.values, "le", formatFloat(bound)), cum)
			}
			cum += s.counts[len(f.buckets)]
			cw.printf("%s_bucket%s %d\n", f.name, labelText(f.labels, s.values, "le", "+Inf"), cum)
			cw.printf("%s_sum%s %s\n", f.name, labelText(f.labels, s.values, "", ""), formatFloat(s.sum))
			cw.printf("%s_count%s %d\n", f.name, labelText(f.labels, s.values, "", ""), s.count)
		}
	}
	return cw.n, cw.flush()
}

// ServeHTTP writes the metrics for a Prometheus scrape.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.WriteTo(w)
}

func labelText(names, values []string, extraName, extraValue string) string {
	if len(names) == 0 && extraName == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	if extraName != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extraName + `="` + extraValue + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

type countWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (c *countWriter) printf(format string, a ...any) {
	if c.err != nil {
		return
	}
	n, err := fmt.Fprintf(c.w, format, a...)
	c.n += int64(n)
	c.err = err
}

func (c *countWriter) flush() error {
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// observeRecorder keeps the recorder families up to date from committed
// batches. The commit latency is the recorder's LastCommit when the batch
// reaches subscribers: exact unless a newer commit finished first (the
// subscriber backlog is short), in which case that commit's latency is
// counted instead.
func (m *Metrics) observeRecorder(feed Feed, stats *recorder.Stats) {
	if m == nil || feed == nil {
		return
	}
	feed.Subscribe(func(events []*audit.Event) {
		m.Observe(MetricBatchSize, float64(len(events)))
		if stats != nil {
			m.ObserveDuration(MetricCommitSeconds, time.Duration(stats.LastCommit.Load()))
		}
		type key struct {
			p audit.Platform
			t audit.EventType
		}
		counts := make(map[key]int, 4)
		for _, e := range events {
			counts[key{e.Platform, e.Type}]++
		}
		for k, n := range counts {
			m.Add(MetricEventsRecorded, float64(n), "platform", k.p.String(), "type", k.t.String())
		}
	})
	if stats != nil {
		m.CounterFunc(MetricRecorderCommits, "Recorder commits (bbolt transactions).", nil,
			func(emit func(float64, ...string)) { emit(float64(stats.Commits.Load())) })
		m.CounterFunc(MetricRecorderFailures, "Failed recorder commit attempts (each is retried).", nil,
			func(emit func(float64, ...string)) { emit(float64(stats.Failures.Load())) })
	}
}
