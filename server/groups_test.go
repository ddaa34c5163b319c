package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestGroupedSLOWithoutPrometheusSaysWhy: the groups of a grouped SLO are
// found in Prometheus; a service started without one shows the grouped SLO
// as one no_data row that says why, rather than no row at all.
func TestGroupedSLOWithoutPrometheusSaysWhy(t *testing.T) {
	dir := t.TempDir()
	specs := filepath.Join(dir, "specs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(`service: shop
slos:
  - name: requests
    objective: 99
    window: 7d
    sli:
      prometheus:
        bad:   sum(increase(http_requests_total{code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total[{{.window}}]))
        by: [route]
`), 0o644))
	now := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: filepath.Join(dir, "data"),
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.evaluateOnce(t.Context())
	rep := s.latest.Load().report
	require.Len(t, rep.SLOs, 1)
	require.Equal(t, "requests", rep.SLOs[0].SLO)
	require.Equal(t, slo.StatusNoData, rep.SLOs[0].Status)
	require.Contains(t, rep.SLOs[0].Error, "--prometheus-url")
}
