package prometheus

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// The period ledger: `serve` asks for the same long period every minute,
// and an increase() over 30 days reads every sample of every series of the
// period each time. The ledger keeps each query's hourly sums instead
// (fetched once with a range query at a 1h step) and measures a period as
//
//	tail (period start → first whole hour) + Σ whole hours + head (last
//	settled hour → at)
//
// so a steady cycle asks only for the head and the tail (under an hour
// each) and, once an hour, for the hour that just settled. Every
// ledgerReanchor (6h) it fetches all the hours again, so late samples and
// counter resets are re-read from Prometheus. The alert windows of 6 hours
// and more (6h, 1d, 3d by default) are measured the same way, from the same
// hours; shorter ones are asked raw, as the generated rules ask all.
const (
	ledgerStep     = time.Hour
	ledgerSettle   = 5 * time.Minute // an hour is fetched this long after it ends, when late samples are in
	ledgerReanchor = 6 * time.Hour
	ledgerMin      = 6 * time.Hour // shorter periods and windows are asked raw
)

type ledger struct {
	mu     sync.Mutex
	series map[string]*hourly // by query template
	newest time.Time          // the newest evaluation time asked for
	// filling serializes the fetches of one template: SLOs that share a
	// query are measured side by side, and one must extend what the other
	// fetched, not replace it with its own span.
	filling map[string]*sync.Mutex
}

// hourly is one query template's sums over hours: bucket k is (end-1h, end]
// with end = from + k·1h; NaN is an hour without data.
type hourly struct {
	from    time.Time // end of the first bucket
	sums    []float64
	fetched time.Time // when every bucket was last fetched
}

func (h *hourly) covers(first, last time.Time) bool {
	if h == nil || len(h.sums) == 0 || first.Before(h.from) {
		return false
	}
	return !last.After(h.from.Add(time.Duration(len(h.sums)-1) * ledgerStep))
}

// spanSums measures a template over [start, at) for each start, as the
// instant query over each span would: the hourly sums of the whole hours in
// it, a tail from its start to its first whole hour, and the head from the
// last settled hour to at (one head for all spans, and the hours fetched
// once). ok[i] is false when no part of span i has data.
func (s *Source) spanSums(ctx context.Context, tmpl string, starts []time.Time, at, now time.Time) (sums []float64, ok []bool, err error) {
	sums, ok = make([]float64, len(starts)), make([]bool, len(starts))
	// raw is the template's instant value over d, ending at end.
	raw := func(d time.Duration, end time.Time) (float64, bool, error) {
		q, err := slo.RenderQuery(tmpl, d)
		if err != nil {
			return 0, false, err
		}
		v, has, err := s.instantLimited(ctx, q, end)
		return v, has && !math.IsNaN(v), err
	}
	last := at.Add(-ledgerSettle).Truncate(ledgerStep) // end of the last settled hour
	firstStarts := make([]time.Time, len(starts))      // where each span's first whole hour starts
	var earliest time.Time                             // the earliest first whole hour's end
	for i, start := range starts {
		firstStarts[i] = start.Truncate(ledgerStep)
		if firstStarts[i].Before(start) {
			firstStarts[i] = firstStarts[i].Add(ledgerStep)
		}
		if first := firstStarts[i].Add(ledgerStep); !first.After(last) && (earliest.IsZero() || first.Before(earliest)) {
			earliest = first
		}
	}
	var hours []float64
	var head float64
	var hasHead bool
	if !earliest.IsZero() {
		if hours, err = s.hours(ctx, tmpl, earliest, last, now); err != nil {
			return nil, nil, err
		}
		if d := at.Sub(last); d >= time.Second {
			if head, hasHead, err = raw(d, at); err != nil {
				return nil, nil, err
			}
		}
	}
	for i, start := range starts {
		first := firstStarts[i].Add(ledgerStep)
		if last.Before(first) { // no whole settled hour: ask for the span raw
			if sums[i], ok[i], err = raw(at.Sub(start), at); err != nil {
				return nil, nil, err
			}
			continue
		}
		for _, v := range hours[int(first.Sub(earliest)/ledgerStep):] {
			if !math.IsNaN(v) {
				sums[i] += v
				ok[i] = true
			}
		}
		if d := firstStarts[i].Sub(start); d >= time.Second {
			tail, has, err := raw(d, firstStarts[i])
			if err != nil {
				return nil, nil, err
			}
			if has {
				sums[i] += tail
				ok[i] = true
			}
		}
		if hasHead {
			sums[i] += head
			ok[i] = true
		}
	}
	return sums, ok, nil
}

// hours returns the hourly sums for the buckets ending at first..last,
// fetching what the ledger lacks: the hours past its end, or all of them
// when they are not covered or are older than ledgerReanchor.
func (s *Source) hours(ctx context.Context, tmpl string, first, last, now time.Time) ([]float64, error) {
	s.ledger.mu.Lock()
	if s.ledger.filling == nil {
		s.ledger.filling = map[string]*sync.Mutex{}
	}
	fill := s.ledger.filling[tmpl]
	if fill == nil {
		fill = &sync.Mutex{}
		s.ledger.filling[tmpl] = fill
	}
	s.ledger.mu.Unlock()
	fill.Lock()
	defer fill.Unlock()
	s.ledger.mu.Lock()
	h := s.ledger.series[tmpl]
	s.ledger.mu.Unlock()
	switch {
	case h == nil || first.Before(h.from) || now.Sub(h.fetched) >= ledgerReanchor:
		sums, err := s.rangeHourly(ctx, tmpl, first, last)
		if err != nil {
			return nil, err
		}
		h = &hourly{from: first, sums: sums, fetched: now}
	case !h.covers(first, last):
		end := h.from.Add(time.Duration(len(h.sums)-1) * ledgerStep)
		more, err := s.rangeHourly(ctx, tmpl, end.Add(ledgerStep), last)
		if err != nil {
			return nil, err
		}
		h = &hourly{from: h.from, sums: append(append([]float64(nil), h.sums...), more...), fetched: h.fetched}
	}
	// Hours before the period stay until the next re-anchoring starts the
	// ledger at the period then asked for: SLOs of different periods may
	// share a query.
	s.ledger.mu.Lock()
	s.ledger.series[tmpl] = h
	s.ledger.mu.Unlock()
	skip := int(first.Sub(h.from) / ledgerStep)
	n := int(last.Sub(first)/ledgerStep) + 1
	return h.sums[skip : skip+n], nil
}

// rangeHourly asks for a template over 1h windows ending at each hour from
// first to last, summed over series; NaN marks an hour without data.
func (s *Source) rangeHourly(ctx context.Context, tmpl string, first, last time.Time) ([]float64, error) {
	q, err := slo.RenderQuery(tmpl, ledgerStep)
	if err != nil {
		return nil, err
	}
	return s.stepSums(ctx, q, first, ledgerStep, int(last.Sub(first)/ledgerStep)+1)
}

// instantLimited is instant under the concurrency bound.
func (s *Source) instantLimited(ctx context.Context, q string, at time.Time) (float64, bool, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("query %q: %w", q, err)
	}
	defer release()
	return s.instant(ctx, q, at)
}
