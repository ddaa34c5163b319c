package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/alb/remotewrite"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestRulesBackfill: a Prometheus has 8 days of a shop's requests, ten
// times busier in the last 4 days and with half the error ratio; its SLO
// has a 7-day period (30 days work the same, but make Prometheus' head and
// the test ten times heavier on a loaded CI machine). The default rules
// are loaded: their period's budget sums recorded 5-minute counts, which
// exist only from now on, so it is far from the truth. `kakeibo rules
// backfill` writes those counts for the past period: a period-group
// interval later the budget is within 1e-3 of the truth counted from the
// history.
func TestRulesBackfill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	specs := filepath.Join(dir, "shop.yaml")
	require.NoError(t, os.WriteFile(specs, []byte(`service: shop
slos:
  - name: requests
    objective: 99.9
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="shop",code="500"}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
`), 0o644))
	rulesFile := filepath.Join(dir, "shop.rules.yaml")
	code, _, stderr := kakeibo(t, nil, "rules", "--specs", specs, "--interval", "10s", "-o", rulesFile)
	require.Equal(t, exitOK, code, stderr)

	// 8 days of history up to now (the 7-day period and a day before it),
	// a sample a minute: 100 requests a minute with 0.2% errors, then
	// 1,000 with 0.1%. It goes in with remote write (the receiver takes
	// 31 days out of order): promtool's two-hour blocks make Prometheus
	// slow to start.
	end := time.Now().UTC().Truncate(time.Minute)
	start := end.Add(-8 * 24 * time.Hour)
	type minute struct{ ok, bad float64 }
	rate := func(at time.Time) minute {
		if at.Before(start.Add(4 * 24 * time.Hour)) {
			return minute{ok: 99.8, bad: 0.2}
		}
		return minute{ok: 999, bad: 1}
	}
	var history []prompb.TimeSeries
	for _, code := range []string{"200", "500"} {
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: code}, {Name: "job", Value: "shop"}}}
		var v float64
		for at := start; !at.After(end); at = at.Add(time.Minute) {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: at.UnixMilli(), Value: v})
			if code == "200" {
				v += rate(at).ok
			} else {
				v += rate(at).bad
			}
		}
		history = append(history, ts)
	}
	prom := promtest.StartWith(t, promtest.Options{EvalInterval: 10 * time.Second, RuleFiles: []string{rulesFile},
		RemoteWriteReceiver: true, OutOfOrderWindow: 31 * 24 * time.Hour})
	_, err := remotewrite.Send(t.Context(), nil, prom.URL+"/api/v1/write", nil, history, 50000)
	require.NoError(t, err)

	// The truth at a time: the minutes of the history inside its 7 days.
	truth := func(at time.Time) float64 {
		var ok, bad float64
		for m := start; m.Before(end); m = m.Add(time.Minute) {
			if !m.Add(time.Minute).After(at.Add(-7*24*time.Hour)) || m.Add(time.Minute).After(at) {
				continue
			}
			ok, bad = ok+rate(m).ok, bad+rate(m).bad
		}
		return 1 - bad/(ok+bad)/0.001
	}
	budget := func() (float64, time.Time, bool) {
		now := time.Now()
		v, ok := promValue(t, prom.URL, `slo_error_budget_remaining_ratio{service="shop",slo="requests"}`, now)
		return v, now, ok
	}
	// Before: once recorded, the period holds a few 5-minute counts only.
	var before float64
	require.Eventually(t, func() bool { v, _, ok := budget(); before = v; return ok }, 3*time.Minute, time.Second)
	_, at, _ := budget()
	require.Greater(t, abs(before-truth(at)), 0.01, "without the backfill the budget is wrong (%g vs %g)", before, truth(at))
	// ...and the coverage series says so, which holds the exhaustion alert.
	coverage := func() float64 {
		v, ok := promValue(t, prom.URL, `slo_period_coverage_ratio{service="shop",slo="requests"}`, time.Now())
		require.True(t, ok, "slo_period_coverage_ratio is recorded")
		return v
	}
	require.Less(t, coverage(), 0.01, "a fresh deployment covers minutes of the 7-day period")

	t0 := time.Now()
	t.Logf("before the backfill: %g vs truth %g, %s after start", before, truth(at), time.Since(end))
	code, stdout, stderr := kakeibo(t, nil, "rules", "backfill", "--specs", specs, "--prometheus-url", prom.URL,
		"--remote-write-url", prom.URL+"/api/v1/write", "--interval", "10s")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "of 2 recorded series written")
	t.Logf("backfill took %s", time.Since(t0))
	require.Eventually(t, func() bool {
		v, at, ok := budget()
		return ok && abs(v-truth(at)) < 1e-3
	}, 3*time.Minute, time.Second, "after the backfill the period's budget is within 1e-3 of the truth")
	require.GreaterOrEqual(t, coverage(), 0.99, "the backfilled counts cover the period")
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
