package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// TestNodeThatLeftIsNotStale: when one of a load balancer's two nodes stops
// delivering (ALB scaled in), minutes count as complete only after a grace,
// so the evaluation time falls behind by up to 20 minutes. The logs are
// still arriving, so the SLO is not stale and sends no "no data" ticket;
// when every node stops, it is.
func TestNodeThatLeftIsNotStale(t *testing.T) {
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
	for end := t0.Add(5 * time.Minute); !end.After(t0.Add(25 * time.Minute)); end = end.Add(5 * time.Minute) {
		require.NoError(t, store.Commit(&alb.Batch{Watermarks: map[string]int64{alb.NodeKey(lb, "10.0.1.11"): minute(end)}}))
	}
	now := t0.Add(27 * time.Minute) // the 10:25 file landed two minutes ago
	r := Evaluate(context.Background(), Sources{ALB: store}, []*slo.Objective{o}, time.Time{}, now)[0]
	require.Equal(t, t0.Add(5*time.Minute), r.At, "evaluated where every node is complete (newest - 15m grace - 5m)")
	require.Equal(t, t0.Add(25*time.Minute), r.LastData())
	require.Greater(t, now.Sub(r.At), slo.DefaultStaleAfter, "the evaluation time alone would look stale")
	require.NotEqual(t, slo.StatusStale, slo.MarkStale(r, now, slo.DefaultStaleAfter).Status)

	// Every node silent: 21 minutes after the newest log, it is stale.
	later := t0.Add(46 * time.Minute)
	r = Evaluate(context.Background(), Sources{ALB: store}, []*slo.Objective{o}, time.Time{}, later)[0]
	require.Equal(t, slo.StatusStale, slo.MarkStale(r, later, slo.DefaultStaleAfter).Status)
}
