package alb

import (
	"fmt"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Input measures an ALB-backed objective at `at` (a whole minute) from the
// store's minute buckets: the period so far, every alert window, and the
// slices of timeslice budgeting.
func Input(s Store, o *slo.Objective, at time.Time) slo.Input {
	id := o.ID()
	var in slo.Input
	start, _ := o.Window.Bounds(at)
	var err error
	if o.Budgeting.Method == slo.Timeslices {
		from, to := o.SliceRange(at)
		in.Slices, err = SliceCounts(s, id, from, to, o.Budgeting.Slice)
	} else {
		// The period and every alert window in one read.
		ws := o.Windows()
		ranges := [][2]int64{{ceilMinute(start), ceilMinute(at)}}
		for _, d := range ws {
			ranges = append(ranges, [2]int64{ceilMinute(at.Add(-d)), ceilMinute(at)})
		}
		var sums []Count
		if sums, err = s.Sums(id, ranges); err == nil {
			toSLO := func(c Count) slo.Counts { return slo.Counts{Good: float64(c.Good), Total: float64(c.Total)} }
			in.Period = toSLO(sums[0])
			in.Windows = make(map[time.Duration]slo.Counts, len(ws))
			for i, d := range ws {
				in.Windows[d] = toSLO(sums[i+1])
			}
		}
	}
	if err != nil {
		in.Err = fmt.Errorf("read minute buckets of %s: %w", id, err)
	}
	return in
}

// Lookback is how far before `at` an objective reads: the start of its
// period or of its longest alert window, whichever is earlier.
func Lookback(o *slo.Objective, at time.Time) time.Duration {
	start, _ := o.Window.Bounds(at)
	back := at.Sub(start)
	if ws := o.Windows(); len(ws) > 0 {
		back = max(back, ws[len(ws)-1])
	}
	if o.Budgeting.Method == slo.Timeslices {
		back += o.Budgeting.Slice
	}
	return back
}
