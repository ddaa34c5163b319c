package slo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func TestCountsNoDataIsNeverGood(t *testing.T) {
	var c slo.Counts
	_, ok := c.Ratio()
	require.False(t, ok, "0 events has no SLI: not 100%, not NaN")
	_, ok = c.ErrorRatio()
	require.False(t, ok)
	require.False(t, c.HasData())

	// increase() extrapolation can make good exceed total a little.
	c = slo.Counts{Good: 100.4, Total: 100}
	sli, ok := c.Ratio()
	require.True(t, ok)
	require.Equal(t, 1.0, sli)
	require.Equal(t, 0.0, c.Bad())
}

func TestBudgetMath(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		counts    slo.Counts
		target    float64
		period    time.Duration
		burn      float64
		remaining float64
		asTime    time.Duration
	}{
		// 99.95% over 30d allows 0.0005 × 2,592,000 s = 1296 s = 21m36s of full outage.
		{"no errors", slo.Counts{Good: 1000, Total: 1000}, 0.9995, 30 * day, 0, 1, 21*time.Minute + 36*time.Second},
		// error ratio 0.0005 = the budget: burn 1, nothing left.
		{"exactly on budget", slo.Counts{Good: 19990, Total: 20000}, 0.9995, 30 * day, 1, 0, 0},
		// 1 bad in 10,000 = 0.0001 = 1/5 of the budget: burn 0.2, 80% left = 17m16.8s.
		{"a fifth spent", slo.Counts{Good: 9999, Total: 10000}, 0.9995, 30 * day, 0.2, 0.8, 17*time.Minute + 16*time.Second + 800*time.Millisecond},
		// The architecture's example: 78149 good of 78786 → error ratio 0.0080852... → burn 16.17, remaining -15.17.
		{"overspent", slo.Counts{Good: 78149, Total: 78786}, 0.9995, 30 * day, 16.170385601, -15.170385601, 0},
		// 99.9% over 28d: 1 in 10 bad is a burn of 100.
		{"low traffic burst", slo.Counts{Good: 9, Total: 10}, 0.999, 28 * day, 100, -99, 0},
		// 99% over 7d: 7 days × 1% = 1h40m48s.
		{"7d at 99%", slo.Counts{Good: 1, Total: 1}, 0.99, 7 * day, 0, 1, time.Hour + 40*time.Minute + 48*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errRatio, ok := tc.counts.ErrorRatio()
			require.True(t, ok)
			require.InDelta(t, tc.burn, slo.BurnRate(errRatio, tc.target), 1e-6)
			rem := slo.BudgetRemaining(errRatio, tc.target)
			require.InDelta(t, tc.remaining, rem, 1e-6)
			require.Equal(t, tc.asTime, slo.BudgetTime(rem, tc.target, tc.period))
		})
	}
}

func TestTimeToExhaustion(t *testing.T) {
	day := 24 * time.Hour
	// A burn of 1000 spends a whole 30-day budget in 43.2 minutes (reference: "1000× spends a 30-day budget in 43 minutes").
	d, ok := slo.TimeToExhaustion(1, 1000, 30*day)
	require.True(t, ok)
	require.Equal(t, 43*time.Minute+12*time.Second, d)
	// Half the budget left at burn 14.4 over 30d: 0.5 × 720h / 14.4 = 25h.
	d, ok = slo.TimeToExhaustion(0.5, 14.4, 30*day)
	require.True(t, ok)
	require.Equal(t, 25*time.Hour, d)
	// No burn: never.
	_, ok = slo.TimeToExhaustion(0.5, 0, 30*day)
	require.False(t, ok)
	// Already spent: now.
	d, ok = slo.TimeToExhaustion(-0.2, 3, 30*day)
	require.True(t, ok)
	require.Zero(t, d)
}
