package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
)

// Sources are where an evaluation reads: either may be nil.
type Sources struct {
	ALB        alb.Store
	Prometheus *promsource.Source
	// PrometheusDeadline bounds the Prometheus queries of one evaluation
	// (0: none): a hung Prometheus makes its SLOs no_data with the reason
	// instead of holding up every other SLO.
	PrometheusDeadline time.Duration
	// Memo, when set, keeps ALB results between evaluations at the
	// watermark (a zero at): see EvalMemo.
	Memo *EvalMemo
	// Backfilling, when set, says whether an ALB SLO's history is still
	// being counted (a new SLO), and how far along: it is then backfilling,
	// with no numbers.
	Backfilling func(id string) (progress string, ok bool)
	// Owns, when set, says whether this process counts a load balancer
	// (a shard): the SLOs of the others are no_data here.
	Owns func(lb string) bool
	// AsCounters, when set, turns an ALB-backed objective into one that
	// Prometheus evaluates over the remote-written ALB counters
	// (slo.ALBAsCounters): a kakeibo without the logs (a central status
	// page) evaluates ALB SLOs from Prometheus.
	AsCounters func(*slo.Objective) *slo.Objective
}

// EvalMemo keeps each ALB SLO's last result with what it was computed from:
// the minute it ends at and its counts' version (alb.Versioned). An SLO
// whose load balancer's watermark did not move and whose counts did not
// change since is not recomputed, so a cycle costs O(SLOs that changed).
// One evaluation loop uses it at a time.
type EvalMemo struct {
	last, next map[*slo.Objective]memoEntry
	// reused are the objectives whose result the last evaluation kept.
	reused, reusing map[*slo.Objective]bool
}

// Reused says whether the last evaluation kept o's result from the one
// before (the same numbers at the same minute).
func (m *EvalMemo) Reused(o *slo.Objective) bool { return m != nil && m.reused[o] }

type memoEntry struct {
	at      time.Time
	version uint64
	result  slo.Result
}

// lookup returns the kept result of o if it was computed at `at` from
// counts at version v, and keeps it for the next cycle.
func (m *EvalMemo) lookup(o *slo.Objective, at time.Time, v uint64) (slo.Result, bool) {
	e, ok := m.last[o]
	if !ok || !e.at.Equal(at) || e.version != v {
		return slo.Result{}, false
	}
	m.next[o] = e
	m.reusing[o] = true
	return e.result, true
}

func (m *EvalMemo) keep(o *slo.Objective, at time.Time, v uint64, r slo.Result) {
	m.next[o] = memoEntry{at: at, version: v, result: r}
}

// cycle starts (next empty) and ends (next becomes last: SLOs no longer
// evaluated, as after a reload, are forgotten) an evaluation.
func (m *EvalMemo) begin() {
	m.next = make(map[*slo.Objective]memoEntry, len(m.last))
	m.reusing = make(map[*slo.Objective]bool, len(m.last))
}

func (m *EvalMemo) end() { m.last, m.next, m.reused, m.reusing = m.next, nil, m.reusing, nil }

// Evaluate computes every objective's result, for the service and for the
// one-shot commands alike. With a zero at, an ALB-backed objective ends at
// its load balancer's ingestion watermark and a Prometheus-backed one at
// now (to the minute); otherwise both end at at.
func Evaluate(ctx context.Context, src Sources, objs []*slo.Objective, at, now time.Time) []slo.Result {
	fallback := at
	if fallback.IsZero() {
		fallback = now.UTC().Truncate(time.Minute)
	}
	// Prometheus is asked beside the ALB SLOs' evaluation, which never
	// waits for it.
	var promInputs map[*slo.Objective]slo.Input
	promDone := make(chan struct{})
	var deadlineHit func() bool
	asked := objs // what Prometheus evaluates, by position
	if src.AsCounters != nil {
		asked = make([]*slo.Objective, len(objs))
		for i, o := range objs {
			asked[i] = src.AsCounters(o)
		}
	}
	if src.Prometheus != nil {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if src.PrometheusDeadline > 0 {
			pctx, cancel = context.WithTimeout(ctx, src.PrometheusDeadline)
		}
		deadlineHit = func() bool { return errors.Is(pctx.Err(), context.DeadlineExceeded) }
		go func() {
			defer close(promDone)
			defer cancel()
			promInputs = src.Prometheus.Inputs(pctx, asked, fallback)
		}()
	} else {
		close(promDone)
	}
	out := make([]slo.Result, len(objs))
	ends := map[string]logEnds{} // per load balancer, read once per evaluation
	if src.Memo != nil && at.IsZero() {
		src.Memo.begin()
		defer src.Memo.end()
	} else {
		src.Memo = nil
	}
	for i, o := range objs {
		if asked[i].SLI.Prometheus == nil {
			out[i] = evaluateALB(src, o, at, fallback, ends)
		}
	}
	<-promDone
	for i, o := range objs {
		if asked[i].SLI.Prometheus == nil {
			continue
		}
		switch in := promInputs[asked[i]]; {
		case src.Prometheus == nil:
			out[i] = slo.Evaluate(o, fallback, slo.Input{Err: errors.New("no Prometheus URL given (--prometheus-url)")})
		case in.Err != nil && deadlineHit():
			in.Err = fmt.Errorf("Prometheus did not answer within the evaluation deadline (%s): %w", src.PrometheusDeadline, in.Err)
			out[i] = slo.Evaluate(o, fallback, in)
		default:
			out[i] = slo.Evaluate(o, fallback, in)
		}
	}
	return out
}

// logEnds is where a load balancer's logs end: the newest minute every node
// is complete up to (the watermark), and the newest any node delivered.
type logEnds struct {
	complete, newest time.Time
	ok               bool // false before any of its logs were read
}

func readLogEnds(store alb.Store, lb string) logEnds {
	w, ok, err := store.Watermark(lb)
	if err != nil || !ok {
		return logEnds{}
	}
	e := logEnds{complete: alb.MinuteTime(w), ok: true}
	if newest, ok, err := store.Newest(lb); err == nil && ok {
		e.newest = alb.MinuteTime(newest)
	}
	return e
}

// evaluateALB evaluates an objective that is not Prometheus-backed: at
// `at`, or when that is zero at its load balancer's watermark, where its
// data ends at the newest log delivered. ends caches each load balancer's
// ends for one evaluation.
func evaluateALB(src Sources, o *slo.Objective, at, fallback time.Time, ends map[string]logEnds) slo.Result {
	if src.ALB == nil {
		return slo.Evaluate(o, fallback, slo.Input{Err: errors.New("no ALB logs given (--alb-logs)")})
	}
	if src.Owns != nil && !src.Owns(o.SLI.ALB.LoadBalancer) {
		return slo.Evaluate(o, fallback, slo.Input{Err: fmt.Errorf("%s is counted by another shard", o.SLI.ALB.LoadBalancer)})
	}
	if src.Backfilling != nil {
		if progress, ok := src.Backfilling(o.ID()); ok {
			r := slo.Evaluate(o, fallback, slo.Input{Err: errors.New(progress)})
			r.Status = slo.StatusBackfilling
			return r
		}
	}
	if !at.IsZero() {
		return slo.Evaluate(o, at, alb.Input(src.ALB, o, at))
	}
	lb := o.SLI.ALB.LoadBalancer
	e, seen := ends[lb]
	if !seen {
		e = readLogEnds(src.ALB, lb)
		ends[lb] = e
	}
	if !e.ok {
		return slo.Evaluate(o, fallback, slo.Input{Err: fmt.Errorf("no access logs of %s were read", lb)})
	}
	// The numbers end at the watermark, and so does the data's age: a
	// result never looks fresher than the minutes it counts.
	versioned, ok := src.ALB.(alb.Versioned)
	if src.Memo == nil || !ok {
		return slo.Evaluate(o, e.complete, alb.Input(src.ALB, o, e.complete))
	}
	v := versioned.Version(o.ID()) // before the counts: a commit after it shows next cycle
	if r, ok := src.Memo.lookup(o, e.complete, v); ok {
		return r
	}
	r := slo.Evaluate(o, e.complete, alb.Input(src.ALB, o, e.complete))
	src.Memo.keep(o, e.complete, v, r)
	return r
}
