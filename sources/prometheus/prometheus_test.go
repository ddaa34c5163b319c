package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

const specs = `
service: checkout
labels: {team: payments}
slos:
  - name: requests
    objective: 99.9
    window: 28d
    sli:
      prometheus:
        good: sum(increase(http_requests_total{job="checkout",code!~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="checkout"}[{{.window}}]))
  - name: errors
    objective: 99
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="checkout"}[{{.window}}]))
  - name: latency
    objective: 95
    window: 7d
    sli:
      prometheus:
        histogram: {metric: http_request_duration_seconds, selector: '{job="checkout"}', threshold: 300ms}
  - name: weekly
    objective: 99.9
    window: week
    sli:
      prometheus:
        good: sum(increase(http_requests_total{job="checkout",code!~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="checkout"}[{{.window}}]))
  - name: uptime
    objective: 99
    window: 7d
    budgeting: {timeslices: {slice: 1m, good_above: 95}}
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="checkout"}[{{.window}}]))
`

// history writes eight days of one-minute samples ending at end: 100 good
// and 1 bad request a minute, 10 bad a minute in the last two hours; a
// latency histogram with 98 of 100 requests under 300ms (80 in the last two
// hours).
func history(end time.Time) string {
	var b strings.Builder
	start := end.Add(-8 * 24 * time.Hour)
	incident := end.Add(-2 * time.Hour)
	type sample struct{ good, bad, fast, count float64 }
	var series []sample
	var cur sample
	for t := start; !t.After(end); t = t.Add(time.Minute) {
		series = append(series, cur)
		if t.Before(incident) {
			cur.good, cur.bad, cur.fast, cur.count = cur.good+100, cur.bad+1, cur.fast+98, cur.count+100
		} else {
			cur.good, cur.bad, cur.fast, cur.count = cur.good+100, cur.bad+10, cur.fast+80, cur.count+100
		}
	}
	ts := func(i int) int64 { return start.Add(time.Duration(i) * time.Minute).Unix() }
	b.WriteString("# TYPE http_requests counter\n")
	for i, s := range series {
		fmt.Fprintf(&b, "http_requests_total{job=\"checkout\",code=\"200\"} %g %d\n", s.good, ts(i))
	}
	for i, s := range series {
		fmt.Fprintf(&b, "http_requests_total{job=\"checkout\",code=\"500\"} %g %d\n", s.bad, ts(i))
	}
	b.WriteString("# TYPE http_request_duration_seconds histogram\n")
	for i, s := range series {
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{job=\"checkout\",le=\"0.3\"} %g %d\n", s.fast, ts(i))
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{job=\"checkout\",le=\"+Inf\"} %g %d\n", s.count, ts(i))
		fmt.Fprintf(&b, "http_request_duration_seconds_count{job=\"checkout\"} %g %d\n", s.count, ts(i))
		fmt.Fprintf(&b, "http_request_duration_seconds_sum{job=\"checkout\"} %g %d\n", s.count*0.1, ts(i))
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func objectives(t *testing.T) map[string]*slo.Objective {
	set, err := slo.LoadBytes("specs.yaml", []byte(specs))
	require.NoError(t, err)
	out := map[string]*slo.Objective{}
	for _, o := range set.Objectives() {
		out[o.Name] = o
	}
	return out
}

func list(m map[string]*slo.Objective) []*slo.Objective {
	return []*slo.Objective{m["requests"], m["errors"], m["latency"], m["weekly"], m["uptime"]}
}

// TestSourceAgainstKnownHistory checks the counts and SLIs the source reads
// from a real Prometheus against the history written into it.
func TestSourceAgainstKnownHistory(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	end := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	srv := promtest.Start(t, history(end), time.Minute)
	src, err := promsource.New(promsource.Config{URL: srv.URL})
	require.NoError(t, err)
	objs := objectives(t)
	start := end.Add(-8 * 24 * time.Hour)

	// An hour into the incident: every window of 1h or less is all incident.
	at := end.Add(-time.Hour)
	in := src.Inputs(t.Context(), list(objs), at)

	req := in[objs["requests"]]
	require.NoError(t, req.Err)
	minutes := func(d time.Duration) float64 { return d.Minutes() }
	// The period reaches back past the first sample: everything since start.
	// Before the incident: 100 good + 1 bad a minute; during it, 100 + 10.
	before, during := minutes(end.Add(-2*time.Hour).Sub(start)), minutes(time.Hour)
	require.InDelta(t, 100*(before+during), req.Period.Good, 1e-6)
	require.InDelta(t, 101*before+110*during, req.Period.Total, 1e-6)
	require.Equal(t, slo.Counts{Good: 6000, Total: 6600}, roundCounts(req.Windows[time.Hour]))
	require.Equal(t, slo.Counts{Good: 500, Total: 550}, roundCounts(req.Windows[5*time.Minute]))
	// 6h: 1h of incident, 5h before it.
	require.Equal(t, slo.Counts{Good: 36000, Total: 6600 + 5*6060}, roundCounts(req.Windows[6*time.Hour]))

	// The bad/total form gives the same good count.
	errs := in[objs["errors"]]
	require.NoError(t, errs.Err)
	require.Equal(t, slo.Counts{Good: 1400, Total: 1540}, roundCounts(errs.Windows[14*time.Minute]), "7d: the page pair scaled to 14m")

	lat := in[objs["latency"]]
	require.NoError(t, lat.Err)
	// 7d: the default windows scale to 14m, 5h36m, ... An hour into the
	// incident, 14m is all incident (80 of 100 fast); 5h36m is 1h of it and
	// 4h36m before it (98 of 100).
	require.Equal(t, slo.Counts{Good: 80 * 14, Total: 100 * 14}, roundCounts(lat.Windows[14*time.Minute]))
	require.Equal(t, slo.Counts{Good: 80*60 + 98*276, Total: 100 * 336}, roundCounts(lat.Windows[5*time.Hour+36*time.Minute]))

	// Timeslices: 7 days of 1m slices; the last 60 are bad (10/110 < 95%).
	up := in[objs["uptime"]]
	require.NoError(t, up.Err)
	r := slo.Evaluate(objs["uptime"], at, up)
	require.NoError(t, r.Err)
	require.Equal(t, 60, r.BadSlices)
	require.Equal(t, 7*24*60-60, r.GoodSlices)

	// A calendar week: the period runs from Monday 00:00 UTC to at.
	week := in[objs["weekly"]]
	require.NoError(t, week.Err)
	monday, _ := objs["weekly"].Window.Bounds(at)
	if monday.Before(start) {
		monday = start
	}
	beforeW := minutes(end.Add(-2 * time.Hour).Sub(monday))
	require.InDelta(t, 100*(beforeW+during), week.Period.Good, 1e-6)
	require.InDelta(t, 101*beforeW+110*during, week.Period.Total, 1e-6)

	res := slo.Evaluate(objs["requests"], at, req)
	require.Equal(t, slo.StatusViolated, res.Status, "burn 90 for an hour spends a 28d budget at 99.9%% of 8 days of data")
	require.InDelta(t, (1-6000.0/6600)/0.001, res.Windows[time.Hour].BurnRate, 1e-6)
}

func roundCounts(c slo.Counts) slo.Counts {
	return slo.Counts{Good: math.Round(c.Good*1e6) / 1e6, Total: math.Round(c.Total*1e6) / 1e6}
}

// TestStoppedPrometheusIsNoData: a source that cannot reach Prometheus makes
// every SLO no_data with the error, never an alert.
func TestStoppedPrometheusIsNoData(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	end := time.Now().UTC().Truncate(time.Minute)
	srv := promtest.Start(t, history(end), time.Minute)
	src, err := promsource.New(promsource.Config{URL: srv.URL, Timeout: 5 * time.Second})
	require.NoError(t, err)
	objs := objectives(t)
	in := src.Inputs(t.Context(), list(objs), end)
	require.NoError(t, in[objs["requests"]].Err)
	require.True(t, slices2Firing(slo.Evaluate(objs["requests"], end, in[objs["requests"]])), "the incident fires before the stop")

	srv.Stop()
	in = src.Inputs(t.Context(), list(objs), end)
	for name, o := range objs {
		require.Error(t, in[o].Err, name)
		r := slo.Evaluate(o, end, in[o])
		require.Equal(t, slo.StatusNoData, r.Status, name)
		require.False(t, slices2Firing(r), name)
		require.False(t, r.BudgetExhausted, name)
	}
}

func slices2Firing(r slo.Result) bool {
	for _, a := range r.Alerts {
		if a.Firing {
			return true
		}
	}
	return false
}

func TestEmptyResultIsNoData(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	end := time.Now().UTC().Truncate(time.Minute)
	srv := promtest.Start(t, history(end), time.Minute)
	src, err := promsource.New(promsource.Config{URL: srv.URL})
	require.NoError(t, err)
	set, err := slo.LoadBytes("x.yaml", []byte(`
service: ghost
slos:
  - name: nothing
    objective: 99
    window: 7d
    sli: {prometheus: {good: 'sum(increase(nope_total{ok="1"}[{{.window}}]))', total: 'sum(increase(nope_total[{{.window}}]))'}}
`))
	require.NoError(t, err)
	o := set.Objectives()[0]
	in := src.Inputs(t.Context(), []*slo.Objective{o}, end)
	require.NoError(t, in[o].Err)
	r := slo.Evaluate(o, end, in[o])
	require.Equal(t, slo.StatusNoData, r.Status)
	require.False(t, r.HasData)
}

// TestRulesAgreeWithEvaluator loads the generated rules into a real
// Prometheus and compares what its recording rules record with what the
// built-in evaluator computes through the source, at the same instant: with
// --exact every alert window's burn rate and the remaining budget; by
// default the alert windows (the period is summed from counts recorded since
// the rules started, which a fresh Prometheus has only seconds of).
func TestRulesAgreeWithEvaluator(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	for _, exact := range []bool{true, false} {
		t.Run(fmt.Sprintf("exact=%v", exact), func(t *testing.T) { t.Parallel(); rulesAgree(t, exact) })
	}
}

func rulesAgree(t *testing.T, exact bool) {
	objs := objectives(t)
	file, _, err := rules.Generate(list(objs), rules.Options{Exact: exact, Interval: 2 * time.Second})
	require.NoError(t, err)
	data, err := rules.Marshal(file)
	require.NoError(t, err)
	rulePath := filepath.Join(t.TempDir(), "kakeibo.rules.yaml")
	require.NoError(t, os.WriteFile(rulePath, data, 0o644))

	end := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	srv := promtest.Start(t, history(end), 2*time.Second, rulePath)
	client, err := api.NewClient(api.Config{Address: srv.URL})
	require.NoError(t, err)
	papi := v1.NewAPI(client)
	src, err := promsource.New(promsource.Config{URL: srv.URL})
	require.NoError(t, err)

	compared := 0
	for _, name := range []string{"requests", "errors", "latency"} {
		o := objs[name]
		// The newest recorded sample of the anchor series and its evaluation
		// time: the remaining budget (exact), or the shortest window's burn
		// rate (default; same group as every alert window).
		anchor := fmt.Sprintf(`slo_error_budget_remaining_ratio{service="checkout",slo=%q}`, name)
		if !exact {
			anchor = fmt.Sprintf(`slo_burn_rate{service="checkout",slo=%q,window=%q}`, name, slo.FormatDuration(slices.Min(o.Windows())))
		}
		var sample model.SamplePair
		require.Eventually(t, func() bool {
			v, _, _, err := papi.Query(context.Background(), anchor+"[1m]", time.Now())
			if err != nil {
				return false
			}
			m, ok := v.(model.Matrix)
			if !ok || len(m) == 0 || len(m[0].Values) == 0 {
				return false
			}
			sample = m[0].Values[len(m[0].Values)-1]
			return true
		}, 60*time.Second, 200*time.Millisecond, "rules never recorded %s", name)
		at := sample.Timestamp.Time()

		r := slo.Evaluate(o, at, src.Inputs(t.Context(), []*slo.Objective{o}, at)[o])
		require.NoError(t, r.Err)
		if exact {
			// The period's counts come from the period group, which Prometheus
			// evaluates at its own times: the remaining budget recorded at
			// `at` is the one of the period group's latest evaluation, so the
			// evaluator is asked at that time (the period's window slides
			// across a sample every minute, which moves the ratio).
			q := fmt.Sprintf(`slo_total_events{service="checkout",slo=%q,window=%q}[1m]`, name, o.Window.String())
			v, _, _, err := papi.Query(t.Context(), q, at)
			require.NoError(t, err)
			m := v.(model.Matrix)
			require.Len(t, m, 1, q)
			periodAt := m[0].Values[len(m[0].Values)-1].Timestamp.Time()
			rp := slo.Evaluate(o, periodAt, src.Inputs(t.Context(), []*slo.Objective{o}, periodAt)[o])
			require.NoError(t, rp.Err)
			requireRel(t, rp.BudgetRemaining, float64(sample.Value), "%s remaining (period evaluated at %s, %s before)", name, periodAt.Format(time.RFC3339Nano), at.Sub(periodAt))
			compared++
		}

		for _, d := range o.Windows() {
			w := slo.FormatDuration(d)
			v, _, _, err := papi.Query(t.Context(), fmt.Sprintf(`slo_burn_rate{service="checkout",slo=%q,window=%q}`, name, w), at)
			require.NoError(t, err)
			vec := v.(model.Vector)
			require.Len(t, vec, 1, "%s %s", name, w)
			require.Equal(t, sample.Timestamp, vec[0].Timestamp)
			requireRel(t, r.Windows[d].BurnRate, float64(vec[0].Value), "%s burn %s", name, w)
			compared++
		}
	}
	want := 3 * 8
	if !exact {
		want = 3 * 7
	}
	require.Equal(t, want, compared)
}

func requireRel(t *testing.T, want, got float64, msg string, args ...any) {
	t.Helper()
	if want == got {
		return
	}
	rel := math.Abs(want-got) / math.Max(math.Abs(want), math.Abs(got))
	require.LessOrEqual(t, rel, 1e-6, "%s: evaluator %v, rules %v", fmt.Sprintf(msg, args...), want, got)
}
