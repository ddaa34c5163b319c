package slo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestWindowBounds(t *testing.T) {
	utc := time.UTC
	berlin := mustLoc(t, "Europe/Berlin")
	newYork := mustLoc(t, "America/New_York")
	tokyo := mustLoc(t, "Asia/Tokyo")
	day := 24 * time.Hour
	for _, tc := range []struct {
		name       string
		w          slo.Window
		at         time.Time
		start, end time.Time
		period     time.Duration
	}{
		{"rolling 30d ends at at", slo.Rolling(30 * day),
			time.Date(2026, 10, 2, 0, 0, 0, 0, utc),
			time.Date(2026, 9, 2, 0, 0, 0, 0, utc), time.Date(2026, 10, 2, 0, 0, 0, 0, utc), 30 * day},
		{"month: 31 days in October", slo.CalendarWindow(slo.Month, utc),
			time.Date(2026, 10, 31, 23, 59, 59, 0, utc),
			time.Date(2026, 10, 1, 0, 0, 0, 0, utc), time.Date(2026, 11, 1, 0, 0, 0, 0, utc), 31 * day},
		{"month: February of a leap year", slo.CalendarWindow(slo.Month, utc),
			time.Date(2028, 2, 29, 12, 0, 0, 0, utc),
			time.Date(2028, 2, 1, 0, 0, 0, 0, utc), time.Date(2028, 3, 1, 0, 0, 0, 0, utc), 29 * day},
		{"month: February of a common year", slo.CalendarWindow(slo.Month, utc),
			time.Date(2026, 2, 28, 12, 0, 0, 0, utc),
			time.Date(2026, 2, 1, 0, 0, 0, 0, utc), time.Date(2026, 3, 1, 0, 0, 0, 0, utc), 28 * day},
		{"month: the first instant belongs to the new month", slo.CalendarWindow(slo.Month, utc),
			time.Date(2026, 12, 1, 0, 0, 0, 0, utc),
			time.Date(2026, 12, 1, 0, 0, 0, 0, utc), time.Date(2027, 1, 1, 0, 0, 0, 0, utc), 31 * day},
		{"month in Tokyo: 2026-10-31T16:00Z is already November there", slo.CalendarWindow(slo.Month, tokyo),
			time.Date(2026, 10, 31, 16, 0, 0, 0, utc),
			time.Date(2026, 10, 31, 15, 0, 0, 0, utc), time.Date(2026, 11, 30, 15, 0, 0, 0, utc), 30 * day},
		{"month in Berlin with the spring DST change is an hour short", slo.CalendarWindow(slo.Month, berlin),
			time.Date(2026, 3, 15, 0, 0, 0, 0, utc),
			time.Date(2026, 2, 28, 23, 0, 0, 0, utc), time.Date(2026, 3, 31, 22, 0, 0, 0, utc), 31*day - time.Hour},
		{"month in Berlin with the autumn DST change is an hour long", slo.CalendarWindow(slo.Month, berlin),
			time.Date(2026, 10, 15, 0, 0, 0, 0, utc),
			time.Date(2026, 9, 30, 22, 0, 0, 0, utc), time.Date(2026, 10, 31, 23, 0, 0, 0, utc), 31*day + time.Hour},
		{"week starts Monday 00:00", slo.CalendarWindow(slo.Week, utc),
			time.Date(2026, 11, 25, 10, 0, 0, 0, utc), // a Wednesday
			time.Date(2026, 11, 23, 0, 0, 0, 0, utc), time.Date(2026, 11, 30, 0, 0, 0, 0, utc), 7 * day},
		{"week: Sunday belongs to the week that began on Monday", slo.CalendarWindow(slo.Week, utc),
			time.Date(2026, 11, 29, 23, 0, 0, 0, utc),
			time.Date(2026, 11, 23, 0, 0, 0, 0, utc), time.Date(2026, 11, 30, 0, 0, 0, 0, utc), 7 * day},
		{"week across the US DST end (2026-11-01) is 169 hours", slo.CalendarWindow(slo.Week, newYork),
			time.Date(2026, 10, 30, 12, 0, 0, 0, utc), // a Friday
			time.Date(2026, 10, 26, 4, 0, 0, 0, utc), time.Date(2026, 11, 2, 5, 0, 0, 0, utc), 7*day + time.Hour},
		{"week across a month and year end", slo.CalendarWindow(slo.Week, utc),
			time.Date(2027, 1, 1, 0, 0, 0, 0, utc), // a Friday
			time.Date(2026, 12, 28, 0, 0, 0, 0, utc), time.Date(2027, 1, 4, 0, 0, 0, 0, utc), 7 * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.w.Bounds(tc.at)
			require.True(t, tc.start.Equal(start), "start %s, want %s", start.UTC(), tc.start)
			require.True(t, tc.end.Equal(end), "end %s, want %s", end.UTC(), tc.end)
			require.Equal(t, tc.period, tc.w.Period(tc.at))
		})
	}
}

func TestWindowNominalAndString(t *testing.T) {
	require.Equal(t, 30*24*time.Hour, slo.CalendarWindow(slo.Month, nil).Nominal())
	require.Equal(t, 7*24*time.Hour, slo.CalendarWindow(slo.Week, nil).Nominal())
	require.Equal(t, 28*24*time.Hour, slo.Rolling(28*24*time.Hour).Nominal())
	require.Equal(t, "28d", slo.Rolling(28*24*time.Hour).String())
	require.Equal(t, "month", slo.CalendarWindow(slo.Month, nil).String())
	require.Equal(t, "1h30m", slo.FormatDuration(90*time.Minute))
}
