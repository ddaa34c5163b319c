package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestTakeoverLoadsCurrentSpecs: a hot standby started with one version of
// the specs takes over after they changed; its first evaluation uses the
// specs of the moment it takes over, not those it read at start (which
// would page and resolve, against the alert state the active one kept,
// whatever the change touched).
func TestTakeoverLoadsCurrentSpecs(t *testing.T) {
	dir := t.TempDir()
	specs, data := filepath.Join(dir, "specs"), filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec := func(objective string) {
		require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(`service: shop
slos:
  - name: availability
    objective: `+objective+`
    window: 7d
    sli: {alb: {load_balancer: app/shop/0123456789abcdef}}
`), 0o644))
	}
	spec("99")
	cfg := func() Config {
		return Config{SpecPaths: []string{specs}, DataDir: data, Registry: prometheus.NewRegistry(), Listen: "127.0.0.1:0"}
	}
	active, err := New(cfg())
	require.NoError(t, err)
	require.True(t, active.active.Load())
	standby, err := New(cfg())
	require.NoError(t, err)
	t.Cleanup(func() { standby.Close() })
	require.False(t, standby.active.Load(), "the second one waits for the lock")

	spec("99.9")
	require.NoError(t, active.Close())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, standby.waitForLock(ctx))
	require.True(t, standby.active.Load())
	objs := standby.specs.Load().Objectives()
	require.Len(t, objs, 1)
	require.InDelta(t, 0.999, objs[0].Target, 1e-12, "the specs of the takeover, not of the start")
}
