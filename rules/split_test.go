package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSplitByLabels: the period is read once only when the events are the
// total's series selected by extra matchers; any other shape reads twice.
func TestSplitByLabels(t *testing.T) {
	const total = `sum(increase(http_requests_total{job="shop",bench!="x"}[30d]))`
	reserved := []string{"service", "slo", "window"}
	split, by, extra, ok := splitByLabels(total, `sum(increase(http_requests_total{job="shop",code=~"5..",bench!="x",method="GET"}[30d]))`, reserved)
	require.True(t, ok)
	require.Equal(t, `sum by (code, method) (increase(http_requests_total{bench!="x",job="shop"}[30d]))`, split)
	require.Equal(t, []string{"code", "method"}, by)
	require.Equal(t, []string{`code=~"5.."`, `method="GET"`}, extra)

	_, _, _, ok = splitByLabels(`sum(rate(x{job="a"}[1h] offset 5m))`, `sum((rate(x{job="a",code="500"}[1h] offset 5m)))`, reserved)
	require.True(t, ok, "rate, an offset and parentheses")

	for name, events := range map[string]string{
		"another metric":        `sum(increase(http_errors_total{job="shop",bench!="x"}[30d]))`,
		"another range":         `sum(increase(http_requests_total{job="shop",bench!="x",code="500"}[7d]))`,
		"another function":      `sum(rate(http_requests_total{job="shop",bench!="x",code="500"}[30d]))`,
		"an offset":             `sum(increase(http_requests_total{job="shop",bench!="x",code="500"}[30d] offset 1m))`,
		"not a subset":          `sum(increase(http_requests_total{job="cart",bench!="x",code="500"}[30d]))`,
		"the same series":       total,
		"a label the rules set": `sum(increase(http_requests_total{job="shop",bench!="x",slo="a"}[30d]))`,
		"grouped":               `sum by (code) (increase(http_requests_total{job="shop",bench!="x",code="500"}[30d]))`,
		"not a sum":             `max(increase(http_requests_total{job="shop",bench!="x",code="500"}[30d]))`,
		"arithmetic":            `sum(increase(http_requests_total{job="shop",bench!="x",code="500"}[30d])) * 2`,
		"a subquery":            `sum(increase(http_requests_total{job="shop",bench!="x",code="500"}[30d:5m]))`,
		"does not parse":        `sum(increase(`,
	} {
		_, _, _, ok := splitByLabels(total, events, reserved)
		require.False(t, ok, name)
	}
}
