package server

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestPastMonthsOutliveTheMinutes: logs cross from October into November
// with an outage late on October 31. Once the logs reach November, the
// October report is kept: the API and the SLO page show it (missed, the
// outage as its top spender) and November so far. Six weeks later, with
// October's minutes long pruned, October is still there, unchanged.
func TestPastMonthsOutliveTheMinutes(t *testing.T) {
	dir := t.TempDir()
	logs, specs, data := filepath.Join(dir, "logs"), filepath.Join(dir, "specs"), filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))
	start := time.Date(2026, 10, 31, 21, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 30)
	cfg.Start, cfg.Duration, cfg.Traps, cfg.LoadBalancers = start, 5*time.Hour, false, cfg.LoadBalancers[:1]
	cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: start.Add(2 * time.Hour), To: start.Add(2*time.Hour + 20*time.Minute), ErrorRatio: 0.5}}
	_, err = albgen.Write(cfg, logs)
	require.NoError(t, err)

	now := time.Date(2026, 11, 1, 2, 10, 0, 0, time.UTC)
	open := func() *Server {
		s, err := New(Config{SpecPaths: []string{specs}, DataDir: data, ALBLogs: logs, Registry: prometheus.NewRegistry(),
			Now: func() time.Time { return now }})
		require.NoError(t, err)
		s.ingestOnce(t.Context(), true)
		s.evaluateOnce(t.Context())
		return s
	}
	type periods struct {
		Current *slo.PeriodReport  `json:"current"`
		Past    []slo.PeriodReport `json:"past"`
	}
	get := func(s *Server) periods {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/slos/mart-api/availability/periods", nil))
		require.Equal(t, 200, rec.Code, rec.Body.String())
		var p periods
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		return p
	}
	s := open()
	p := get(s)
	require.Len(t, p.Past, 1)
	oct := p.Past[0]
	require.Equal(t, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), oct.From)
	require.NotNil(t, oct.Met)
	require.False(t, *oct.Met, "the outage misses October")
	require.NotEmpty(t, oct.Spenders)
	require.Equal(t, start.Add(2*time.Hour), oct.Spenders[0].From, "the outage spent the most")
	require.Greater(t, oct.Spenders[0].Share, 1.0)
	require.NotNil(t, p.Current)
	require.Equal(t, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), p.Current.From)
	require.Positive(t, p.Current.Total)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/slos/mart-api/availability", nil))
	page := rec.Body.String()
	require.Contains(t, page, `id="months"`)
	require.Contains(t, page, "2026-11 (so far)")
	require.Contains(t, page, `<tr class="missed"><td>2026-10</td><td>missed</td>`)
	require.NoError(t, s.Close())

	// Six weeks on: retention prunes October's minutes (a directory of
	// old logs keeps its windows at its newest log, so the store is pruned
	// here as it would be then); its report is kept.
	now = time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	s = open()
	defer s.Close()
	require.NoError(t, s.albDB.Prune(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix()/60, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)))
	rep, err := s.periodFor(s.specs.Load().Objectives()[0], oct.From, oct.To)
	require.NoError(t, err)
	require.Less(t, rep.Total, oct.Total, "October's minutes are gone")
	require.Equal(t, []slo.PeriodReport{oct}, get(s).Past[:1])
}

// TestMonthlyReportPostedAndServed: notify.reports posts October's report
// once on its schedule (at 03:00 on November 1, once the logs passed the
// month's end), through the outbox like every digest: the missed SLO, its
// budget spent and its biggest spender, and a link to the report's page,
// which serves the same as HTML.
func TestMonthlyReportPostedAndServed(t *testing.T) {
	dir := t.TempDir()
	logs, specs := filepath.Join(dir, "logs"), filepath.Join(dir, "specs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	spec = []byte(strings.Replace(string(spec), "  reminders:\n", "  reports:\n    - slack: \"#mart-leads\"\n      schedule: \"0 3 1 * *\"\n  reminders:\n", 1))
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))
	start := time.Date(2026, 10, 31, 21, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 30)
	cfg.Start, cfg.Duration, cfg.Traps, cfg.LoadBalancers = start, 5*time.Hour, false, cfg.LoadBalancers[:1]
	cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: start.Add(2 * time.Hour), To: start.Add(2*time.Hour + 20*time.Minute), ErrorRatio: 0.5}}
	_, err = albgen.Write(cfg, logs)
	require.NoError(t, err)

	now := time.Date(2026, 11, 1, 2, 50, 0, 0, time.UTC)
	f := fakeslack.New(t, "xoxb-report", "mart-leads", "mart", "mart-alerts", "mart-sre")
	f.Now = func() time.Time { return now }
	n, err := slack.New(slack.Config{Token: "xoxb-report", APIURL: f.APIURL()})
	require.NoError(t, err)
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: filepath.Join(dir, "data"), ALBLogs: logs, Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return now }, Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: n}, ExternalURL: "https://slo.example.com"})
	require.NoError(t, err)
	defer s.Close()
	cycle := func() {
		s.ingestOnce(t.Context(), true)
		s.evaluateOnce(t.Context())
		_, err := s.disp.Flush(t.Context())
		require.NoError(t, err)
	}
	reports := func() []string {
		var out []string
		for _, m := range f.Messages() {
			if m.Channel == f.ChannelID("mart-leads") {
				out = append(out, m.Text)
			}
		}
		return out
	}
	cycle()
	require.Empty(t, reports(), "not before its time")
	for _, at := range []time.Time{time.Date(2026, 11, 1, 3, 0, 30, 0, time.UTC), time.Date(2026, 11, 1, 3, 5, 0, 0, time.UTC)} {
		now = at
		cycle()
	}
	posted := reports()
	require.Len(t, posted, 1, "posted once")
	require.Contains(t, posted[0], "mart-api: SLO report for 2026-10")
	require.Contains(t, posted[0], ":x: *availability*")
	require.Contains(t, posted[0], "biggest spender: Oct 31 23:00")
	require.Contains(t, posted[0], "<https://slo.example.com/reports/mart-api/2026-10|The full report>")

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/reports/mart-api/2026-10", nil))
	require.Equal(t, 200, rec.Code)
	page := rec.Body.String()
	require.Contains(t, page, "<h1>mart-api: SLO report for 2026-10</h1>")
	require.Contains(t, page, `<td class="missed">missed (99.95%)</td>`)
	require.Contains(t, page, "Nov 1 08:00–08:20 JST", "in the service's zone")
	require.NotContains(t, page, "<script")

	// The SLO page lists what was sent about it, and where.
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/slos/mart-api/availability", nil))
	require.Contains(t, rec.Body.String(), `<section id="sent"><h2>Recent notifications</h2>`)
	require.Regexp(t, `Nov 1 \d\d:\d\d JST — firing [a-z0-9-]+ \((page|ticket)\) → slack:#mart-(alerts|sre)`, rec.Body.String())
}
