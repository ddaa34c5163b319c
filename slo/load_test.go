package slo_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestInvalidSpecs loads every testdata/invalid/*.bad.yaml; its first line,
// "# want: LINE[:COL]: MESSAGE", is a problem Load must report exactly there.
func TestInvalidSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.bad.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 40)
	wantRE := regexp.MustCompile(`^# want: (\d+)(?::(\d+))?: (.+)$`)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".bad.yaml"), func(t *testing.T) {
			first := firstLine(t, f)
			m := wantRE.FindStringSubmatch(first)
			require.NotNil(t, m, "first line %q is not a # want: line", first)
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])

			_, err := slo.Load(f)
			var errs slo.Errors
			require.True(t, errors.As(err, &errs), "want spec errors, got %v", err)
			if !consequential[filepath.Base(f)] {
				require.Len(t, errs, 1, "one mistake, one problem; got:\n%v", err)
			}
			for _, e := range errs {
				if e.Line == line && e.Col == col && strings.Contains(e.Msg, m[3]) {
					require.Equal(t, f, e.File)
					require.True(t, strings.HasPrefix(e.Error(), fmt.Sprintf("%s:%d", f, line)), e.Error())
					return
				}
			}
			t.Fatalf("no problem at %d:%d containing %q; got:\n%v", line, col, m[3], err)
		})
	}
}

// consequential lists fixtures whose one mistake also, fairly, causes a
// second problem (a misspelled objectives key leaves no objective).
var consequential = map[string]bool{"openslo-unknown-key.bad.yaml": true}

func firstLine(t *testing.T, path string) string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	require.True(t, s.Scan())
	return s.Text()
}

// TestEveryErrorInOneRun checks that one load reports each kind of mistake
// at its own position, across files, instead of stopping at the first.
func TestEveryErrorInOneRun(t *testing.T) {
	_, err := slo.Load("testdata/all-errors")
	var errs slo.Errors
	require.True(t, errors.As(err, &errs), "got %v", err)
	want := []string{
		"testdata/all-errors/a.yaml:6:17: service \"shop\": notify.reminders[0].schedule: bad cron schedule \"0 25 * * *\"",
		"testdata/all-errors/a.yaml:7:17: service \"shop\": notify.reminders[0].timezone: unknown time zone \"Asia/Tokio\"",
		"testdata/all-errors/a.yaml:10:5: slos[0]: unknown key \"objectiv\" (did you mean \"objective\"?)",
		"testdata/all-errors/a.yaml:11:16: slo \"availability\": objective must be in (0, 100), got 1000",
		"testdata/all-errors/a.yaml:17:22: slos[0].sli.alb.latency.threshold: bad duration \"300mss\"",
		"testdata/all-errors/a.yaml:18:25: slo \"availability\": sli.alb.exclude_paths[0]: bad regular expression \"^/healthz($\"",
		"testdata/all-errors/b.yaml:4:13: slo \"requests\": window: bad window \"30x\"",
		"testdata/all-errors/b.yaml:7:26: slo \"requests\": sli.prometheus.good: bad PromQL",
		"testdata/all-errors/b.yaml:9:11: slo \"requests\": duplicate name in service \"cart\" (first at testdata/all-errors/b.yaml:3:11)",
	}
	require.Len(t, errs, len(want), "got:\n%v", err)
	for i, w := range want {
		require.True(t, strings.HasPrefix(errs[i].Error(), w), "problem %d:\n got %s\nwant %s...", i, errs[i], w)
	}
}

func TestLoadExamples(t *testing.T) {
	set, err := slo.Load("../testdata/specs")
	require.NoError(t, err)
	// The OpenSLO example has no notify routes (OpenSLO has no place for
	// them): each of its SLOs is warned about, page and ticket; nothing else is.
	require.Len(t, set.Warnings, 4, "%v", set.Warnings)
	for _, w := range set.Warnings {
		require.Contains(t, w.Error(), "search-openslo.yaml")
		require.Contains(t, w.Error(), "alerts but the service has no notify.")
	}

	byID := map[string]*slo.Objective{}
	for _, o := range set.Objectives() {
		byID[o.ID()] = o
	}
	require.Len(t, byID, 10)

	avail := byID["mart-api/availability"]
	require.InDelta(t, 0.9995, avail.Target, 1e-12)
	require.Equal(t, slo.Rolling(30*24*time.Hour), avail.Window)
	require.Equal(t, "app/mart-api/50dc6c495c0c9188", avail.SLI.ALB.LoadBalancer)
	require.Equal(t, []string{"api.mart.example.com"}, avail.SLI.ALB.Hosts)
	require.Len(t, avail.SLI.ALB.ExcludePaths, 1)
	require.Equal(t, map[string]string{"team": "mart"}, avail.Labels)
	require.Equal(t, "https://wiki.example.com/mart-api/runbook", avail.Links.Runbook)
	require.Equal(t, slo.DefaultAlertWindows(), avail.Alerting.Windows)
	require.True(t, avail.Alerting.BudgetExhausted)

	require.Equal(t, 300*time.Millisecond, byID["mart-api/latency"].SLI.ALB.Latency)

	uptime := byID["mart-api/uptime"]
	require.Equal(t, slo.Month, uptime.Window.Calendar)
	require.Equal(t, "Asia/Tokyo", uptime.Window.Location.String())
	require.Equal(t, slo.Budgeting{Method: slo.Timeslices, Slice: 5 * time.Minute, SliceTarget: 0.95, SliceMinEvents: 20}, uptime.Budgeting)

	svc := set.Services[1] // files load in name order: checkout, mart-api, search, web-storefront
	require.Equal(t, "mart-api", svc.Name)
	require.Equal(t, "#mart-alerts", svc.Notify.Page.Slack)
	require.Len(t, svc.Notify.Reminders, 1)
	require.Equal(t, "ja", svc.Notify.Reminders[0].Language)
	require.Equal(t, "Asia/Tokyo", svc.Notify.Reminders[0].Location.String())

	lat := byID["web-storefront/page-latency"]
	require.Len(t, lat.Alerting.Windows, 2, "ticket alerts are disabled")
	for _, w := range lat.Alerting.Windows {
		require.Equal(t, slo.Page, w.Severity)
	}
	require.Equal(t, map[string]string{"team": "storefront", "tier": "1"}, lat.Labels)

	custom := byID["checkout/payment-latency"]
	require.Equal(t, []slo.AlertWindow{
		{Name: "page-1h", Severity: slo.Page, Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 2},
		{Name: "ticket-slow", Severity: slo.Ticket, Long: 72 * time.Hour, Short: 6 * time.Hour, BudgetPercent: 10},
	}, custom.Alerting.Windows)
	require.Equal(t, time.Hour, custom.Alerting.Repeat[slo.Page])
	require.Equal(t, 24*time.Hour, custom.Alerting.Repeat[slo.Ticket])
	require.Equal(t, float64(100), byID["checkout/requests"].Alerting.MinEvents)
}

func TestOpenSLOImport(t *testing.T) {
	set, err := slo.Load("../testdata/specs/search-openslo.yaml")
	require.NoError(t, err)
	require.Len(t, set.Services, 1)
	svc := set.Services[0]
	require.Equal(t, "search", svc.Name)
	require.Equal(t, "Product search API", svc.Description)
	require.Len(t, svc.SLOs, 2)

	avail := svc.SLOs[0]
	require.Equal(t, "availability", avail.Name)
	require.InDelta(t, 0.995, avail.Target, 1e-12)
	require.Equal(t, slo.Rolling(28*24*time.Hour), avail.Window)
	require.Equal(t, slo.Occurrences, avail.Budgeting.Method)
	require.Equal(t, `sum(increase(search_requests_total{code!~"5.."}[{{.window}}]))`, avail.SLI.Prometheus.Good)
	require.Equal(t, `sum(increase(search_requests_total[{{.window}}]))`, avail.SLI.Prometheus.Total)

	uptime := svc.SLOs[1]
	require.Equal(t, slo.Month, uptime.Window.Calendar)
	require.Equal(t, "Asia/Tokyo", uptime.Window.Location.String())
	require.Equal(t, slo.Budgeting{Method: slo.Timeslices, Slice: 5 * time.Minute, SliceTarget: 0.95}, uptime.Budgeting)
	require.InDelta(t, 0.999, uptime.Target, 1e-12)
	require.Equal(t, `sum(increase(search_requests_total{code=~"5.."}[{{.window}}]))`, uptime.SLI.Prometheus.Bad)
	require.Empty(t, uptime.SLI.Prometheus.Good)

	q, err := slo.RenderQuery(uptime.SLI.Prometheus.Total, time.Hour)
	require.NoError(t, err)
	require.Equal(t, `sum(increase(search_requests_total[1h]))`, q)
}

func TestOpenSLOQueryRewrite(t *testing.T) {
	doc := func(counter bool, query string) []byte {
		return fmt.Appendf(nil, `apiVersion: openslo/v1
kind: SLO
metadata: {name: x}
spec:
  service: svc
  indicator:
    spec:
      ratioMetric:
        counter: %t
        good: {metricSource: {type: prometheus, spec: {query: '%s'}}}
        total: {metricSource: {type: Thanos, spec: {query: '%s'}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{targetPercent: 99}]
`, counter, query, query)
	}
	for _, tc := range []struct {
		name    string
		counter bool
		query   string
		want    string
	}{
		{"bare selector", true, `up{job="a"}`, `sum(increase(up{job="a"}[{{.window}}]))`},
		{"sum by", true, `sum by (code) (req_total)`, `sum(sum by (code) (increase(req_total[{{.window}}])))`},
		{"binary", true, `a_total + b_total`, `sum(increase(a_total[{{.window}}]) + increase(b_total[{{.window}}]))`},
		{"gauge of per-interval counts", false, `sum(req_count)`, `sum(sum_over_time(req_count[{{.window}}]))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := slo.LoadBytes("x.yaml", doc(tc.counter, tc.query))
			require.NoError(t, err)
			require.Equal(t, tc.want, set.Objectives()[0].SLI.Prometheus.Good)
		})
	}
}

// TestOpenSLORawRatio: a raw ratioMetric (the query is the good or the bad
// share itself) becomes a raw error_ratio SLI: averaged over the window at
// a minute's step when it has no range, taken as written when it is a
// template over {{.window}}; a bad rawType is refused.
func TestOpenSLORawRatio(t *testing.T) {
	doc := func(rawType, query string) []byte {
		return fmt.Appendf(nil, `apiVersion: openslo/v1
kind: SLO
metadata: {name: x}
spec:
  service: svc
  indicator:
    spec:
      ratioMetric:
        rawType: %s
        raw: {metricSource: {type: prometheus, spec: {query: '%s'}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{targetPercent: 99}]
`, rawType, query)
	}
	for _, tc := range []struct{ rawType, query, want string }{
		{"failure", `job:errors:ratio{job="a"}`, `avg_over_time((job:errors:ratio{job="a"})[{{.window}}:1m])`},
		{"success", `job:availability:ratio{job="a"}`, `1 - (avg_over_time((job:availability:ratio{job="a"})[{{.window}}:1m]))`},
		{"failure", `sum(rate(e_total[{{.window}}])) / sum(rate(r_total[{{.window}}]))`, `sum(rate(e_total[{{.window}}])) / sum(rate(r_total[{{.window}}]))`},
	} {
		set, err := slo.LoadBytes("x.yaml", doc(tc.rawType, tc.query))
		require.NoError(t, err, tc.query)
		o := set.Objectives()[0]
		require.True(t, o.SLI.Raw())
		require.Equal(t, tc.want, o.SLI.Prometheus.ErrorRatio)
	}
	_, err := slo.LoadBytes("x.yaml", doc("ratio", `x`))
	require.ErrorContains(t, err, `spec.ratioMetric.rawType: "ratio": want success (the query is the good share) or failure (the bad share)`)
}

func TestLoadSeveralDocumentsAndWarnings(t *testing.T) {
	spec := `service: a
slos:
  - name: low
    objective: 90
    window: 30d
    timezone: Asia/Tokyo
    sli: {alb: {load_balancer: app/a/50dc6c495c0c9188}}
---
# an empty document is fine
---
service: b
slos:
  - {name: x, objective: 99, window: 7d, sli: {alb: {load_balancer: app/b/50dc6c495c0c9188}}}
`
	set, err := slo.LoadBytes("multi.yaml", []byte(spec))
	require.NoError(t, err)
	require.Len(t, set.Services, 2)
	var msgs []string
	for _, w := range set.Warnings {
		msgs = append(msgs, w.Error())
	}
	require.Contains(t, msgs, `multi.yaml:6:15: warning: slo "low": timezone: has no effect on a rolling window`)
	// At 90% a total outage burns at 10×: the 14.4× page can never fire (SRE Workbook).
	require.Contains(t, strings.Join(msgs, "\n"), `alert page-1h can never fire: its threshold 14.4 is at or above the highest possible burn rate 10`)
}

func TestLoadPathErrors(t *testing.T) {
	_, err := slo.Load("testdata/does-not-exist")
	require.Error(t, err)
	var errs slo.Errors
	require.False(t, errors.As(err, &errs), "a missing path is not a spec error")

	_, err = slo.Load(t.TempDir())
	require.ErrorContains(t, err, "no *.yaml or *.yml files")
}

func TestLoadWarnsAboutAlertsWithoutRoute(t *testing.T) {
	dir := t.TempDir()
	spec := `service: shop
notify:
  ticket: {slack: "#shop"}
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}
  - name: quiet
    objective: 99.9
    window: 30d
    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}
    alerting: {page: {disable: true}}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(spec), 0o644))
	set, err := slo.Load(dir)
	require.NoError(t, err)
	require.Len(t, set.Warnings, 1, "%v", set.Warnings)
	require.Contains(t, set.Warnings[0].Error(), `shop.yaml:5:11: warning: service "shop" slo "availability": has page alerts but the service has no notify.page route`)
}

// TestLoadFollowsSymlinks: a spec directory that is a symbolic link (as
// Kubernetes mounts ConfigMaps), links to sub-directories, a link back up
// the tree (no loop) and *.YAML files are all read, each file once.
func TestLoadFollowsSymlinks(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	require.NoError(t, os.MkdirAll(filepath.Join(real, "team"), 0o755))
	spec := func(name string) []byte {
		return []byte("service: " + name + "\nslos:\n  - name: availability\n    objective: 99.9\n    window: 30d\n    alerting: {page: {disable: true}, ticket: {disable: true}, budget_exhausted: {disable: true}}\n    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(real, "a.yaml"), spec("a"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(real, "team", "B.YAML"), spec("b"), 0o644))
	other := filepath.Join(root, "other")
	require.NoError(t, os.MkdirAll(other, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, "c.yml"), spec("c"), 0o644))
	require.NoError(t, os.Symlink(other, filepath.Join(real, "linked")))
	require.NoError(t, os.Symlink(real, filepath.Join(real, "team", "loop")))
	link := filepath.Join(root, "specs")
	require.NoError(t, os.Symlink(real, link))

	set, err := slo.Load(link)
	require.NoError(t, err)
	var names []string
	for _, s := range set.Services {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	require.Equal(t, []string{"a", "b", "c"}, names)
}

// TestAliasAmplificationIsBounded: a small spec whose aliases would expand
// a 1,500-host list a thousand times fails at once with a position, instead
// of taking seconds and gigabytes.
func TestAliasAmplificationIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("service: shop\nx-hosts: &hosts [")
	for i := range 1500 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "h%d.example.com", i)
	}
	b.WriteString("]\nslos:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  - {name: s%d, objective: 99.9, window: 30d, sli: {alb: {load_balancer: app/shop/0123456789abcdef, hosts: *hosts}}}\n", i)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := slo.LoadBytes("amplified.yaml", []byte(b.String()))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	require.Contains(t, err.Error(), "aliases expand the document by more than 100000 values")
	require.Regexp(t, `^amplified\.yaml:\d+:\d+: `, err.Error())
	require.NotContains(t, err.Error(), "is required", "one error, not one per value left undecoded")
	t.Logf("%d KB spec rejected in %v, %d MB allocated", b.Len()>>10, took, (after.TotalAlloc-before.TotalAlloc)>>20)
}

// TestTenThousandSLOsInOneFile: a big file of literal values is not an
// alias bomb: 10,001 SLOs in one file load.
func TestTenThousandSLOsInOneFile(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("service: shop\nslos:\n")
	for i := range 10001 {
		fmt.Fprintf(&b, "  - {name: s%d, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef, hosts: [svc%d.example.com], paths: [\"^/api/\"], latency: {threshold: 300ms}}}}\n", i, i)
	}
	set, err := slo.LoadBytes("big.yaml", []byte(b.String()))
	require.NoError(t, err)
	require.Len(t, set.Objectives(), 10001)
}

func TestEmptyFileIsWarned(t *testing.T) {
	set, err := slo.LoadBytes("empty.yaml", []byte("# nothing yet\n"))
	require.NoError(t, err)
	require.Len(t, set.Warnings, 1)
	require.Equal(t, "empty.yaml:1:1: warning: the file holds no spec (it is empty or only comments)", set.Warnings[0].Error())
}

// TestSpecFileSizeCap: a spec file over MaxFileBytes (4 MiB) is refused
// with its size and what to do, at its first line, without reading it
// whole; the other files still load.
func TestSpecFileSizeCap(t *testing.T) {
	require.Equal(t, int64(4<<20), slo.MaxFileBytes, "the default")
	defer func(old int64) { slo.MaxFileBytes = old }(slo.MaxFileBytes)
	slo.MaxFileBytes = 64 << 10 // the same code path as 4 MiB, on a small file
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("service: big\nslos:\n")
	for i := 0; b.Len() < 80<<10; i++ {
		fmt.Fprintf(&b, "  - {name: s%d, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef, hosts: [svc%d.example.com]}}}\n", i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(b.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "small.yaml"), []byte("service: small\nslos:\n  - {name: a, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef}}}\n"), 0o644))
	set, err := slo.Load(dir)
	require.Error(t, err)
	require.Contains(t, err.Error(), filepath.Join(dir, "big.yaml")+":1:1: the file is 81 KiB, more than the 64 KiB a spec file may be: split it (one file per service), or raise KAKEIBO_MAX_SPEC_BYTES")
	require.Len(t, set.Services, 1, "the small file loads")

	slo.MaxFileBytes = 1 << 20
	set, err = slo.Load(dir)
	require.NoError(t, err)
	require.Len(t, set.Services, 2)
}
