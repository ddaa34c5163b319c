package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestDiskFullThenFreed puts the data directory on a small tmpfs (a real
// filesystem that runs out of space; mounting needs root, so the test
// skips where it may not mount), fills it while the service runs and new
// logs arrive: /readyz says 503 with the reason, the status page says so,
// kakeibo_store_write_errors_total counts; then frees the space: the
// service is ready again without a restart and the new logs are counted.
func TestDiskFullThenFreed(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })

	dir := t.TempDir()
	logs, specs := filepath.Join(dir, "logs"), filepath.Join(dir, "specs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	spec, err := os.ReadFile("../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), spec, 0o644))
	start := time.Now().UTC().Truncate(5 * time.Minute).Add(-9 * time.Hour)
	write := func(from time.Time, d time.Duration) {
		cfg := albgen.Example(from, 30)
		cfg.Start, cfg.Duration, cfg.Traps, cfg.MalformedEvery, cfg.Seed = from, d, false, 0, uint64(from.Unix())
		cfg.LoadBalancers, cfg.Incidents = cfg.LoadBalancers[:1], nil
		_, err := albgen.Write(cfg, logs)
		require.NoError(t, err)
	}
	write(start, 2*time.Hour)

	reg := prometheus.NewRegistry()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: filepath.Join(mnt, "data"), ALBLogs: logs, Listen: addr,
		IngestInterval: 100 * time.Millisecond, EvalInterval: 100 * time.Millisecond, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { c, _ := readyz(); return c == http.StatusOK }, 60*time.Second, 20*time.Millisecond)

	// Fill the filesystem, then let new logs arrive.
	filler, err := os.Create(filepath.Join(mnt, "filler"))
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "%v", err)
			break
		}
	}
	require.NoError(t, filler.Close())
	// bbolt reuses the pages it freed before it grows its file, so the
	// first writes after the fill may still fit; new logs arrive hour by
	// hour until one needs space the filesystem no longer has.
	var body string
	full, end := false, start.Add(2*time.Hour)
	for !full && end.Before(start.Add(8*time.Hour)) {
		write(end, time.Hour)
		end = end.Add(time.Hour)
		deadline := time.Now().Add(20 * time.Second)
		for !full && time.Now().Before(deadline) {
			var c int
			c, body = readyz()
			full = c == http.StatusServiceUnavailable
			time.Sleep(20 * time.Millisecond)
		}
	}
	require.True(t, full, "still ready on a full disk after %s of new logs", end.Sub(start.Add(2*time.Hour)))
	t.Logf("not ready after %s of new logs on the full disk", end.Sub(start.Add(2*time.Hour)))
	require.Contains(t, body, "cannot write the data directory")
	require.Positive(t, testutil.ToFloat64(s.m.storeWriteErrors))
	page := getBody(t, "http://"+addr+"/")
	require.Contains(t, page, `id="store-error"`)

	// Space returns: ready again, and the logs that arrived meanwhile count.
	require.NoError(t, os.Remove(filepath.Join(mnt, "filler")))
	require.Eventually(t, func() bool { c, _ := readyz(); return c == http.StatusOK }, 60*time.Second, 20*time.Millisecond,
		"not ready again after space returned")
	require.NotContains(t, getBody(t, "http://"+addr+"/"), `id="store-error"`)
	w, ok, err := s.albDB.Watermark("app/mart-api/50dc6c495c0c9188")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, time.Unix(w*60, 0).Before(end.Add(-30*time.Minute)), "the logs written while the disk was full are counted")
	cancel()
	require.NoError(t, <-done)
}

func getBody(t *testing.T, url string) string {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
