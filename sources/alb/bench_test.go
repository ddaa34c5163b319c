package alb_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// BenchmarkIngest reads a generated hour of two load balancers (about 180k
// lines) with the example specs' five ALB SLIs, into memory.
func BenchmarkIngest(b *testing.B) {
	cfg := albgen.Example(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 1500)
	cfg.Duration = time.Hour
	cfg.Traps = false
	dir := b.TempDir()
	sum, err := albgen.Write(cfg, dir)
	require.NoError(b, err)
	set, err := slo.Load("../../testdata/specs")
	require.NoError(b, err)
	cls := alb.NewClassifier(set.Objectives())
	b.SetBytes(sum.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: dir}, Store: alb.NewMemStore(), Classifier: cls})
		require.NoError(b, err)
		st, err := ing.Ingest(b.Context(), time.Time{}, time.Time{})
		require.NoError(b, err)
		require.Equal(b, int64(sum.Lines), st.Lines)
	}
	b.ReportMetric(float64(sum.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkIngestScale reads the same logs (an hour of one load balancer
// serving 100 services by host, about 90k lines) with 1, 100 or 10,000
// SLOs on that load balancer: 100 per service file, one host each (the
// 100 hosts the traffic goes to, then hosts no request asks for), half
// with a path filter, a third latency SLOs. Lines/s should not fall with
// the SLO count.
func BenchmarkIngestScale(b *testing.B) {
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 1500)
	cfg.Start, cfg.Duration, cfg.Traps, cfg.MalformedEvery = start, time.Hour, false, 0
	cfg.LoadBalancers = cfg.LoadBalancers[:1]
	lb := &cfg.LoadBalancers[0]
	lb.Hosts = nil
	for i := range 100 {
		lb.Hosts = append(lb.Hosts, fmt.Sprintf("svc%d.shop.example.com", i))
	}
	logs := b.TempDir()
	sum, err := albgen.Write(cfg, logs)
	require.NoError(b, err)
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			specs := alb.WriteScaleSpecs(b, n, lb.Name, "^/v1/")
			set, err := slo.Load(specs)
			require.NoError(b, err)
			cls := alb.NewClassifier(set.Objectives())
			b.SetBytes(sum.Bytes)
			b.ReportAllocs()
			for b.Loop() {
				ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: logs}, Store: alb.NewMemStore(), Classifier: cls})
				require.NoError(b, err)
				st, err := ing.Ingest(b.Context(), time.Time{}, time.Time{})
				require.NoError(b, err)
				require.Equal(b, int64(sum.Lines), st.Lines)
			}
			b.ReportMetric(float64(sum.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkShards reads an hour of the example's two load balancers (about
// 180k lines) as one process over both, and as two shards, each over one
// load balancer with its own store, running at once: the lines/s of each.
// Here both share the same 2 CPUs (each shard gets one parser), so the
// ratio says what splitting costs; on separate machines each shard has
// its own.
func BenchmarkShards(b *testing.B) {
	cfg := albgen.Example(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 1500)
	cfg.Duration, cfg.Traps = time.Hour, false
	dir := b.TempDir()
	sum, err := albgen.Write(cfg, dir)
	require.NoError(b, err)
	set, err := slo.Load("../../testdata/specs")
	require.NoError(b, err)
	all := set.Objectives()
	byLB := map[string][]*slo.Objective{}
	for _, o := range all {
		if o.SLI.ALB != nil {
			byLB[o.SLI.ALB.LoadBalancer] = append(byLB[o.SLI.ALB.LoadBalancer], o)
		}
	}
	ingest := func(objs []*slo.Objective, parsers int) int64 {
		ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: dir}, Store: alb.NewMemStore(), Classifier: alb.NewClassifier(objs), Parsers: parsers})
		require.NoError(b, err)
		st, err := ing.Ingest(b.Context(), time.Time{}, time.Time{})
		require.NoError(b, err)
		return st.Lines
	}
	b.Run("shards=1", func(b *testing.B) {
		for b.Loop() {
			require.Equal(b, int64(sum.Lines), ingest(all, 0))
		}
		b.ReportMetric(float64(sum.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("shards=2", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			var lines atomic.Int64
			for _, objs := range byLB {
				wg.Go(func() { lines.Add(ingest(objs, 1)) })
			}
			wg.Wait()
			// Each shard reads every object's name but counts the lines of
			// its own load balancer only.
			require.Positive(b, lines.Load())
		}
		b.ReportMetric(float64(sum.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
