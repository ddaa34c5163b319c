// Package promtest runs a real Prometheus (the Debian package) for tests:
// history is backfilled with promtool from OpenMetrics text, and rule files
// can be loaded.
package promtest

import (
	"fmt"
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
			t.Fatalf("%s is not installed (apt-get install -y prometheus prometheus-alertmanager)", name)
		}
		t.Skipf("%s is not installed (apt-get install -y prometheus prometheus-alertmanager); skipping", name)
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
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	s := &Server{URL: "http://" + addr, done: make(chan struct{})}
	s.cmd = exec.Command(prometheus,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=10y",
		"--web.listen-address="+addr,
		"--log.level=warn")
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(logs.Name())
			t.Fatalf("prometheus exited:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logs.Name())
			t.Fatalf("prometheus not ready after 30s:\n%s", out)
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
