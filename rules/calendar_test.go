package rules

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestCalendarIndexAgreesWithBounds asks a real Prometheus for the period
// index and length the calendar rules use, one second either side of every
// period boundary kakeibo's evaluator computes (slo.Window.Bounds), for a
// year and more of months and weeks in zones east and west of UTC, with
// and without an anchor.
func TestCalendarIndexAgreesWithBounds(t *testing.T) {
	t.Parallel()
	prom := promtest.Start(t, "", time.Minute)
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		return loc
	}
	tokyo, kolkata, gmt5 := zone("Asia/Tokyo"), zone("Asia/Kolkata"), zone("Etc/GMT+5")
	ny, berlin, lordHowe, santiago := zone("America/New_York"), zone("Europe/Berlin"), zone("Australia/Lord_Howe"), zone("America/Santiago")
	cases := map[string]slo.Window{
		"month UTC":                slo.CalendarWindow(slo.Month, time.UTC),
		"month Kolkata":            slo.CalendarWindow(slo.Month, kolkata),
		"month from the 15th 10am": {Calendar: slo.Month, Location: tokyo, Anchor: time.Date(2026, 1, 15, 10, 0, 0, 0, tokyo)},
		"month from the 28th":      {Calendar: slo.Month, Location: gmt5, Anchor: time.Date(2025, 2, 28, 23, 30, 0, 0, gmt5)},
		"week UTC":                 slo.CalendarWindow(slo.Week, time.UTC),
		"week Tokyo":               slo.CalendarWindow(slo.Week, tokyo),
		"week from Saturday noon":  {Calendar: slo.Week, Location: gmt5, Anchor: time.Date(2026, 3, 7, 12, 0, 0, 0, gmt5)},
		// Zones with daylight saving time: New York and Berlin change on
		// different Sundays at 2am, Lord Howe by 30 minutes, Santiago at
		// midnight (the very hour its days start).
		"month New York":                 slo.CalendarWindow(slo.Month, ny),
		"week New York":                  slo.CalendarWindow(slo.Week, ny),
		"week Berlin from Saturday noon": {Calendar: slo.Week, Location: berlin, Anchor: time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)},
		// (An anchor at a wall time a change skips, 02:30 on the 25th of a
		// March whose last Sunday is the 25th, starts that period at 03:00
		// in the rules and at 03:30 in the evaluator, which follows Go's
		// time.Date: the one disagreement, left as it is.)
		"month Berlin from the 25th 3:30": {Calendar: slo.Month, Location: berlin, Anchor: time.Date(2026, 1, 25, 3, 30, 0, 0, berlin)},
		"month Lord Howe":                 slo.CalendarWindow(slo.Month, lordHowe),
		"week Santiago":                   slo.CalendarWindow(slo.Week, santiago),
		"month Santiago":                  slo.CalendarWindow(slo.Month, santiago),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			c, why := newCalendarIndex(w, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			require.NotNil(t, c, why)
			at := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
			start, end := w.Bounds(at)
			prev := query(t, prom.URL, c.index("time()"), start.Add(-time.Second))
			for range 60 {
				first := query(t, prom.URL, c.index("time()"), start)
				require.NotEqual(t, prev, first, "period starting %s: same index as the one before", start)
				require.Equal(t, first, query(t, prom.URL, c.index("time()"), end.Add(-time.Second)), "period %s to %s", start, end)
				require.Equal(t, end.Sub(start).Seconds(), query(t, prom.URL, c.seconds("time()"), start.Add(time.Hour)), "length of the period starting %s", start)
				// Elapsed is wall-clock time: within the hour a daylight
				// saving change moves it; else it is exact.
				for _, at := range []time.Time{start, start.Add(time.Hour + 17*time.Second), end.Add(-time.Second)} {
					got := query(t, prom.URL, c.elapsed("time()"), at)
					_, before := start.In(w.Location).Zone()
					_, after := at.In(w.Location).Zone()
					if before == after {
						require.Equal(t, at.Sub(start).Seconds(), got, "time since the period started %s, at %s", start, at)
					} else {
						require.InDelta(t, at.Sub(start).Seconds(), got, 3600, "time since the period started %s, at %s", start, at)
					}
				}
				prev = first
				start, end = w.Bounds(end)
			}
		})
	}
}

func TestCalendarIndexRefuses(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	c, why := newCalendarIndex(slo.Window{Calendar: slo.Month, Location: time.UTC, Anchor: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)}, now)
	require.Nil(t, c)
	require.Equal(t, "months start on day 31, which shorter months do not have", why)
}

// query evaluates a PromQL expression that yields one number.
func query(t *testing.T, prom, expr string, at time.Time) float64 {
	t.Helper()
	resp, err := http.PostForm(prom+"/api/v1/query", url.Values{"query": {expr}, "time": {strconv.FormatInt(at.Unix(), 10)}})
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, "success", out.Status, "%s: %s", expr, out.Error)
	var value []any
	switch out.Data.ResultType {
	case "scalar":
		require.NoError(t, json.Unmarshal(out.Data.Result, &value))
	case "vector":
		var v []struct {
			Value []any `json:"value"`
		}
		require.NoError(t, json.Unmarshal(out.Data.Result, &v))
		require.Len(t, v, 1, expr)
		value = v[0].Value
	default:
		t.Fatalf("%s: result type %s", expr, out.Data.ResultType)
	}
	f, err := strconv.ParseFloat(value[1].(string), 64)
	require.NoError(t, err)
	return f
}
