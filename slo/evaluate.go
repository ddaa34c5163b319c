package slo

import (
	"fmt"
	"slices"
	"time"
)

// Status is the verdict on an objective at a point in time.
type Status string

const (
	// StatusOK: budget left and no burn-rate alert firing.
	StatusOK Status = "ok"
	// StatusAtRisk: budget left, but a burn-rate alert fires.
	StatusAtRisk Status = "at_risk"
	// StatusViolated: the error budget of the period is spent.
	StatusViolated Status = "violated"
	// StatusNoData: no events in the period, or the source failed.
	StatusNoData Status = "no_data"
	// StatusStale: the newest data is older than the objective's
	// stale_after: the numbers are those of the data's end, not of now.
	StatusStale Status = "stale"
	// StatusBackfilling: a new SLO whose history is still being counted
	// (its numbers would be partial): no alert fires or resolves.
	StatusBackfilling Status = "backfilling"
)

// MarkStale makes a result stale when its data ends more than the
// objective's stale_after before now (unset: def for ALB logs,
// DefaultPrometheusStaleAfter for Prometheus). A stale result keeps
// its numbers (they are true as of r.At) but no burn-rate alert may fire or
// resolve from it.
func MarkStale(r Result, now time.Time, def time.Duration) Result {
	after := r.Objective.StaleAfter
	switch {
	case after != 0:
	case r.Objective.SLI.Prometheus != nil:
		after = DefaultPrometheusStaleAfter
	default:
		after = def
	}
	if r.Status == StatusNoData || r.Status == StatusBackfilling || after <= 0 || r.At.IsZero() || now.Sub(r.LastData()) <= after {
		return r
	}
	r.Status = StatusStale
	return r
}

// Input is what a source measured for one objective, for evaluation at a
// time `at`. Counts cover [from, at) with from given by the objective: see
// Objective.Windows and Objective.SliceRange.
type Input struct {
	// Period holds the counts over the period: [Window.Bounds(at) start, at).
	Period Counts
	// Windows holds the counts over [at-d, at) for every d in Objective.Windows().
	Windows map[time.Duration]Counts
	// Slices holds per-slice counts for timeslice budgeting, oldest first,
	// covering Objective.SliceRange(at).
	Slices []Counts
	// Err, when set, says the source could not measure: the result is no_data.
	Err error
	// DataEnd, when set, is the time of the source's newest data (see
	// Result.DataEnd).
	DataEnd time.Time
}

// Result is the evaluation of one objective at one time.
type Result struct {
	Objective *Objective
	At        time.Time
	Status    Status
	// Counts are the events in the period so far.
	Counts Counts
	// SLI is the period's SLI (good events, or good slices, over all); valid when HasData.
	SLI     float64
	HasData bool
	// GoodSlices and BadSlices count timeslices in the period (timeslices only).
	GoodSlices, BadSlices int
	// BudgetRemaining is the share of the period's error budget left; below 0 when overspent.
	BudgetRemaining float64
	// BudgetRemainingTime is BudgetRemaining as time of total outage.
	BudgetRemainingTime time.Duration
	// TimeToExhaustion is how long the budget lasts at the burn rate of the
	// shortest long alert window; valid when Exhausts.
	TimeToExhaustion time.Duration
	Exhausts         bool
	// Windows has the counts and burn rate of every alert window.
	Windows map[time.Duration]WindowResult
	// Alerts has one entry per alert pair of the policy.
	Alerts []AlertResult
	// BudgetExhausted is the budget-exhaustion alert condition.
	BudgetExhausted bool
	// Err is the source's error, if any.
	Err error
	// DataEnd is where the source's newest data ends, when the source knows:
	// ALB, the newest interval a node delivered (ahead of At, which waits for
	// every node to be complete); Prometheus, the newest sample of the total
	// query's series (behind At when scrapes stopped). Zero means At.
	DataEnd time.Time
}

// LastData is where the data behind a result ends: DataEnd, or At. How
// stale a result is counts from here, so a load balancer node that left
// (and is waited for before minutes count as complete) does not make fresh
// logs look stale, and a Prometheus target that stopped being scraped does.
func (r *Result) LastData() time.Time {
	if !r.DataEnd.IsZero() {
		return r.DataEnd
	}
	return r.At
}

// WindowResult is the burn over one alert window.
type WindowResult struct {
	Counts
	BurnRate float64
	HasData  bool
}

// AlertResult is one alert pair's condition.
type AlertResult struct {
	AlertWindow
	Threshold float64
	Firing    bool
}

// Windows lists every window length the objective's alert policy reads,
// shortest first: what a source must count besides the period.
func (o *Objective) Windows() []time.Duration {
	var ds []time.Duration
	for _, w := range o.Alerting.Windows {
		ds = append(ds, w.Long, w.Short)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// SliceRange is the span a source must cut into slices for timeslice
// budgeting at `at`: from the earlier of the period start and the longest
// alert window, to the last slice boundary before at. Only whole slices count.
func (o *Objective) SliceRange(at time.Time) (from, to time.Time) {
	slice := o.Budgeting.Slice
	to = at.Truncate(slice)
	from, _ = o.Window.Bounds(at)
	if ws := o.Windows(); len(ws) > 0 {
		from = minTime(from, to.Add(-ws[len(ws)-1]))
	}
	return from.Truncate(slice), to
}

// Evaluate computes the SLI, error budget, burn rates, alert conditions and
// status of an objective at `at` from what a source counted. It is pure.
func Evaluate(o *Objective, at time.Time, in Input) Result {
	r := Result{Objective: o, At: at, Windows: map[time.Duration]WindowResult{}, Err: in.Err, DataEnd: in.DataEnd}
	period := o.Window.Period(at)
	nominal := o.Window.Nominal()

	switch {
	case in.Err != nil:
		// The source could not measure: nothing is known.
	case o.Budgeting.Method == Timeslices:
		evaluateSlices(o, at, in.Slices, &r)
	default:
		r.Counts = in.Period
		r.SLI, r.HasData = in.Period.Ratio()
		if errRatio, ok := in.Period.ErrorRatio(); ok {
			r.BudgetRemaining = BudgetRemaining(errRatio, o.Target)
		}
		for _, d := range o.Windows() {
			c := in.Windows[d]
			w := WindowResult{Counts: c}
			if errRatio, ok := c.ErrorRatio(); ok {
				w.BurnRate, w.HasData = BurnRate(errRatio, o.Target), true
			}
			r.Windows[d] = w
		}
	}
	if in.Err != nil {
		r.HasData = false
	}
	if !r.HasData {
		// Without data nothing is known: no budget figures, no alerts.
		r.Status, r.BudgetRemaining = StatusNoData, 0
		for _, w := range o.Alerting.Windows {
			r.Alerts = append(r.Alerts, AlertResult{AlertWindow: w, Threshold: w.Threshold(nominal)})
		}
		return r
	}

	r.BudgetRemainingTime = BudgetTime(r.BudgetRemaining, o.Target, period)
	for _, w := range o.Alerting.Windows {
		long, short := r.Windows[w.Long], r.Windows[w.Short]
		th := w.Threshold(nominal)
		firing := long.HasData && short.HasData &&
			long.Total >= o.Alerting.MinEvents &&
			long.BurnRate > th && short.BurnRate > th
		r.Alerts = append(r.Alerts, AlertResult{AlertWindow: w, Threshold: th, Firing: firing})
	}
	// Like the burn alerts, budget exhaustion needs min_events in the
	// period: 1 failure in 40 requests two minutes into a month is no ticket.
	r.BudgetExhausted = o.Alerting.BudgetExhausted && r.BudgetRemaining <= 0 && r.Counts.Total >= o.Alerting.MinEvents
	if burn, ok := r.currentBurn(); ok {
		r.TimeToExhaustion, r.Exhausts = TimeToExhaustion(r.BudgetRemaining, burn, period)
	} else if r.BudgetRemaining <= 0 {
		r.Exhausts = true
	}

	switch {
	case r.BudgetRemaining <= 0:
		r.Status = StatusViolated
	case slices.ContainsFunc(r.Alerts, func(a AlertResult) bool { return a.Firing }):
		r.Status = StatusAtRisk
	default:
		r.Status = StatusOK
	}
	return r
}

// currentBurn is the burn rate over the shortest long alert window, the
// "how fast is it burning now" figure.
func (r *Result) currentBurn() (float64, bool) {
	var best time.Duration
	for _, w := range r.Objective.Alerting.Windows {
		if best == 0 || w.Long < best {
			best = w.Long
		}
	}
	w, ok := r.Windows[best]
	return w.BurnRate, ok && w.HasData
}

// FastestBurn is the highest burn rate over any alert window with data.
func (r *Result) FastestBurn() (rate float64, window time.Duration, ok bool) {
	for d, w := range r.Windows {
		if w.HasData && (!ok || w.BurnRate > rate || (w.BurnRate == rate && d < window)) {
			rate, window, ok = w.BurnRate, d, true
		}
	}
	return rate, window, ok
}

// evaluateSlices applies timeslice budgeting: a slice with events is good
// when its ratio reaches the slice target. A slice without events is neither
// good nor bad: no traffic is no failure, and no success either. The budget
// is (1 - target) of every slice in the period, so 99.95% over a 30-day
// month allows 21.6 bad one-minute slices.
func evaluateSlices(o *Objective, at time.Time, slicesIn []Counts, r *Result) {
	slice := o.Budgeting.Slice
	from, to := o.SliceRange(at)
	periodStart, _ := o.Window.Bounds(at)
	want := int(to.Sub(from) / slice)
	if len(slicesIn) != want {
		r.Err = fmt.Errorf("timeslices: got %d slices, want %d for %s..%s", len(slicesIn), want, from.Format(time.RFC3339), to.Format(time.RFC3339))
		return
	}
	badIn := func(since time.Time) int {
		n := 0
		for i, c := range slicesIn {
			if !from.Add(time.Duration(i)*slice).Before(since) && isBadSlice(c, o.Budgeting) {
				n++
			}
		}
		return n
	}
	for i, c := range slicesIn {
		if from.Add(time.Duration(i) * slice).Before(periodStart) {
			continue
		}
		r.Counts = r.Counts.Add(c)
		switch {
		case !counts(c, o.Budgeting):
		case isBadSlice(c, o.Budgeting):
			r.BadSlices++
		default:
			r.GoodSlices++
		}
	}
	withData := r.GoodSlices + r.BadSlices
	if withData == 0 {
		return
	}
	r.HasData = true
	periodSlices := float64(o.Window.Period(at) / slice)
	r.SLI = 1 - float64(r.BadSlices)/periodSlices
	budgetSlices := (1 - o.Target) * periodSlices
	r.BudgetRemaining = 1 - float64(r.BadSlices)/budgetSlices
	for _, d := range o.Windows() {
		n := float64(d / slice)
		if n < 1 {
			n = 1 // a window shorter than a slice sees the last slice
		}
		bad := badIn(to.Add(-time.Duration(n) * slice))
		var c Counts
		for i := len(slicesIn) - int(n); i < len(slicesIn); i++ {
			if i >= 0 {
				c = c.Add(slicesIn[i])
			}
		}
		r.Windows[d] = WindowResult{
			Counts:   c,
			BurnRate: BurnRate(float64(bad)/n, o.Target),
			HasData:  c.HasData(),
		}
	}
}

// counts says whether a slice counts at all: it has events, at least the
// per-slice minimum.
func counts(c Counts, b Budgeting) bool {
	return c.HasData() && c.Total >= b.SliceMinEvents
}

func isBadSlice(c Counts, b Budgeting) bool {
	sli, ok := c.Ratio()
	return ok && counts(c, b) && sli < b.SliceTarget
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
