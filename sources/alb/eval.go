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
			err = correct(s, id, o.Corrections, ranges, sums)
		}
		if err == nil {
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

// correct applies corrections to the sums of ranges (minutes [lo, hi)):
// the events of a correction's minutes inside a range are taken out of it
// (excluded) or their bad events counted good (good). All the overlaps
// are read in one call.
func correct(s Store, id string, cs []slo.Correction, ranges [][2]int64, sums []Count) error {
	if len(cs) == 0 {
		return nil
	}
	type overlap struct{ rng, corr int }
	var parts [][2]int64
	var which []overlap
	for ci, c := range cs {
		from, to := ceilMinute(c.From), ceilMinute(c.To)
		for ri, r := range ranges {
			lo, hi := max(r[0], from), min(r[1], to)
			if lo < hi {
				parts = append(parts, [2]int64{lo, hi})
				which = append(which, overlap{ri, ci})
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	got, err := s.Sums(id, parts)
	if err != nil {
		return err
	}
	for i, w := range which {
		c := got[i]
		switch cs[w.corr].CountAs {
		case slo.CorrectionGood:
			sums[w.rng].Good += c.Total - c.Good
		default:
			sums[w.rng].Good -= c.Good
			sums[w.rng].Total -= c.Total
		}
	}
	return nil
}
