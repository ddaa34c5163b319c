package main

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestImportSloth: a Sloth spec becomes a kakeibo spec that validates:
// rate() becomes increase(), disabled tickets stay disabled, the runbook
// annotation becomes a link, and what kakeibo does not carry (alert names,
// routing labels) is a comment and a line on stderr.
func TestImportSloth(t *testing.T) {
	out := filepath.Join(t.TempDir(), "shop.yaml")
	code, _, errOut := kakeibo(t, nil, "import", "sloth", "-o", out, "../../slo/convert/testdata/sloth-shop.yml")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "shop/requests-availability: Not carried over: alerting.name ShopHighErrorRate")
	require.Contains(t, errOut, `alerting.page_alert.labels severity="critical" (kakeibo sets severity itself)`)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(b), "# Not carried over: alerting.name ShopHighErrorRate")

	set, err := slo.Load(out)
	require.NoError(t, err)
	objs := set.Objectives()
	require.Len(t, objs, 2)
	avail, lat := objs[0], objs[1]
	require.Equal(t, 0.999, avail.Target)
	require.Equal(t, slo.Rolling(30*24*time.Hour), avail.Window)
	require.Equal(t, `sum(increase(http_requests_total{code=~"(5..|429)",job="shop"}[{{.window}}]))`, avail.SLI.Prometheus.Bad)
	require.Equal(t, "https://wiki.example.com/shop/availability", avail.Links.Runbook)
	require.Equal(t, map[string]string{"owner": "shop-team"}, avail.Labels)
	for _, w := range lat.Alerting.Windows {
		require.Equal(t, slo.Page, w.Severity, "ticket_alert.disable carried over")
	}
	require.Equal(t, map[string]string{"category": "availability"}, avail.Alerting.Labels[slo.Page], "alerting.labels carried over")
	require.Equal(t, map[string]string{"category": "availability"}, avail.Alerting.Labels[slo.Ticket])

	// The period is Sloth's run flag; --window sets it.
	code, stdout, errOut := kakeibo(t, nil, "import", "sloth", "--window", "28d", "../../slo/convert/testdata/sloth-shop.yml")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, stdout, "window: 28d")

	// A raw ratio SLI becomes sli.prometheus.error_ratio, which validates;
	// one that is not a PromQL template is said, and nothing is written.
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.yml")
	const ratio = `sum(rate(http_requests_total{code=~"5.."}[{{.window}}])) / sum(rate(http_requests_total[{{.window}}]))`
	require.NoError(t, os.WriteFile(raw, []byte("version: prometheus/v1\nservice: s\nslos:\n  - name: r\n    objective: 99\n    sli: {raw: {error_ratio_query: '"+ratio+"'}}\n    alerting: {name: A}\n"), 0o644))
	code, stdout, errOut = kakeibo(t, nil, "import", "sloth", raw)
	require.Equal(t, exitOK, code, errOut)
	imported := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(imported, []byte(stdout), 0o644))
	rs, err := slo.Load(imported)
	require.NoError(t, err, stdout)
	require.Equal(t, ratio, rs.Objectives()[0].SLI.Prometheus.ErrorRatio)
	require.NoError(t, os.WriteFile(raw, []byte("version: prometheus/v1\nservice: s\nslos:\n  - name: r\n    objective: 99\n    sli: {raw: {error_ratio_query: 'x'}}\n    alerting: {name: A}\n"), 0o644))
	code, stdout, errOut = kakeibo(t, nil, "import", "sloth", raw)
	require.Equal(t, exitFail, code)
	require.Empty(t, stdout)
	require.Contains(t, errOut, "s/r: skipped: not PromQL: the query must use {{.window}}")
}

// TestSlothRoundTrip: Sloth specs → `kakeibo import sloth` → `kakeibo
// rules` alert on the same burn-rate thresholds as `sloth generate` on the
// original at 30d; at 28d on Sloth's scaled by 30/28 (kakeibo keeps the
// burn rates where Sloth keeps the budget shares). Sloth's own examples are checked
// too when KAKEIBO_SLOTH_EXAMPLES names their directory.
func TestSlothRoundTrip(t *testing.T) {
	sloth := promtest.Need(t, "sloth")
	files := []string{"../../slo/convert/testdata/sloth-shop.yml"}
	if dir := os.Getenv("KAKEIBO_SLOTH_EXAMPLES"); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
		files = append(files, more...)
	}
	slothTh := regexp.MustCompile(`> \(([0-9.]+) \* `)
	ourTh := regexp.MustCompile(`slo_burn_rate\{[^}]*\} > ([0-9.]+)\)`)
	thresholds := func(re *regexp.Regexp, rules string) []float64 {
		var out []float64
		for _, m := range re.FindAllStringSubmatch(rules, -1) {
			f, err := strconv.ParseFloat(m[1], 64)
			require.NoError(t, err)
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
		sort.Float64s(out)
		if out == nil {
			out = []float64{}
		}
		return out
	}
	compared := 0
	for _, f := range files {
		for _, period := range []string{"30d", "28d"} {
			dir := t.TempDir()
			code, _, errOut := kakeibo(t, nil, "import", "sloth", "--window", period, "-o", filepath.Join(dir, "spec.yaml"), f)
			if code != exitOK {
				// Plugin, raw and MetricsQL SLIs; OpenSLO files, which Sloth reads too.
				require.Regexp(t, "no SLO could be converted|is OpenSLO, which Sloth reads too|Sloth refuses it too", errOut, f)
				continue
			}
			code, ours, errOut := kakeibo(t, nil, "rules", "--specs", filepath.Join(dir, "spec.yaml"))
			require.Equal(t, exitOK, code, errOut)
			var slothErr strings.Builder
			cmd := exec.Command(sloth, "generate", "--default-slo-period", period, "-i", f)
			cmd.Stderr = &slothErr
			theirs, err := cmd.Output()
			require.NoError(t, err, slothErr.String())
			want := thresholds(slothTh, string(theirs)) // none when both alerts are disabled
			if period == "28d" {
				// Sloth keeps the budget shares (2%, 5%, 10%, 10%), so its
				// 28d thresholds are 28/30 of the 30d ones and its slowest
				// ticket fires below burn 1, while the SLO is on track.
				// kakeibo keeps the burn rates (README, "The math").
				for i := range want {
					want[i] = math.Round(want[i]*30/28*1e9) / 1e9
				}
			}
			require.Equal(t, want, thresholds(ourTh, ours), "%s at %s", f, period)
			// And kakeibo records no more series per SLO than Sloth does.
			mine, slothsRules := recordingRules(t, ours, "service", "slo"), recordingRules(t, string(theirs), "sloth_service", "sloth_slo")
			for id, n := range mine {
				require.LessOrEqual(t, n, slothsRules[id], "%s at %s: recording rules of %s", f, period, id)
			}
			compared++
		}
	}
	require.Positive(t, compared)
	t.Logf("%d spec/period pairs agree with sloth generate", compared)
}

// recordingRules counts a rule file's recording rules per SLO, named by
// two of their labels.
func recordingRules(t *testing.T, file, serviceLabel, sloLabel string) map[string]int {
	type groups []struct {
		Rules []struct {
			Record string            `yaml:"record"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	}
	// A rule file, or a Kubernetes PrometheusRule (Sloth's output for CRDs).
	var f struct {
		Groups groups `yaml:"groups"`
		Spec   struct {
			Groups groups `yaml:"groups"`
		} `yaml:"spec"`
	}
	n := map[string]int{}
	dec := yaml.NewDecoder(strings.NewReader(file))
	for dec.Decode(&f) == nil {
		for _, g := range append(f.Groups, f.Spec.Groups...) {
			for _, r := range g.Rules {
				if r.Record != "" {
					n[r.Labels[serviceLabel]+"/"+r.Labels[sloLabel]]++
				}
			}
		}
		f.Groups, f.Spec.Groups = nil, nil
	}
	require.NotEmpty(t, n)
	return n
}

// TestExportOpenSLORoundTrip: `kakeibo export openslo` writes OpenSLO v1
// that kakeibo reads back to the same objectives: targets, windows, budgeting
// and queries. ALB-backed SLOs are skipped with a note.
func TestExportOpenSLORoundTrip(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "export", "openslo", "--specs", "../../testdata/specs")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "mart-api/availability: skipped: ALB-backed")
	require.True(t, strings.HasPrefix(out, "# Written by kakeibo export openslo."))
	back, err := slo.LoadBytes("exported.yaml", []byte(out))
	require.NoError(t, err)
	orig, err := slo.Load("../../testdata/specs")
	require.NoError(t, err)
	byID := map[string]*slo.Objective{}
	for _, o := range back.Objectives() {
		byID[o.ID()] = o
	}
	at := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC) // a DST changeover day in some zones
	n := 0
	for _, o := range orig.Objectives() {
		if o.SLI.Prometheus == nil {
			continue
		}
		b := byID[o.ID()]
		require.NotNil(t, b, "%s not exported", o.ID())
		require.Equal(t, o.Target, b.Target, o.ID())
		s1, e1 := o.Window.Bounds(at)
		s2, e2 := b.Window.Bounds(at)
		require.True(t, s1.Equal(s2) && e1.Equal(e2), "%s: window %v vs %v", o.ID(), o.Window, b.Window)
		require.Equal(t, o.Budgeting, b.Budgeting, o.ID())
		for _, q := range [][2]string{{o.SLI.Prometheus.Good, b.SLI.Prometheus.Good}, {o.SLI.Prometheus.Bad, b.SLI.Prometheus.Bad}, {o.SLI.Prometheus.Total, b.SLI.Prometheus.Total}} {
			q1, c1, _ := slo.OpenSLOQuery(q[0])
			q2, c2, _ := slo.OpenSLOQuery(q[1])
			require.Equal(t, q1, q2, o.ID())
			require.Equal(t, c1, c2, o.ID())
		}
		require.Equal(t, o.Labels, b.Labels, o.ID())
		n++
	}
	require.Equal(t, len(back.Objectives()), n, "every exported SLO came from a Prometheus one")
	require.Positive(t, n)

	// And the exported file imports to native specs that load.
	p := filepath.Join(t.TempDir(), "exported.yaml")
	require.NoError(t, os.WriteFile(p, []byte(out), 0o644))
	code, native, errOut := kakeibo(t, nil, "import", "openslo", p)
	require.Equal(t, exitOK, code, errOut)
	_, err = slo.LoadBytes("native.yaml", []byte(native))
	require.NoError(t, err)
}

// TestImportOpenSLOSaysWhatIsLost: an OpenSLO week that starts on Saturday
// noon cannot be written as a kakeibo spec (weeks start on Monday): the
// converted SLO says so in a comment.
func TestImportOpenSLOSaysWhatIsLost(t *testing.T) {
	code, out, errOut := kakeibo(t, nil, "import", "openslo", "../../slo/testdata/openslo/list-form.yaml")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "# The source's week starts Saturday 12:00 EST (calendar.startTime 2022-01-01 12:00:00): kakeibo specs start months on the 1st and weeks on Monday, at midnight.")
	require.Contains(t, out, "timezone: America/New_York")
	set, err := slo.LoadBytes("native.yaml", []byte(out))
	require.NoError(t, err)
	require.Len(t, set.Objectives(), 2)
	require.Equal(t, "team-a,team-b", set.Objectives()[0].Labels["team"])
}

// TestSlothExportRunsInSloth: `rules --format sloth -o FILE` writes one file
// per period; `sloth generate` takes the 28d and 30d ones with their period,
// and promtool accepts what it generates (each SLO's alerts have their own
// name: no duplicate rules).
func TestSlothExportRunsInSloth(t *testing.T) {
	sloth := promtest.Need(t, "sloth")
	promtool := promtest.Need(t, "promtool")
	dir := t.TempDir()
	code, _, errOut := kakeibo(t, nil, "rules", "--specs", "../../testdata/specs", "--format", "sloth", "-o", filepath.Join(dir, "sloth.yml"))
	require.Equal(t, exitOK, code, errOut)
	// One file per service and period: sloth generate writes a rule
	// document per spec document, and promtool reads only the first of a
	// file, so several services in one file would lose rules.
	written := regexp.MustCompile(`wrote (\S+) \(sloth generate --default-slo-period (\S+) `).FindAllStringSubmatch(errOut, -1)
	var names []string
	for _, w := range written {
		names = append(names, filepath.Base(w[1]))
	}
	require.Equal(t, []string{"sloth-checkout-7d.yml", "sloth-checkout-28d.yml", "sloth-search-28d.yml", "sloth-checkout-30d.yml"}, names)
	for _, w := range written {
		in, period := w[1], w[2]
		if period == "7d" {
			continue // Sloth ships 28d and 30d windows only
		}
		out := strings.TrimSuffix(in, ".yml") + "-rules.yml"
		b, err := exec.Command(sloth, "generate", "--default-slo-period", period, "-i", in, "-o", out).CombinedOutput()
		require.NoError(t, err, string(b))
		b, err = exec.Command(promtool, "check", "rules", out).CombinedOutput()
		require.NoError(t, err, string(b))
		require.NotContains(t, string(b), "duplicate")
		gen, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, strings.Count(string(gen), "- record:")+strings.Count(string(gen), "- alert:"),
			atoiAfter(t, string(b), "SUCCESS: "), "promtool loads every rule sloth wrote (%s)", in)
	}
}

// atoiAfter reads the number after prefix in s.
func atoiAfter(t *testing.T, s, prefix string) int {
	_, rest, ok := strings.Cut(s, prefix)
	require.True(t, ok, s)
	var n int
	_, err := fmt.Sscan(rest, &n)
	require.NoError(t, err, s)
	return n
}

// TestFlagsAfterFiles: flags may follow the files (as people type them),
// until a "--", after which everything is a file.
func TestFlagsAfterFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "shop.yaml")
	code, _, errOut := kakeibo(t, nil, "import", "sloth", "../../slo/convert/testdata/sloth-shop.yml", "-o", out, "--window", "28d")
	require.Equal(t, exitOK, code, errOut)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(b), "with a period of 28d")
	code, _, errOut = kakeibo(t, nil, "validate", "--", "-o")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "stat -o: no such file") // a path, not a flag
}

// TestImportSlothReadsKeysAsSlothDoes: Sloth reads its YAML as JSON into Go
// structs: any case matches a key, and a key that matches none is ignored.
// A spec it accepts imports, with the ignored key named (and its likely
// intended spelling) on stderr; what it refuses (an objective outside
// (0, 100], an SLO without an SLI, without an alert name while alerts are
// on, or named twice) is refused; a directory imports every file in it.
func TestImportSlothReadsKeysAsSlothDoes(t *testing.T) {
	dir := t.TempDir()
	spec := func(objective, sli, alerting string) string {
		return "version: prometheus/v1\nservice: shop\nslos:\n  - name: availability\n    Objective: " + objective + "\n" + sli + alerting
	}
	events := "    sli:\n      events:\n        error_query: sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))\n        total_query: sum(rate(http_requests_total[{{.window}}]))\n"
	named := "    alerting:\n      name: ShopAvailability\n      pageAlert:\n        labels: {severity: critical}\n"
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	good := write("good.yml", spec("99.9", events, named))
	code, stdout, stderr := kakeibo(t, nil, "import", "sloth", good)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "objective: 99.9", "Objective is objective, as in Sloth")
	require.Contains(t, stderr, "good.yml:12: slos.alerting.pageAlert is not a key Sloth reads, so it is ignored, as Sloth ignores it (Sloth's key here is page_alert)")

	for name, text := range map[string]string{
		"zero.yml":    spec("0", events, named),
		"over.yml":    spec("100.5", events, named),
		"nosli.yml":   spec("99", "    sli: {}\n", named),
		"noname.yml":  spec("99", events, ""),
		"twice.yml":   spec("99", events, named) + spec("99", events, named)[len("version: prometheus/v1\nservice: shop\nslos:\n"):],
		"sliplug.yml": spec("99", "    sli:\n      plugin: {id: my_plugin}\n", named),
		"sloplug.yml": spec("99", events, named) + "    plugins:\n      chain:\n        - id: my/own/v1\n",
	} {
		p := write(name, text)
		code, _, stderr := kakeibo(t, nil, "import", "sloth", p)
		require.Equal(t, exitFail, code, "%s: Sloth refuses it: %s", name, stderr)
		require.Contains(t, stderr, "Sloth refuses it too", name)
		require.NoError(t, os.Remove(p))
	}

	sub := filepath.Join(dir, "more")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "other.yaml"), []byte(strings.Replace(spec("99", events, named), "service: shop", "service: cart", 1)), 0o644))
	code, stdout, stderr = kakeibo(t, nil, "import", "sloth", dir)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "service: shop")
	require.Contains(t, stdout, "service: cart")
}

// TestImportPyrraCorpus imports Pyrra's own examples (slo/convert/testdata/
// pyrra: every ServiceLevelObjective of its examples directory and of its
// Kubernetes manifests): every one converts and validates, the rules
// generated from them pass promtool, and what cannot carry over is said
// on stderr: Pyrra's label keys that are not label names, and a grouping by
// service (kakeibo's own label), which becomes exported_service.
func TestImportPyrraCorpus(t *testing.T) {
	promtool := promtest.Need(t, "promtool")
	dir := t.TempDir()
	out := filepath.Join(dir, "pyrra.yaml")
	root := "../../slo/convert/testdata/pyrra"
	code, _, stderr := kakeibo(t, nil, "import", "pyrra", "-o", out, root)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stderr, "label pyrra.dev/team=parca not carried over")
	require.Contains(t, stderr, "grouping label service is kakeibo's own: it is exported_service here")
	set, err := slo.Load(out)
	require.NoError(t, err)
	var resources int
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(line) == "kind: ServiceLevelObjective" {
					resources++
				}
			}
		}
		return err
	}))
	require.Equal(t, 27, resources)
	require.Len(t, set.Objectives(), resources, "every ServiceLevelObjective is an SLO")
	kinds := map[string]bool{}
	for _, o := range set.Objectives() {
		switch p := o.SLI.Prometheus; {
		case strings.Contains(p.Good, "histogram_fraction"):
			kinds["latencyNative"] = true
		case strings.Contains(p.Good, "sum_over_time"):
			kinds["bool_gauge"] = true
		case p.Bad != "":
			kinds["ratio"] = true
		case p.Good != "":
			kinds["latency"] = true
		}
	}
	require.Equal(t, map[string]bool{"ratio": true, "latency": true, "latencyNative": true, "bool_gauge": true}, kinds)
	rulesFile := filepath.Join(dir, "pyrra.rules.yaml")
	code, _, stderr = kakeibo(t, nil, "rules", "--specs", out, "-o", rulesFile)
	require.Equal(t, exitOK, code, stderr)
	b, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.Contains(t, string(b), "SUCCESS")
}

// TestImportOpenSLOV1alpha: Sloth's OpenSLO examples are openslo/v1alpha
// (timeWindows of count and unit, ratioMetrics on each objective, queries
// over {{.window}}). They import and validate; an SLO with several
// objectives becomes one SLO per objective, named NAME-0, NAME-1 as Sloth
// names them; rate() becomes increase() as import sloth does.
func TestImportOpenSLOV1alpha(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := kakeibo(t, nil, "import", "openslo", "-o", filepath.Join(dir, "specs.yaml"), "../../slo/convert/testdata/sloth-openslo")
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, out)
	set, err := slo.Load(dir)
	require.NoError(t, err)
	got := map[string]string{}
	for _, o := range set.Objectives() {
		got[o.ID()] = fmt.Sprintf("%g %s %s", o.Target, o.Window, o.SLI.Prometheus.Good)
	}
	require.Equal(t, map[string]string{
		"my-service/sloth-slo-my-service":             `0.999 30d sum(increase(http_request_duration_seconds_count{code!~"(5..|429)",job="myservice"}[{{.window}}]))`,
		"k8s-apiserver/requests-availability-openslo": `0.999 30d sum(increase(apiserver_request_total{code!~"(5..|429)"}[{{.window}}]))`,
		"k8s-apiserver/requests-latency-openslo-0":    `0.99 30d sum(increase(apiserver_request_duration_seconds_bucket{le="0.4",verb!="WATCH"}[{{.window}}]))`,
		"k8s-apiserver/requests-latency-openslo-1":    `0.999 30d sum(increase(apiserver_request_duration_seconds_bucket{le="5",verb!="WATCH"}[{{.window}}]))`,
	}, got)

	// Other v1alpha kinds are refused with the reason.
	bad := filepath.Join(dir, "sli.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: openslo/v1alpha\nkind: Service\nmetadata: {name: x}\n"), 0o644))
	code, _, errOut = kakeibo(t, nil, "import", "openslo", bad)
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "sli.yaml:2:7: openslo/v1alpha: only SLO documents are read")
}
