package server

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// TestMemoReusesOnlyUnchangedSLOs: a cycle in which nothing changed reuses
// every ALB result; late entries for one SLO recompute that SLO alone; a
// moved watermark recomputes its load balancer's SLOs; and the results
// always equal an evaluation without the memo.
func TestMemoReusesOnlyUnchangedSLOs(t *testing.T) {
	s := exampleServer(t)
	objs, _ := s.specs.Load().Evaluated()
	now := s.cfg.Now()
	evaluate := func() map[string]uintptr {
		rs := s.evaluate(t.Context(), objs, now)
		src := s.sources()
		want := Evaluate(t.Context(), src, objs, time.Time{}, now)
		ids := map[string]uintptr{}
		for i, r := range rs {
			require.Equal(t, want[i], r, "%s: the memo says what a fresh evaluation says", r.Objective.ID())
			if r.Objective.SLI.ALB != nil && r.Windows != nil {
				ids[r.Objective.ID()] = reflect.ValueOf(r.Windows).Pointer()
			}
		}
		return ids
	}
	first := evaluate()
	require.NotEmpty(t, first)
	second := evaluate()
	require.Equal(t, first, second, "nothing changed: every ALB result is reused")

	// Late entries for mart-api/availability, a minute inside its windows.
	const sli = "mart-api/availability"
	w, ok, err := s.albDB.Watermark("app/mart-api/50dc6c495c0c9188")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.albDB.Commit(&alb.Batch{Counts: map[alb.BucketKey]alb.Count{{SLI: sli, Minute: w - 3}: {Good: 0, Total: 500}}}))
	third := evaluate()
	for id, p := range third {
		if id == sli {
			require.NotEqual(t, second[id], p, "the SLO with late entries is recomputed")
		} else {
			require.Equal(t, second[id], p, "%s is reused", id)
		}
	}

	// The watermark moves: that load balancer's SLOs are recomputed.
	require.NoError(t, s.albDB.Commit(&alb.Batch{Watermarks: map[string]int64{"app/mart-api/50dc6c495c0c9188": w + 1}}))
	fourth := evaluate()
	moved := 0
	for _, o := range objs {
		if o.SLI.ALB == nil || fourth[o.ID()] == 0 {
			continue
		}
		if o.SLI.ALB.LoadBalancer == "app/mart-api/50dc6c495c0c9188" {
			require.NotEqual(t, third[o.ID()], fourth[o.ID()], "%s ends at the new watermark", o.ID())
			moved++
		} else {
			require.Equal(t, third[o.ID()], fourth[o.ID()], "%s is reused", o.ID())
		}
	}
	require.Positive(t, moved)
}

// TestRenderCacheSaysWhatAFreshRenderSays: across cycles where nothing
// changed, one SLO got late entries, and a status moved, the exposition
// built from kept lines is byte for byte the one rendered afresh, and the
// kept report entries are the ones made afresh.
func TestRenderCacheSaysWhatAFreshRenderSays(t *testing.T) {
	s := exampleServer(t)
	check := func(what string) {
		snap := s.latest.Load()
		require.Equal(t, string(render(snap, nil, nil)), string(snap.exposition), what)
		for i, r := range snap.results {
			want := slo.NewReportSLO(r)
			got := snap.report.SLOs[i]
			require.NotNil(t, got.DataAgeSeconds)
			want.DataAgeSeconds = got.DataAgeSeconds
			require.Equal(t, want, got, "%s: %s", what, r.Objective.ID())
		}
	}
	check("first cycle")
	s.evaluateOnce(t.Context())
	check("nothing changed")
	w, _, err := s.albDB.Watermark("app/mart-api/50dc6c495c0c9188")
	require.NoError(t, err)
	require.NoError(t, s.albDB.Commit(&alb.Batch{Counts: map[alb.BucketKey]alb.Count{{SLI: "mart-api/latency", Minute: w - 2}: {Good: 0, Total: 900}}}))
	s.evaluateOnce(t.Context())
	check("late entries for one SLO")
	// Hours later, with no new logs, the kept results turn stale.
	s.cfg.Now = func() time.Time { return time.Date(2026, 10, 2, 6, 0, 0, 0, time.UTC) }
	s.evaluateOnce(t.Context())
	check("stale")
	require.Contains(t, string(s.latest.Load().exposition), `status="stale"`)
}
