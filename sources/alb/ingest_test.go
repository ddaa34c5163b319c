package alb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

const testSpecs = `
service: mart
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188, hosts: [api.mart.example.com], exclude_paths: ["^/healthz$"]}}
  - name: latency
    objective: 99
    window: 30d
    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188, latency: {threshold: 300ms}}}
---
service: web
slos:
  - name: availability
    objective: 99.9
    window: 7d
    sli:
      alb:
        load_balancer: app/web-prod/9cd2662c6b66898b
        hosts: ["*.shop.example.com", www.example.com]
        exclude_user_agents: ["Route53"]
        request_types: [https, h2]
  - name: pages
    objective: 95
    window: 7d
    sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b, paths: ["^/$", "^/recipes/"], latency: {threshold: 800ms}}}
`

func truth(t *testing.T, cfg albgen.Config, objs []*slo.Objective) map[alb.BucketKey]alb.Count {
	t.Helper()
	return albgen.Truth(cfg, objs)
}

func genConfig(start time.Time, d time.Duration) albgen.Config {
	cfg := albgen.Example(start, 30)
	cfg.Start = start
	cfg.Duration = d
	cfg.Seed = 7
	cfg.MalformedEvery = 500
	cfg.Incidents = append(cfg.Incidents, albgen.Incident{LoadBalancer: "app/mart-api/50dc6c495c0c9188",
		From: start.Add(time.Hour), To: start.Add(90 * time.Minute), ErrorRatio: 0.3, SlowRatio: 0.2, SlowTime: time.Second})
	return cfg
}

func storeBuckets(t *testing.T, s alb.Store, ids []string, from, to time.Time) map[alb.BucketKey]alb.Count {
	t.Helper()
	out := map[alb.BucketKey]alb.Count{}
	for _, id := range ids {
		require.NoError(t, s.Range(id, from.Unix()/60, to.Unix()/60+1, func(m int64, c alb.Count) {
			out[alb.BucketKey{SLI: id, Minute: m}] = c
		}))
	}
	return out
}

func TestIngestMatchesGeneratorTruth(t *testing.T) {
	start := time.Date(2026, 10, 1, 22, 0, 0, 0, time.UTC) // crosses midnight: next day's folder
	cfg := genConfig(start, 4*time.Hour)
	dir := t.TempDir()
	sum, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	require.Positive(t, sum.Malformed)

	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	objs := set.Objectives()
	want := truth(t, cfg, objs)
	require.NotEmpty(t, want)

	for name, open := range map[string]func(t *testing.T) alb.Store{
		"memory": func(*testing.T) alb.Store { return alb.NewMemStore() },
		"bbolt": func(t *testing.T) alb.Store {
			db, err := alb.OpenDB(t.TempDir())
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			s, err := alb.OpenBoltStore(db)
			require.NoError(t, err)
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			cls := alb.NewClassifier(objs)
			ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: dir}, Store: store, Classifier: cls})
			require.NoError(t, err)
			st, err := ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
			require.NoError(t, err)
			require.Equal(t, int64(sum.Files)+1, st.Objects, "every access log file and the empty object; no trap")
			require.Equal(t, int64(sum.Lines), st.Lines)
			require.Equal(t, int64(sum.Malformed), st.Malformed)

			got := storeBuckets(t, store, cls.IDs, start.Add(-time.Hour), start.Add(cfg.Duration+time.Hour))
			require.Equal(t, want, got)

			mal, err := store.MalformedLines()
			require.NoError(t, err)
			require.Equal(t, map[string]int64{"unterminated_quote": int64(sum.Malformed)}, mal)

			// The watermark: the newest file ends at 02:00; 01:55 is believed complete.
			w, ok, err := store.Watermark("app/mart-api/50dc6c495c0c9188")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, time.Date(2026, 10, 2, 1, 55, 0, 0, time.UTC), alb.MinuteTime(w))

			// A second run reads nothing new and counts nothing twice.
			st, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
			require.NoError(t, err)
			require.Zero(t, st.Objects)
			require.Equal(t, int64(sum.Files)+1, st.Skipped)
			require.Equal(t, want, storeBuckets(t, store, cls.IDs, start.Add(-time.Hour), start.Add(cfg.Duration+time.Hour)))

			// Window sums through alb.Counts agree with the truth too.
			at := start.Add(2 * time.Hour)
			c, err := alb.Counts(store, "mart/availability", at.Add(-time.Hour), at)
			require.NoError(t, err)
			var tw slo.Counts
			for k, v := range want {
				if k.SLI == "mart/availability" && k.Minute >= at.Add(-time.Hour).Unix()/60 && k.Minute < at.Unix()/60 {
					tw.Good += float64(v.Good)
					tw.Total += float64(v.Total)
				}
			}
			require.Equal(t, tw, c)
		})
	}
}

func TestIngestLateFileLandsInItsMinutes(t *testing.T) {
	start := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	cfg := genConfig(start, time.Hour)
	cfg.Traps = false
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	store := alb.NewMemStore()

	// Hide the 12:10 files, ingest, then let them arrive late.
	src := &hidingSource{DirSource: alb.DirSource{Root: dir}, hide: "T1210Z"}
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls})
	require.NoError(t, err)
	_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	before := storeBuckets(t, store, cls.IDs, start, start.Add(time.Hour))
	src.hide = ""
	st, err := ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, int64(3), st.Objects, "one late file per node")
	after := storeBuckets(t, store, cls.IDs, start, start.Add(time.Hour))
	require.Equal(t, truth(t, cfg, set.Objectives()), after)
	for k := range after {
		if m := alb.MinuteTime(k.Minute); m.Before(start.Add(5*time.Minute)) || !m.Before(start.Add(10*time.Minute)) {
			require.Equal(t, before[k], after[k], "only 12:05-12:10 changes: %v", k)
		}
	}
}

type hidingSource struct {
	alb.DirSource
	hide string
}

func (h *hidingSource) List(ctx context.Context, from, to time.Time, fn func(alb.Object) error) error {
	return h.DirSource.List(ctx, from, to, func(o alb.Object) error {
		if h.hide != "" && strings.Contains(o.Key, h.hide) {
			return nil
		}
		return fn(o)
	})
}

// TestNewSLOGetsItsHistory: an SLO added to the specs later is counted over
// the objects already ingested, exactly once, and a removed one is dropped.
func TestNewSLOGetsItsHistory(t *testing.T) {
	start := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	cfg := genConfig(start, time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	objs := set.Objectives()
	want := truth(t, cfg, objs)
	store := alb.NewMemStore()
	ingest := func(objs []*slo.Objective) {
		ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: dir}, Store: store, Classifier: alb.NewClassifier(objs)})
		require.NoError(t, err)
		_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
		require.NoError(t, err)
	}
	ids := alb.NewClassifier(objs).IDs
	ingest(objs[:2])
	ingest(objs) // two SLOs are new
	require.Equal(t, want, storeBuckets(t, store, ids, start.Add(-time.Hour), start.Add(2*time.Hour)))
	ingest(objs) // nothing new: nothing twice
	require.Equal(t, want, storeBuckets(t, store, ids, start.Add(-time.Hour), start.Add(2*time.Hour)))
	ingest(objs[1:]) // the first is removed
	require.Empty(t, storeBuckets(t, store, ids[:1], start.Add(-time.Hour), start.Add(2*time.Hour)))
}

// TestIngestStreamsBigObjects: an object too big to hold in memory (here:
// every object, with a tiny in-flight budget) is streamed by a parser
// instead of fetched whole; the counts are the same.
func TestIngestStreamsBigObjects(t *testing.T) {
	start := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 2*time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	store := alb.NewMemStore()
	ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: dir}, Store: store, Classifier: cls, MaxInFlightBytes: 4})
	require.NoError(t, err)
	st, err := ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Positive(t, st.Objects)
	require.Equal(t, truth(t, cfg, set.Objectives()), storeBuckets(t, store, cls.IDs, start.Add(-time.Hour), start.Add(4*time.Hour)))
}
