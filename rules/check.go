package rules

// This file holds the rules package's use of github.com/prometheus/prometheus,
// which has no API stability promise.

import (
	"fmt"
	"log/slog"

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
