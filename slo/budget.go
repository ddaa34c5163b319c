package slo

import (
	"math"
	"time"
)

// Counts are the good and total events of an SLI over a time range. They are
// float64 because Prometheus answers in floats; whole counts are exact up to
// 2^53.
type Counts struct {
	Good  float64 `json:"good"`
	Total float64 `json:"total"`
}

// Add sums two counts.
func (c Counts) Add(o Counts) Counts { return Counts{Good: c.Good + o.Good, Total: c.Total + o.Total} }

// Bad is total - good, never negative (Prometheus' extrapolated increase()
// can make good exceed total by a hair).
func (c Counts) Bad() float64 { return max(0, c.Total-c.Good) }

// HasData says whether any event was counted. No data is never good.
func (c Counts) HasData() bool { return c.Total > 0 }

// Ratio is good/total, the SLI; ok is false when there were no events.
func (c Counts) Ratio() (sli float64, ok bool) {
	if !c.HasData() {
		return 0, false
	}
	return min(1, c.Good/c.Total), true
}

// ErrorRatio is bad/total; ok is false when there were no events.
func (c Counts) ErrorRatio() (float64, bool) {
	if !c.HasData() {
		return 0, false
	}
	return min(1, c.Bad()/c.Total), true
}

// BurnRate is how fast errors spend the budget: the error ratio divided by
// the error budget (1 - target). 1 spends exactly the budget in the period;
// 14.4 spends a 30-day budget in 50 hours.
func BurnRate(errorRatio, target float64) float64 {
	return errorRatio / (1 - target)
}

// BudgetRemaining is the share of the error budget not yet spent: 1 - error
// ratio / budget. It goes below 0 once the objective is missed.
func BudgetRemaining(errorRatio, target float64) float64 {
	return 1 - errorRatio/(1-target)
}

// BudgetTime is an error budget share expressed as time of total outage over
// a period: remaining × (1 - target) × period. 100% of a 99.95% budget over
// 30 days is 21m36s. Negative remaining counts as none.
func BudgetTime(remaining, target float64, period time.Duration) time.Duration {
	if remaining <= 0 {
		return 0
	}
	return roundDuration(remaining * (1 - target) * float64(period))
}

// TimeToExhaustion is how long the remaining budget lasts at a burn rate:
// remaining × period / burn rate. ok is false when it is never spent (no
// burn); a spent budget gives 0.
func TimeToExhaustion(remaining, burnRate float64, period time.Duration) (d time.Duration, ok bool) {
	switch {
	case remaining <= 0:
		return 0, true
	case burnRate <= 0 || math.IsNaN(burnRate):
		return 0, false
	}
	return roundDuration(remaining * float64(period) / burnRate), true
}

// roundDuration turns a float of nanoseconds into a Duration to the
// millisecond, so float noise never shows as 21m35.999999999s.
func roundDuration(ns float64) time.Duration {
	if ns >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns).Round(time.Millisecond)
}
