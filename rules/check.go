package rules

// This file holds the rules package's use of github.com/prometheus/prometheus,
// which has no API stability promise.

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

var promqlParser = parser.NewParser(parser.Options{})

// check parses every expression again and validates the whole file the way
// Prometheus loads it.
func check(f *File) error {
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if _, err := promqlParser.ParseExpr(r.Expr); err != nil {
				return fmt.Errorf("generated rule %s%s in group %s does not parse: %w", r.Record, r.Alert, g.Name, err)
			}
		}
	}
	out, err := Marshal(f)
	if err != nil {
		return err
	}
	if _, errs := rulefmt.Parse(out, false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler)); len(errs) > 0 {
		return fmt.Errorf("generated rules are invalid: %w", errs[0])
	}
	return nil
}

// sumOnce wraps q in sum() unless it already is a sum without grouping,
// so that every event count is one series without labels.
func sumOnce(q string) string {
	expr, err := promqlParser.ParseExpr(q)
	if err == nil {
		if agg, ok := expr.(*parser.AggregateExpr); ok && agg.Op == parser.SUM && len(agg.Grouping) == 0 && !agg.Without {
			return q
		}
	}
	return "sum(" + q + ")"
}

// splitByLabels finds when one pass over the raw series can give both
// counts of a period: the total query is sum(F(M{T}[d])) and the events
// query sum(F(M{T,E}[d])), with F increase or rate and the same metric,
// range and modifiers: the events are the total's series that E selects.
// Then sum by (E's labels) (F(M{T}[d])) reads every series once, and both
// counts are sums of its result, the events those that E selects (Pyrra
// reads its period this way). reserved are label names the recorded result
// carries already; E may not use them. ok is false for any other shape.
func splitByLabels(total, events string, reserved []string) (split string, by, extra []string, ok bool) {
	shape := func(q string) (*parser.Call, *parser.VectorSelector, bool) {
		expr, err := promqlParser.ParseExpr(q)
		if err != nil {
			return nil, nil, false
		}
		agg, isAgg := expr.(*parser.AggregateExpr)
		if !isAgg || agg.Op != parser.SUM || len(agg.Grouping) > 0 || agg.Without || agg.Param != nil {
			return nil, nil, false
		}
		inner := agg.Expr
		for {
			p, isParen := inner.(*parser.ParenExpr)
			if !isParen {
				break
			}
			inner = p.Expr
		}
		call, isCall := inner.(*parser.Call)
		if !isCall || (call.Func.Name != "increase" && call.Func.Name != "rate") || len(call.Args) != 1 {
			return nil, nil, false
		}
		m, isMatrix := call.Args[0].(*parser.MatrixSelector)
		if !isMatrix {
			return nil, nil, false
		}
		vs, isVector := m.VectorSelector.(*parser.VectorSelector)
		if !isVector || vs.Name == "" {
			return nil, nil, false
		}
		return call, vs, true
	}
	tc, tv, ok1 := shape(total)
	ec, ev, ok2 := shape(events)
	if !ok1 || !ok2 || tc.Func.Name != ec.Func.Name || tv.Name != ev.Name ||
		tc.Args[0].(*parser.MatrixSelector).Range != ec.Args[0].(*parser.MatrixSelector).Range ||
		tv.OriginalOffset != ev.OriginalOffset || tv.StartOrEnd != ev.StartOrEnd ||
		(tv.Timestamp == nil) != (ev.Timestamp == nil) || (tv.Timestamp != nil && *tv.Timestamp != *ev.Timestamp) {
		return "", nil, nil, false
	}
	inTotal := map[string]bool{}
	for _, m := range tv.LabelMatchers {
		inTotal[m.String()] = true
	}
	names := map[string]bool{}
	for _, m := range ev.LabelMatchers {
		if inTotal[m.String()] {
			delete(inTotal, m.String())
			continue
		}
		if m.Name == "__name__" || slices.Contains(reserved, m.Name) {
			return "", nil, nil, false
		}
		extra = append(extra, m.String())
		names[m.Name] = true
	}
	if len(inTotal) > 0 || len(extra) == 0 {
		return "", nil, nil, false // the events are not a subset selected by matchers
	}
	by = slices.Sorted(maps.Keys(names))
	split = (&parser.AggregateExpr{Op: parser.SUM, Expr: tc, Grouping: by}).String()
	return split, by, extra, true
}
