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

// TestAnchoredWindowBounds: OpenSLO's calendar.startTime moves the period
// start: a week from Saturday 12:00 New York, a month from the 15th, a month
// from the 31st (the last day of shorter months), across DST.
func TestAnchoredWindowBounds(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	tokyo := mustLoc(t, "Asia/Tokyo")
	anchored := func(u slo.CalendarUnit, loc *time.Location, anchor string) slo.Window {
		w := slo.CalendarWindow(u, loc)
		a, err := time.ParseInLocation("2006-01-02 15:04", anchor, loc)
		require.NoError(t, err)
		w.Anchor = a
		return w
	}
	at := func(loc *time.Location, s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		require.NoError(t, err)
		return tm
	}
	for _, tc := range []struct {
		name       string
		w          slo.Window
		at         time.Time
		start, end time.Time
	}{
		{"week from Saturday noon", anchored(slo.Week, ny, "2022-01-01 12:00"), at(ny, "2026-11-25 10:00"), at(ny, "2026-11-21 12:00"), at(ny, "2026-11-28 12:00")},
		{"on the boundary", anchored(slo.Week, ny, "2022-01-01 12:00"), at(ny, "2026-11-21 12:00"), at(ny, "2026-11-21 12:00"), at(ny, "2026-11-28 12:00")},
		{"a minute before it", anchored(slo.Week, ny, "2022-01-01 12:00"), at(ny, "2026-11-21 11:59"), at(ny, "2026-11-14 12:00"), at(ny, "2026-11-21 12:00")},
		{"week over the DST end is 7d1h", anchored(slo.Week, ny, "2022-01-01 12:00"), at(ny, "2026-11-02 09:00"), at(ny, "2026-10-31 12:00"), at(ny, "2026-11-07 12:00")},
		{"before the anchor", anchored(slo.Week, ny, "2022-01-01 12:00"), at(ny, "2021-12-30 00:00"), at(ny, "2021-12-25 12:00"), at(ny, "2022-01-01 12:00")},
		{"month from the 15th", anchored(slo.Month, tokyo, "2026-01-15 00:00"), at(tokyo, "2026-03-10 08:00"), at(tokyo, "2026-02-15 00:00"), at(tokyo, "2026-03-15 00:00")},
		{"month from the 31st in February", anchored(slo.Month, tokyo, "2026-01-31 00:00"), at(tokyo, "2026-02-28 12:00"), at(tokyo, "2026-02-28 00:00"), at(tokyo, "2026-03-31 00:00")},
		{"month from the 31st in April", anchored(slo.Month, tokyo, "2026-01-31 00:00"), at(tokyo, "2026-04-29 23:00"), at(tokyo, "2026-03-31 00:00"), at(tokyo, "2026-04-30 00:00")},
		{"month from the 1st at 09:00 (the anchor's time of day)", anchored(slo.Month, ny, "2020-06-01 09:00"), at(ny, "2026-11-01 08:59"), at(ny, "2026-10-01 09:00"), at(ny, "2026-11-01 09:00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.w.Bounds(tc.at)
			require.True(t, tc.start.Equal(start), "start %s, want %s", start.In(tc.start.Location()), tc.start)
			require.True(t, tc.end.Equal(end), "end %s, want %s", end.In(tc.end.Location()), tc.end)
		})
	}
	require.Equal(t, 7*24*time.Hour+time.Hour, anchored(slo.Week, ny, "2022-01-01 12:00").Period(at(ny, "2026-11-02 09:00")))
}
