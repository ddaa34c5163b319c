package slo_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func TestRateToCount(t *testing.T) {
	got, ok := slo.RateToCount(`sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))`)
	require.True(t, ok)
	require.Equal(t, `sum(increase(http_requests_total{code=~"5.."}[{{.window}}]))`, got)
	got, ok = slo.RateToCount(`(sum(rate(a_count[{{.window}}])) - sum(rate(a_bucket{le="0.4"}[{{.window}}])))`)
	require.True(t, ok)
	require.Equal(t, `(sum(increase(a_count[{{.window}}])) - sum(increase(a_bucket{le="0.4"}[{{.window}}])))`, got)
	for _, q := range []string{`sum(irate(x[{{.window}}]))`, `sum(rate(x[5m]))`, `sum(x)`, `sum(rate(x[{{.window}}:1m]))`} {
		_, ok := slo.RateToCount(q)
		require.False(t, ok, q)
	}
}

func TestOpenSLOQuery(t *testing.T) {
	q, counter, ok := slo.OpenSLOQuery(`sum(increase(http_requests_total{job="checkout",code!~"5.."}[{{.window}}]))`)
	require.True(t, ok)
	require.True(t, counter)
	require.Equal(t, `sum(http_requests_total{code!~"5..",job="checkout"})`, q)
	q, counter, ok = slo.OpenSLOQuery(`sum(sum_over_time(good_requests[{{.window}}]))`)
	require.True(t, ok)
	require.False(t, counter)
	require.Equal(t, `sum(good_requests)`, q)
	for _, bad := range []string{`sum(increase(a[{{.window}}])) / sum(sum_over_time(b[{{.window}}]))`, `sum(rate(a[{{.window}}]))`, `sum(increase(a[5m]))`} {
		_, _, ok := slo.OpenSLOQuery(bad)
		require.False(t, ok, bad)
	}
}

func TestGroupQuery(t *testing.T) {
	for in, want := range map[string]string{
		`sum(increase(x{job="a"}[{{.window}}]))`:                             `sum by (route) (increase(x{job="a"}[{{.window}}]))`,
		`sum by (route) (increase(x[{{.window}}]))`:                          `sum by (route) (increase(x[{{.window}}]))`,
		`increase(x[{{.window}}])`:                                           `sum by (route) (increase(x[{{.window}}]))`,
		`sum(sum without (instance) (increase(x[{{.window}}])))`:             `sum by (route) (sum without (instance) (increase(x[{{.window}}])))`,
		`sum(increase(x[{{.window}}])) - sum(increase(y[{{.window}}]))`:      `error: sum aggregates route away before kakeibo can sum by it`,
		`sum by (code) (increase(x[{{.window}}]))`:                           `error: its outer sum keeps its own labels apart ([code]); write sum(...) and kakeibo sums it by route`,
		`sum(sum without (route) (increase(x[{{.window}}])))`:                `error: sum aggregates route away before kakeibo can sum by it`,
		`sum(increase(x[{{.window}}])) or vector(0)`:                         `error: sum aggregates route away before kakeibo can sum by it`,
		`sum(rate(x[{{.window}}])) / ignoring(le) sum(rate(y[{{.window}}]))`: `error: sum aggregates route away before kakeibo can sum by it`,
	} {
		got, err := slo.GroupQuery(in, []string{"route"})
		if err != nil {
			got = "error: " + err.Error()
		}
		require.Equal(t, want, got, in)
	}
}
