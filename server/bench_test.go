package server

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

const benchSLOs = 1000

// benchSizes are the SLO counts BenchmarkEvaluateALBSLOs measures:
// KAKEIBO_BENCH_SLOS (comma-separated), 1000 by default. 10000 writes a
// data directory of about 8 GB the first time (KAKEIBO_BENCH_DIR keeps it).
func benchSizes() []int {
	v := os.Getenv("KAKEIBO_BENCH_SLOS")
	if v == "" {
		return []int{benchSLOs}
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err == nil && n >= 10 {
			out = append(out, n/10*10)
		}
	}
	return out
}

// benchLBs is how many load balancers n SLOs are spread over: 10 per 1,000
// SLOs (100 at 10,000), at least 10.
func benchLBs(n int) int { return max(10, n/100) }

func benchLB(i int) string { return fmt.Sprintf("app/lb-%03d/%016x", i, i+1) }

// benchSpecs writes n/10 services × 10 ALB-backed SLOs (availability and
// latency, 30d) over benchLBs(n) load balancers; every team has a label
// key of its own.
func benchSpecs(t testing.TB, dir string, n int) {
	require.NoError(t, os.MkdirAll(dir, 0o755))
	lbs := benchLBs(n)
	for svc := range n / 10 {
		var b strings.Builder
		fmt.Fprintf(&b, "service: svc-%04d\nlabels: {team: team-%d, tier_team%d: gold}\nslos:\n", svc, svc%7, svc%7)
		for i := range 10 {
			fmt.Fprintf(&b, "  - name: slo-%d\n    objective: 99.9\n    window: 30d\n    sli:\n      alb:\n        load_balancer: %s\n        hosts: [svc-%04d.example.com]\n", i, benchLB(svc%lbs), svc)
			if i%2 == 1 {
				b.WriteString("        latency: {threshold: 300ms}\n")
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc-%04d.yaml", svc)), []byte(b.String()), 0o644))
	}
}

// benchData fills a data dir with 31 days of minute buckets for each of n
// SLOs, every minute with traffic and one minute in 50 with errors, and
// sets the watermarks to end. The buckets go in with Load, 100 SLOs a
// transaction.
func benchData(t testing.TB, dir string, end time.Time, n int) {
	db, err := alb.OpenDB(dir)
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 1))
	counted := map[string]bool{}
	first := end.Add(-31*24*time.Hour).Unix() / 60
	minutes := int(end.Unix()/60 - first)
	batch := map[string][]alb.Count{}
	for svc := range n / 10 {
		for i := range 10 {
			id := fmt.Sprintf("svc-%04d/slo-%d", svc, i)
			counted[id] = true
			ms := make([]alb.Count, minutes)
			for m := range ms {
				bad := int64(0)
				if rng.IntN(50) == 0 {
					bad = int64(rng.IntN(5))
				}
				ms[m] = alb.Count{Good: 100 - bad, Total: 100}
			}
			batch[id] = ms
		}
		if len(batch) >= 100 {
			require.NoError(t, store.Load(first, batch))
			clear(batch)
		}
	}
	require.NoError(t, store.Load(first, batch))
	wms := map[string]int64{}
	for lb := range benchLBs(n) {
		wms[benchLB(lb)] = end.Unix()/60 - 1
	}
	require.NoError(t, store.Commit(&alb.Batch{Watermarks: wms}))
	require.NoError(t, store.SetCountedSLIs(counted))
}

// benchDir prepares (or reuses, with KAKEIBO_BENCH_DIR) specs and data for
// n SLOs, ending at the last whole hour: a data dir is reused while it ends
// less than 2 hours ago (bench/serve.sh runs the real binary on it, which
// prunes what the clock says is past its windows).
func benchDir(b *testing.B, n int) (specs, data string) {
	dir := os.Getenv("KAKEIBO_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, fmt.Sprint(n))
	specs, data = filepath.Join(dir, "specs"), filepath.Join(dir, "data")
	ready := filepath.Join(dir, ".ready")
	if v, err := os.ReadFile(ready); err == nil {
		if end, err := time.Parse(time.RFC3339, strings.TrimSpace(string(v))); err == nil && time.Since(end) < 2*time.Hour {
			return specs, data
		}
	}
	start := time.Now()
	end := start.UTC().Truncate(time.Hour)
	require.NoError(b, os.RemoveAll(dir))
	benchSpecs(b, specs, n)
	benchData(b, data, end, n)
	require.NoError(b, os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
	require.NoError(b, os.WriteFile(ready, []byte(end.Format(time.RFC3339)+"\n"), 0o644))
	b.Logf("wrote %d SLOs × 31 days of minute buckets in %s", n, time.Since(start).Round(time.Second))
	return specs, data
}

// BenchmarkEvaluateALBSLOs measures evaluation cycles of n ALB-backed SLOs
// (benchSizes) over 30 days of minute buckets (the alert windows and the
// period of each), the heap the service holds per SLO, and the time from
// opening the data dir to the first evaluation (ready). Two kinds of cycle:
// unchanged, where no watermark moved and no count changed (the memo keeps
// every result), and moved, where every load balancer's watermark moves a
// minute (every SLO is recomputed, as at a minute's turn). As a baseline in
// the same run it adds up every minute of 100 SLOs' 30 days (what a
// per-minute store would read), scaled to n.
func BenchmarkEvaluateALBSLOs(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			specs, data := benchDir(b, n)
			logs := filepath.Join(filepath.Dir(specs), "logs")

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			s, err := New(Config{SpecPaths: []string{specs}, DataDir: data, ALBLogs: logs, Registry: prometheus.NewRegistry()})
			require.NoError(b, err)
			defer s.Close()
			s.evaluateOnce(b.Context())
			ready := time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&after)
			snap := s.latest.Load()
			require.Len(b, snap.results, n)
			for _, r := range snap.results {
				require.True(b, r.HasData, r.Objective.ID())
			}

			baseStart := time.Now()
			at := snap.results[0].At
			var scanned int64
			for _, r := range snap.results[:100] {
				require.NoError(b, s.albDB.Range(r.Objective.ID(), at.Add(-30*24*time.Hour).Unix()/60, at.Unix()/60, func(int64, alb.Count) { scanned++ }))
			}
			baseline := time.Since(baseStart) * time.Duration(n) / 100

			for _, moved := range []bool{false, true} {
				name := "unchanged"
				if moved {
					name = "moved"
				}
				b.Run(name, func(b *testing.B) {
					w, _, err := s.albDB.Watermark(benchLB(0)) // a reused data dir keeps the last run's
					require.NoError(b, err)
					for b.Loop() {
						if moved {
							b.StopTimer()
							w++
							wms := map[string]int64{}
							for lb := range benchLBs(n) {
								wms[benchLB(lb)] = w
							}
							require.NoError(b, s.albDB.Commit(&alb.Batch{Watermarks: wms}))
							b.StartTimer()
						}
						s.evaluateOnce(b.Context())
					}
					perCycle := b.Elapsed() / time.Duration(b.N)
					b.ReportMetric(float64(perCycle.Milliseconds()), "ms/cycle")
					b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(n)/1024, "heap-KB/SLO")
					b.ReportMetric(float64(ready.Milliseconds()), "ms-to-ready")
					b.ReportMetric(float64(baseline.Milliseconds()), "ms-minute-scan-baseline")
					b.ReportMetric(float64(baseline)/float64(perCycle), "x-faster-than-baseline")
				})
			}
			b.Logf("minutes scanned by the baseline (100 SLOs): %d", scanned)
		})
	}
}

// BenchmarkMetricsScrape serves /metrics for 1,000 ALB SLOs in 100
// services, once with no spec labels (the baseline) and once with two label
// keys per service that no other service uses (owner_NNN, tier_NNN): the
// shape that made every series carry 200 empty labels. It reports the
// exposition's size and the bytes allocated per scrape, scraping from 8
// goroutines at once.
func BenchmarkMetricsScrape(b *testing.B) {
	benchSpecsDir, data := benchDir(b, benchSLOs)
	logs := filepath.Join(filepath.Dir(benchSpecsDir), "logs")
	for _, labelled := range []bool{false, true} {
		name := "no-labels"
		if labelled {
			name = "two-keys-per-service"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			specs := filepath.Join(dir, "specs")
			benchSpecs(b, specs, benchSLOs)
			if labelled {
				for svc := range benchSLOs / 10 {
					p := filepath.Join(specs, fmt.Sprintf("svc-%04d.yaml", svc))
					spec, err := os.ReadFile(p)
					require.NoError(b, err)
					spec = []byte(strings.Replace(string(spec), "labels: {team: team-", fmt.Sprintf("labels: {owner_%04d: x, tier_%04d: y, team: team-", svc, svc), 1))
					require.NoError(b, os.WriteFile(p, spec, 0o644))
				}
			} else {
				for svc := range benchSLOs / 10 {
					p := filepath.Join(specs, fmt.Sprintf("svc-%04d.yaml", svc))
					spec, err := os.ReadFile(p)
					require.NoError(b, err)
					spec = regexp.MustCompile(`labels: \{[^}]*\}\n`).ReplaceAll(spec, nil)
					require.NoError(b, os.WriteFile(p, spec, 0o644))
				}
			}
			s, err := New(Config{SpecPaths: []string{specs}, DataDir: data, ALBLogs: logs, Registry: prometheus.NewRegistry()})
			require.NoError(b, err)
			defer s.Close()
			s.evaluateOnce(b.Context())
			size := len(s.latest.Load().exposition)
			h := s.Handler()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.SetParallelism(4) // 8 goroutines on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/metrics", nil)
				for pb.Next() {
					w := &discard{h: http.Header{}}
					h.ServeHTTP(w, req)
					if w.n < size {
						b.Errorf("short answer: %d bytes", w.n)
					}
				}
			})
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(size)/1024, "KB-exposition")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/1024, "KB-alloc/scrape")
		})
	}
}

// discard is a ResponseWriter that keeps nothing, as a socket would.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
