package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// TestServeStaleLogs: logs that ended long ago, with an outage at their
// end. Every ALB SLO is stale in the API, the page and the metrics; no page
// is sent for the old outage, one "no data since" ticket per SLO is; when
// fresh logs arrive, the tickets resolve.
func TestServeStaleLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bin, err := buildOnce()
	require.NoError(t, err)
	dir := t.TempDir()
	specs, logs := filepath.Join(dir, "specs"), filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))
	old := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	writeLogs(t, logs, old, 2*time.Hour, 0)
	writeLogs(t, logs, old.Add(2*time.Hour), 15*time.Minute, 0.5)

	slack := fakeslack.New(t, "xoxb-stale", "mart-alerts", "mart-sre", "mart")
	addr := freePort(t)
	base := "http://" + addr
	cmd := exec.Command(bin, "serve", "--specs", specs, "--alb-logs", logs, "--data-dir", filepath.Join(dir, "data"),
		"--listen", addr, "--ingest-interval", "200ms", "--eval-interval", "200ms")
	cmd.Env = append(os.Environ(), "SLACK_BOT_TOKEN=xoxb-stale", "SLACK_API_URL="+slack.APIURL())
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { return get(t, base+"/readyz") == "ready\n" }, 60*time.Second, 50*time.Millisecond)

	var rep slo.Report
	require.NoError(t, json.Unmarshal([]byte(get(t, base+"/api/v1/slos")), &rep))
	require.Len(t, rep.SLOs, 3)
	for _, s := range rep.SLOs {
		require.Equal(t, slo.StatusStale, s.Status, s.SLO)
		require.Greater(t, *s.DataAgeSeconds, 3*3600.0)
	}
	age, ok := metric(get(t, base+"/metrics"), "slo_data_age_seconds", `slo="availability"`)
	require.True(t, ok)
	require.Greater(t, age, 3*3600.0)
	require.Contains(t, get(t, base+"/"), "No data since")

	stale := func() []fakeslack.Message {
		var ms []fakeslack.Message
		for _, m := range slack.Messages() {
			if strings.Contains(m.Text, "以降のデータがありません") { // mart-api's alerts are in Japanese
				ms = append(ms, m)
			}
		}
		return ms
	}
	require.Eventually(t, func() bool { return len(stale()) == 3 }, 60*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second)
	require.Len(t, stale(), 3, "one ticket per SLO, not repeated")
	for _, m := range slack.Messages() {
		require.NotContains(t, m.Text, "[PAGE]", "no page from stale data")
	}
	require.Equal(t, slack.ChannelID("#mart-sre"), stale()[0].Channel)

	// Fresh logs: the tickets resolve, in their threads.
	writeLogs(t, logs, time.Now().UTC().Truncate(5*time.Minute).Add(-time.Hour), time.Hour, 0)
	require.Eventually(t, func() bool {
		n := 0
		for _, m := range slack.Messages() {
			if strings.Contains(m.Text, "のデータが再開しました") && m.ThreadTS != "" {
				n++
			}
		}
		return n == 3
	}, 60*time.Second, 50*time.Millisecond, "no resolve")
	require.NoError(t, json.Unmarshal([]byte(get(t, base+"/api/v1/slos")), &rep))
	for _, s := range rep.SLOs {
		require.NotEqual(t, slo.StatusStale, s.Status)
	}
}
