package slo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func TestPeriodReportSpenders(t *testing.T) {
	o := &slo.Objective{Service: "shop", Name: "availability", Target: 0.999}
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	var ms []slo.MinuteCount
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		c := slo.MinuteCount{At: m, Good: 100, Total: 100}
		switch {
		case m.Day() == 3 && m.Hour() == 14 && m.Minute() < 20: // an outage: 20 minutes at 50%
			c.Good = 50
		case m.Day() == 3 && m.Hour() == 14 && m.Minute() == 45: // 25 minutes later: the same episode
			c.Good = 90
		case m.Day() == 20 && m.Hour() == 8 && m.Minute() == 0: // one bad request
			c.Good = 99
		}
		ms = append(ms, c)
	}
	ms = append(ms, slo.MinuteCount{At: to, Good: 0, Total: 1000}) // the next month: not counted
	p := slo.NewPeriodReport(o, from, to, ms, 5)
	total := float64(31 * 1440 * 100)
	require.Equal(t, total, p.Total)
	require.Equal(t, total-1000-10-1, p.Good)
	require.InDelta(t, 1011/(0.001*total), *p.BudgetSpent, 1e-12)
	require.True(t, *p.Met, "1,011 bad of 4.46M is within 0.1%")
	require.Len(t, p.Spenders, 2)
	require.Equal(t, time.Date(2026, 10, 3, 14, 0, 0, 0, time.UTC), p.Spenders[0].From)
	require.Equal(t, time.Date(2026, 10, 3, 14, 46, 0, 0, time.UTC), p.Spenders[0].To)
	require.Equal(t, 1010.0, p.Spenders[0].Bad)
	require.InDelta(t, 1010/(0.001*total), p.Spenders[0].Share, 1e-12)
	require.Equal(t, 1.0, p.Spenders[1].Bad)

	empty := slo.NewPeriodReport(o, from, to, nil, 5)
	require.Nil(t, empty.SLI)
	require.Equal(t, "no events in the period", empty.Note)
}
