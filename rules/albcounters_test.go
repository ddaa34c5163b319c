package rules_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestALBCounterRulesPageLikeServe: four hours of mart-api logs with a
// 20-minute outage are counted; the counters remote write would send (one
// sample per minute: what was counted before it) go to promtool with the
// rules of `kakeibo rules --alb-counters`. The page fires within the 10m
// offset plus 2 minutes of the minute kakeibo's own evaluation (serve's)
// pages, not before the offset, and the period's budget left ends within
// 1e-3 of kakeibo's.
func TestALBCounterRulesPageLikeServe(t *testing.T) {
	t.Parallel()
	promtool := promtest.Need(t, "promtool")
	start := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 60)
	cfg.Start, cfg.Duration, cfg.Traps = start, 4*time.Hour, false
	cfg.LoadBalancers = cfg.LoadBalancers[:1]
	cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: start.Add(150 * time.Minute), To: start.Add(170 * time.Minute), ErrorRatio: 0.2}}
	logs := t.TempDir()
	_, err := albgen.Write(cfg, logs)
	require.NoError(t, err)
	set, err := slo.Load("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	var o *slo.Objective
	for _, x := range set.Objectives() {
		if x.Name == "availability" {
			o = x
		}
	}
	require.NotNil(t, o)
	db, err := alb.OpenDB(t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: logs}, Store: store, Classifier: alb.NewClassifier([]*slo.Objective{o})})
	require.NoError(t, err)
	_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)

	// Serve's page: the first minute its evaluation fires a page.
	base := start.Unix() / 60
	end := int64(4 * 60)
	var page int64 = -1
	var budget float64
	for k := int64(61); k <= end; k++ {
		at := alb.MinuteTime(base + k)
		r := slo.Evaluate(o, at, alb.Input(store, o, at))
		for _, a := range r.Alerts {
			if a.Firing && a.Severity == slo.Page && page < 0 {
				page = k
			}
		}
		budget = r.BudgetRemaining
	}
	require.Positive(t, page, "kakeibo pages in the outage")

	// The counters, one value per minute from minute 0 of the data.
	var good, total []string
	for k := int64(0); k <= end; k++ {
		c, err := store.TotalBefore(o.ID(), base+k)
		require.NoError(t, err)
		good, total = append(good, fmt.Sprint(c.Good)), append(total, fmt.Sprint(c.Total))
	}
	// Past the data the counters stay where they are (as remote write
	// leaves them until new minutes are complete).
	for range 20 {
		good, total = append(good, good[len(good)-1]), append(total, total[len(total)-1])
	}
	for name, opts := range map[string]rules.Options{"default": {ALBCounters: true}, "exact": {ALBCounters: true, Exact: true}} {
		t.Run(name, func(t *testing.T) {
			file, notes, err := rules.Generate([]*slo.Objective{o}, opts)
			require.NoError(t, err)
			require.Empty(t, notes)
			data, err := rules.Marshal(file)
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "alb.rules.yaml"), data, 0o644))
			var groups []string
			for _, g := range file.Groups {
				groups = append(groups, g.Name)
			}
			minutes := func(k int64) string { return fmt.Sprintf("%dm", k) }
			firing := `(count(ALERTS{alertname="SLOErrorBudgetBurn",alertstate="firing",severity="page",service="mart-api",slo="availability"}) or vector(0)) > bool 0`
			test := fmt.Sprintf(`rule_files: [alb.rules.yaml]
evaluation_interval: 1m
group_eval_order: [%s]
tests:
  - interval: 1m
    input_series:
      - series: 'kakeibo_alb_events_total{service="mart-api",slo="availability",class="good",shard="a"}'
        values: '%s'
      - series: 'kakeibo_alb_events_total{service="mart-api",slo="availability",class="total",shard="a"}'
        values: '%s'
    promql_expr_test:
      - expr: '%s'
        eval_time: %s
        exp_samples: [{labels: '{}', value: 0}]
      - expr: '%s'
        eval_time: %s
        exp_samples: [{labels: '{}', value: 1}]
      - expr: 'abs(slo_error_budget_remaining_ratio{service="mart-api",slo="availability"} - %g) < bool 0.001'
        eval_time: %s
        exp_samples: [{labels: '{service="mart-api",slo="availability"}', value: 1}]
`, strings.Join(groups, ", "), strings.Join(good, " "), strings.Join(total, " "),
				firing, minutes(page+10-3), firing, minutes(page+10+2), budget, minutes(end+15))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "alb.test.yaml"), []byte(test), 0o644))
			cmd := exec.Command(promtool, "test", "rules", "alb.test.yaml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "kakeibo pages at minute %d; %s", page, out)
		})
	}
}
