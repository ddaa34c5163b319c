package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
)

// TestHungDependencies: a Prometheus and an Alertmanager that accept
// connections and never answer. The evaluation still finishes (the
// Prometheus SLOs are no_data with the reason, after the per-cycle
// deadline), the ALB SLOs are evaluated as usual, and the service is ready.
func TestHungDependencies(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hung.Close()
	defer close(release)
	s, err := New(Config{
		SpecPaths: []string{"../testdata/specs"}, DataDir: t.TempDir(), ALBLogs: "../testdata/alb",
		Registry: prometheus.NewRegistry(), EvalInterval: 300 * time.Millisecond,
		Prometheus:       &promsource.Config{URL: hung.URL, Timeout: time.Minute},
		AlertmanagerURLs: []string{hung.URL},
		Now:              func() time.Time { return time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC) },
	})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.True(t, s.ingestOnce(t.Context(), true))

	done := make(chan struct{})
	go func() { s.evaluateOnce(t.Context()); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // far beyond the 300ms deadline; the query timeout is a minute
		t.Fatal("the evaluation waited for the hung Prometheus or Alertmanager")
	}
	require.True(t, s.ready.Load())
	snap := s.latest.Load()
	var alb, prom int
	for _, r := range snap.results {
		switch {
		case r.Objective.SLI.Prometheus != nil:
			prom++
			require.Equal(t, slo.StatusNoData, r.Status)
			require.ErrorContains(t, r.Err, "Prometheus did not answer within the evaluation deadline (300ms)")
		case r.Objective.SLI.ALB != nil:
			alb++
			require.NotEqual(t, slo.StatusNoData, r.Status, r.Objective.ID())
		}
	}
	require.Positive(t, alb)
	require.Positive(t, prom)
	require.True(t, strings.Contains(snap.report.SLOs[0].Error, "did not answer") || snap.report.SLOs[0].Source == "alb")
}
