package prometheus

import (
	"context"
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

// periodSum measures a template over [start, at) as the instant query over
// that range would, from the hourly sums plus a head and a tail. ok is
// false when no part has data.
func (s *Source) periodSum(ctx context.Context, tmpl string, start, at time.Time, now time.Time) (float64, bool, error) {
	firstStart := start.Truncate(ledgerStep) // the first whole hour starts here
	if firstStart.Before(start) {
		firstStart = firstStart.Add(ledgerStep)
	}
	first := firstStart.Add(ledgerStep)                // and ends here
	last := at.Add(-ledgerSettle).Truncate(ledgerStep) // end of the last settled hour
	if last.Before(first) {
		q, err := slo.RenderQuery(tmpl, at.Sub(start))
		if err != nil {
			return 0, false, err
		}
		return s.instantLimited(ctx, q, at)
	}
	hours, err := s.hours(ctx, tmpl, first, last, now)
	if err != nil {
		return 0, false, err
	}
	var sum float64
	ok := false
	add := func(v float64, has bool) {
		if has && !math.IsNaN(v) {
			sum += v
			ok = true
		}
	}
	for _, v := range hours {
		add(v, true)
	}

	// The tail: from the period start to the first whole hour's start.
	if d := firstStart.Sub(start); d >= time.Second {
		q, err := slo.RenderQuery(tmpl, d)
		if err != nil {
			return 0, false, err
		}
		v, has, err := s.instantLimited(ctx, q, firstStart)
		if err != nil {
			return 0, false, err
		}
		add(v, has)
	}
	// The head: from the last settled hour to at.
	if d := at.Sub(last); d >= time.Second {
		q, err := slo.RenderQuery(tmpl, d)
		if err != nil {
			return 0, false, err
		}
		v, has, err := s.instantLimited(ctx, q, at)
		if err != nil {
			return 0, false, err
		}
		add(v, has)
	}
	return sum, ok, nil
}

// hours returns the hourly sums for the buckets ending at first..last,
// fetching what the ledger lacks: the hours past its end, or all of them
// when they are not covered or are older than ledgerReanchor.
func (s *Source) hours(ctx context.Context, tmpl string, first, last, now time.Time) ([]float64, error) {
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
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	return s.instant(ctx, q, at)
}
