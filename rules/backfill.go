package rules

import (
	"fmt"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Recorded is one series the default rules record and their period sums
// (the 5-minute good and total counts), with the query over the raw series
// that gives its value at any time: what `kakeibo rules backfill` writes
// for the past, so that the period is right from the first evaluation
// instead of after a whole period of recordings.
type Recorded struct {
	Name         string // slo_good_events or slo_total_events
	Service, SLO string
	Window       string // 5m
	Query        string
}

// BackfillQueries returns the recorded 5-minute counts of every objective
// Generate writes rules for, with the notes of the ones it skips (grouped
// and timeslice SLOs, ALB ones without ALBCounters).
func BackfillQueries(objs []*slo.Objective, opts Options) ([]Recorded, []string, error) {
	offset := opts.ALBOffset
	if offset == 0 {
		offset = slo.DefaultALBOffset
	}
	var out []Recorded
	var notes []string
	for _, o := range objs {
		if opts.ALBCounters {
			o = slo.ALBAsCounters(o, max(offset, 0))
		}
		ps := o.SLI.Prometheus
		switch {
		case ps == nil:
			notes = append(notes, o.ID()+": skipped: ALB-backed (with --alb-counters, its counters' rules are backfilled too)")
			continue
		case o.Budgeting.Method == slo.Timeslices:
			notes = append(notes, o.ID()+": skipped: timeslice budgeting has no rules")
			continue
		case len(ps.By) > 0:
			notes = append(notes, o.ID()+": skipped: grouped SLOs are not backfilled yet")
			continue
		}
		total, err := slo.RenderQuery(ps.Total, baseWindow)
		if err != nil {
			return nil, nil, fmt.Errorf("slo %s: %w", o.ID(), err)
		}
		events := ps.Good
		if events == "" {
			events = ps.Bad
		}
		ev, err := slo.RenderQuery(events, baseWindow)
		if err != nil {
			return nil, nil, fmt.Errorf("slo %s: %w", o.ID(), err)
		}
		total, ev = sumOnce(total), sumOnce(ev)+" or vector(0)"
		good := ev
		if ps.Good == "" {
			good = fmt.Sprintf("(%s) - on () (%s)", total, ev)
		}
		w := slo.FormatDuration(baseWindow)
		out = append(out,
			Recorded{Name: "slo_total_events", Service: o.Service, SLO: o.Name, Window: w, Query: total},
			Recorded{Name: "slo_good_events", Service: o.Service, SLO: o.Name, Window: w, Query: good})
	}
	return out, notes, nil
}
