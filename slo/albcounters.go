package slo

import (
	"fmt"
	"time"
)

// ALBCountersMetric is the counter `kakeibo serve --remote-write-url`
// writes for every ALB SLO: kakeibo_alb_events_total{service, slo,
// class="good"|"total", shard}, one sample per complete minute in log
// time (see sources/alb/remotewrite).
const ALBCountersMetric = "kakeibo_alb_events_total"

// DefaultALBOffset is how far rules over the ALB counters look back from
// their evaluation time: ALB delivers a node's logs every 5 minutes, and
// kakeibo writes a minute once every node's logs cover it, so the last
// minutes are not there yet.
const DefaultALBOffset = 10 * time.Minute

// ALBAsCounters returns a copy of an ALB-backed objective whose SLI reads
// the ALB counters in Prometheus instead of the logs, summed over shards,
// offset by offset (the delivery delay): so the rules of Prometheus, of
// Mimir's, Thanos' or Cortex' rulers and of vmalert evaluate ALB SLOs, and
// a kakeibo without the logs can too. Other objectives come back as they
// are.
func ALBAsCounters(o *Objective, offset time.Duration) *Objective {
	if o.SLI.ALB == nil {
		return o
	}
	off := ""
	if offset > 0 {
		off = " offset " + FormatDuration(offset)
	}
	sel := func(class string) string {
		return fmt.Sprintf(`sum(increase(%s{service=%q,slo=%q,class=%q}[{{.window}}]%s))`, ALBCountersMetric, o.Service, o.Name, class, off)
	}
	cp := *o
	cp.SLI = SLI{Prometheus: &PrometheusSLI{Good: sel("good"), Total: sel("total")}}
	return &cp
}
