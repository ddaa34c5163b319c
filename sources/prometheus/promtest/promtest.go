// Package promtest runs a real Prometheus (the Debian package) for tests:
// history is backfilled with promtool from OpenMetrics text, and rule files
// can be loaded.
package promtest

import (
	"fmt"
	"github.com/prometheus/common/model"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Need finds a binary. A missing one skips the test on a developer's
// machine and fails it in CI (CI=true), where .ci/run installs it.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (apt-get install -y prometheus prometheus-alertmanager victoria-metrics)", name)
		}
		t.Skipf("%s is not installed (apt-get install -y prometheus prometheus-alertmanager victoria-metrics); skipping", name)
	}
	return p
}

// Server is a running Prometheus.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start backfills openMetrics (text ending in "# EOF") into a new TSDB and
// starts Prometheus on 127.0.0.1 with the rule files, evaluating them every
// evalInterval. It stops when the test ends.
func Start(t testing.TB, openMetrics string, evalInterval time.Duration, ruleFiles ...string) *Server {
	t.Helper()
	return StartWith(t, Options{OpenMetrics: openMetrics, EvalInterval: evalInterval, RuleFiles: ruleFiles})
}

// Options say how to start Prometheus.
type Options struct {
	OpenMetrics  string // history to backfill, "" for none
	EvalInterval time.Duration
	RuleFiles    []string
	// RemoteWriteReceiver accepts remote write on /api/v1/write, with
	// samples up to OutOfOrderWindow older than the newest.
	RemoteWriteReceiver bool
	OutOfOrderWindow    time.Duration
}

// StartWith starts Prometheus as Options say (see Start).
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	openMetrics, evalInterval, ruleFiles := o.OpenMetrics, o.EvalInterval, o.RuleFiles
	promtool, prometheus := Need(t, "promtool"), Need(t, "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if openMetrics != "" {
		om := filepath.Join(dir, "history.om")
		if err := os.WriteFile(om, []byte(openMetrics), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool backfill: %v\n%s", err, out)
		}
	}
	cfg := fmt.Sprintf("global:\n  evaluation_interval: %s\nrule_files: [%s]\n", evalInterval, strings.Join(quoteAll(ruleFiles), ", "))
	if o.OutOfOrderWindow > 0 {
		cfg += fmt.Sprintf("storage:\n  tsdb:\n    out_of_order_time_window: %s\n", model.Duration(o.OutOfOrderWindow))
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	s := &Server{URL: "http://" + addr, done: make(chan struct{})}
	args := []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + data,
		"--storage.tsdb.retention.time=10y",
		"--web.listen-address=" + addr,
		"--log.level=warn"}
	if o.RemoteWriteReceiver {
		args = append(args, "--web.enable-remote-write-receiver")
	}
	s.cmd = exec.Command(prometheus, args...)
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logs, logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	s.waitReady(t, "prometheus", "/-/ready", logs.Name())
	return s
}

// waitReady polls path until it answers 200, failing the test with the
// process' log if it exits or is not ready within 30 seconds.
func (s *Server) waitReady(t testing.TB, name, path, logFile string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited:\n%s", name, out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logFile)
			t.Fatalf("%s not ready after 30s:\n%s", name, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills Prometheus and waits for it; calling it twice is fine.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// StartVictoriaMetrics starts a single-node VictoriaMetrics (the Debian
// package) on 127.0.0.1 with a retention long enough for any test data;
// its URL serves the Prometheus query API and remote write on
// /api/v1/write. It stops when the test ends.
func StartVictoriaMetrics(t testing.TB) *Server {
	t.Helper()
	vm := Need(t, "victoria-metrics")
	dir := t.TempDir()
	addr := freeAddr(t)
	s := &Server{URL: "http://" + addr, done: make(chan struct{})}
	s.cmd = exec.Command(vm, "-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"),
		"-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN")
	logs, err := os.Create(filepath.Join(dir, "victoria-metrics.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logs, logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	s.waitReady(t, "victoria-metrics", "/health", logs.Name())
	return s
}
