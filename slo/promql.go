package slo

// This file holds every use of github.com/prometheus/prometheus, which has no
// API stability promise: when it changes, only this file changes.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
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
