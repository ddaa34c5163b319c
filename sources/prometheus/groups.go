package prometheus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Groups finds the groups of a grouped SLO (sli.prometheus.by): the label
// values its total query has series for over the SLO's period up to at,
// busiest first and at most limit of them. dropped counts the groups past
// the limit. It is one query per SLO, bounded like every other.
func (s *Source) Groups(ctx context.Context, o *slo.Objective, at time.Time, limit int) (groups []map[string]string, dropped int, err error) {
	ps := o.SLI.Prometheus
	if ps == nil || len(ps.By) == 0 {
		return nil, 0, fmt.Errorf("%s is not grouped", o.ID())
	}
	tmpl, err := slo.GroupQuery(ps.Total, ps.By)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: total: %w", o.ID(), err)
	}
	start, _ := o.Window.Bounds(at)
	span := at.Sub(start).Truncate(time.Minute)
	if span < time.Minute {
		span = time.Minute
	}
	q, err := slo.RenderQuery(tmpl, span)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: total: %w", o.ID(), err)
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	v, err := s.query(ctx, q, at, span)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: groups: %w", o.ID(), err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, 0, fmt.Errorf("%s: groups: query %q: got a %s, want a vector", o.ID(), q, v.Type())
	}
	type found struct {
		group map[string]string
		key   string
		total float64
	}
	all := make([]found, 0, len(vec))
	for _, smp := range vec {
		g := make(map[string]string, len(ps.By))
		for _, l := range ps.By {
			val, ok := smp.Metric[model.LabelName(l)]
			if !ok || val == "" {
				g = nil // the series lacks a group label: not a group
				break
			}
			g[l] = string(val)
		}
		if g == nil {
			continue
		}
		total := float64(smp.Value)
		if math.IsNaN(total) {
			total = 0
		}
		all = append(all, found{group: g, key: slo.GroupSuffix(g), total: total})
	}
	if len(all) == 0 && len(vec) > 0 {
		return nil, 0, errors.New(o.ID() + ": groups: no series of the total query has every label of sli.prometheus.by")
	}
	slices.SortFunc(all, func(a, b found) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	if limit > 0 && len(all) > limit {
		dropped = len(all) - limit
		all = all[:limit]
	}
	groups = make([]map[string]string, len(all))
	for i, f := range all {
		groups[i] = f.group
	}
	return groups, dropped, nil
}
