package alertmanager_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/alertmanager"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// startAlertmanager runs the Debian package's binary on 127.0.0.1.
func startAlertmanager(t *testing.T) string {
	bin := promtest.Need(t, "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("route: {receiver: none}\nreceivers: [{name: none}]\n"), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+dir, "--web.listen-address="+addr,
		"--cluster.listen-address=", "--log.level=warn")
	logs, err := os.Create(filepath.Join(dir, "am.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 60*time.Second, 100*time.Millisecond, "alertmanager did not start")
	return url
}

type gotAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func getAlerts(t *testing.T, url string) []gotAlert {
	resp, err := http.Get(url + "/api/v2/alerts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var out []gotAlert
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestRealAlertmanager posts firing and resolved alerts to a real
// Alertmanager and reads them back from its API.
func TestRealAlertmanager(t *testing.T) {
	url := startAlertmanager(t)
	// Posting to two members, one of them down, still succeeds.
	client := &alertmanager.Client{URLs: []string{url, "http://127.0.0.1:1"}}
	now := time.Now().UTC().Truncate(time.Second)
	state := alerting.AlertState{Key: "shop/availability/page-1h", Severity: slo.Page, Firing: true, Since: now.Add(-time.Minute),
		Last: &alerting.Snapshot{Service: "shop", SLO: "availability", Alert: "page-1h", Severity: slo.Page, Labels: map[string]string{"team": "shop"},
			Long: "1h", Short: "5m", LongBurn: 20, ShortBurn: 30, Threshold: 14.4, Runbook: "https://wiki.example.com/rb"}}
	cur := map[string]alerting.AlertState{state.Key: state}

	require.NoError(t, client.Post(t.Context(), alertmanager.Alerts(nil, cur, now, time.Minute, "http://kakeibo:8080/")))
	var got []gotAlert
	require.Eventually(t, func() bool { got = getAlerts(t, url); return len(got) == 1 }, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, map[string]string{"alertname": "SLOErrorBudgetBurn", "service": "shop", "slo": "availability",
		"alert": "page-1h", "severity": "page", "team": "shop"}, got[0].Labels)
	require.Equal(t, "active", got[0].Status.State)
	require.Equal(t, "https://wiki.example.com/rb", got[0].Annotations["runbook_url"])
	require.True(t, got[0].EndsAt.After(now), "endsAt lies ahead while firing: %s", got[0].EndsAt)
	require.True(t, got[0].StartsAt.Equal(state.Since))

	// Resolved: sent once with endsAt = now.
	resolvedAt := time.Now().UTC()
	require.NoError(t, client.Post(t.Context(), alertmanager.Alerts(cur, nil, resolvedAt, time.Minute, "")))
	require.Eventually(t, func() bool {
		got = getAlerts(t, url)
		return len(got) == 0 || !got[0].EndsAt.After(resolvedAt)
	}, 60*time.Second, 100*time.Millisecond, "alert not resolved: %+v", got)

	// Every member down: an error.
	down := &alertmanager.Client{URLs: []string{"http://127.0.0.1:1"}}
	err := down.Post(t.Context(), alertmanager.Alerts(nil, cur, now, time.Minute, ""))
	require.Error(t, err)
}
