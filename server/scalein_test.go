package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestScaleInDuringAnOutagePagesOnTime replays the same outage twice, as
// ALB delivers its logs: on a load balancer with one node, and on one with
// three nodes of which one is scaled in as the outage begins (it delivers
// nothing after). The page of the second comes at most NodeGrace (10
// minutes) after the first: the node that left is given up, not waited for.
func TestScaleInDuringAnOutagePagesOnTime(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	start := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	outage := start.Add(2 * time.Hour)
	specs := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(`service: shop
notify: {page: {slack: "#shop-alerts"}, ticket: {slack: "#shop-sre"}}
slos:
  - name: availability
    objective: 99.9
    window: 7d
    sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188}}
`), 0o644))

	firstPage := func(nodes []string, leaves string) time.Time {
		cfg := albgen.Example(start, 60)
		cfg.Start, cfg.Duration, cfg.Traps, cfg.LoadBalancers = start, 2*time.Hour+30*time.Minute, false, cfg.LoadBalancers[:1]
		cfg.LoadBalancers[0].Nodes = nodes
		cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: outage, To: outage.Add(30 * time.Minute), ErrorRatio: 0.5}}
		logs := t.TempDir()
		_, err := albgen.Write(cfg, logs)
		require.NoError(t, err)
		if leaves != "" {
			removed := 0
			require.NoError(t, filepath.Walk(logs, func(p string, info os.FileInfo, err error) error {
				if err == nil && strings.Contains(filepath.Base(p), "_"+leaves+"_") && intervalEnd(t, p).After(outage) {
					removed++
					return os.Remove(p)
				}
				return err
			}))
			require.Positive(t, removed)
		}
		f := replayLogs(t, logs, specs, start, outage.Add(40*time.Minute), "shop-alerts", "shop-sre")
		for _, m := range f.Messages() {
			if m.Metadata["event_payload"].(map[string]any)["kind"] == "firing" {
				return m.Posted
			}
		}
		t.Fatalf("no page for the outage with nodes %v", nodes)
		return time.Time{}
	}
	one := firstPage([]string{"10.0.1.11"}, "")
	three := firstPage([]string{"10.0.1.11", "10.0.1.12", "10.0.1.13"}, "10.0.1.13")
	t.Logf("outage at %s; page at %s with one node, at %s with three nodes, one scaled in",
		outage.Format("15:04"), one.Format("15:04"), three.Format("15:04"))
	require.True(t, one.After(outage))
	require.LessOrEqual(t, three.Sub(one), 10*time.Minute, "a scale-in delays the page by at most the node grace")
}
