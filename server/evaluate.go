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
	var promInputs map[*slo.Objective]slo.Input
	if src.Prometheus != nil {
		promInputs = src.Prometheus.Inputs(ctx, objs, fallback)
	}
	out := make([]slo.Result, 0, len(objs))
	for _, o := range objs {
		var r slo.Result
		switch {
		case o.SLI.Prometheus != nil && src.Prometheus == nil:
			r = slo.Evaluate(o, fallback, slo.Input{Err: errors.New("no Prometheus URL given (--prometheus-url)")})
		case o.SLI.Prometheus != nil:
			r = slo.Evaluate(o, fallback, promInputs[o])
		case src.ALB == nil:
			r = slo.Evaluate(o, fallback, slo.Input{Err: errors.New("no ALB logs given (--alb-logs)")})
		default:
			when := at
			if when.IsZero() {
				w, ok, err := src.ALB.Watermark(o.SLI.ALB.LoadBalancer)
				if err != nil || !ok {
					r = slo.Evaluate(o, fallback, slo.Input{Err: fmt.Errorf("no access logs of %s were read", o.SLI.ALB.LoadBalancer)})
					break
				}
				when = alb.MinuteTime(w)
			}
			r = slo.Evaluate(o, when, alb.Input(src.ALB, o, when))
		}
		out = append(out, r)
	}
	return out
}
