package slo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGroupInstance(t *testing.T) {
	set, err := LoadBytes("shop.yaml", []byte(`service: shop
labels: {team: web}
slos:
  - name: requests
    objective: 99
    window: 28d
    sli:
      prometheus:
        bad:   sum(increase(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}] offset 1m))
        by: [route, method]
`))
	require.NoError(t, err)
	o := set.Objectives()[0]
	inst, err := o.GroupInstance(map[string]string{"route": `/a"b`, "method": "GET", "other": "ignored"})
	require.NoError(t, err)
	require.Equal(t, `requests{method="GET",route="/a\"b"}`, inst.Name)
	require.Equal(t, `shop/requests{method="GET",route="/a\"b"}`, inst.ID())
	require.Equal(t, `sum(increase(http_requests_total{code=~"5..",job="shop",method="GET",route="/a\"b"}[{{.window}}]))`, inst.SLI.Prometheus.Bad)
	require.Equal(t, `sum(increase(http_requests_total{job="shop",method="GET",route="/a\"b"}[{{.window}}] offset 1m))`, inst.SLI.Prometheus.Total)
	require.Empty(t, inst.SLI.Prometheus.By, "an instance is not grouped again")
	require.Equal(t, map[string]string{"team": "web", "route": `/a"b`, "method": "GET"}, inst.Labels)
	require.Equal(t, map[string]string{"team": "web"}, o.Labels, "the grouped SLO is left as it was")
	require.Equal(t, []string{"route", "method"}, o.SLI.Prometheus.By)

	_, err = o.GroupInstance(map[string]string{"route": "/a"})
	require.ErrorContains(t, err, "the group has no method")
	_, err = set.Objectives()[0].GroupInstance(nil)
	require.Error(t, err)
}

// TestRenderWindowOnlyAgreesWithTemplates: the fast path renders what
// text/template renders, and leaves everything else to it.
func TestRenderWindowOnlyAgreesWithTemplates(t *testing.T) {
	for _, tmpl := range []string{
		`sum(increase(x[{{.window}}]))`,
		`sum(increase(x[{{ .window }}])) / sum(increase(y[{{.window }}] offset 1m))`,
		`vector(1)`,
		`x{a="}}"}`,
		`sum(increase(x[{{.window}}]))}}`,
		`{{.window}}`,
	} {
		fast, ok := renderWindowOnly(tmpl, "5m")
		require.True(t, ok, tmpl)
		slow, err := renderTemplate(tmpl, "5m")
		require.NoError(t, err, tmpl)
		require.Equal(t, slow, fast, tmpl)
	}
	for _, tmpl := range []string{`x[{{.windo}}]`, `x[{{.window}]`, `{{if .window}}x{{end}}`, `x[{{ .window | printf "%s" }}]`} {
		_, ok := renderWindowOnly(tmpl, "5m")
		require.False(t, ok, tmpl)
	}
	_, err := RenderQuery(`x[{{.windo}}]`, 5*time.Minute)
	require.Error(t, err, "the template engine still refuses what it refused")
}
