package alb_test

import (
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
