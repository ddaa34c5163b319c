package slo

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
)

// RenderQuery fills a query template's {{.window}} with a PromQL duration,
// e.g. sum(increase(x[{{.window}}])) over 1h → sum(increase(x[1h])).
func RenderQuery(tmpl string, window time.Duration) (string, error) {
	if out, ok := renderWindowOnly(tmpl, model.Duration(window).String()); ok {
		return out, nil
	}
	return renderTemplate(tmpl, model.Duration(window).String())
}

// renderTemplate renders a query template with text/template.
func renderTemplate(tmpl, window string) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("bad template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]string{"window": window}); err != nil {
		return "", fmt.Errorf("bad template: %w", err)
	}
	return b.String(), nil
}

// renderWindowOnly renders a template whose only actions are {{.window}}
// (spaces inside allowed) by replacing them: what nearly every query is,
// at a small part of text/template's cost (serve renders every query of
// every SLO each cycle). ok is false for anything else, which the
// template engine then renders, or rejects, as it always did.
func renderWindowOnly(tmpl, window string) (string, bool) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if b.Len() == 0 {
				return tmpl, true
			}
			b.WriteString(rest)
			return b.String(), true
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 || strings.TrimSpace(rest[i+2:i+2+j]) != ".window" {
			return "", false
		}
		if b.Len() == 0 {
			b.Grow(len(tmpl) + 8)
		}
		b.WriteString(rest[:i])
		b.WriteString(window)
		rest = rest[i+2+j+2:]
	}
}

// CheckQueryTemplate checks that a query template uses {{.window}} and that
// it renders to PromQL that parses and yields an instant vector or a scalar.
func CheckQueryTemplate(tmpl string) error {
	short, err := RenderQuery(tmpl, 5*time.Minute)
	if err != nil {
		return err
	}
	long, err := RenderQuery(tmpl, 30*24*time.Hour)
	if err != nil {
		return err
	}
	if short == long {
		return fmt.Errorf("the query must use {{.window}} for its range, e.g. sum(increase(http_requests_total[{{.window}}]))")
	}
	if err := checkPromQL(short); err != nil {
		return fmt.Errorf("bad PromQL %q: %w", strings.Join(strings.Fields(short), " "), err)
	}
	return nil
}
