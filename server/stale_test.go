package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestNodeThatLeftIsGivenUp: when one of a load balancer's two nodes stops
// delivering (ALB scaled in), it is waited for two delivery intervals
// (NodeGrace), then given up: the evaluation follows the node that goes on
// delivering, and the data's age is the age of the numbers evaluated,
// never fresher. When every node stops, the SLO goes stale.
func TestNodeThatLeftIsGivenUp(t *testing.T) {
	set, err := slo.Load("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	o := set.Objectives()[0]
	lb := o.SLI.ALB.LoadBalancer
	store := alb.NewMemStore()
	minute := func(tm time.Time) int64 { return tm.Unix() / 60 }
	t0 := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, store.Commit(&alb.Batch{Watermarks: map[string]int64{
		alb.NodeKey(lb, "10.0.1.11"): minute(t0), alb.NodeKey(lb, "10.0.1.12"): minute(t0)}}))
	counts := map[alb.BucketKey]alb.Count{}
	for m := minute(t0.Add(-time.Hour)); m < minute(t0.Add(25*time.Minute)); m++ {
		counts[alb.BucketKey{SLI: o.ID(), Minute: m}] = alb.Count{Good: 10, Total: 10}
	}
	require.NoError(t, store.Commit(&alb.Batch{Counts: counts}))
	// 10.0.1.12 leaves; 10.0.1.11 delivers every interval up to 10:25.
	at := func(now time.Time) slo.Result {
		return Evaluate(context.Background(), Sources{ALB: store}, []*slo.Objective{o}, time.Time{}, now)[0]
	}
	for end := t0.Add(5 * time.Minute); !end.After(t0.Add(25 * time.Minute)); end = end.Add(5 * time.Minute) {
		require.NoError(t, store.Commit(&alb.Batch{Watermarks: map[string]int64{alb.NodeKey(lb, "10.0.1.11"): minute(end)}}))
		r := at(end.Add(2 * time.Minute))
		switch {
		case end.Sub(t0) <= alb.DefaultNodeGrace: // waited for
			require.Equal(t, t0.Add(-5*time.Minute), r.At, "at %s: the node that left is waited for", end)
		default: // given up: the other node decides
			require.Equal(t, end.Add(-5*time.Minute), r.At, "at %s: the node that left is given up", end)
		}
		require.Equal(t, r.At, r.LastData(), "the data is as old as the numbers")
	}
	now := t0.Add(27 * time.Minute) // the 10:25 file landed two minutes ago
	r := at(now)
	require.Equal(t, t0.Add(20*time.Minute), r.At)
	require.NotEqual(t, slo.StatusStale, slo.MarkStale(r, now, slo.DefaultStaleAfter).Status)

	// The node comes back with its late files: it counts again.
	require.NoError(t, store.Commit(&alb.Batch{Watermarks: map[string]int64{alb.NodeKey(lb, "10.0.1.12"): minute(t0.Add(25 * time.Minute))}}))
	require.Equal(t, t0.Add(20*time.Minute), at(now).At)

	// Every node silent: more than 25 minutes after the numbers end, stale.
	later := t0.Add(46 * time.Minute)
	r = at(later)
	require.Equal(t, slo.StatusStale, slo.MarkStale(r, later, slo.DefaultStaleAfter).Status)
}

// TestPrometheusStale: a Prometheus SLO whose series stopped being scraped
// two hours ago is stale (its data ends at the newest sample, more than 5
// minutes ago), keeps its last numbers, and says since when; one whose
// series are current is not.
func TestPrometheusStale(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	stopped := now.Add(-2 * time.Hour)
	var b strings.Builder
	b.WriteString("# TYPE http_requests counter\n")
	for _, job := range []string{"gone", "live"} {
		last := now
		if job == "gone" {
			last = stopped
		}
		n := 0.0
		for at := now.Add(-24 * time.Hour); !at.After(last); at = at.Add(time.Minute) {
			fmt.Fprintf(&b, "http_requests_total{job=%q,code=\"200\"} %g %d\n", job, n, at.Unix())
			n += 100
		}
	}
	b.WriteString("# EOF\n")
	prom := promtest.Start(t, b.String(), time.Minute)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(`service: shop
slos:
  - name: gone
    objective: 99.9
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="gone",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="gone"}[{{.window}}]))
  - name: live
    objective: 99.9
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="live",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="live"}[{{.window}}]))
`), 0o644))
	s, err := New(Config{SpecPaths: []string{dir}, DataDir: t.TempDir(), Registry: prometheus.NewRegistry(),
		Prometheus: &promsource.Config{URL: prom.URL}, EvalInterval: time.Minute, Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.evaluateOnce(t.Context())
	byName := map[string]slo.Result{}
	for _, r := range s.latest.Load().results {
		byName[r.Objective.Name] = r
	}
	gone, live := byName["gone"], byName["live"]
	require.Equal(t, slo.StatusStale, gone.Status)
	require.True(t, gone.LastData().Equal(stopped), "data ends at the newest sample: %s, want %s", gone.LastData(), stopped)
	require.True(t, gone.HasData, "the last numbers are kept")
	require.NotEqual(t, slo.StatusStale, live.Status)
	require.LessOrEqual(t, now.Sub(live.LastData()), time.Minute)
}
