package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
)

// alertMessages are the fake Slack's alert messages (not digests nor ops
// notices), by
// alert key (one incident each in these tests).
func alertMessages(slack *fakeslack.Server) map[string][]string {
	out := map[string][]string{}
	for _, m := range slack.Messages() {
		p, _ := m.Metadata["event_payload"].(map[string]any)
		kind := fmt.Sprint(p["kind"])
		if p == nil || kind == "digest" || kind == "ops" {
			continue
		}
		out[fmt.Sprint(p["key"])] = append(out[fmt.Sprint(p["key"])], kind)
	}
	return out
}

// firingAlerts lists the alerts the running service says fire.
func firingAlerts(t *testing.T, base string) []string {
	var rep struct {
		SLOs []struct {
			Service, SLO string
			Alerts       []struct {
				Name   string `json:"name"`
				Firing bool   `json:"firing"`
			} `json:"alerts"`
		} `json:"slos"`
	}
	if json.Unmarshal([]byte(get(t, base+"/api/v1/slos")), &rep) != nil {
		return nil
	}
	var out []string
	for _, s := range rep.SLOs {
		for _, a := range s.Alerts {
			if a.Firing {
				out = append(out, s.Service+"/"+s.SLO+"/"+a.Name)
			}
		}
	}
	return out
}

// TestSilenceHoldsAlertsUntilItEnds runs serve as deployed, with a fake
// Slack: a silence added with `kakeibo silence add` keeps an outage's pages
// from being posted while evaluation goes on (the API says they fire); it
// is on the status and SLO pages, survives a restart, and when it is
// expired with `kakeibo silence expire` each incident still firing is
// posted once. Writes without the token are refused.
func TestSilenceHoldsAlertsUntilItEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	specs, logs, data := filepath.Join(dir, "specs"), filepath.Join(dir, "logs"), filepath.Join(dir, "data")
	copyMartSpec(t, specs)
	t0 := recentStart()
	writeLogs(t, logs, t0, 2*time.Hour, 0)
	slack := fakeslack.New(t, "xoxb-silence", "mart-alerts", "mart-sre", "mart")
	const token = "api-token-for-tests"
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-silence")
	t.Setenv("SLACK_API_URL", slack.APIURL())
	t.Setenv("KAKEIBO_API_TOKEN", token)
	args := []string{"--specs", specs, "--alb-logs", logs, "--data-dir", data}

	p := startServe(t, args...)
	p.waitFor(t, 60*time.Second, func() bool { return get(t, p.base+"/readyz") == "ready\n" }, "ready")

	cli := map[string]string{"KAKEIBO_URL": p.base, "USER": "ana"}
	code, _, stderr := kakeibo(t, cli, "silence", "add", "--duration", "2h", "--comment", "CHG-1234 database upgrade", "service=mart-api")
	require.Equal(t, exitFail, code, "no token: refused")
	require.Contains(t, stderr, "401 Unauthorized")
	cli["KAKEIBO_API_TOKEN"] = "wrong"
	code, _, _ = kakeibo(t, cli, "silence", "add", "--duration", "2h", "--comment", "CHG-1234", "service=mart-api")
	require.Equal(t, exitFail, code, "wrong token: refused")
	cli["KAKEIBO_API_TOKEN"] = token
	code, _, stderr = kakeibo(t, cli, "silence", "add", "--duration", "2h", "service=mart-api")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "comment: say why")
	code, stdout, stderr := kakeibo(t, cli, "silence", "add", "--duration", "2h", "--comment", "CHG-1234 database upgrade", "service=mart-api")
	require.Equal(t, exitOK, code, stderr)
	id := strings.TrimSpace(stdout)
	require.NotEmpty(t, id)

	// The outage, inside the silence.
	writeLogs(t, logs, t0.Add(2*time.Hour), 15*time.Minute, 0.5)
	p.waitFor(t, 60*time.Second, func() bool { return len(firingAlerts(t, p.base)) > 0 }, "the outage's alerts fire")
	evals := p.evaluations(t)
	p.waitFor(t, 60*time.Second, func() bool { return p.evaluations(t) >= evals+10 }, "ten more evaluations")
	if len(alertMessages(slack)) > 0 {
		for _, m := range slack.Messages() {
			t.Logf("posted %s: %s %v", m.Posted.Format("15:04:05.000"), m.Text, m.Metadata)
		}
		t.Logf("serve log:\n%s", p.out.String())
	}
	require.Empty(t, alertMessages(slack), "nothing posted while silenced")
	require.Contains(t, get(t, p.base+"/"), "CHG-1234 database upgrade", "the status page shows the silence")
	require.Contains(t, get(t, p.base+"/slos/mart-api/availability"), `id="silence-`+id+`"`, "so does the SLO page")
	require.Contains(t, p.out.String(), `"msg":"silence added"`)
	require.NotContains(t, p.out.String(), token)

	// A restart keeps the silence.
	p.stop(t)
	p = startServe(t, args...)
	cli["KAKEIBO_URL"] = p.base
	p.waitFor(t, 60*time.Second, func() bool { return get(t, p.base+"/readyz") == "ready\n" }, "ready after the restart")
	code, stdout, stderr = kakeibo(t, cli, "silence", "list")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, id)
	require.Contains(t, stdout, "active")
	require.Contains(t, stdout, `service="mart-api"`)
	evals = p.evaluations(t)
	p.waitFor(t, 60*time.Second, func() bool { return p.evaluations(t) >= evals+10 }, "ten evaluations after the restart")
	firing := firingAlerts(t, p.base)
	require.NotEmpty(t, firing, "still firing")
	require.Empty(t, alertMessages(slack), "nothing posted after the restart either")

	// Expired: each incident still firing is posted, once.
	code, stdout, stderr = kakeibo(t, cli, "silence", "expire", id)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "expired "+id)
	p.waitFor(t, 60*time.Second, func() bool { return len(alertMessages(slack)) > 0 }, "a post after the silence ended")
	evals = p.evaluations(t)
	p.waitFor(t, 60*time.Second, func() bool { return p.evaluations(t) >= evals+10 }, "ten more evaluations")
	for key, kinds := range alertMessages(slack) {
		require.Equal(t, []string{"firing"}, kinds, "%s: one firing message", key)
	}
	code, stdout, _ = kakeibo(t, cli, "silence", "list")
	require.Equal(t, exitOK, code)
	require.NotContains(t, stdout, id, "an expired silence is not listed")
	_, stdout, _ = kakeibo(t, cli, "silence", "list", "--all")
	require.Contains(t, stdout, id)
	require.NotContains(t, get(t, p.base+"/"), "CHG-1234")
	p.stop(t)
}

// TestOpsRouteHasItsOwnReceiver: with the alerts' Slack token revoked, the
// ops notice still goes out, at once, because --ops-route has its own
// receiver: another Slack app's token, or a webhook. (Delivery after the
// fix is TestRevokedThenFixedRepeatsMerged's.)
func TestOpsRouteHasItsOwnReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, via := range []string{"slack", "webhook"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			specs, logs := filepath.Join(dir, "specs"), filepath.Join(dir, "logs")
			copyMartSpec(t, specs)
			t0 := recentStart()
			writeLogs(t, logs, t0, 2*time.Hour, 0)
			writeLogs(t, logs, t0.Add(2*time.Hour), 15*time.Minute, 0.5)

			slack := fakeslack.New(t, "xoxb-alerts", "mart-alerts", "mart-sre", "mart", "ops")
			slack.AddToken("xoxb-ops-app")
			slack.Revoke("token_revoked")
			var mu sync.Mutex
			var hooked []string
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				hooked = append(hooked, string(b))
				mu.Unlock()
			}))
			defer hook.Close()
			route := "slack:#ops?token_env=OPS_SLACK_TOKEN"
			if via == "webhook" {
				route = "webhook:OPS_HOOK"
			}
			p := startServeEnv(t, []string{"SLACK_BOT_TOKEN=xoxb-alerts", "SLACK_API_URL=" + slack.APIURL(),
				"OPS_SLACK_TOKEN=xoxb-ops-app", "OPS_HOOK=" + hook.URL},
				"--specs", specs, "--alb-logs", logs, "--data-dir", filepath.Join(dir, "data"), "--ops-route", route)

			opsNotice := func() string {
				if via == "webhook" {
					mu.Lock()
					defer mu.Unlock()
					for _, b := range hooked {
						if strings.Contains(b, `"kind":"ops"`) {
							return b
						}
					}
					return ""
				}
				for _, m := range slack.Messages() {
					if m.Channel == slack.ChannelID("ops") {
						return m.Text
					}
				}
				return ""
			}
			began := time.Now()
			p.waitFor(t, 60*time.Second, func() bool { return opsNotice() != "" }, "the ops notice, through its own receiver")
			t.Logf("ops notice %v after start", time.Since(began).Round(time.Millisecond))
			require.Contains(t, opsNotice(), "cannot deliver notifications to slack:#mart-alerts: token_revoked")
			require.Empty(t, alertMessages(slack), "the alerts' token is revoked")

			for _, secret := range []string{"xoxb-ops-app", "xoxb-alerts", hook.URL} {
				require.NotContains(t, p.out.String(), secret)
			}
			p.stop(t)
		})
	}
}
