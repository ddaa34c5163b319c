package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
)

// servePair is one kakeibo serve process of an HA pair.
type servePair struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	base string
	done chan error
}

// TestHotStandby runs two serve processes on one data directory. One is
// active, the other waits for the lock (not ready, posts nothing). Ten
// times: kill -9 the active one, write logs that make the next
// notification (an outage page, then its resolve, in turn), and check that
// the standby takes over and posts it (within a minute, a bound, not a
// measurement: the log shows the times); the killed one
// comes back as the new standby. No message is posted twice.
func TestHotStandby(t *testing.T) {
	t.Parallel() // mostly waits on its processes: runs beside the others (see TestMain)
	if testing.Short() {
		t.Skip("slow")
	}
	bin, err := buildOnce()
	require.NoError(t, err)
	dir := t.TempDir()
	specs, logs, data := filepath.Join(dir, "specs"), filepath.Join(dir, "logs"), filepath.Join(dir, "data")
	copyMartSpec(t, specs)
	t0 := recentStart()
	writeLogs(t, logs, t0, 2*time.Hour, 0)
	slack := fakeslack.New(t, "xoxb-ha-secret", "mart-alerts", "mart-sre", "mart")

	start := func() *servePair {
		addr := freePort(t)
		p := &servePair{out: &syncBuffer{}, base: "http://" + addr, done: make(chan error, 1)}
		p.cmd = exec.Command(bin, "serve", "--specs", specs, "--alb-logs", logs, "--data-dir", data, "--listen", addr,
			"--ingest-interval", "200ms", "--eval-interval", "200ms", "--reload-interval", "1s")
		p.cmd.Env = append(os.Environ(), "SLACK_BOT_TOKEN=xoxb-ha-secret", "SLACK_API_URL="+slack.APIURL())
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		require.NoError(t, p.cmd.Start())
		go func() { p.done <- p.cmd.Wait() }()
		t.Cleanup(func() { _ = p.cmd.Process.Kill() })
		return p
	}
	ready := func(p *servePair) bool { return get(t, p.base+"/readyz") == "ready\n" }

	active := start()
	require.Eventually(t, func() bool { return ready(active) }, 60*time.Second, 50*time.Millisecond, "%s", active.out.String())
	standby := start()
	require.Eventually(t, func() bool {
		return strings.Contains(standby.out.String(), fmt.Sprintf("waiting for the lock held by pid %d", active.cmd.Process.Pid))
	}, 60*time.Second, 50*time.Millisecond, "%s", standby.out.String())
	require.Contains(t, get(t, standby.base+"/readyz"), "not ready: standby")
	require.Equal(t, "ok\n", get(t, standby.base+"/healthz"))

	at := t0.Add(2 * time.Hour)
	var takeovers []time.Duration
	settle := func() { // wait until the active one has posted everything due
		n := -1
		for n != len(slack.Messages()) {
			n = len(slack.Messages())
			time.Sleep(700 * time.Millisecond)
		}
	}
	newKind := func(from int, kind string) bool {
		for _, m := range slack.Messages()[from:] {
			k := m.Metadata["event_payload"].(map[string]any)["kind"]
			// A page within the cooldown of the last one reopens its incident.
			if k == kind || (kind == "firing" && k == "reopened") {
				return true
			}
		}
		return false
	}
	for trial := range 10 {
		settle()
		before := len(slack.Messages())
		require.NoError(t, active.cmd.Process.Signal(syscall.SIGKILL))
		<-active.done
		killed := time.Now()
		want := "firing"
		if trial%2 == 0 { // an outage: pages
			writeLogs(t, logs, at, 15*time.Minute, 0.5)
			at = at.Add(15 * time.Minute)
		} else { // recovery: resolves
			want = "resolved"
			writeLogs(t, logs, at, 40*time.Minute, 0)
			at = at.Add(40 * time.Minute)
		}
		require.Eventually(t, func() bool { return newKind(before, want) }, 60*time.Second, 20*time.Millisecond,
			"trial %d: the standby posted nothing within 60 s; its log:\n%s", trial, standby.out.String())
		takeovers = append(takeovers, time.Since(killed).Round(10*time.Millisecond))
		require.True(t, ready(standby), "the new active one is ready")
		require.Contains(t, standby.out.String(), "took over")
		active, standby = standby, start()
		require.Eventually(t, func() bool { return strings.Contains(standby.out.String(), "standby: waiting for the lock") }, 60*time.Second, 50*time.Millisecond)
	}
	time.Sleep(time.Second) // anything posted twice would show now
	t.Logf("kill -9 to the next post: %v", takeovers)

	seen := map[string]bool{}
	kinds := map[string]int{}
	for _, m := range slack.Messages() {
		payload := m.Metadata["event_payload"].(map[string]any)
		uid := fmt.Sprint(payload["uid"])
		require.False(t, seen[uid], "notification %s posted twice", uid)
		seen[uid] = true
		kinds[fmt.Sprint(payload["kind"])]++
	}
	require.Positive(t, kinds["firing"]+kinds["reopened"])
	require.Positive(t, kinds["resolved"])
	for _, p := range []*servePair{active, standby} {
		require.NotContains(t, p.out.String(), "xoxb-ha-secret")
	}
}

// copyMartSpec puts the bundled mart-api spec alone in the directory specs
// (created), for tests that run serve on it.
func copyMartSpec(t *testing.T, specs string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))
}
