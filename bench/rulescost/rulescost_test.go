// Package rulescost measures what SLO rules cost a real Prometheus: 30 days
// of one-minute history for ~1,000 counter series, 10 SLOs on them, and per
// rule set (kakeibo's default rules, --exact, Sloth's and Pyrra's rules for
// the same SLOs, and kakeibo serve's own evaluation) the samples read and the
// Prometheus CPU seconds per 5 minutes of evaluation.
//
// It is a measurement, not a test: it runs only with -bench.
//
//	go test ./bench/rulescost -run '^$' -bench . -benchtime 1x -timeout 60m
//
// KAKEIBO_BENCH_SERIES and KAKEIBO_BENCH_DAYS scale it (1000 and 30);
// KAKEIBO_BENCH_ROUNDS (3) is how many times each is measured (the median
// is reported).
// Sloth and Pyrra figures need their binaries on PATH: go install
// github.com/slok/sloth/cmd/sloth@v0.16.0, and bench/pyrra.sh.
package rulescost

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/slo/convert"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

const nSLOs = 10

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// specs: 10 SLOs of one service, each over every series of the metric.
// Each query carries a matcher no series fails (bench!="slo-N"), so every
// SLO asks its own questions, as different teams' SLOs do, and neither
// Prometheus nor kakeibo can answer one SLO's query from another's.
func specs() string {
	var b strings.Builder
	b.WriteString("service: shop\nslos:\n")
	for i := range nSLOs {
		fmt.Fprintf(&b, `  - name: slo-%d
    objective: %g
    window: 30d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="shop",code=~"5..",bench!="slo-%d"}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop",bench!="slo-%d"}[{{.window}}]))
`, i, 99+float64(i)/10, i, i)
	}
	return b.String()
}

// history writes the OpenMetrics history: series/2 instances with a 200 and
// a 500 counter each (100 requests a minute, 0.1% errors), one sample a
// minute; and, as if the rules had run all along, the 5-minute counts that
// kakeibo's default period group and Sloth's period rule read.
func history(w io.Writer, series, days int, end time.Time) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	minutes := days * 24 * 60
	fmt.Fprintln(bw, "# TYPE http_requests counter")
	for i := range series / 2 {
		for _, code := range []string{"200", "500"} {
			per := 99.9
			if code == "500" {
				per = 0.1
			}
			for m := 0; m <= minutes; m++ {
				fmt.Fprintf(bw, "http_requests_total{job=\"shop\",instance=\"i-%d\",code=\"%s\"} %g %d\n", i, code, per*float64(m), start.Unix()+int64(m)*60)
			}
		}
	}
	// Per SLO: 5-minute counts (kakeibo) and the 5-minute error ratio (Sloth).
	inst := float64(series / 2)
	for _, name := range []string{"slo_total_events", "slo_good_events", "slo_sli_error_ratio_rate5m"} {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", name)
		for i := range nSLOs {
			for m := 5; m <= minutes; m++ {
				v := map[string]float64{"slo_total_events": 500 * inst, "slo_good_events": 499.5 * inst, "slo_sli_error_ratio_rate5m": 0.001}[name]
				labels := fmt.Sprintf(`service="shop",slo="slo-%d",window="5m"`, i)
				if name == "slo_sli_error_ratio_rate5m" {
					labels = fmt.Sprintf(`sloth_id="shop-slo-%d",sloth_service="shop",sloth_slo="slo-%d",sloth_window="5m"`, i, i)
				}
				fmt.Fprintf(bw, "%s{%s} %g %d\n", name, labels, v, start.Unix()+int64(m)*60)
			}
		}
	}
	fmt.Fprintln(bw, "# EOF")
	return bw.Flush()
}

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type cost struct {
	cpuPer5m, wallPer5m float64 // seconds of Prometheus CPU / wall per 5 minutes of evaluation
	samples             float64 // samples read by one evaluation of every rule
	rules               int     // recording rules
}

// measure runs every rule of a file once as an instant query at `at`, in
// group order, and scales by how often each group runs in 5 minutes.
func measure(b *testing.B, prom string, file []byte, at time.Time) cost {
	var f ruleFile
	if err := yaml.Unmarshal(file, &f); err != nil {
		b.Fatal(err)
	}
	var c cost
	for _, g := range f.Groups {
		every := time.Minute
		if g.Interval != "" {
			d, err := time.ParseDuration(g.Interval)
			if err != nil {
				b.Fatal(err)
			}
			every = d
		}
		perFive := float64(5*time.Minute) / float64(every)
		for _, r := range g.Rules {
			if r.Record != "" {
				c.rules++
			}
			cpu0 := promCPU(b, prom)
			t0 := time.Now()
			samples := query(b, prom, r.Expr, at)
			wall := time.Since(t0).Seconds()
			cpu := promCPU(b, prom) - cpu0
			c.samples += samples
			c.cpuPer5m += cpu * perFive
			c.wallPer5m += wall * perFive
		}
	}
	return c
}

func query(b *testing.B, prom, expr string, at time.Time) float64 {
	v := url.Values{"query": {sloth2kakeibo(expr)}, "time": {strconv.FormatInt(at.Unix(), 10)}, "stats": {"all"}}
	resp, err := http.PostForm(prom+"/api/v1/query", v)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Stats struct {
				Samples struct {
					TotalQueryableSamples float64 `json:"totalQueryableSamples"`
				} `json:"samples"`
			} `json:"stats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		b.Fatal(err)
	}
	if out.Status != "success" {
		b.Fatalf("%s: %s", expr, out.Error)
	}
	return out.Data.Stats.Samples.TotalQueryableSamples
}

// sloth2kakeibo maps Sloth's recorded 5-minute ratio name onto the one the
// history holds (OpenMetrics names cannot hold ':').
func sloth2kakeibo(expr string) string {
	return strings.ReplaceAll(expr, "slo:sli_error:ratio_rate5m", "slo_sli_error_ratio_rate5m")
}

func promCPU(b *testing.B, prom string) float64 {
	resp, err := http.Get(prom + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	b.Fatal("no process_cpu_seconds_total")
	return 0
}

func BenchmarkRuleCost(b *testing.B) {
	promtool, prometheus := promtest.Need(b, "promtool"), promtest.Need(b, "prometheus")
	series, days := envInt("KAKEIBO_BENCH_SERIES", 1000), envInt("KAKEIBO_BENCH_DAYS", 30)
	dir := b.TempDir()
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)

	t0 := time.Now()
	om := filepath.Join(dir, "history.om")
	f, err := os.Create(om)
	if err != nil {
		b.Fatal(err)
	}
	if err := history(f, series, days, end); err != nil {
		b.Fatal(err)
	}
	f.Close()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", om, data).CombinedOutput(); err != nil {
		b.Fatalf("backfill: %v\n%s", err, out)
	}
	os.Remove(om)
	b.Logf("history: %d series × %d days of 1-minute samples, backfilled in %s", series, days, time.Since(t0).Round(time.Second))

	prom := startPrometheus(b, prometheus, dir, data)

	set, err := slo.LoadBytes("bench.yaml", []byte(specs()))
	if err != nil {
		b.Fatal(err)
	}
	at := end
	sets := map[string][]byte{}
	for name, opts := range map[string]rules.Options{"kakeibo": {}, "kakeibo --exact": {Exact: true}} {
		rf, _, err := rules.Generate(set.Objectives(), opts)
		if err != nil {
			b.Fatal(err)
		}
		sets[name], _ = rules.Marshal(rf)
	}
	if sloth, err := exec.LookPath("sloth"); err == nil {
		periods, _, err := convert.ToSloth(set.Services, rules.Header)
		if err != nil {
			b.Fatal(err)
		}
		in := filepath.Join(dir, "sloth.yml")
		os.WriteFile(in, periods[0].Data, 0o644)
		out, err := exec.Command(sloth, "generate", "--default-slo-period", "30d", "-i", in).Output()
		if err != nil {
			b.Fatalf("sloth generate: %v", err)
		}
		sets["sloth"] = out
	} else {
		b.Log("sloth is not installed: no Sloth figures (go install github.com/slok/sloth/cmd/sloth@v0.16.0)")
	}

	if pyrra, err := exec.LookPath("pyrra"); err == nil {
		sets["pyrra"] = pyrraRules(b, pyrra, dir)
	} else {
		b.Log("pyrra is not installed: no Pyrra figures (bench/pyrra.sh builds it)")
	}

	// kakeibo serve evaluating the same SLOs once a minute through its
	// Prometheus source: without the period ledger (every query raw, as
	// `report` does once), and with it (serve's), first and steady cycles.
	serve := func(ledger bool) func() cost {
		src, err := promsource.New(promsource.Config{URL: prom, Ledger: ledger})
		if err != nil {
			b.Fatal(err)
		}
		return func() cost {
			cpu0, w0 := promCPU(b, prom), time.Now()
			for o, x := range src.Inputs(context.Background(), set.Objectives(), at) {
				if x.Err != nil {
					b.Fatalf("%s: %v", o.ID(), x.Err)
				}
			}
			return cost{cpuPer5m: 5 * (promCPU(b, prom) - cpu0), wallPer5m: 5 * time.Since(w0).Seconds()}
		}
	}

	// Warm the page cache and Prometheus' caches once; then every
	// measurement, rounds times, each round in a different order, and the
	// median round of each (the machine is shared: one noisy round must
	// not decide).
	measure(b, prom, sets["kakeibo"], at)
	rounds := envInt("KAKEIBO_BENCH_ROUNDS", 3)
	runs := map[string][]cost{}
	names := []string{"kakeibo", "kakeibo --exact", "sloth", "pyrra", "kakeibo serve"}
	for r := range rounds {
		for i := range names {
			name := names[(i+r)%len(names)]
			switch {
			case name == "kakeibo serve":
				runs["kakeibo serve, raw"] = append(runs["kakeibo serve, raw"], serve(false)())
				withLedger := serve(true)
				runs["kakeibo serve, first"] = append(runs["kakeibo serve, first"], withLedger())
				runs["kakeibo serve, steady"] = append(runs["kakeibo serve, steady"], withLedger())
			case sets[name] != nil:
				runs[name] = append(runs[name], measure(b, prom, sets[name], at))
			}
		}
	}
	results := map[string]cost{}
	rounded := map[string][]string{} // every round's CPU-s, for the log
	order := []string{"kakeibo", "kakeibo --exact", "sloth", "pyrra", "kakeibo serve, raw", "kakeibo serve, first", "kakeibo serve, steady"}
	for _, name := range order {
		cs := runs[name]
		if len(cs) == 0 {
			continue
		}
		slices.SortFunc(cs, func(a, b cost) int { return cmp.Compare(a.cpuPer5m, b.cpuPer5m) })
		results[name] = cs[len(cs)/2]
		for _, c := range cs {
			rounded[name] = append(rounded[name], fmt.Sprintf("%.1f", c.cpuPer5m))
		}
	}

	base := results["kakeibo --exact"].cpuPer5m
	for _, name := range order {
		c, ok := results[name] // the median round
		if !ok {
			continue
		}
		b.Logf("%-22s %3d recording rules/SLO  %12.0f samples/evaluation  %7.2f Prometheus CPU-s per 5 min (rounds: %s)  %.3f× --exact  wall %6.2f s",
			name, c.rules/nSLOs, c.samples, c.cpuPer5m, strings.Join(rounded[name], " "), c.cpuPer5m/base, c.wallPer5m)
		metric := strings.NewReplacer(" ", "_", "-", "", ",", "").Replace(name)
		b.ReportMetric(c.cpuPer5m, metric+"_cpu-s/5min")
	}
}

// pyrraRules writes the bench's SLOs as Pyrra ServiceLevelObjectives (the
// same selectors, targets and window) and returns what `pyrra generate`
// makes of them: one rule file, every SLO's groups.
func pyrraRules(b *testing.B, pyrra, dir string) []byte {
	in, out := filepath.Join(dir, "pyrra-in"), filepath.Join(dir, "pyrra-out")
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for i := range nSLOs {
		spec := fmt.Sprintf(`apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: shop-slo-%d
spec:
  target: "%g"
  window: 30d
  indicator:
    ratio:
      errors:
        metric: http_requests_total{job="shop",code=~"5..",bench!="slo-%d"}
      total:
        metric: http_requests_total{job="shop",bench!="slo-%d"}
`, i, 99+float64(i)/10, i, i)
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("slo-%d.yaml", i)), []byte(spec), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if o, err := exec.Command(pyrra, "generate", "--config-files="+filepath.Join(in, "*.yaml"), "--prometheus-folder="+out).CombinedOutput(); err != nil {
		b.Fatalf("pyrra generate: %v\n%s", err, o)
	}
	var all ruleFile
	for i := range nSLOs {
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("slo-%d.yaml", i)))
		if err != nil {
			b.Fatal(err)
		}
		var f ruleFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			b.Fatal(err)
		}
		all.Groups = append(all.Groups, f.Groups...)
	}
	data, err := yaml.Marshal(all)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func startPrometheus(b *testing.B, bin, dir, data string) string {
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {}\n"), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+data, "--storage.tsdb.retention.time=10y",
		"--web.listen-address="+addr, "--log.level=warn", "--query.max-samples=500000000", "--query.timeout=10m")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	u := "http://" + addr
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get(u + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return u
			}
		}
	}
	b.Fatal("prometheus not ready")
	return ""
}
