package slo

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxGroups is how many groups of one grouped SLO serve and report
// evaluate when not told otherwise: the busiest ones.
const DefaultMaxGroups = 100

// GroupSuffix is how a group is written after its SLO's name, as a
// Prometheus selector with the labels sorted: {method="GET",route="/a"}.
func GroupSuffix(group map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(group)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(group[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// GroupInstance is one group of a grouped SLO (sli.prometheus.by) as an
// SLO of its own: its queries select only the group's series, its name is
// the SLO's with the group after it (latency{route="/checkout"}), and the
// group's labels join its labels. It has its own budget, status, history
// and alerts, under the same service, objective, window and routes.
// group must hold a value for every label the SLO is grouped by.
func (o *Objective) GroupInstance(group map[string]string) (*Objective, error) {
	ps := o.SLI.Prometheus
	if ps == nil || len(ps.By) == 0 {
		return nil, fmt.Errorf("%s is not grouped", o.ID())
	}
	g := make(map[string]string, len(ps.By))
	for _, l := range ps.By {
		v, ok := group[l]
		if !ok {
			return nil, fmt.Errorf("%s: the group has no %s", o.ID(), l)
		}
		g[l] = v
	}
	narrowed := &PrometheusSLI{}
	for _, q := range []struct {
		from string
		to   *string
	}{{ps.Good, &narrowed.Good}, {ps.Bad, &narrowed.Bad}, {ps.Total, &narrowed.Total}} {
		if q.from == "" {
			continue
		}
		var err error
		if *q.to, err = SelectGroup(q.from, g); err != nil {
			return nil, fmt.Errorf("%s: %w", o.ID(), err)
		}
	}
	cp := *o
	cp.Name = o.Name + GroupSuffix(g)
	cp.SLI.Prometheus = narrowed
	cp.Group = g
	cp.Labels = maps.Clone(o.Labels)
	if cp.Labels == nil {
		cp.Labels = map[string]string{}
	}
	maps.Copy(cp.Labels, g)
	return &cp, nil
}
