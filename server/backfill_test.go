package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestNoNotificationBeforeBackfillEnds: two days of logs with a
// 30-minute outage on the first day, read on a first start. While the
// backfill runs, evaluations move through past days (the outage fires and
// resolves in them), yet nothing is posted and /readyz says 503 until the
// backfill has read everything; then the service alerts on the present.
func TestNoNotificationBeforeBackfillEnds(t *testing.T) {
	t.Parallel() // long: runs beside the package's other tests
	dir := t.TempDir()
	logs, specs := filepath.Join(dir, "logs"), filepath.Join(dir, "specs")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 30)
	cfg.Duration, cfg.Traps, cfg.MalformedEvery = 48*time.Hour, false, 0
	cfg.LoadBalancers = cfg.LoadBalancers[:1]
	cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: start.Add(6 * time.Hour), To: start.Add(6*time.Hour + 30*time.Minute), ErrorRatio: 0.5}}
	_, err := albgen.Write(cfg, logs)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))

	f := fakeslack.New(t, "xoxb-test", "mart-alerts", "mart-sre", "mart")
	n, err := slack.New(slack.Config{Token: "xoxb-test", APIURL: f.APIURL()})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: filepath.Join(dir, "data"), ALBLogs: logs, Listen: addr,
		IngestInterval: time.Hour, EvalInterval: 5 * time.Millisecond, Registry: prometheus.NewRegistry(),
		Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: n}})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var (
		saw503, sawReady bool
		evalsBefore      int
	)
	deadline := time.Now().Add(60 * time.Second)
	for !sawReady && time.Now().Before(deadline) {
		// Messages are counted before /readyz is asked: the service marks
		// itself caught up before it may notify, so a message seen before a
		// 503 was posted during the backfill. (Counting after the 503 races
		// with the backfill ending in between.)
		posted := len(f.Messages())
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusServiceUnavailable:
				if strings.Contains(string(b), "backfilling") {
					saw503 = true
					require.Zero(t, posted, "a notification before the backfill ended: %v", f.Messages())
					if snap := s.latest.Load(); snap != nil {
						evalsBefore++
					}
				}
			case http.StatusOK:
				sawReady = true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.True(t, saw503, "not ready while backfilling, and saying so")
	require.True(t, sawReady)
	require.Positive(t, evalsBefore, "evaluations ran during the backfill (and sent nothing)")
	// The outage's page is due once the service alerts: wait for it, then
	// compare each message's time (taken by the Slack fake when the post
	// arrived) with the moment the service recorded the backfill's end.
	// Both are readings of this process' monotonic clock; no slack.
	require.Eventually(t, func() bool { return len(f.Messages()) > 0 }, 60*time.Second, 10*time.Millisecond, "nothing posted after the backfill")
	caughtUpAt := s.caughtUpAt.Load()
	require.NotNil(t, caughtUpAt, "the service recorded when it caught up")
	for _, m := range f.Messages() {
		require.False(t, m.Posted.Before(*caughtUpAt), "posted at %v, before the backfill ended at %v", m.Posted, *caughtUpAt)
		require.NotContains(t, m.Text, "Resolved", "nothing fired during the backfill, so nothing resolves")
	}
	cancel()
	require.NoError(t, <-done)
}
