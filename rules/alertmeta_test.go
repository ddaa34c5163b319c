package rules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/alertmanager"
	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

const alertMetaSpec = `service: shop
labels: {team: shop}
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
    alerting:
      labels: {category: availability}
      annotations: {summary: "{{.service}}/{{.slo}} burns its {{ .objective }} budget", runbook_steps: "see {{ $labels.alert }}"}
      page: {labels: {routing_key: shop-oncall}, annotations: {priority: P1}}
      ticket: {labels: {routing_key: shop-backlog}}
`

// TestAlertLabelsAndAnnotations: an SLO's alerting labels and annotations
// (with the severity's own on top; {{.service}} and the like expanded,
// Prometheus' own templates left for Prometheus) go on its rules' alerts,
// which promtool accepts, and on the alerts kakeibo sends Alertmanager.
func TestAlertLabelsAndAnnotations(t *testing.T) {
	set, err := slo.LoadBytes("shop.yaml", []byte(alertMetaSpec))
	require.NoError(t, err)
	o := set.Objectives()[0]
	require.Equal(t, map[string]string{"category": "availability", "routing_key": "shop-oncall"}, o.Alerting.Labels[slo.Page])
	require.Equal(t, "shop/availability burns its 99.9% budget", o.Alerting.Annotations[slo.Ticket]["summary"])
	require.Equal(t, "see {{ $labels.alert }}", o.Alerting.Annotations[slo.Ticket]["runbook_steps"])

	f, _, err := rules.Generate(set.Objectives(), rules.Options{})
	require.NoError(t, err)
	out, err := rules.Marshal(f)
	require.NoError(t, err)
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(out, &file))
	seen := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen++
			require.Equal(t, "availability", r.Labels["category"], r.Alert)
			want := "shop-backlog"
			if r.Labels["severity"] == "page" {
				want = "shop-oncall"
				require.Equal(t, "P1", r.Annotations["priority"])
			}
			require.Equal(t, want, r.Labels["routing_key"], r.Alert)
			require.Equal(t, "shop/availability burns its 99.9% budget", r.Annotations["summary"], "the spec's summary wins")
		}
	}
	require.Greater(t, seen, 3)
	promtool := promtest.Need(t, "promtool")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "r.yaml"), out, 0o644))
	b, err := exec.Command(promtool, "check", "rules", filepath.Join(dir, "r.yaml")).CombinedOutput()
	require.NoError(t, err, string(b))

	// The alerts kakeibo posts to Alertmanager carry them too.
	now := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	res := slo.Evaluate(o, now, slo.Input{Period: slo.Counts{Good: 9000, Total: 10000}, Windows: map[time.Duration]slo.Counts{
		5 * time.Minute: {Good: 50, Total: 100}, time.Hour: {Good: 500, Total: 1000}, 30 * time.Minute: {Good: 50, Total: 100}, 6 * time.Hour: {Good: 500, Total: 1000},
		2 * time.Hour: {Good: 50, Total: 100}, 24 * time.Hour: {Good: 500, Total: 1000}, 72 * time.Hour: {Good: 500, Total: 1000}}})
	states, _ := alerting.Step(nil, []slo.Result{res}, func(string) slo.Notify { return slo.Notify{} }, now)
	var posted int
	for _, a := range alertmanager.Alerts(nil, states, now, time.Minute, "") {
		if a.Labels["alert"] == "page-1h" {
			posted++
			require.Equal(t, "shop-oncall", a.Labels["routing_key"])
			require.Equal(t, "availability", a.Labels["category"])
			require.True(t, strings.HasPrefix(a.Annotations["summary"], "shop/availability burns"))
		}
	}
	require.Equal(t, 1, posted)

	_, err = slo.LoadBytes("bad.yaml", []byte(strings.Replace(alertMetaSpec, "category: availability", "severity: critical, 1x: y", 1)))
	require.Error(t, err)
	require.Contains(t, err.Error(), `alerting.labels: "severity" is set by kakeibo`)
	require.Contains(t, err.Error(), `alerting.labels: "1x" is not a label name`)
}
