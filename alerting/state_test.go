package alerting

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func testObjective() *slo.Objective {
	return &slo.Objective{
		Service: "shop", Name: "availability", Target: 0.999, Window: slo.Rolling(30 * 24 * time.Hour),
		SLI:      slo.SLI{Prometheus: &slo.PrometheusSLI{}},
		Alerting: slo.AlertPolicy{Windows: slo.DefaultAlertWindows(), BudgetExhausted: true, Repeat: slo.DefaultRepeat, Cooldown: slo.DefaultCooldown},
	}
}

var testRoutes Routing = func(string) slo.Notify {
	return slo.Notify{Page: slo.Route{Slack: "#page"}, Ticket: slo.Route{Slack: "#ticket"}}
}

// result builds an evaluation with error ratios per window (all 1000 events).
func result(o *slo.Objective, at time.Time, period float64, errRatio map[time.Duration]float64) slo.Result {
	in := slo.Input{Period: slo.Counts{Good: 1e6 * (1 - period), Total: 1e6}, Windows: map[time.Duration]slo.Counts{}}
	for _, d := range o.Windows() {
		in.Windows[d] = slo.Counts{Good: 1000 * (1 - errRatio[d]), Total: 1000}
	}
	return slo.Evaluate(o, at, in)
}

func kinds(ns []Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, string(n.Kind)+" "+n.Alert.Alert+" "+n.Channel)
	}
	return out
}

const m, h = time.Minute, time.Hour

var (
	pageBurn   = map[time.Duration]float64{5 * m: 0.02, 30 * m: 0.02, h: 0.02, 2 * h: 0.02, 6 * h: 0.02, 24 * h: 0.02, 72 * h: 0.02}
	ticketBurn = map[time.Duration]float64{2 * h: 0.004, 24 * h: 0.004, 72 * h: 0.004, 6 * h: 0.004} // 4×: ticket-1d and ticket-3d only
)

func TestStepLifecycle(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	states := map[string]AlertState{}

	// Clean: nothing.
	states, out := Step(states, []slo.Result{result(o, t0, 0, nil)}, testRoutes, t0)
	require.Empty(t, out)
	require.Empty(t, states)

	// A fast burn fires both pages: one incident, one message. The tickets
	// fire too but are held back: it is the same burn.
	states, out = Step(states, []slo.Result{result(o, t0.Add(m), 0.0001, pageBurn)}, testRoutes, t0.Add(m))
	require.Equal(t, []string{"firing page-1h, page-6h #page"}, kinds(out))
	require.True(t, states["shop/availability#ticket"].Suppressed)
	require.True(t, states["shop/availability/page-6h"].Firing, "each alert keeps its own state (Alertmanager, API)")
	incident := "shop/availability#page@" + itoa(t0.Add(m).Unix())
	require.Equal(t, incident, out[0].Incident)

	// Still burning an hour later: no new message (repeat is every 4h).
	states, out = Step(states, []slo.Result{result(o, t0.Add(h), 0.0001, pageBurn)}, testRoutes, t0.Add(h))
	require.Empty(t, out)

	// Four hours after the first message: one repeat.
	states, out = Step(states, []slo.Result{result(o, t0.Add(4*h+m), 0.0001, pageBurn)}, testRoutes, t0.Add(4*h+m))
	require.Equal(t, []string{"repeat page-1h, page-6h #page"}, kinds(out))

	// The burn slows to 4×: the page resolves; the tickets still fire but
	// are held back for their short window (2h) after the page.
	states, out = Step(states, []slo.Result{result(o, t0.Add(5*h), 0.0001, ticketBurn)}, testRoutes, t0.Add(5*h))
	require.Equal(t, []string{"resolved page-1h, page-6h #page"}, kinds(out))
	require.Equal(t, incident, out[0].Incident)
	require.Equal(t, t0.Add(m), out[0].Alert.Since)
	require.Equal(t, t0.Add(5*h), out[0].Alert.ResolvedAt)

	// No data (the source is down): nothing fires, nothing resolves.
	noData := slo.Evaluate(o, t0.Add(6*h), slo.Input{})
	held, out := Step(states, []slo.Result{noData}, testRoutes, t0.Add(6*h))
	require.Empty(t, out)
	require.Equal(t, states, held)

	// Two hours after the page, the tickets still fire: a new burn, news now.
	states, out = Step(held, []slo.Result{result(o, t0.Add(7*h+m), 0.0001, ticketBurn)}, testRoutes, t0.Add(7*h+m))
	require.Equal(t, []string{"firing ticket-1d, ticket-3d #ticket"}, kinds(out))

	// Clean again: the tickets resolve; a day later nothing is kept.
	states, out = Step(states, []slo.Result{result(o, t0.Add(8*h), 0.0001, nil)}, testRoutes, t0.Add(8*h))
	require.Equal(t, []string{"resolved ticket-1d, ticket-3d #ticket"}, kinds(out))
	states, out = Step(states, []slo.Result{result(o, t0.Add(33*h), 0.0001, nil)}, testRoutes, t0.Add(33*h))
	require.Empty(t, out)
	require.Empty(t, states)
}

// TestStepEscalation: alerts joining and leaving an open incident update
// its one message.
func TestStepEscalation(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	page1h := map[time.Duration]float64{5 * m: 0.02, h: 0.02}
	page6h := map[time.Duration]float64{30 * m: 0.01, 6 * h: 0.01}
	var all []string
	var states map[string]AlertState
	for i, burn := range []map[time.Duration]float64{page1h, pageBurn, page6h, nil} {
		var out []Notification
		states, out = Step(states, []slo.Result{result(o, t0.Add(time.Duration(i)*m), 0.0001, burn)}, testRoutes, t0.Add(time.Duration(i)*m))
		all = append(all, kinds(out)...)
	}
	require.Equal(t, []string{
		"firing page-1h #page", "update page-1h, page-6h #page", "update page-6h #page", "resolved page-1h, page-6h #page",
	}, all)
}

// TestStepCooldownReopens: a re-fire within the cooldown (30m) reopens the
// incident (its message is updated, not repeated); later, it is a new one.
func TestStepCooldownReopens(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	onlyPage1h := map[time.Duration]float64{5 * m: 0.02, h: 0.02}
	var states map[string]AlertState
	var all []string
	incidents := map[string]bool{}
	step := func(at time.Time, burn map[time.Duration]float64) {
		var out []Notification
		states, out = Step(states, []slo.Result{result(o, at, 0.0001, burn)}, testRoutes, at)
		all = append(all, kinds(out)...)
		for _, n := range out {
			incidents[n.Incident] = true
		}
	}
	for i := range 6 {
		burn := onlyPage1h
		if i%2 == 1 {
			burn = nil
		}
		step(t0.Add(time.Duration(i)*m), burn)
	}
	require.Equal(t, []string{
		"firing page-1h #page", "resolved page-1h #page",
		"reopened page-1h #page", "resolved page-1h #page",
		"reopened page-1h #page", "resolved page-1h #page",
	}, all)
	require.Len(t, incidents, 1, "one incident")
	step(t0.Add(6*m+o.Alerting.Cooldown), onlyPage1h)
	require.Equal(t, "firing page-1h #page", all[len(all)-1], "after the cooldown: a new incident")
	require.Len(t, incidents, 2)
}

func TestStepSuppressedTicketNeverAnnounced(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	states, out := Step(nil, []slo.Result{result(o, t0, 0.0001, pageBurn)}, testRoutes, t0)
	require.Len(t, out, 1)
	// The page resolves while the tickets still fire; they stop within
	// their short window after it: never announced, never resolved.
	states, out = Step(states, []slo.Result{result(o, t0.Add(h), 0.0001, ticketBurn)}, testRoutes, t0.Add(h))
	require.Equal(t, []string{"resolved page-1h, page-6h #page"}, kinds(out))
	states, out = Step(states, []slo.Result{result(o, t0.Add(2*h), 0.0001, nil)}, testRoutes, t0.Add(2*h))
	require.Empty(t, out)
	require.False(t, states["shop/availability#ticket"].Firing)
}

func TestStepBudgetExhaustedAndRemovedSLO(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	states, out := Step(nil, []slo.Result{result(o, t0, 0.002, nil)}, testRoutes, t0)
	require.Equal(t, []string{"firing budget-exhausted #ticket"}, kinds(out))
	require.NotNil(t, out[0].Alert.BudgetRemaining)
	require.InDelta(t, -1, *out[0].Alert.BudgetRemaining, 1e-9)

	// The SLO disappears from the specs: its incident resolves.
	states, out = Step(states, nil, testRoutes, t0.Add(m))
	require.Equal(t, []string{"resolved budget-exhausted #ticket"}, kinds(out))
	require.Empty(t, states)
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// TestStepStaleData: when the data stops arriving (stale), firing pages are
// held (no resolve, no repeat), nothing new fires, and one "no data since"
// ticket is sent; it resolves when fresh data returns, and the burn-rate
// alerts then follow the data again.
func TestStepStaleData(t *testing.T) {
	o := testObjective()
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	states, out := Step(map[string]AlertState{}, []slo.Result{result(o, t0, 0.0001, pageBurn)}, testRoutes, t0)
	require.Equal(t, []string{"firing page-1h, page-6h #page"}, kinds(out))

	// The logs stop at t0: evaluated 25 minutes later, the result is stale.
	stale := slo.MarkStale(result(o, t0, 0, nil), t0.Add(25*m), slo.DefaultStaleAfter)
	require.Equal(t, slo.StatusStale, stale.Status)
	states, out = Step(states, []slo.Result{stale}, testRoutes, t0.Add(25*m))
	require.Equal(t, []string{"firing stale-data #ticket"}, kinds(out), "one ticket; the clean-looking data resolves nothing")
	require.Contains(t, out[0].Summary(), "shop/availability has no data since 2026-10-01 12:00 UTC")
	require.True(t, states["shop/availability/page-1h"].Firing)
	require.True(t, states["shop/availability#page"].Firing)
	for i := range 30 { // hours of stale data: no repeats of anything
		now := t0.Add(25*m + time.Duration(i)*h)
		states, out = Step(states, []slo.Result{slo.MarkStale(result(o, t0, 0.0001, pageBurn), now, slo.DefaultStaleAfter)}, testRoutes, now)
		require.Empty(t, out)
	}
	// Fresh data, clean: the stale ticket and the pages resolve.
	now := t0.Add(31 * h)
	fresh := slo.MarkStale(result(o, now, 0, nil), now, slo.DefaultStaleAfter)
	require.Equal(t, slo.StatusOK, fresh.Status)
	_, out = Step(states, []slo.Result{fresh}, testRoutes, now)
	require.ElementsMatch(t, []string{"resolved page-1h, page-6h #page", "resolved stale-data #ticket"}, kinds(out))
}
