package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
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

// TestTenTakeoversWithSpecChanges: an outage pages; then ten times a
// standby starts, the spec changes (an SLO added, objectives and
// descriptions changed), the active one reloads it, runs a cycle and stops,
// and the standby takes over and runs a cycle. No page is resolved or
// posted again by a takeover: it decides from the specs of its moment and
// the alert state it inherits.
func TestTenTakeoversWithSpecChanges(t *testing.T) {
	dir := t.TempDir()
	specs, data, logs := filepath.Join(dir, "specs"), filepath.Join(dir, "data"), filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	// Version 0 has one SLO; later versions add a second, and each says
	// which version it is. Both burn in the outage.
	spec := func(i int) {
		text := "service: shop\n" +
			"notify: {page: {slack: \"#shop-alerts\"}, ticket: {slack: \"#shop-sre\"}}\nslos:\n"
		for _, name := range []string{"availability", "availability-strict"}[:min(i+1, 2)] {
			text += fmt.Sprintf("  - name: %s\n    description: version %d of the spec\n    objective: %s\n    window: 7d\n"+
				"    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188}}\n", name, i, []string{"99.9", "99.8"}[i%2])
		}
		require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(text), 0o644))
	}
	start := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 30)
	cfg.Start, cfg.Duration, cfg.Traps, cfg.LoadBalancers = start, 3*time.Hour, false, cfg.LoadBalancers[:1]
	cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: start.Add(2 * time.Hour), To: start.Add(3 * time.Hour), ErrorRatio: 0.5}}
	_, err := albgen.Write(cfg, logs)
	require.NoError(t, err)

	now := start.Add(3*time.Hour + 5*time.Minute)
	f := fakeslack.New(t, "xoxb-takeover", "shop-alerts", "shop-sre")
	f.Now = func() time.Time { return now }
	n, err := slack.New(slack.Config{Token: "xoxb-takeover", APIURL: f.APIURL()})
	require.NoError(t, err)
	newServer := func() *Server {
		s, err := New(Config{SpecPaths: []string{specs}, DataDir: data, ALBLogs: logs, Registry: prometheus.NewRegistry(),
			Now: func() time.Time { return now }, Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: n}})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	cycle := func(s *Server) {
		require.True(t, s.ingestOnce(t.Context(), true))
		s.bg.Wait() // an added SLO's history is counted beside the pass
		s.evaluateOnce(t.Context())
		_, err := s.disp.Flush(t.Context())
		require.NoError(t, err)
	}
	posted := func() []string {
		var out []string
		for _, m := range f.Messages() {
			p := m.Metadata["event_payload"].(map[string]any)
			out = append(out, fmt.Sprint(p["kind"], " ", p["key"]))
		}
		return out
	}

	spec(0)
	active := newServer()
	require.True(t, active.active.Load())
	cycle(active)
	require.Equal(t, []string{"firing shop/availability#page"}, posted(), "the outage pages")

	want := []string{"firing shop/availability#page"}
	for i := 1; i <= 10; i++ {
		standby := newServer()
		require.False(t, standby.active.Load())
		// The spec changes; the active one reloads it and runs a cycle.
		spec(i)
		active.doReload()
		now = now.Add(20 * time.Second)
		cycle(active)
		if i == 1 {
			want = append(want, "firing shop/availability-strict#page") // the new SLO's page
		}
		require.Equal(t, want, posted(), "after the change %d", i)
		require.NoError(t, active.Close())
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		require.NoError(t, standby.waitForLock(ctx))
		cancel()
		now = now.Add(20 * time.Second)
		cycle(standby)
		require.Equal(t, want, posted(), "takeover %d: no message", i)
		require.Equal(t, fmt.Sprintf("version %d of the spec", i), standby.specs.Load().Objectives()[0].Description)
		active = standby
	}
}
