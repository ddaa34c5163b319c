package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// promSpec is a Prometheus-only service over the counters promHistory
// writes.
const promSpec = `service: shop
labels: {team: observability}
slos:
  - name: http-availability
    objective: 99
    window: 30d
    sli:
      prometheus:
        good:  sum(increase(http_requests_total{job="shop",code!~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
  - name: http-availability-7d
    objective: 95
    window: 7d
    sli:
      prometheus:
        bad:   sum(increase(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
`

// promHistory is a healthy Prometheus' history of the shop's requests from
// start to end: 20 requests a second, 0.1% of them errors, one sample
// every 15 seconds, as OpenMetrics text for promtool.
func promHistory(start, end time.Time) string {
	var b strings.Builder
	b.WriteString("# TYPE http_requests counter\n")
	for _, code := range []string{"200", "500"} {
		perStep := 300 * 0.999
		if code == "500" {
			perStep = 300 * 0.001
		}
		var v float64
		for at := start; !at.After(end); at = at.Add(15 * time.Second) {
			fmt.Fprintf(&b, "http_requests_total{job=\"shop\",code=%q} %g %d\n", code, v, at.Unix())
			v += perStep
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// serveProc is one `kakeibo serve` process started by a test.
type serveProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	base string
	done chan error
}

func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv starts serve with extra environment variables (NAME=value).
func startServeEnv(t *testing.T, env []string, args ...string) *serveProc {
	t.Helper()
	bin, err := buildOnce()
	require.NoError(t, err)
	addr := freePort(t)
	p := &serveProc{out: &syncBuffer{}, base: "http://" + addr, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", addr,
		"--ingest-interval", "200ms", "--eval-interval", "200ms", "--reload-interval", "1s"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// exited reports whether the process has ended, and how.
func (p *serveProc) exited() (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err // keep it for the next look
		return err, true
	default:
		return nil, false
	}
}

// evaluations is how many evaluation cycles the process has completed,
// from its own histogram.
func (p *serveProc) evaluations(t *testing.T) float64 {
	v, _ := metric(get(t, p.base+"/metrics"), "kakeibo_evaluation_duration_seconds_count")
	return v
}

// waitFor polls cond until it holds, failing the test at once if the
// process ends meanwhile and after timeout (a generous bound, not a
// measurement).
func (p *serveProc) waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		p.requireUp(t)
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; log:\n%s", what, timeout, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireUp fails the test, with the process' log, if it has ended.
func (p *serveProc) requireUp(t *testing.T) {
	t.Helper()
	if err, ended := p.exited(); ended {
		t.Fatalf("serve ended (%v) while it should run; its log:\n%s", err, p.out.String())
	}
}

// stop sends SIGTERM and requires exit status 0 within 5 seconds.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	p.requireUp(t)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit status after SIGTERM; log:\n%s", p.out.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM; log:\n%s", p.out.String())
	}
}

// TestServeDeploymentShapes starts `kakeibo serve` as a real process in
// each shape users deploy it in: ALB logs only, Prometheus only (against a
// real Prometheus), both, neither (teams that only validate, or whose
// sources are not wired yet), and an active process with a hot standby.
// Each runs for several evaluation cycles, must stay up, become ready (a
// standby: stay not ready), publish every SLO of its specs, and exit 0
// within 5 seconds of SIGTERM. An actor of the run group that returns
// early (as the ingest loop once did without ALB logs) ends the process
// and fails this test.
func TestServeDeploymentShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	prom := promtest.Start(t, promHistory(time.Now().Add(-3*time.Hour), time.Now()), time.Minute)

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	writeLogs(t, logs, recentStart(), 2*time.Hour, 0)
	martSpec, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	specDir := func(name string, files map[string]string) string {
		d := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(d, 0o755))
		for f, text := range files {
			require.NoError(t, os.WriteFile(filepath.Join(d, f), []byte(text), 0o644))
		}
		return d
	}
	albSpecs := specDir("alb-specs", map[string]string{"mart-api.yaml": string(martSpec)})
	promSpecs := specDir("prom-specs", map[string]string{"shop.yaml": promSpec})
	bothSpecs := specDir("both-specs", map[string]string{"mart-api.yaml": string(martSpec), "shop.yaml": promSpec})
	albSLOs := []string{"mart-api/availability", "mart-api/latency", "mart-api/uptime"}
	promSLOs := []string{"shop/http-availability", "shop/http-availability-7d"}

	shapes := []struct {
		name      string
		args      []string
		evaluated []string // SLOs that must have numbers (not no_data)
		noData    []string // SLOs whose source is not given: listed, no_data
	}{
		{"alb only", []string{"--specs", albSpecs, "--alb-logs", logs}, albSLOs, nil},
		{"prometheus only", []string{"--specs", promSpecs, "--prometheus-url", prom.URL}, promSLOs, nil},
		{"both", []string{"--specs", bothSpecs, "--alb-logs", logs, "--prometheus-url", prom.URL}, append(albSLOs, promSLOs...), nil},
		{"neither source", []string{"--specs", bothSpecs}, nil, append(albSLOs, promSLOs...)},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			p := startServe(t, append(shape.args, "--data-dir", filepath.Join(t.TempDir(), "data"))...)
			requireServing(t, p, shape.evaluated, shape.noData)
			p.stop(t)
			require.NotContains(t, p.out.String(), `"level":"ERROR"`)
		})
	}

	t.Run("active and hot standby", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		args := []string{"--specs", promSpecs, "--prometheus-url", prom.URL, "--data-dir", data}
		active := startServe(t, args...)
		requireServing(t, active, promSLOs, nil)
		standby := startServe(t, args...)
		standby.waitFor(t, 30*time.Second, func() bool {
			return strings.Contains(standby.out.String(), "standby: waiting for the lock")
		}, "the standby waits for the lock")
		// While the active one goes on evaluating, the standby stays up
		// and not ready.
		n := active.evaluations(t)
		active.waitFor(t, 30*time.Second, func() bool { return active.evaluations(t) >= n+2 }, "two more evaluations")
		standby.requireUp(t)
		require.Contains(t, get(t, standby.base+"/readyz"), "not ready: standby")
		require.Equal(t, "ok\n", get(t, standby.base+"/healthz"))
		standby.stop(t)
		active.requireUp(t)
		require.Equal(t, "ready\n", get(t, active.base+"/readyz"))
		active.stop(t)
	})
}

// requireServing waits until p has become ready and completed at least
// two evaluation cycles, then checks that it is still up and that
// /api/v1/slos lists every SLO: evaluated ones with numbers, the others
// as no_data.
func requireServing(t *testing.T, p *serveProc, evaluated, noData []string) {
	t.Helper()
	p.waitFor(t, 60*time.Second, func() bool { return get(t, p.base+"/readyz") == "ready\n" }, "ready")
	n := p.evaluations(t)
	p.waitFor(t, 30*time.Second, func() bool { return p.evaluations(t) >= max(n+1, 2) }, "two evaluation cycles")
	p.requireUp(t)

	var rep slo.Report
	require.NoError(t, json.Unmarshal([]byte(get(t, p.base+"/api/v1/slos")), &rep))
	status := map[string]slo.ReportSLO{}
	for _, s := range rep.SLOs {
		status[s.Service+"/"+s.SLO] = s
	}
	require.Len(t, status, len(evaluated)+len(noData), "SLOs published: %v", status)
	for _, id := range evaluated {
		s, ok := status[id]
		require.True(t, ok, "%s is not published", id)
		require.NotEqual(t, slo.Status("no_data"), s.Status, "%s was not evaluated: %+v", id, s)
		require.NotEqual(t, slo.Status("stale"), s.Status, "%s is stale: %+v", id, s)
		require.Positive(t, s.Total, "%s has no events", id)
	}
	for _, id := range noData {
		s, ok := status[id]
		require.True(t, ok, "%s is not published", id)
		require.Equal(t, slo.Status("no_data"), s.Status, "%s", id)
	}
}
