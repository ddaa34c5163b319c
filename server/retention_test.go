package server

import (
	"fmt"
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

// TestRetentionKeepsTheDataDirectoryFlat (KAKEIBO_RETENTION_DAYS=365 for a
// simulated year): 16 days of logs arrive in a
// directory, a day at a time, for a 7-day SLO. Minute buckets, hour sums
// and ledger records the window no longer needs are dropped, so the
// database stops growing once the first window (plus the pruning margin)
// has passed, and no object is read twice.
func TestRetentionKeepsTheDataDirectoryFlat(t *testing.T) {
	t.Parallel() // long: runs beside the package's other tests
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
	size := func() (bytes int64, ledger, records int) {
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			bytes = tx.Size()
			ledger = tx.Bucket([]byte("alb_objects")).Stats().KeyN
			records = tx.Bucket([]byte("alb_counts")).Stats().KeyN
			return nil
		}))
		return
	}
	days := 16
	if v := os.Getenv("KAKEIBO_RETENTION_DAYS"); v != "" {
		_, _ = fmt.Sscan(v, &days)
	}
	var sizes []int64
	var recs []int
	for day := range days {
		cfg := albgen.Example(start, 2)
		cfg.Start, cfg.Duration, cfg.Traps, cfg.MalformedEvery, cfg.Seed = start.AddDate(0, 0, day), 24*time.Hour, false, 0, uint64(day)
		cfg.LoadBalancers, cfg.Incidents = cfg.LoadBalancers[:1], nil
		_, err := albgen.Write(cfg, logs)
		require.NoError(t, err)
		now = start.AddDate(0, 0, day+1).Add(10 * time.Minute)
		require.True(t, s.ingestOnce(t.Context(), day == 0))
		b, ledger, records := size()
		sizes, recs = append(sizes, b), append(recs, records)
		require.LessOrEqual(t, ledger, 11*288, "day %d: the ledger holds the window and the margin, not all history", day)
	}
	t.Logf("database size by day: %v; hour and minute records: %v", sizes, recs)
	// What is stored stops growing after the first window and its margin;
	// the file, whose freed pages bbolt reuses, stays within a bound.
	require.LessOrEqual(t, recs[days-1], recs[12], "records flat after the first window: %v", recs)
	require.LessOrEqual(t, float64(sizes[days-1]), 1.2*float64(sizes[12]), "file size bounded: %v", sizes)
	require.Equal(t, float64(days*288), testutil.ToFloat64(s.m.objects), "every object read once")
}
