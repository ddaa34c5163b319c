package slo_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestDefaultWindowsScaleWithThePeriod: the default pairs for 1h, 1d, 7d,
// 28d, 30d and 90d periods. Every one keeps the burn rates 14.4, 6, 3 and 1
// (none below 1, which would fire while the SLO is on track), no window is
// longer than the period or shorter than a minute, and 28d/30d keep the
// Workbook's windows.
func TestDefaultWindowsScaleWithThePeriod(t *testing.T) {
	const day = 24 * time.Hour
	want := map[time.Duration]string{
		time.Hour: "page-5m 5m/1m 14.4 | ticket-5m 5m/1m 3 | ticket-6m 6m/1m 1",
		day:       "page-5m 5m/1m 14.4 | page-12m 12m/1m 6 | ticket-48m 48m/4m 3 | ticket-2h24m 2h24m/12m 1",
		7 * day:   "page-14m 14m/1m 14.4 | page-1h24m 1h24m/7m 6 | ticket-5h36m 5h36m/28m 3 | ticket-16h48m 16h48m/1h24m 1",
		28 * day:  "page-1h 1h/5m 14.4 | page-6h 6h/30m 6 | ticket-1d 1d/2h 3 | ticket-3d 3d/6h 1",
		30 * day:  "page-1h 1h/5m 14.4 | page-6h 6h/30m 6 | ticket-1d 1d/2h 3 | ticket-3d 3d/6h 1",
		90 * day:  "page-3h 3h/15m 14.4 | page-18h 18h/1h30m 6 | ticket-3d 3d/6h 3 | ticket-9d 9d/18h 1",
	}
	for period, w := range want {
		t.Run(slo.FormatDuration(period), func(t *testing.T) {
			var got []string
			for _, a := range slo.DefaultAlertWindowsFor(period, time.Minute) {
				th := a.Threshold(period)
				got = append(got, fmt.Sprintf("%s %s/%s %s", a.Name, slo.FormatDuration(a.Long), slo.FormatDuration(a.Short), strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", th), "0"), ".")))
				require.LessOrEqual(t, a.Long, period, a.Name)
				require.GreaterOrEqual(t, a.Short, time.Minute, a.Name)
				require.Less(t, a.Short, a.Long, a.Name)
				require.GreaterOrEqual(t, th, 1.0, a.Name)
			}
			require.Equal(t, w, strings.Join(got, " | "))
		})
	}
	// On Prometheus no window is shorter than 5m.
	var got []string
	for _, a := range slo.DefaultAlertWindowsFor(7*day, slo.PrometheusMinWindow) {
		got = append(got, fmt.Sprintf("%s %s/%s %.4g", a.Name, slo.FormatDuration(a.Long), slo.FormatDuration(a.Short), a.Threshold(7*day)))
	}
	require.Equal(t, "page-14m 14m/5m 14.4 | page-1h24m 1h24m/7m 6 | ticket-5h36m 5h36m/28m 3 | ticket-16h48m 16h48m/1h24m 1", strings.Join(got, " | "))
}
