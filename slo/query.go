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
	t, err := template.New("query").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("bad template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]string{"window": model.Duration(window).String()}); err != nil {
		return "", fmt.Errorf("bad template: %w", err)
	}
	return b.String(), nil
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
