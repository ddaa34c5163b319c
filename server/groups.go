package server

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// groupRefresh is how often the groups of a grouped SLO are looked up
// again: a new route gets its row within this long.
const groupRefresh = 5 * time.Minute

// groupFinder keeps the groups of each grouped SLO (sli.prometheus.by), as
// found in Prometheus, and their SLO instances (slo.Objective.GroupInstance).
type groupFinder struct {
	mu    sync.Mutex
	found map[string]*foundGroups // by the grouped SLO's ID
}

type foundGroups struct {
	base       *slo.Objective // the spec the instances were made from
	groups     []map[string]string
	instances  []*slo.Objective
	at         time.Time // of the last lookup that answered
	refreshing bool
	dropped    int
	err        error
}

// groupInstances returns an SLO per group of every grouped SLO. Groups are
// looked up beside the evaluation, every groupRefresh, each lookup bounded
// by the Prometheus timeout: the evaluation waits for them at most wait,
// then goes on with the groups it knows (none at first), so a slow
// Prometheus never holds the other SLOs back.
func (s *Server) groupInstances(ctx context.Context, grouped []*slo.Objective, now time.Time, wait time.Duration) []*slo.Objective {
	if len(grouped) == 0 {
		return nil
	}
	if s.prom == nil {
		// Its groups are found in Prometheus: without one, the grouped SLO
		// is a single no_data row that says why, like any Prometheus SLO.
		return grouped
	}
	g := &s.groups
	limit := s.cfg.MaxGroups
	if limit <= 0 {
		limit = slo.DefaultMaxGroups
	}
	var wg sync.WaitGroup
	g.mu.Lock()
	if g.found == nil {
		g.found = map[string]*foundGroups{}
	}
	keep := make(map[string]*foundGroups, len(grouped))
	for _, o := range grouped {
		f := g.found[o.ID()]
		if f == nil {
			f = &foundGroups{}
		}
		keep[o.ID()] = f
		if f.refreshing || (!f.at.IsZero() && now.Sub(f.at) < groupRefresh && f.base == o) {
			continue
		}
		f.refreshing = true
		wg.Go(func() {
			groups, dropped, err := s.prom.Groups(ctx, o, now, limit)
			g.mu.Lock()
			defer g.mu.Unlock()
			f.refreshing = false
			f.err = err
			if err != nil {
				s.log.Warn("grouped SLO: looking up its groups failed; its known groups are evaluated", "slo", o.ID(), "groups", len(f.groups), "err", err)
				return
			}
			if dropped > 0 && f.dropped != dropped {
				s.log.Warn("grouped SLO: more groups than --max-groups; the busiest are evaluated", "slo", o.ID(),
					"by", strings.Join(o.SLI.Prometheus.By, ","), "evaluated", len(groups), "left_out", dropped)
			}
			f.groups, f.dropped, f.at, f.base, f.instances = groups, dropped, now, nil, nil
		})
	}
	g.found = keep
	g.mu.Unlock()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(wait)
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()

	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*slo.Objective
	for _, o := range grouped {
		f := g.found[o.ID()]
		if f == nil {
			continue
		}
		if f.base != o || f.instances == nil {
			f.base, f.instances = o, make([]*slo.Objective, 0, len(f.groups))
			for _, grp := range f.groups {
				inst, err := o.GroupInstance(grp)
				if err != nil {
					s.log.Warn("grouped SLO: a group cannot be evaluated", "slo", o.ID(), "group", slo.GroupSuffix(grp), "err", err)
					continue
				}
				f.instances = append(f.instances, inst)
			}
		}
		out = append(out, f.instances...)
	}
	return out
}
