package slo_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

const day = 24 * time.Hour

// TestDefaultThresholds checks the SRE Workbook table (chapter 5, table 5-8):
// budget% × period / long window.
func TestDefaultThresholds(t *testing.T) {
	for _, tc := range []struct {
		period time.Duration
		want   []float64
	}{
		{30 * day, []float64{14.4, 6, 3, 1}},
		{28 * day, []float64{13.44, 5.6, 2.8, 0.933333}},
		{7 * day, []float64{3.36, 1.4, 0.7, 0.233333}},
	} {
		t.Run(slo.FormatDuration(tc.period), func(t *testing.T) {
			ws := slo.DefaultAlertWindows()
			require.Len(t, ws, 4)
			for i, w := range ws {
				require.InDelta(t, tc.want[i], w.Threshold(tc.period), 1e-6, w.Name)
			}
		})
	}
	ws := slo.DefaultAlertWindows()
	require.Equal(t, []string{"page-1h", "page-6h", "ticket-1d", "ticket-3d"}, []string{ws[0].Name, ws[1].Name, ws[2].Name, ws[3].Name})
	require.Equal(t, []time.Duration{5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}, []time.Duration{ws[0].Short, ws[1].Short, ws[2].Short, ws[3].Short})
}

func objective(target float64, w slo.Window) *slo.Objective {
	return &slo.Objective{
		Service: "svc", Name: "avail", Target: target, Window: w,
		SLI:      slo.SLI{Prometheus: &slo.PrometheusSLI{}},
		Alerting: slo.AlertPolicy{Windows: slo.DefaultAlertWindows(), BudgetExhausted: true},
	}
}

// windows builds alert-window counts from error ratios per window, with n events each.
func windows(n float64, errRatio map[time.Duration]float64) map[time.Duration]slo.Counts {
	out := map[time.Duration]slo.Counts{}
	for _, d := range []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, day, 3 * day} {
		out[d] = slo.Counts{Good: n * (1 - errRatio[d]), Total: n}
	}
	return out
}

func firing(r slo.Result) []string {
	var out []string
	for _, a := range r.Alerts {
		if a.Firing {
			out = append(out, a.Name)
		}
	}
	return out
}

func TestEvaluatePolicy(t *testing.T) {
	at := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	o := objective(0.999, slo.Rolling(30*day)) // budget 0.001: burn = error ratio × 1000
	m, h := time.Minute, time.Hour
	for _, tc := range []struct {
		name       string
		period     slo.Counts
		errRatio   map[time.Duration]float64
		minEvents  float64
		wantFiring []string
		wantStatus slo.Status
	}{
		{"clean", slo.Counts{Good: 1e6, Total: 1e6}, nil, 0, nil, slo.StatusOK},
		{"total outage fires every pair",
			slo.Counts{Good: 999500, Total: 1e6},
			map[time.Duration]float64{5 * m: 1, 30 * m: 1, h: 0.5, 2 * h: 0.25, 6 * h: 0.1, day: 0.01, 3 * day: 0.002},
			0, []string{"page-1h", "page-6h", "ticket-1d", "ticket-3d"}, slo.StatusAtRisk},
		{"fast burn that stopped: long hot, short clean, nothing fires",
			slo.Counts{Good: 999900, Total: 1e6},
			map[time.Duration]float64{h: 0.05},
			0, nil, slo.StatusOK},
		{"burn just above 14.4 fires page-1h",
			slo.Counts{Good: 999990, Total: 1e6},
			map[time.Duration]float64{5 * m: 0.0145, h: 0.0145},
			0, []string{"page-1h"}, slo.StatusAtRisk},
		{"burn exactly 14.4 does not fire (strictly above)",
			slo.Counts{Good: 999990, Total: 1e6},
			map[time.Duration]float64{5 * m: 0.0144, h: 0.0144},
			0, nil, slo.StatusOK},
		{"slow 2x burn fires only the 3d ticket",
			slo.Counts{Good: 999000 + 500, Total: 1e6},
			map[time.Duration]float64{5 * m: 0.002, 30 * m: 0.002, h: 0.002, 2 * h: 0.002, 6 * h: 0.002, day: 0.002, 3 * day: 0.002},
			0, []string{"ticket-3d"}, slo.StatusAtRisk},
		{"min_events holds a low-traffic page back",
			slo.Counts{Good: 999990, Total: 1e6},
			map[time.Duration]float64{5 * m: 1, h: 1},
			1e6 + 1, nil, slo.StatusOK},
		{"budget spent is violated even when nothing burns now",
			slo.Counts{Good: 998000, Total: 1e6}, nil, 0, nil, slo.StatusViolated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := *o
			o.Alerting.MinEvents = tc.minEvents
			r := slo.Evaluate(&o, at, slo.Input{Period: tc.period, Windows: windows(1e6, tc.errRatio)})
			require.Equal(t, tc.wantFiring, firing(r))
			require.Equal(t, tc.wantStatus, r.Status)
			require.Equal(t, tc.wantStatus == slo.StatusViolated, r.BudgetExhausted)
			require.Len(t, r.Windows, 7)
		})
	}
}

func TestEvaluateNumbers(t *testing.T) {
	at := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	o := objective(0.9995, slo.Rolling(30*day))
	in := slo.Input{
		Period:  slo.Counts{Good: 99990, Total: 100000}, // error ratio 1e-4: a fifth of the budget
		Windows: windows(1000, map[time.Duration]float64{time.Hour: 0.005, 5 * time.Minute: 0.001}),
	}
	r := slo.Evaluate(o, at, in)
	require.True(t, r.HasData)
	require.InDelta(t, 0.9999, r.SLI, 1e-12)
	require.InDelta(t, 0.8, r.BudgetRemaining, 1e-9)
	require.Equal(t, 17*time.Minute+16*time.Second+800*time.Millisecond, r.BudgetRemainingTime)
	require.InDelta(t, 10, r.Windows[time.Hour].BurnRate, 1e-9)
	require.InDelta(t, 2, r.Windows[5*time.Minute].BurnRate, 1e-9)
	// At the 1h burn of 10: 0.8 × 720h / 10 = 57h36m.
	require.True(t, r.Exhausts)
	require.Equal(t, 57*time.Hour+36*time.Minute, r.TimeToExhaustion)
	rate, w, ok := r.FastestBurn()
	require.True(t, ok)
	require.Equal(t, time.Hour, w)
	require.InDelta(t, 10, rate, 1e-9)
	require.Equal(t, slo.StatusOK, r.Status)
}

func TestEvaluateNoData(t *testing.T) {
	at := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	o := objective(0.999, slo.Rolling(30*day))

	r := slo.Evaluate(o, at, slo.Input{})
	require.Equal(t, slo.StatusNoData, r.Status)
	require.False(t, r.HasData)
	require.Empty(t, firing(r))
	require.False(t, r.BudgetExhausted)
	for _, w := range r.Windows {
		require.False(t, w.HasData)
		require.Zero(t, w.BurnRate, "no NaN")
	}

	// A source error is no data too, never an alert, even with hot counts.
	hot := slo.Input{Period: slo.Counts{Good: 0, Total: 100}, Windows: windows(100, map[time.Duration]float64{5 * time.Minute: 1, time.Hour: 1}), Err: errors.New("connection refused")}
	r = slo.Evaluate(o, at, hot)
	require.Equal(t, slo.StatusNoData, r.Status)
	require.Empty(t, firing(r))
	require.False(t, r.BudgetExhausted)
	require.EqualError(t, r.Err, "connection refused")

	// Period data but a quiet short window: the pair cannot fire.
	quiet := slo.Input{Period: slo.Counts{Good: 50, Total: 100}, Windows: windows(100, map[time.Duration]float64{time.Hour: 1})}
	quiet.Windows[5*time.Minute] = slo.Counts{}
	r = slo.Evaluate(o, at, quiet)
	require.NotContains(t, firing(r), "page-1h")
}

func TestEvaluateCalendarBudgetTime(t *testing.T) {
	// A 31-day month at 99.95%: 0.0005 × 31 × 86400 s = 1339.2 s = 22m19.2s (reference: 22.3 minutes).
	o := objective(0.9995, slo.CalendarWindow(slo.Month, time.UTC))
	at := time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC)
	r := slo.Evaluate(o, at, slo.Input{Period: slo.Counts{Good: 10, Total: 10}, Windows: windows(10, nil)})
	require.Equal(t, 22*time.Minute+19*time.Second+200*time.Millisecond, r.BudgetRemainingTime)
	// Thresholds use the nominal 30 days, whatever the month's length.
	require.InDelta(t, 14.4, r.Alerts[0].Threshold, 1e-9)
}

func TestEvaluateTimeslices(t *testing.T) {
	// 99.95% monthly uptime in 1-minute slices, a slice good at >= 99%.
	utc := time.UTC
	o := objective(0.9995, slo.CalendarWindow(slo.Month, utc))
	o.Budgeting = slo.Budgeting{Method: slo.Timeslices, Slice: time.Minute, SliceTarget: 0.99}
	at := time.Date(2026, 10, 2, 0, 0, 30, 0, utc) // mid-slice: only whole slices count

	from, to := o.SliceRange(at)
	// The longest alert window (3d) reaches back before the month start.
	require.Equal(t, time.Date(2026, 9, 29, 0, 0, 0, 0, utc), from)
	require.Equal(t, time.Date(2026, 10, 2, 0, 0, 0, 0, utc), to)
	n := int(to.Sub(from) / time.Minute)
	require.Equal(t, 3*24*60, n)

	slices := make([]slo.Counts, n)
	for i := range slices {
		slices[i] = slo.Counts{Good: 100, Total: 100}
	}
	// September: bad, but outside the period (it still burns the 3d window).
	slices[0] = slo.Counts{Good: 0, Total: 100}
	// October 1: 10 bad minutes (98% good) in the last hour, one minute at
	// exactly 99% (good), and 60 minutes without traffic (neither good nor bad).
	for i := n - 10; i < n; i++ {
		slices[i] = slo.Counts{Good: 98, Total: 100}
	}
	slices[n-30] = slo.Counts{Good: 99, Total: 100}
	for i := n - 200; i < n-140; i++ {
		slices[i] = slo.Counts{}
	}
	r := slo.Evaluate(o, at, slo.Input{Slices: slices})
	require.NoError(t, r.Err)
	require.Equal(t, 10, r.BadSlices)
	require.Equal(t, 1440-10-60, r.GoodSlices)
	// The SLI is the share of October's 44,640 minutes not bad: what the
	// month ends with if no other minute goes bad. It meets the objective
	// exactly while budget is left.
	require.InDelta(t, 1-10.0/44640, r.SLI, 1e-12)
	require.Equal(t, slo.Counts{Good: 1380*100 - 10*2 - 1, Total: 1380 * 100}, r.Counts)
	// Budget: 0.0005 × 44,640 minutes of October = 22.32 bad minutes; 10 spent.
	require.InDelta(t, 1-10/22.32, r.BudgetRemaining, 1e-9)
	// 1h window: 10 of 60 slices bad → 1/6 / 0.0005 = 333.33; 5m window: 5/5 bad → 2000.
	require.InDelta(t, 1.0/6/0.0005, r.Windows[time.Hour].BurnRate, 1e-6)
	require.InDelta(t, 2000, r.Windows[5*time.Minute].BurnRate, 1e-6)
	// 3d window: 11 bad of 4320 slices.
	require.InDelta(t, 11.0/4320/0.0005, r.Windows[3*day].BurnRate, 1e-6)
	require.Contains(t, firing(r), "page-1h")
	require.Equal(t, slo.StatusAtRisk, r.Status)

	// One definition: budget is left exactly while the SLI is above the
	// objective, however many minutes go bad.
	for bad := 0; bad <= 30; bad++ {
		in := goodSlicesThenBad(n, bad)
		r := slo.Evaluate(o, at, slo.Input{Slices: in})
		require.Equal(t, r.SLI > o.Target, r.BudgetRemaining > 0, "%d bad minutes: SLI %v, budget %v", bad, r.SLI, r.BudgetRemaining)
	}

	// The wrong number of slices is a source error, reported as no data.
	r = slo.Evaluate(o, at, slo.Input{Slices: slices[1:]})
	require.Error(t, r.Err)
	require.Equal(t, slo.StatusNoData, r.Status)
}

// goodSlicesThenBad is n good one-minute slices, the last `bad` of them bad.
func goodSlicesThenBad(n, bad int) []slo.Counts {
	out := make([]slo.Counts, n)
	for i := range out {
		out[i] = slo.Counts{Good: 100, Total: 100}
		if i >= n-bad {
			out[i] = slo.Counts{Good: 50, Total: 100}
		}
	}
	return out
}

// TestTimesliceMinEvents: a slice with fewer events than the per-slice
// minimum is neither good nor bad, in the period and in the burn windows.
func TestTimesliceMinEvents(t *testing.T) {
	o := &slo.Objective{Service: "s", Name: "uptime", Target: 0.999, Window: slo.Rolling(24 * time.Hour),
		Budgeting: slo.Budgeting{Method: slo.Timeslices, Slice: time.Minute, SliceTarget: 0.99, SliceMinEvents: 20},
		Alerting:  slo.AlertPolicy{Windows: slo.DefaultAlertWindows()}}
	at := time.Date(2026, 10, 1, 4, 0, 0, 0, time.UTC)
	from, to := o.SliceRange(at)
	n := int(to.Sub(from) / time.Minute)
	slices := make([]slo.Counts, n)
	for i := range slices {
		slices[i] = slo.Counts{Good: 100, Total: 100}
	}
	slices[n-1] = slo.Counts{Good: 11, Total: 12} // 3 a.m.: one error among a dozen
	r := slo.Evaluate(o, at, slo.Input{Slices: slices})
	require.Zero(t, r.BadSlices)
	require.Equal(t, slo.StatusOK, r.Status)
	for _, a := range r.Alerts {
		require.False(t, a.Firing, a.Name)
	}
	o.Budgeting.SliceMinEvents = 0
	r = slo.Evaluate(o, at, slo.Input{Slices: slices})
	require.Equal(t, 1, r.BadSlices, "without the minimum it is a bad minute")
	require.True(t, r.Alerts[0].Firing, "and it pages")
}

// TestBudgetExhaustionNeedsMinEvents: 1 failure in 40 requests early in a
// month overspends the budget, but is no exhaustion ticket below min_events.
func TestBudgetExhaustionNeedsMinEvents(t *testing.T) {
	o := &slo.Objective{Service: "s", Name: "a", Target: 0.999, Window: slo.CalendarWindow("month", time.UTC),
		Alerting: slo.AlertPolicy{Windows: slo.DefaultAlertWindows(), BudgetExhausted: true, MinEvents: 100}}
	at := time.Date(2026, 10, 1, 0, 2, 0, 0, time.UTC)
	in := slo.Input{Period: slo.Counts{Good: 39, Total: 40}, Windows: map[time.Duration]slo.Counts{}}
	r := slo.Evaluate(o, at, in)
	require.Less(t, r.BudgetRemaining, 0.0)
	require.False(t, r.BudgetExhausted)
	o.Alerting.MinEvents = 0
	require.True(t, slo.Evaluate(o, at, in).BudgetExhausted)
}
