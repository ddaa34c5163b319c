package rules_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
	"github.com/kakeibo-slo/kakeibo/sources/alb/remotewrite"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// albOutage is four hours of mart-api logs with a 20-minute outage,
// counted for mart-api/availability, with the minute (from the data's
// start) kakeibo's own evaluation, as serve's, first pages, and its budget
// left at the end.
type albOutage struct {
	o         *slo.Objective
	db        *bolt.DB
	store     *alb.BoltStore
	base      int64 // the data's first minute
	page, end int64 // minutes from base
	budget    float64
}

func newALBOutage(t *testing.T) *albOutage {
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
	t.Cleanup(func() { db.Close() })
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

	return &albOutage{o: o, db: db, store: store, base: base, page: page, end: end, budget: budget}
}

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
	f := newALBOutage(t)
	o, store, base, page, end, budget := f.o, f.store, f.base, f.page, f.end, f.budget
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

// TestALBCounterRulesInVMAlert: the same counters, remote-written to a real
// VictoriaMetrics, and the same rules evaluated by vmalert over the outage
// (vmalert -replay, rule by rule in the order their results feed each
// other): the page fires within the offset plus 2
// minutes of kakeibo's own, not before the offset, and the budget left
// ends within 1e-3 of kakeibo's.
func TestALBCounterRulesInVMAlert(t *testing.T) {
	t.Parallel()
	vmalert := promtest.Need(t, "vmalert")
	f := newALBOutage(t)
	vm := promtest.StartVictoriaMetrics(t)
	w, err := remotewrite.New(remotewrite.Config{URL: vm.URL + "/api/v1/write", DB: f.db, Store: f.store})
	require.NoError(t, err)
	lb := f.o.SLI.ALB.LoadBalancer
	for {
		st, err := w.Step(t.Context(), []remotewrite.SLO{{ID: f.o.ID(), Service: f.o.Service, Name: f.o.Name, LoadBalancer: lb, Since: f.base}})
		require.NoError(t, err)
		if !st.Behind {
			break
		}
	}
	flush := func() {
		resp, err := http.Get(vm.URL + "/internal/force_flush")
		require.NoError(t, err)
		resp.Body.Close()
	}
	flush() // the counters searchable before the first rule reads them
	file, _, err := rules.Generate([]*slo.Objective{f.o}, rules.Options{ALBCounters: true})
	require.NoError(t, err)
	dir := t.TempDir()
	// vmalert -replay evaluates one rule over the whole range before the
	// next, and VictoriaMetrics makes new series searchable only after a
	// flush: so each rule is replayed on its own, in the order the
	// results feed each other (the event counts, the period group, the
	// rest), with a flush
	// after each. The expressions and the engine are vmalert's own.
	var steps []rules.Group
	// The alert group's event counts, the period group (it sums the
	// 5-minute counts), then the rest of the alert group.
	counts := func(r rules.Rule) bool { return r.Record == "slo_total_events" || r.Record == "slo_good_events" }
	for _, stage := range []func(g rules.Group, r rules.Rule) bool{
		func(g rules.Group, r rules.Rule) bool { return !strings.HasSuffix(g.Name, "-period") && counts(r) },
		func(g rules.Group, r rules.Rule) bool { return strings.HasSuffix(g.Name, "-period") },
		func(g rules.Group, r rules.Rule) bool { return !strings.HasSuffix(g.Name, "-period") && !counts(r) },
	} {
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				if stage(g, r) {
					steps = append(steps, rules.Group{Name: g.Name, Interval: g.Interval, Rules: []rules.Rule{r}})
				}
			}
		}
	}
	at := func(k int64) time.Time { return alb.MinuteTime(f.base + k) }
	for i, g := range steps {
		data, err := rules.Marshal(&rules.File{Groups: []rules.Group{g}})
		require.NoError(t, err)
		path := filepath.Join(dir, fmt.Sprintf("%02d.rules.yaml", i))
		require.NoError(t, os.WriteFile(path, data, 0o644))
		cmd := exec.Command(vmalert, "-rule="+path, "-datasource.url="+vm.URL, "-remoteWrite.url="+vm.URL,
			"-replay.timeFrom="+at(0).Format(time.RFC3339), "-replay.timeTo="+at(f.end+20).Format(time.RFC3339),
			"-replay.rulesDelay=0s", "-replay.disableProgressBar", "-httpListenAddr=127.0.0.1:0", "-loggerLevel=WARN")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "vmalert replay of %s: %s", g.Rules[0].Record+g.Rules[0].Alert, out)
		flush()
	}
	firing := `count(ALERTS{alertname="SLOErrorBudgetBurn",alertstate="firing",severity="page",service="mart-api",slo="availability"})`
	query := func(q string, t0 time.Time) (float64, bool) {
		u := vm.URL + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(t0.Unix(), 10)}, "step": {"1m"}}.Encode()
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct{ Result []struct{ Value [2]any } }
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		require.Equal(t, "success", r.Status)
		if len(r.Data.Result) == 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
		require.NoError(t, err)
		return v, true
	}
	require.Eventually(t, func() bool { _, ok := query(firing, at(f.page+10+2)); return ok }, 30*time.Second, 200*time.Millisecond,
		"vmalert pages within the offset plus 2 minutes of kakeibo (minute %d)", f.page)
	_, early := query(firing, at(f.page+10-3))
	require.False(t, early, "not before the offset")
	for _, q := range []string{`count(slo_sli_ratio{window="30d"})`, `count(slo_total_events{window="30d"})`, `count(slo_error_budget_remaining_ratio)`, `count(slo_burn_rate)`} {
		for _, k := range []int64{f.page, f.end, f.end + 15} {
			v, ok := query(q, at(k))
			t.Logf("DEBUG %s @%d = %v %v", q, k, v, ok)
		}
	}
	// The counters end at the watermark (the last complete minute): the
	// budget there, as kakeibo says it, and as vmalert does an offset later.
	wm, _, err := f.store.Watermark(lb)
	require.NoError(t, err)
	kEnd := wm + 1 - f.base
	want := slo.Evaluate(f.o, at(kEnd), alb.Input(f.store, f.o, at(kEnd))).BudgetRemaining
	got, ok := query(`slo_error_budget_remaining_ratio{service="mart-api",slo="availability"}`, at(kEnd+15))
	require.True(t, ok)
	require.InDelta(t, want, got, 1e-3)
}
