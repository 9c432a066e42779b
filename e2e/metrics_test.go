package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/config"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// TestMetricsOfTheRunningBot runs the whole bot (bot.Run) against the fake
// Discord and the fake Bot API and reads its /metrics as Prometheus
// would: the exposition lints clean (promtool's rules, from client_golang's
// promlint), the Go runtime and process series are there, and every metric
// the Grafana dashboard and the alert rules in docs/ use is exported.
func TestMetricsOfTheRunningBot(t *testing.T) {
	dfake := discordtest.New(discordtest.Options{})
	t.Cleanup(dfake.Close)
	tfake := telegramtest.New(telegramtest.Options{})
	t.Cleanup(tfake.Close)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	path := filepath.Join(dir, "config.yaml")
	err = os.WriteFile(path, fmt.Appendf(nil, `log_level: warn
storage: {path: %s}
api: {listen: %q}
discord: {enabled: true, token: test-token, api_url: %s}
telegram: {enabled: true, token: %q, api_url: %s, poll_timeout: 1s}
`, filepath.Join(dir, "bot.db"), listen, dfake.APIURL(), tfake.Token(), tfake.URL), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx, cfg, zerolog.Nop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + listen
	waitUntil(t, "both platforms ready", func() bool { return ready(base) })
	// A message recorded and a request refused: their families have
	// series (a family without any is not in the exposition).
	owner := tfake.NewUser("Owner")
	group := tfake.NewSupergroup("Group", owner)
	tfake.Message(group, owner, "hello")
	if resp, err := http.Get(base + "/v1/properties/all/activities"); err == nil {
		resp.Body.Close()
	}
	waitUntil(t, "the message and the refusal recorded", func() bool {
		f := scrapeFamilies(t, base)
		return f["chatwarden_events_recorded_total"] != nil && f["chatwarden_api_auth_failures_total"] != nil
	})

	families := scrapeFamilies(t, base)
	var list []*dto.MetricFamily
	for _, mf := range families {
		list = append(list, mf)
	}
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, prefix := range []string{"go_", "process_", "chatwarden_"} {
		if !slices.ContainsFunc(list, func(mf *dto.MetricFamily) bool { return strings.HasPrefix(mf.GetName(), prefix) }) {
			t.Errorf("no %s* series", prefix)
		}
	}
	// Both platforms are connected: the gauge the disconnect alert uses.
	for _, m := range families["chatwarden_platform_connected"].GetMetric() {
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("platform_connected %v = %v", m.GetLabel(), m.GetGauge().GetValue())
		}
	}
	if n := len(families["chatwarden_platform_connected"].GetMetric()); n != 2 {
		t.Errorf("%d platform_connected series, want discord and telegram", n)
	}

	used := docMetrics(t)
	if len(used) < 15 {
		t.Fatalf("only %d metrics found in the dashboard and rules: %v", len(used), used)
	}
	for _, name := range used {
		if families[name] == nil && families[histogramOf(name)] == nil {
			t.Errorf("docs use %s, which the bot does not export", name)
		}
	}
}

// scrapeFamilies reads /metrics in the text format and parses it.
func scrapeFamilies(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the text format: %v", err)
	}
	return families
}

// histogramOf strips a histogram series suffix: the family's name.
func histogramOf(name string) string {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, s); ok {
			return base
		}
	}
	return name
}

var metricName = regexp.MustCompile(`\b(?:chatwarden|go|process)_[a-z0-9_]+\b`)

// docMetrics lists the metric names in every expression of the Grafana
// dashboard and of the alert rules.
func docMetrics(t *testing.T) []string {
	t.Helper()
	var exprs []string
	raw, err := os.ReadFile("../docs/grafana/chatwarden-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	raw, err = os.ReadFile("../docs/prometheus/chatwarden-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alert rules: %v", err)
	}
	alerts := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			alerts[r.Alert] = r.For
		}
	}
	// The alerts the operators asked for, with their durations.
	for name, wantFor := range map[string]string{"ChatwardenRecorderFailing": "5m", "ChatwardenOutboxGrowing": "10m",
		"ChatwardenPlatformDisconnected": "5m", "ChatwardenDiskNearlyFull": "10m"} {
		if got, ok := alerts[name]; !ok || got != wantFor {
			t.Errorf("alert %s: for %q (present %v), want %q", name, got, ok, wantFor)
		}
	}
	var names []string
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}
