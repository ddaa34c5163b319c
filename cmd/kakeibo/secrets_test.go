package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
)

// TestSecretsNeverLeak plants a Slack webhook URL, a bot token, a
// PagerDuty routing key, a webhook route's URL and HMAC secret and an
// Alertmanager password, makes every delivery fail (so errors are logged,
// stored and counted), and greps the output, every file of the data
// directory, /metrics, the API and the status page for them.
func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bin, err := buildOnce()
	require.NoError(t, err)
	dead := func() string { // an address that refuses connections
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	secrets := map[string]string{
		"SLACK_WEBHOOK_URL": "http://" + dead() + "/services/T0PLANT/B0PLANT/planted-webhook-secret",
		"SLACK_BOT_TOKEN":   "xoxb-planted-bot-token-0001",
		"PD_MART_KEY":       "planted-pagerduty-routing-key",
		"MART_HOOK_URL":     "http://" + dead() + "/hook/planted-hook-url-token",
		"MART_HOOK_SECRET":  "planted-hook-hmac-secret",
	}
	amPassword := "planted-am-password"
	specText, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	spec := strings.Replace(string(specText), `page: {slack: "#mart-alerts"}`,
		`page: {slack: "#mart-alerts", pagerduty: {routing_key_env: PD_MART_KEY}, webhook: {url_env: MART_HOOK_URL, secret_env: MART_HOOK_SECRET}}`, 1)
	require.NotEqual(t, string(specText), spec)

	for _, mode := range []string{"webhook", "token"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			specs, logs, data := filepath.Join(dir, "specs"), filepath.Join(dir, "logs"), filepath.Join(dir, "data")
			require.NoError(t, os.MkdirAll(specs, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), []byte(spec), 0o644))
			t0 := recentStart()
			writeLogs(t, logs, t0, 2*time.Hour, 0)
			writeLogs(t, logs, t0.Add(2*time.Hour), 15*time.Minute, 0.5)
			addr := freePort(t)
			base := "http://" + addr
			cmd := exec.Command(bin, "serve", "--specs", specs, "--alb-logs", logs, "--data-dir", data, "--listen", addr,
				"--ingest-interval", "200ms", "--eval-interval", "200ms",
				"--alertmanager-url", "http://kakeibo:"+amPassword+"@"+dead()+"/", "--ops-slack-channel", "#ops")
			cmd.Env = append(os.Environ(), "PAGERDUTY_API_URL=http://"+dead())
			for k, v := range secrets {
				if (k == "SLACK_BOT_TOKEN" && mode != "token") || (k == "SLACK_WEBHOOK_URL" && mode != "webhook") {
					continue
				}
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if mode == "token" {
				f := fakeslack.New(t, "another-token-entirely", "mart-alerts")
				cmd.Env = append(cmd.Env, "SLACK_API_URL="+f.APIURL()) // invalid_auth: a permanent failure
			}
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			// Wait until deliveries have failed and been stored, and the
			// Alertmanager post too.
			require.Eventually(t, func() bool {
				s := out.String()
				return strings.Contains(s, `"route":"pagerduty:$PD_MART_KEY"`) && strings.Contains(s, `"route":"webhook:$MART_HOOK_URL"`) &&
					strings.Contains(s, `"route":"slack:#mart-alerts"`) && strings.Contains(s, `"msg":"alertmanager"`)
			}, 60*time.Second, 100*time.Millisecond)
			if mode == "token" { // invalid_auth is permanent: shown as undeliverable
				require.Eventually(t, func() bool {
					return strings.Contains(get(t, base+"/api/v1/slos"), "undeliverable_notifications")
				}, 60*time.Second, 100*time.Millisecond)
				require.Contains(t, get(t, base+"/"), "cannot be delivered")
			}

			places := map[string]string{
				"output": out.String(), "/metrics": get(t, base+"/metrics"),
				"/api/v1/slos": get(t, base+"/api/v1/slos"), "/": get(t, base+"/"),
			}
			require.NoError(t, filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					b, err := os.ReadFile(path)
					require.NoError(t, err)
					places[path] = string(b)
				}
				return err
			}))
			for where, text := range places {
				for name, secret := range secrets {
					require.NotContains(t, text, secret, "%s leaks %s", where, name)
				}
				require.NotContains(t, text, amPassword, "%s leaks the Alertmanager password", where)
				require.NotContains(t, text, "planted", "%s leaks a planted secret", where)
			}
		})
	}
}
