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
}

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
	if src.Prometheus != nil {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if src.PrometheusDeadline > 0 {
			pctx, cancel = context.WithTimeout(ctx, src.PrometheusDeadline)
		}
		deadlineHit = func() bool { return errors.Is(pctx.Err(), context.DeadlineExceeded) }
		go func() {
			defer close(promDone)
			defer cancel()
			promInputs = src.Prometheus.Inputs(pctx, objs, fallback)
		}()
	} else {
		close(promDone)
	}
	out := make([]slo.Result, len(objs))
	ends := map[string]logEnds{} // per load balancer, read once per evaluation
	for i, o := range objs {
		if o.SLI.Prometheus == nil {
			out[i] = evaluateALB(src, o, at, fallback, ends)
		}
	}
	<-promDone
	for i, o := range objs {
		if o.SLI.Prometheus == nil {
			continue
		}
		switch in := promInputs[o]; {
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
	return slo.Evaluate(o, e.complete, alb.Input(src.ALB, o, e.complete))
}
