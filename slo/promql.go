package slo

// This file holds every use of github.com/prometheus/prometheus, which has no
// API stability promise: when it changes, only this file changes.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

var promqlParser = parser.NewParser(parser.Options{})

func checkPromQL(q string) error {
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return cleanParseError(err)
	}
	switch expr.Type() {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
		return nil
	}
	return fmt.Errorf("the query yields a %s; it must yield an instant vector (the count of events over the window)", expr.Type())
}

// cleanParseError drops the parser's own position prefix, which counts from
// the start of the rendered query rather than the file.
func cleanParseError(err error) error {
	var perrs parser.ParseErrors
	if errors.As(err, &perrs) && len(perrs) > 0 {
		return errors.New(perrs[0].Err.Error())
	}
	return err
}

// windowSentinel stands for {{.window}} in a rewritten AST; it prints as a
// duration nobody writes, then is replaced by the template action.
const windowSentinel = model.Duration(9876543210 * time.Millisecond)

// counterQueryTemplate turns an OpenSLO query that selects counters (or sums
// of them) into a kakeibo query template: every series selector becomes
// fn(selector[{{.window}}]), so sum(x{a="b"}) becomes
// sum(increase(x{a="b"}[{{.window}}])). fn is increase for counters and
// sum_over_time for gauges of per-interval counts.
func counterQueryTemplate(q, fn string) (string, error) {
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return "", cleanParseError(err)
	}
	var bad error
	selectors := 0
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n.(type) {
		case *parser.MatrixSelector, *parser.SubqueryExpr:
			bad = fmt.Errorf("the query already has a range (%s); OpenSLO queries select series without one, kakeibo adds the window", n)
		case *parser.VectorSelector:
			selectors++
		}
		return nil
	})
	if bad != nil {
		return "", bad
	}
	if selectors == 0 {
		return "", fmt.Errorf("the query %q selects no series: it must select the counters of the events", q)
	}
	rewritten := rewriteSelectors(expr, fn)
	if agg, ok := rewritten.(*parser.AggregateExpr); !ok || agg.Op != parser.SUM || len(agg.Grouping) > 0 || agg.Without {
		// One SLI is one number: sum whatever the query keeps apart.
		rewritten = &parser.AggregateExpr{Op: parser.SUM, Expr: rewritten}
	}
	if rewritten.Type() != parser.ValueTypeVector && rewritten.Type() != parser.ValueTypeScalar {
		return "", fmt.Errorf("the query yields a %s, not an instant vector", rewritten.Type())
	}
	return strings.ReplaceAll(rewritten.String(), windowSentinel.String(), "{{.window}}"), nil
}

func rewriteSelectors(e parser.Expr, fn string) parser.Expr {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return &parser.Call{
			Func: parser.Functions[fn],
			Args: parser.Expressions{&parser.MatrixSelector{VectorSelector: n, Range: time.Duration(windowSentinel)}},
		}
	case *parser.AggregateExpr:
		n.Expr = rewriteSelectors(n.Expr, fn)
	case *parser.BinaryExpr:
		n.LHS = rewriteSelectors(n.LHS, fn)
		n.RHS = rewriteSelectors(n.RHS, fn)
	case *parser.ParenExpr:
		n.Expr = rewriteSelectors(n.Expr, fn)
	case *parser.Call:
		for i, a := range n.Args {
			n.Args[i] = rewriteSelectors(a, fn)
		}
	case *parser.UnaryExpr:
		n.Expr = rewriteSelectors(n.Expr, fn)
	}
	return e
}

// RateToCount turns a Sloth-style query template, which takes rates
// (sum(rate(x[{{.window}}]))), into one that counts events
// (sum(increase(x[{{.window}}]))): the same ratio over a window, but counts
// that min_events and budget totals can use. ok is false when the template
// has a rate over anything but a plain selector ranged by {{.window}} (irate,
// subqueries, other ranges): it is then returned unchanged.
func RateToCount(tmpl string) (string, bool) {
	q := strings.ReplaceAll(tmpl, "{{.window}}", windowSentinel.String())
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return tmpl, false
	}
	ok, rates := true, 0
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.Call:
			switch n.Func.Name {
			case "rate":
				ms, isMS := n.Args[0].(*parser.MatrixSelector)
				if !isMS || ms.Range != time.Duration(windowSentinel) {
					ok = false
					return nil
				}
				n.Func = parser.Functions["increase"]
				rates++
			case "irate", "deriv", "delta", "idelta":
				ok = false
			}
		case *parser.SubqueryExpr:
			ok = false
		}
		return nil
	})
	if !ok || rates == 0 {
		return tmpl, false
	}
	return strings.ReplaceAll(expr.String(), windowSentinel.String(), "{{.window}}"), true
}

// OpenSLOQuery is the reverse of counterQueryTemplate: a kakeibo template
// whose every range is fn(selector[{{.window}}]) with one fn (increase for
// counters, sum_over_time for gauges of per-interval counts) becomes the
// OpenSLO query without ranges, and counter says which fn it was. ok is
// false for any other shape.
func OpenSLOQuery(tmpl string) (query string, counter bool, ok bool) {
	q := strings.ReplaceAll(tmpl, "{{.window}}", windowSentinel.String())
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return "", false, false
	}
	fns := map[string]bool{}
	ok = true
	var unwrap func(e parser.Expr) parser.Expr
	unwrap = func(e parser.Expr) parser.Expr {
		switch n := e.(type) {
		case *parser.Call:
			if ms, isMS := n.Args[0].(*parser.MatrixSelector); len(n.Args) == 1 && isMS {
				if ms.Range != time.Duration(windowSentinel) || (n.Func.Name != "increase" && n.Func.Name != "sum_over_time") {
					ok = false
					return e
				}
				fns[n.Func.Name] = true
				return ms.VectorSelector
			}
			for i, a := range n.Args {
				n.Args[i] = unwrap(a)
			}
		case *parser.AggregateExpr:
			n.Expr = unwrap(n.Expr)
		case *parser.BinaryExpr:
			n.LHS, n.RHS = unwrap(n.LHS), unwrap(n.RHS)
		case *parser.ParenExpr:
			n.Expr = unwrap(n.Expr)
		case *parser.UnaryExpr:
			n.Expr = unwrap(n.Expr)
		case *parser.MatrixSelector, *parser.SubqueryExpr:
			ok = false
		}
		return e
	}
	expr = unwrap(expr)
	if !ok || len(fns) != 1 {
		return "", false, false
	}
	return expr.String(), fns["increase"], true
}

// NewestSampleQuery is a query for the time of the newest sample of the
// series a query template selects: max(timestamp(s1) or timestamp(s2) ...),
// at most lookback old (a subquery at a 1m step when lookback is longer
// than Prometheus' own 5-minute lookback). ok is false when the template
// selects no series.
func NewestSampleQuery(tmpl string, lookback time.Duration) (string, bool) {
	q := strings.ReplaceAll(tmpl, "{{.window}}", windowSentinel.String())
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return "", false
	}
	var parts []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			sel := (&parser.VectorSelector{Name: vs.Name, LabelMatchers: vs.LabelMatchers}).String()
			if lookback > 5*time.Minute {
				parts = append(parts, fmt.Sprintf("max_over_time(timestamp(%s)[%s:1m])", sel, model.Duration(lookback)))
			} else {
				parts = append(parts, fmt.Sprintf("timestamp(%s)", sel))
			}
		}
		return nil
	})
	if len(parts) == 0 {
		return "", false
	}
	return "max(" + strings.Join(parts, " or ") + ")", true
}

// GroupQuery makes a query template count events per group: its outer sum
// becomes sum by (by...), so sum(increase(x[{{.window}}])) grouped by route
// is sum by (route) (increase(x[{{.window}}])); a query without an outer sum
// is wrapped in one. A query that sums the labels away before that (an
// outer sum by other labels, a sum inside) is refused: its groups would be
// empty.
func GroupQuery(tmpl string, by []string) (string, error) {
	q := strings.ReplaceAll(tmpl, "{{.window}}", windowSentinel.String())
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return "", cleanParseError(err)
	}
	inner := expr
	if agg, ok := expr.(*parser.AggregateExpr); ok && agg.Op == parser.SUM {
		if agg.Without || (len(agg.Grouping) > 0 && !sameLabels(agg.Grouping, by)) {
			return "", fmt.Errorf("its outer sum keeps its own labels apart (%s); write sum(...) and kakeibo sums it by %s", agg.Grouping, strings.Join(by, ", "))
		}
		inner = agg.Expr
	}
	var bad error
	parser.Inspect(inner, func(n parser.Node, _ []parser.Node) error {
		agg, ok := n.(*parser.AggregateExpr)
		if !ok || bad != nil {
			return nil
		}
		for _, l := range by {
			if agg.Without == slices.Contains(agg.Grouping, l) {
				bad = fmt.Errorf("%s aggregates %s away before kakeibo can sum by it", agg.Op, l)
				return nil
			}
		}
		return nil
	})
	if bad != nil {
		return "", bad
	}
	out := &parser.AggregateExpr{Op: parser.SUM, Grouping: by, Expr: inner}
	return strings.ReplaceAll(out.String(), windowSentinel.String(), "{{.window}}"), nil
}

func sameLabels(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(l string) bool { return !slices.Contains(b, l) })
}

// SelectGroup narrows a query template to one group's series: every series
// selector gets an equality matcher per group label, so
// sum(increase(x{code="500"}[{{.window}}])) for route="/a" becomes
// sum(increase(x{code="500",route="/a"}[{{.window}}])). A selector that
// already matches on the label keeps its matcher too.
func SelectGroup(tmpl string, group map[string]string) (string, error) {
	q := strings.ReplaceAll(tmpl, "{{.window}}", windowSentinel.String())
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return "", cleanParseError(err)
	}
	keys := make([]string, 0, len(group))
	for k := range group {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, k := range keys {
				vs.LabelMatchers = append(vs.LabelMatchers, labels.MustNewMatcher(labels.MatchEqual, k, group[k]))
			}
		}
		return nil
	})
	return strings.ReplaceAll(expr.String(), windowSentinel.String(), "{{.window}}"), nil
}
