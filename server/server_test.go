package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// exampleServer evaluates the example specs on the bundled logs once.
func exampleServer(t *testing.T) *Server {
	s, err := New(Config{
		SpecPaths: []string{"../testdata/specs"}, DataDir: t.TempDir(), ALBLogs: "../testdata/alb",
		Registry: prometheus.NewRegistry(),
		// The bundled logs end at 2026-10-01 23:55; later, they would be stale.
		Now: func() time.Time { return time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC) },
	})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.ingestOnce(t.Context(), true)
	s.evaluateOnce(t.Context())
	return s
}

// exported parses /metrics as Prometheus would, plain and gzipped (which
// must say the same), and lists the metric names.
func exported(t *testing.T, s *Server) map[string]bool {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	require.NoError(t, err, "the exposition parses")
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	zr, err := gzip.NewReader(rec.Body)
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	p2 := expfmt.NewTextParser(model.UTF8Validation)
	mfs2, err := p2.TextToMetricFamilies(bytes.NewReader(unzipped))
	require.NoError(t, err)
	require.Equal(t, len(mfs), len(mfs2), "gzipped: the same families")
	names := map[string]bool{}
	for name := range mfs {
		names[name] = true
	}
	return names
}

func TestMetricsExported(t *testing.T) {
	s := exampleServer(t)
	names := exported(t, s)
	for _, n := range SeriesNames() {
		require.True(t, names[n], "%s is exported", n)
	}
	for _, n := range []string{"kakeibo_ingest_lag_seconds", "kakeibo_ingest_watermark_timestamp_seconds", "kakeibo_alb_malformed_lines_total",
		"kakeibo_evaluation_duration_seconds", "kakeibo_config_last_reload_successful", "kakeibo_source_errors_total", "kakeibo_alb_objects_total"} {
		require.True(t, names[n], "%s is exported", n)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	// slo_* series carry service, slo and their own labels; the specs'
	// labels are on slo_info only.
	require.Contains(t, body, `slo_objective_ratio{service="mart-api",slo="availability"} 0.9995`)
	require.Contains(t, body, `slo_alert_firing{alert="budget-exhausted",service="mart-api",severity="ticket",slo="availability"} 1`)
	require.Contains(t, body, `slo_info{budgeting="occurrences",service="mart-api",slo="availability",source="alb",status="violated",team="mart",window="30d"} 1`)
	require.NotContains(t, body, `tier=""`)
	require.Contains(t, body, `kakeibo_alb_malformed_lines_total{reason="unterminated_quote"} 1`)
	require.NotContains(t, body, "NaN")
}

// TestDashboard checks that every query of the dashboard parses as PromQL
// and reads only series kakeibo exports.
func TestDashboard(t *testing.T) {
	data, err := Dashboard()
	require.NoError(t, err)
	committed, err := os.ReadFile("../deploy/grafana/kakeibo.json")
	require.NoError(t, err)
	require.JSONEq(t, string(data), string(committed), "deploy/grafana/kakeibo.json is stale: go run ./cmd/kakeibo dashboard > deploy/grafana/kakeibo.json")

	names := exported(t, exampleServer(t))
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name, Definition string
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &d))
	p := parser.NewParser(parser.Options{})
	checked := 0
	check := func(expr string) {
		q := strings.NewReplacer("$service", "x", "$slo", "y").Replace(expr)
		e, err := p.ParseExpr(q)
		require.NoError(t, err, expr)
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				require.True(t, names[vs.Name], "%s reads %s, which kakeibo does not export", expr, vs.Name)
				checked++
			}
			return nil
		})
	}
	for _, panel := range d.Panels {
		require.NotEmpty(t, panel.Targets, panel.Title)
		for _, tg := range panel.Targets {
			check(tg.Expr)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.*), [a-z_]+\)$`)
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			check(m[1])
		}
	}
	require.Greater(t, checked, 10)
}

// TestStatusPageInBrowser loads the status page in headless Chromium and
// checks what a person sees.
func TestStatusPageInBrowser(t *testing.T) {
	chromium := promtest.Need(t, "chromium")
	s := exampleServer(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	dir := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=420,1800"}
	out, err := exec.Command(chromium, append(args, "--dump-dom", srv.URL+"/")...).Output()
	require.NoError(t, err)
	dom := string(out)
	require.Contains(t, dom, "6 of 10 SLOs need attention") // violated, and five Prometheus-backed ones without a URL
	require.Regexp(t, `(?s)id="mart-api/availability".*<span class="badge">violated</span>`, dom)
	require.Regexp(t, `(?s)id="web-storefront/page-latency".*<span class="badge">kept</span>.*<strong class="sli">98.031%</strong>`, dom)
	require.Regexp(t, `(?s)id="mart-api/availability".*Firing: budget-exhausted`, dom)
	require.Regexp(t, `(?s)id="mart-api/uptime".*<strong class="sli">99.955%</strong>.*<span class="budget">10.4% \(2m19.2s\)</span>`, dom)
	require.Regexp(t, `<td class="hot">8.44×</td>`, dom)
	require.Contains(t, dom, `href="https://wiki.example.com/mart-api/runbook"`)

	shot := filepath.Join(dir, "status.png")
	_, err = exec.Command(chromium, append(args, "--screenshot="+shot, srv.URL+"/")...).CombinedOutput()
	require.NoError(t, err)
	info, err := os.Stat(shot)
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(10_000), "a rendered page, not a blank one")
	if out := os.Getenv("KAKEIBO_SCREENSHOT"); out != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(out, b, 0o644)
	}
}

// TestHTTPHeadersAndErrors: every answer carries the security headers; the
// API's 503 is JSON; a spec label that would collide with kakeibo's own
// (were it to pass validation) never turns /metrics into a 500.
func TestHTTPHeadersAndErrors(t *testing.T) {
	s := exampleServer(t)
	for _, path := range []string{"/", "/metrics", "/api/v1/slos", "/healthz"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'", path)
	}
	// A label named like one of kakeibo's: validation rejects it, but a
	// spec object built otherwise must still not break the scrape.
	snap := s.latest.Load()
	// The compiled model is read-only and SLOs share equal label sets:
	// this objective gets its own.
	snap.results[0].Objective.Labels = maps.Clone(snap.results[0].Objective.Labels)
	snap.results[0].Objective.Labels["status"] = "prod"
	snap.results[0].Objective.Labels["__name__"] = "x"
	snap.results[0].Objective.Labels["0bad"] = "x"
	snap.results[0].Objective.Labels["note"] = "a \"quoted\"\nvalue \\ here"
	snap.exposition = render(snap, nil, nil)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	require.NotContains(t, rec.Body.String(), "goroutine")
	require.Contains(t, rec.Body.String(), "slo_objective_ratio")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	require.NoError(t, err, "the exposition still parses")
	var noted int
	for _, m := range mfs["slo_info"].GetMetric() {
		for _, l := range m.GetLabel() {
			require.NotContains(t, []string{"__name__", "0bad"}, l.GetName())
			require.NotEqual(t, "prod", l.GetValue(), "status is kakeibo's own")
			if l.GetName() == "note" {
				require.Equal(t, "a \"quoted\"\nvalue \\ here", l.GetValue(), "escaped and read back")
				noted++
			}
		}
	}
	require.Equal(t, 1, noted)

	s.latest.Store(nil)
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/slos", nil))
	require.Equal(t, 503, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
}
