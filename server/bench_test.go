package server

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

const benchSLOs = 1000

// benchSpecs writes 100 services × 10 ALB-backed SLOs (availability and
// latency, 30d) over 10 load balancers.
func benchSpecs(t testing.TB, dir string) {
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for svc := range benchSLOs / 10 {
		var b strings.Builder
		fmt.Fprintf(&b, "service: svc-%03d\nlabels: {team: team-%d}\nslos:\n", svc, svc%7)
		for i := range 10 {
			lb := fmt.Sprintf("app/lb-%02d/%016x", svc%10, svc%10+1)
			fmt.Fprintf(&b, "  - name: slo-%d\n    objective: 99.9\n    window: 30d\n    sli:\n      alb:\n        load_balancer: %s\n        hosts: [svc-%03d.example.com]\n", i, lb, svc)
			if i%2 == 1 {
				b.WriteString("        latency: {threshold: 300ms}\n")
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc-%03d.yaml", svc)), []byte(b.String()), 0o644))
	}
}

// benchData fills a data dir with 30 days (plus a day) of minute buckets for
// every SLO, as ingestion would, and sets the watermarks to end.
func benchData(t testing.TB, dir string, end time.Time) {
	db, err := alb.OpenDB(dir)
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 1))
	ids := make([]string, 0, benchSLOs)
	counted := map[string]bool{}
	for svc := range benchSLOs / 10 {
		for i := range 10 {
			id := fmt.Sprintf("svc-%03d/slo-%d", svc, i)
			ids = append(ids, id)
			counted[id] = true
		}
	}
	start := end.Add(-31*24*time.Hour).Unix() / 60
	for h := start; h < end.Unix()/60; h += 60 {
		batch := &alb.Batch{Counts: make(map[alb.BucketKey]alb.Count, len(ids)*60), Watermarks: map[string]int64{}}
		for _, id := range ids {
			for m := h; m < h+60; m++ {
				bad := int64(0)
				if rng.IntN(50) == 0 {
					bad = int64(rng.IntN(5))
				}
				batch.Counts[alb.BucketKey{SLI: id, Minute: m}] = alb.Count{Good: 100 - bad, Total: 100}
			}
		}
		for lb := range 10 {
			batch.Watermarks[fmt.Sprintf("app/lb-%02d/%016x", lb, lb+1)] = h + 59
		}
		require.NoError(t, store.Commit(batch))
	}
	require.NoError(t, store.SetCountedSLIs(counted))
}

// benchDir prepares (or reuses, with KAKEIBO_BENCH_DIR) specs and data.
func benchDir(b *testing.B) (specs, data string) {
	dir := os.Getenv("KAKEIBO_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	specs, data = filepath.Join(dir, "specs"), filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(dir, ".ready")); err != nil {
		start := time.Now()
		benchSpecs(b, specs)
		benchData(b, data, time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC))
		require.NoError(b, os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
		require.NoError(b, os.WriteFile(filepath.Join(dir, ".ready"), nil, 0o644))
		b.Logf("wrote %d SLOs × 31 days of minute buckets in %s", benchSLOs, time.Since(start).Round(time.Second))
	}
	return specs, data
}

// BenchmarkEvaluate1000ALBSLOs measures one evaluation cycle of 1,000
// ALB-backed SLOs over 30 days of minute buckets (the alert windows and the
// period of each), the heap the service holds per SLO, and the time from
// opening the data dir to the first evaluation (ready). As a baseline in the
// same run it also adds up every minute of each SLO's 30 days (what a
// per-minute store would have to read).
func BenchmarkEvaluate1000ALBSLOs(b *testing.B) {
	specs, data := benchDir(b)
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
	require.Len(b, snap.results, benchSLOs)
	for _, r := range snap.results {
		require.True(b, r.HasData, r.Objective.ID())
	}

	// Baseline: every minute of every SLO's period, one by one.
	baseStart := time.Now()
	at := snap.results[0].At
	var n int64
	for _, r := range snap.results {
		require.NoError(b, s.albDB.Range(r.Objective.ID(), at.Add(-30*24*time.Hour).Unix()/60, at.Unix()/60, func(int64, alb.Count) { n++ }))
	}
	baseline := time.Since(baseStart)

	b.ResetTimer()
	for b.Loop() {
		s.evaluateOnce(b.Context())
	}
	b.StopTimer()
	perCycle := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perCycle.Milliseconds()), "ms/cycle")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/benchSLOs/1024, "heap-KB/SLO")
	b.ReportMetric(float64(ready.Milliseconds()), "ms-to-ready")
	b.ReportMetric(float64(baseline.Milliseconds()), "ms-minute-scan-baseline")
	b.ReportMetric(float64(baseline)/float64(perCycle), "x-faster-than-baseline")
	b.Logf("minutes scanned by the baseline: %d", n)
}

// BenchmarkMetricsScrape serves /metrics for 1,000 ALB SLOs in 100
// services, once with no spec labels (the baseline) and once with two label
// keys per service that no other service uses (owner_NNN, tier_NNN): the
// shape that made every series carry 200 empty labels. It reports the
// exposition's size and the bytes allocated per scrape, scraping from 8
// goroutines at once.
func BenchmarkMetricsScrape(b *testing.B) {
	benchSpecsDir, data := benchDir(b)
	logs := filepath.Join(filepath.Dir(benchSpecsDir), "logs")
	for _, labelled := range []bool{false, true} {
		name := "no-labels"
		if labelled {
			name = "two-keys-per-service"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			specs := filepath.Join(dir, "specs")
			benchSpecs(b, specs)
			if labelled {
				for svc := range benchSLOs / 10 {
					p := filepath.Join(specs, fmt.Sprintf("svc-%03d.yaml", svc))
					spec, err := os.ReadFile(p)
					require.NoError(b, err)
					spec = []byte(strings.Replace(string(spec), "labels: {team: team-", fmt.Sprintf("labels: {owner_%03d: x, tier_%03d: y, team: team-", svc, svc), 1))
					require.NoError(b, os.WriteFile(p, spec, 0o644))
				}
			} else {
				for svc := range benchSLOs / 10 {
					p := filepath.Join(specs, fmt.Sprintf("svc-%03d.yaml", svc))
					spec, err := os.ReadFile(p)
					require.NoError(b, err)
					spec = []byte(strings.Replace(string(spec), fmt.Sprintf("labels: {team: team-%d}\n", svc%7), "", 1))
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
