package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestRetentionKeepsTheDataDirectoryFlat: 45 days of logs arrive in a
// directory, a day at a time, for a 7-day SLO. Minute buckets, hour sums
// and ledger records the window no longer needs are dropped, so the
// database stops growing once the first window (plus the pruning margin)
// has passed, and no object is read twice.
func TestRetentionKeepsTheDataDirectoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	logs, specs := filepath.Join(dir, "logs"), filepath.Join(dir, "specs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(`service: shop
notify: {page: {slack: "#shop"}, ticket: {slack: "#shop"}}
slos:
  - name: availability
    objective: 99.9
    window: 7d
    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188}}
`), 0o644))
	require.NoError(t, os.MkdirAll(logs, 0o755))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: filepath.Join(dir, "data"), ALBLogs: logs,
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	size := func() (bytes int64, ledger int) {
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			bytes = tx.Size()
			ledger = tx.Bucket([]byte("alb_objects")).Stats().KeyN
			return nil
		}))
		return
	}
	var sizes []int64
	var objects int64
	for day := range 45 {
		cfg := albgen.Example(start, 3)
		cfg.Start, cfg.Duration, cfg.Traps, cfg.MalformedEvery, cfg.Seed = start.AddDate(0, 0, day), 24*time.Hour, false, 0, uint64(day)
		cfg.LoadBalancers, cfg.Incidents = cfg.LoadBalancers[:1], nil
		_, err := albgen.Write(cfg, logs)
		require.NoError(t, err)
		now = start.AddDate(0, 0, day+1).Add(10 * time.Minute)
		require.True(t, s.ingestOnce(t.Context(), day == 0))
		b, ledger := size()
		sizes = append(sizes, b)
		require.LessOrEqual(t, ledger, 11*288, "day %d: the ledger holds the window and the margin, not all history", day)
		objects = int64(ledger)
	}
	t.Logf("database size by day: %v (ledger %d objects)", sizes, objects)
	// bbolt reuses freed pages; a little fragmentation is all that grows.
	require.InDelta(t, float64(sizes[14]), float64(sizes[44]), 0.02*float64(sizes[14]), "flat after the first window: %v", sizes)
	require.Equal(t, float64(45*288), testutil.ToFloat64(s.m.objects), "every object read once")
}
