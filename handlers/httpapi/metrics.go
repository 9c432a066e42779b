package httpapi

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// Metric names. The families with labels say which; no label ever carries
// a community or user id, so the number of series stays bounded.
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
	MetricAuthFailures     = "chatwarden_api_auth_failures_total"     // counter {surface,reason}
	MetricWatchClients     = "chatwarden_api_watch_clients"           // gauge
	MetricWatchDropped     = "chatwarden_api_watch_disconnects_total" // counter {reason}
	MetricBuildInfo        = "chatwarden_build_info"                  // gauge {version, revision, goversion}: always 1
	MetricStoreSize        = "chatwarden_store_size_bytes"            // gauge: the database file
	MetricStoreFree        = "chatwarden_store_free_bytes"            // gauge: free space on its filesystem
	// Registered by the wiring (bot.Run) with GaugeFunc:
	MetricPlatformConnected   = "chatwarden_platform_connected"   // gauge {platform}: 1 while connected
	MetricVerificationPending = "chatwarden_verification_pending" // gauge {platform}: open challenges
	MetricRaidsInProgress     = "chatwarden_raids_in_progress"    // gauge {platform}: communities in a join raid
)

// Default histogram buckets.
var (
	// BatchBuckets suit events per recorder commit.
	BatchBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 16384}
	// LatencyBuckets suit latencies in seconds, from 100µs to 10s.
	LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// Platforms are the values of every platform label, each series started
// at zero so that rate() and absent-alerts work from the first scrape.
var Platforms = []string{"discord", "telegram"}

// Metrics is chatwarden's Prometheus registry (client_golang): the
// families above, the Go runtime and process collectors, served by
// ServeHTTP (text or OpenMetrics, as the scraper asks). The methods are
// safe for concurrent use, and a nil *Metrics ignores every call, so
// components may take one optionally.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	eventsRecorded   *prometheus.CounterVec
	batchSize        prometheus.Histogram
	commitSeconds    prometheus.Histogram
	deliveryFailures *prometheus.CounterVec
	reconnects       *prometheus.CounterVec
	engineActions    *prometheus.CounterVec
	apiRequests      *prometheus.CounterVec
	apiSeconds       *prometheus.HistogramVec
	authFailures     *prometheus.CounterVec
	watchDropped     *prometheus.CounterVec
}

// NewMetrics returns a registry with chatwarden's standard families, the
// Go and process collectors and chatwarden_build_info. Families computed
// from other state (outbox depth, recorder counters, store size) are added
// by New when it has the store and the recorder; the wiring adds the
// platforms' and engines' gauges with GaugeFunc.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	f := promauto{reg}
	m := &Metrics{
		reg: reg,
		eventsRecorded: f.counter(MetricEventsRecorded,
			"Events committed by the recorder, by platform and universal type.", "platform", "type"),
		batchSize: f.histogram(MetricBatchSize, "Events per recorder commit (one bbolt transaction).", BatchBuckets),
		commitSeconds: f.histogram(MetricCommitSeconds,
			"Recorder commit latency in seconds, fsync included.", LatencyBuckets),
		deliveryFailures: f.counter(MetricDeliveryFailures, "Failed log-channel deliveries, by platform.", "platform"),
		reconnects: f.counter(MetricReconnects,
			"Discord gateway and Telegram polling reconnects, by platform.", "platform"),
		engineActions: f.counter(MetricEngineActions,
			"Actions taken by the moderation and verification engines, by kind.", "kind"),
		apiRequests: f.counter(MetricAPIRequests, "HTTP requests, by route and status code.", "route", "code"),
		authFailures: f.counter(MetricAuthFailures,
			"Rejected HTTP authentications, by surface (api, backup, login, cookie, link) and reason.", "surface", "reason"),
		watchDropped: f.counter(MetricWatchDropped, "activities:watch streams ended or refused (over the caps) by the server, by reason.", "reason"),
	}
	m.apiSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricAPISeconds,
		Help: "HTTP request latency in seconds (until the handler returns), by route.", Buckets: LatencyBuckets},
		[]string{"route"})
	reg.MustRegister(m.apiSeconds)
	for _, p := range Platforms {
		m.deliveryFailures.WithLabelValues(p)
		m.reconnects.WithLabelValues(p)
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	version, revision := buildVersion()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricBuildInfo,
		Help:        "Always 1; the labels say which build of chatwarden runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	}, func() float64 { return 1 }))
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
	}))
	return m
}

// buildVersion is the main module's version and VCS revision, as far as
// the binary knows them.
func buildVersion() (version, revision string) {
	version, revision = "unknown", "unknown"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if info.Main.Version != "" {
		version = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return
}

// promauto registers new families in a registry.
type promauto struct{ reg *prometheus.Registry }

func (f promauto) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f promauto) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// Registry returns the underlying registry (a prometheus.Gatherer), for
// tests and for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP serves a Prometheus scrape: the text format, or OpenMetrics
// when the scraper's Accept header asks for it.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Reconnect counts one lost and remade platform connection.
func (m *Metrics) Reconnect(platform string) {
	if m != nil {
		m.reconnects.WithLabelValues(platform).Inc()
	}
}

// DeliveryFailure counts one log post the platform refused.
func (m *Metrics) DeliveryFailure(platform string) {
	if m != nil {
		m.deliveryFailures.WithLabelValues(platform).Inc()
	}
}

// EngineAction counts one action of an engine by kind (an audit type or a
// SECURITY_EVENT kind: a short fixed list).
func (m *Metrics) EngineAction(kind string) {
	if m != nil {
		m.engineActions.WithLabelValues(kind).Inc()
	}
}

// StartEngineActions creates the series of these engine action kinds at
// zero, so that rate() and the dashboard see them before the first action.
func (m *Metrics) StartEngineActions(kinds ...string) {
	if m != nil {
		for _, k := range kinds {
			m.engineActions.WithLabelValues(k)
		}
	}
}

// apiRequest counts one HTTP request.
func (m *Metrics) apiRequest(route string, code int, d time.Duration) {
	if m != nil {
		m.apiRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		m.apiSeconds.WithLabelValues(route).Observe(d.Seconds())
	}
}

// authFailure counts one rejected authentication. Both labels come from
// this package's constants, so the series are few.
func (m *Metrics) authFailure(surface, reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(surface, reason).Inc()
	}
}

// watchDisconnect counts one stream the server ended.
func (m *Metrics) watchDisconnect(reason string) {
	if m != nil {
		m.watchDropped.WithLabelValues(reason).Inc()
	}
}

// GaugeFunc registers a gauge computed at every scrape: fn calls emit once
// per series, with label values in the order of labels. It must be safe
// to call concurrently and should be cheap. A second registration of a
// name is ignored.
func (m *Metrics) GaugeFunc(name, help string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	m.funcCollector(name, help, prometheus.GaugeValue, labels, fn)
}

// CounterFunc registers a counter read from elsewhere at every scrape.
func (m *Metrics) CounterFunc(name, help string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	m.funcCollector(name, help, prometheus.CounterValue, labels, fn)
}

func (m *Metrics) funcCollector(name, help string, kind prometheus.ValueType, labels []string,
	fn func(emit func(v float64, labelValues ...string))) {
	if m == nil {
		return
	}
	c := &funcCollector{desc: prometheus.NewDesc(name, help, labels, nil), kind: kind, fn: fn, labels: len(labels)}
	_ = m.reg.Register(c) // AlreadyRegisteredError: the first registration wins
}

// funcCollector is a family computed at scrape time.
type funcCollector struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	labels int
	fn     func(emit func(v float64, labelValues ...string))
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	c.fn(func(v float64, values ...string) {
		if len(values) == c.labels {
			ch <- prometheus.MustNewConstMetric(c.desc, c.kind, v, values...)
		}
	})
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
		m.batchSize.Observe(float64(len(events)))
		if stats != nil {
			m.commitSeconds.Observe(time.Duration(stats.LastCommit.Load()).Seconds())
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
			m.eventsRecorded.WithLabelValues(k.p.String(), k.t.String()).Add(float64(n))
		}
	})
	if stats != nil {
		m.CounterFunc(MetricRecorderCommits, "Recorder commits (bbolt transactions).", nil,
			func(emit func(float64, ...string)) { emit(float64(stats.Commits.Load())) })
		m.CounterFunc(MetricRecorderFailures, "Failed recorder commit attempts (each is retried).", nil,
			func(emit func(float64, ...string)) { emit(float64(stats.Failures.Load())) })
	}
}
