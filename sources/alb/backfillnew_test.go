package alb_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// arrivingSource shows the objects of a directory up to a time (logs as
// they arrive), and holds the reading of those up to another until a gate
// opens (a slow store under the new SLO's backfill).
type arrivingSource struct {
	alb.DirSource
	mu      sync.Mutex
	visible time.Time
	slowTo  time.Time
	gate    chan struct{}
	held    chan string
}

func (a *arrivingSource) List(ctx context.Context, from, to time.Time, fn func(alb.Object) error) error {
	a.mu.Lock()
	visible := a.visible
	a.mu.Unlock()
	return a.DirSource.List(ctx, from, to, func(o alb.Object) error {
		if o.Info.End.After(visible) {
			return nil
		}
		return fn(o)
	})
}

func (a *arrivingSource) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if !alb.ParseKey(key).End.After(a.slowTo) {
		select {
		case a.held <- key:
		default:
		}
		select {
		case <-a.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return a.DirSource.Open(ctx, key)
}

// TestNewSLOBackfillsBesideTheIngest: an SLO is added to three running
// ones, on a load balancer they already read. Their history is counted by BackfillNew while ingest passes go on
// without them (the passes are not held up by the history's slow reads),
// then they join the passes: every SLO's counts equal the truth, each
// object counted exactly once, whether it arrived before, during or after
// the backfill.
func TestNewSLOBackfillsBesideTheIngest(t *testing.T) {
	start := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 3*time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	objs := set.Objectives()
	all := alb.NewClassifier(objs)
	src := &arrivingSource{DirSource: alb.DirSource{Root: dir}, visible: start.Add(time.Hour), gate: make(chan struct{}), held: make(chan string, 1)}
	store := alb.NewMemStore()
	var exclusive sync.Mutex
	pending := map[string]bool{}
	var handed []string
	pass := func(cls *alb.Classifier, visible time.Time) {
		exclusive.Lock()
		defer exclusive.Unlock()
		src.mu.Lock()
		src.visible = visible
		src.mu.Unlock()
		p := map[string]bool{}
		for id := range pending {
			p[id] = true
		}
		ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls, Pending: p,
			NewSLIs: func(fresh []string) { handed = fresh }})
		require.NoError(t, err)
		_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
		require.NoError(t, err)
	}
	// The first hour, with the first three SLOs.
	pass(alb.NewClassifier(objs[:3]), start.Add(time.Hour))
	src.slowTo = start.Add(time.Hour) // what is ledgered now reads slowly

	// The second hour, with all four: one is new and handed over.
	pass(all, start.Add(2*time.Hour))
	require.Equal(t, []string{objs[3].ID()}, handed)
	for _, id := range handed {
		pending[id] = true
	}
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: all})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := ing.BackfillNew(t.Context(), handed, time.Time{}, &exclusive, func() { clear(pending) })
		done <- err
	}()
	<-src.held // the backfill is reading the first hour, slowly
	// The third hour arrives and is ingested for the two others meanwhile.
	handed = nil
	pass(all, start.Add(3*time.Hour))
	require.Empty(t, handed, "pending SLOs are not handed over twice")
	counted, err := store.CountedSLIs()
	require.NoError(t, err)
	require.False(t, counted[objs[3].ID()], "not counted before its history is")

	close(src.gate)
	require.NoError(t, <-done)
	require.Empty(t, pending, "done took them out of Pending")
	pass(all, start.Add(4*time.Hour)) // nothing new
	require.Equal(t, truth(t, cfg, objs), storeBuckets(t, store, all.IDs, start.Add(-time.Hour), start.Add(5*time.Hour)))
}
