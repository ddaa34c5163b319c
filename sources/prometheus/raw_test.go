package prometheus_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestRawErrorRatioAgreesWithCounts: a raw SLI (sli.prometheus.error_ratio)
// over the same requests as a counted one gives the same SLI, burn rates and
// budget, from a real Prometheus, with and without serve's period ledger
// (a ratio's hours do not add up, so its period is always asked raw). A
// ratio with no traffic behind it is no data, not an outage.
func TestRawErrorRatioAgreesWithCounts(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	set, err := slo.LoadBytes("raw.yaml", []byte(`service: checkout
slos:
  - name: counted
    objective: 99
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="checkout"}[{{.window}}]))
  - name: raw
    objective: 99
    window: 7d
    sli:
      prometheus:
        error_ratio: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}])) / sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
  - name: idle
    objective: 99
    window: 7d
    sli:
      prometheus:
        error_ratio: sum(rate(nothing_total{code=~"5.."}[{{.window}}])) / sum(rate(nothing_total[{{.window}}]))
`))
	require.NoError(t, err)
	objs := set.Objectives()
	counted, raw, idle := objs[0], objs[1], objs[2]
	require.True(t, raw.SLI.Raw())

	end := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	srv := promtest.Start(t, history(end), time.Minute)
	for _, ledger := range []bool{false, true} {
		src, err := promsource.New(promsource.Config{URL: srv.URL, Ledger: ledger})
		require.NoError(t, err)
		at := end.Add(-30 * time.Minute) // inside the incident (the last two hours)
		in := src.Inputs(t.Context(), objs, at)
		want := slo.Evaluate(counted, at, in[counted])
		got := slo.Evaluate(raw, at, in[raw])
		require.NoError(t, want.Err)
		require.NoError(t, got.Err)
		require.True(t, got.HasData)
		requireRel(t, want.SLI, got.SLI, "ledger=%v: SLI", ledger)
		requireRel(t, want.BudgetRemaining, got.BudgetRemaining, "ledger=%v: budget", ledger)
		for d, w := range want.Windows {
			requireRel(t, w.BurnRate, got.Windows[d].BurnRate, "ledger=%v: burn rate over %s", ledger, d)
		}
		require.Greater(t, got.Windows[slices.Min(raw.Windows())].BurnRate, 1.0, "the incident burns")

		none := slo.Evaluate(idle, at, in[idle])
		require.False(t, none.HasData, "ledger=%v: no traffic is no data", ledger)
		require.Equal(t, slo.StatusNoData, none.Status)
	}
}
