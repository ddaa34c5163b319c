package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// buildKakeibo builds the binary once per test run.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kakeibo-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kakeibo")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// findMessage returns the first message of the fake Slack whose text has substr.
func findMessage(f *fakeslack.Server, substr string) (fakeslack.Message, bool) {
	for _, m := range f.Messages() {
		if strings.Contains(m.Text, substr) {
			return m, true
		}
	}
	return fakeslack.Message{}, false
}

// findReply returns the first thread reply whose text has substr.
func findReply(f *fakeslack.Server, substr string) (fakeslack.Message, bool) {
	for _, m := range f.Messages() {
		if m.ThreadTS != "" && strings.Contains(m.Text, substr) {
			return m, true
		}
	}
	return fakeslack.Message{}, false
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric reads one sample from /metrics text.
func metric(body, name string, labels ...string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			return v, err == nil
		}
	}
	return 0, false
}

func writeLogs(t *testing.T, dir string, start time.Time, d time.Duration, errorRatio float64) {
	cfg := albgen.Example(start, 60)
	cfg.Start, cfg.Duration, cfg.Traps, cfg.Seed = start, d, false, uint64(start.Unix())
	// Healthy means healthy: 2 hours of an ordinary day's few errors
	// exhausted mart-api's 99.95% budget for about one start time in eight,
	// which raised a ticket before the tests' own events.
	cfg.CleanBaseline = true
	cfg.LoadBalancers = cfg.LoadBalancers[:1] // mart-api
	cfg.Incidents = nil
	if errorRatio > 0 {
		cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: start, To: start.Add(d), ErrorRatio: errorRatio}}
	}
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
}

// TestServeEndToEnd runs the built binary on example specs, an ALB log
// directory and a fake Slack API: an outage raises slo_burn_rate, posts a
// page, shows on the status page and the API; recovery resolves it in the
// thread; a broken spec on reload keeps the old one; SIGTERM exits 0 fast.
func TestServeEndToEnd(t *testing.T) {
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
	specPath := filepath.Join(specs, "mart-api.yaml")
	require.NoError(t, os.WriteFile(specPath, spec, 0o644))

	t0 := recentStart()
	writeLogs(t, logs, t0, 2*time.Hour, 0)
	slack := fakeslack.New(t, "xoxb-e2e-secret", "mart-alerts", "mart-sre", "mart")
	addr := freePort(t)
	base := "http://" + addr

	cmd := exec.Command(bin, "serve", "--specs", specs, "--alb-logs", logs, "--data-dir", filepath.Join(dir, "data"),
		"--listen", addr, "--ingest-interval", "200ms", "--eval-interval", "200ms", "--reload-interval", "200ms")
	cmd.Env = append(os.Environ(), "SLACK_BOT_TOKEN=xoxb-e2e-secret", "SLACK_API_URL="+slack.APIURL())
	stdout := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stdout
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	burn := func(window string) float64 {
		v, _ := metric(get(t, base+"/metrics"), "slo_burn_rate", `slo="availability"`, `window="`+window+`"`)
		return v
	}
	require.Eventually(t, func() bool { return get(t, base+"/readyz") == "ready\n" }, 60*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		_, ok := metric(get(t, base+"/metrics"), "slo_burn_rate", `slo="availability"`, `window="5m"`)
		return ok
	}, 60*time.Second, 50*time.Millisecond, "no burn rate: %s", stdout.String())
	require.Less(t, burn("5m"), 14.4)
	_, paged := findMessage(slack, "[PAGE] mart-api/availability")
	require.False(t, paged)

	// The outage: 15 minutes at 50% errors.
	writeLogs(t, logs, t0.Add(2*time.Hour), 15*time.Minute, 0.5)
	var page fakeslack.Message
	require.Eventually(t, func() bool {
		// mart-api's reminders are in Japanese, so are its alerts.
		page, paged = findMessage(slack, "[PAGE] mart-api/availability がエラーバジェットを急速に消費しています（page-1h")
		return paged
	}, 60*time.Second, 50*time.Millisecond, "no page; log:\n%s", stdout.String())
	require.Equal(t, slack.ChannelID("#mart-alerts"), page.Channel)
	require.Greater(t, burn("5m"), 14.4)
	require.Greater(t, burn("1h"), 14.4)

	var rep slo.Report
	require.NoError(t, json.Unmarshal([]byte(get(t, base+"/api/v1/slos")), &rep))
	var avail slo.ReportSLO
	for _, s := range rep.SLOs {
		if s.SLO == "availability" {
			avail = s
		}
	}
	require.True(t, avail.Alerts[0].Firing, "page-1h fires in the API")
	page1 := get(t, base+"/")
	require.Regexp(t, regexp.MustCompile(`(?s)id="mart-api/availability".*Firing: page-1h`), page1)

	// Recovery: 40 clean minutes.
	writeLogs(t, logs, t0.Add(2*time.Hour+15*time.Minute), 40*time.Minute, 0)
	var resolved fakeslack.Message
	require.Eventually(t, func() bool {
		var ok bool
		resolved, ok = findReply(slack, "解消: mart-api/availability（page-1h")
		return ok
	}, 60*time.Second, 50*time.Millisecond, "no resolve; log:\n%s", stdout.String())
	require.Equal(t, page.TS, resolved.ThreadTS, "the resolve is threaded under the page")
	require.True(t, resolved.Broadcast, "and shown in the channel")
	parent, _ := findMessage(slack, "解消: mart-api/availability（page-1h")
	require.Equal(t, page.TS, parent.TS, "the page itself now says it resolved")
	require.Less(t, burn("5m"), 14.4)

	// A broken spec on reload: the old specs keep running.
	require.NoError(t, os.WriteFile(specPath, append(spec, []byte("\n    objectiv: 12\n")...), 0o644))
	require.Eventually(t, func() bool {
		v, ok := metric(get(t, base+"/metrics")+"\n", "kakeibo_config_last_reload_successful")
		return ok && v == 0
	}, 60*time.Second, 50*time.Millisecond)
	require.Contains(t, get(t, base+"/"), "The last spec reload failed")
	require.Contains(t, get(t, base+"/api/v1/slos"), `"slo": "availability"`)
	_, ok := metric(get(t, base+"/metrics"), "slo_objective_ratio", `slo="availability"`)
	require.True(t, ok)
	require.NotContains(t, stdout.String(), "xoxb-e2e-secret")

	// SIGTERM: exit 0 within 5 seconds.
	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit status")
		require.Less(t, time.Since(start), 5*time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
}

// recentStart is where tests' generated logs begin: two hours and ten
// minutes ago on a 5-minute boundary, so two hours of logs end fresh (serve
// marks SLOs stale when their logs end more than 20 minutes ago) and later
// writes continue from there.
func recentStart() time.Time {
	return time.Now().UTC().Truncate(5 * time.Minute).Add(-2*time.Hour - 10*time.Minute)
}
