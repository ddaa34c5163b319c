package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"

	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestSLOPageHistory: the bundled day's mart-api outage at 14:00 is a
// step down in the budget burn-down and a page-1h firing span, on the SLO
// page (SVG drawn on the server) and in the history API.
func TestSLOPageHistory(t *testing.T) {
	s := exampleServer(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/slos/mart-api/availability/history?range=1d", nil))
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var h History
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	require.Len(t, h.Points, 96)
	require.Equal(t, "15m", h.Step)
	var page1h *AlertSpan
	for i, a := range h.Alerts {
		if a.Alert == "page-1h" {
			page1h = &h.Alerts[i]
		}
	}
	require.NotNil(t, page1h, "%+v", h.Alerts)
	require.Equal(t, 14, page1h.From.Hour(), "the outage began at 14:00")
	// The step: budget left before and after the outage.
	at := func(hhmm string) float64 {
		want, _ := time.Parse("2006-01-02 15:04", "2026-10-01 "+hhmm)
		for _, p := range h.Points {
			if !p.At.Before(want) && p.BudgetRemaining != nil {
				return *p.BudgetRemaining
			}
		}
		t.Fatalf("no point at %s", hhmm)
		return 0
	}
	require.Greater(t, at("13:30")-at("15:00"), 5.0, "the outage spends more than five budgets")

	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/slos/mart-api/availability?range=1d", nil))
	require.Equal(t, 200, rec.Code)
	page := rec.Body.String()
	require.Regexp(t, `<polyline data-series="budget" data-points="96"`, page)
	require.Regexp(t, `<polyline data-series="sli" data-points="96"`, page)
	require.Regexp(t, `class="firing-span" data-alert="page-1h" data-from="2026-10-01T14:`, page)
	require.Contains(t, page, `data-series="1h"`)

	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/slos/nope/nothing", nil))
	require.Equal(t, 404, rec.Code)
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/slos/mart-api/availability?range=2y", nil))
	require.Equal(t, 400, rec.Code)
}

// TestSLOPageInBrowser renders the ALB SLO page in headless Chromium (a
// screenshot is kept in the test's temp dir) and checks the charts are
// there as a browser sees them.
func TestSLOPageInBrowser(t *testing.T) {
	chromium := promtest.Need(t, "chromium")
	s := exampleServer(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	dir := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1280,1800"}
	out, err := exec.Command(chromium, append(args, "--dump-dom", srv.URL+"/slos/mart-api/availability?range=1d")...).Output()
	require.NoError(t, err)
	dom := string(out)
	polylines := regexp.MustCompile(`<polyline data-series="budget" data-points="(\d+)"`).FindStringSubmatch(dom)
	require.NotNil(t, polylines, dom)
	n, _ := strconv.Atoi(polylines[1])
	require.Equal(t, 96, n)
	require.Regexp(t, `class="firing-span" data-alert="page-1h"`, dom)
	// A time axis in the SLO's zone (mart-api's notify.timezone is
	// Asia/Tokyo): the day's times, the zone, and on hover the time and
	// values of each point.
	require.Regexp(t, `<text class="x-label"[^>]*>Oct 1 09:\d\d</text>`, dom, "the day starts at 00:00 UTC, 09:00 JST")
	require.Contains(t, dom, `<text class="x-zone"`)
	require.Contains(t, dom, `>JST</text>`)
	require.Regexp(t, `<rect class="hover"[^>]*><title>2026-10-01 23:\d\d JST: budget [-\d.]+%</title>`, dom)
	// The budget went far below the chart's floor (−200%): the chart says how far.
	require.Regexp(t, `<text class="clipped"[^>]*>▼ lowest -\d{3,4}(\.\d+)?%, below the chart</text>`, dom)
	// What the SLO is, where it is defined, and its links.
	require.Contains(t, dom, "Requests answered without a server error")
	require.Contains(t, dom, `<a href="https://wiki.example.com/mart-api/runbook">runbook</a>`)
	require.Regexp(t, `<dt>Spec</dt><dd><code>[^<]*mart-api.yaml:\d+:\d+</code>`, dom)
	require.Contains(t, dom, "in Asia/Tokyo")
	shot := filepath.Join(dir, "slo.png")
	if keep := os.Getenv("KAKEIBO_SCREENSHOT_DIR"); keep != "" {
		shot = filepath.Join(keep, "slo.png") // to look at it
	}
	_, err = exec.Command(chromium, append(args, "--screenshot="+shot, srv.URL+"/slos/mart-api/availability?range=1d")...).CombinedOutput()
	require.NoError(t, err)
	t.Logf("screenshot: %s", shot)
	// On a 390 px phone a chart is about 330 px wide for its 720-unit view
	// box: its text is set to 25 units (11.5 px once scaled), and minor
	// labels give way (the alert names are in the list under the timeline).
	phone := append(slices.Clone(args[:len(args)-1]), "--window-size=390,1600")
	phoneShot := filepath.Join(filepath.Dir(shot), "slo-390.png")
	_, err = exec.Command(chromium, append(phone, "--screenshot="+phoneShot, srv.URL+"/slos/mart-api/availability?range=1d")...).CombinedOutput()
	require.NoError(t, err)
	info, err := os.Stat(phoneShot)
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(10_000), "a rendered page")
	page := get(t, srv.URL+"/slos/mart-api/availability")
	require.Contains(t, page, "@media (max-width: 600px)")
	require.Contains(t, page, "svg text { font-size:25px; }")
	require.Regexp(t, `<li>page-1h \(page\): Oct 1 \d\d:\d\d – Oct \d \d\d:\d\d JST</li>`, dom, "each span with its start and end")
	// The status page links each SLO to its page.
	out, err = exec.Command(chromium, append(args, "--dump-dom", srv.URL+"/")...).Output()
	require.NoError(t, err)
	require.Contains(t, string(out), `<a href="/slos/mart-api/availability">`)
}

// TestSLOPagePrometheus: the page of a Prometheus-backed SLO, from a real
// Prometheus holding two days of history whose last two hours fail 10% of
// requests: 48 points a day, and the page-1h span at the end.
func TestSLOPagePrometheus(t *testing.T) {
	end := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	var b strings.Builder
	b.WriteString("# TYPE http_requests counter\n")
	type point struct{ good, bad float64 }
	var pts []point
	var cur point
	start := end.Add(-48 * time.Hour)
	for at := start; !at.After(end); at = at.Add(time.Minute) {
		pts = append(pts, cur)
		cur.good += 100
		if at.After(end.Add(-2 * time.Hour)) {
			cur.bad += 10
		}
	}
	for i, p := range pts {
		fmt.Fprintf(&b, "http_requests_total{job=\"checkout\",code=\"200\"} %g %d\n", p.good, start.Add(time.Duration(i)*time.Minute).Unix())
	}
	for i, p := range pts {
		fmt.Fprintf(&b, "http_requests_total{job=\"checkout\",code=\"500\"} %g %d\n", p.bad, start.Add(time.Duration(i)*time.Minute).Unix())
	}
	b.WriteString("# EOF\n")
	prom := promtest.Start(t, b.String(), time.Minute)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "checkout.yaml"), []byte(`service: checkout
notify: {page: {slack: "#checkout"}, ticket: {slack: "#checkout"}}
slos:
  - name: requests
    objective: 99.9
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="checkout"}[{{.window}}]))
`), 0o644))
	s, err := New(Config{SpecPaths: []string{dir}, DataDir: t.TempDir(), Registry: prometheus.NewRegistry(),
		Prometheus: &promsource.Config{URL: prom.URL}, EvalInterval: time.Minute, Now: func() time.Time { return end }})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.evaluateOnce(t.Context())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/slos/checkout/requests/history?range=1d", nil))
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var h History
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	require.Len(t, h.Points, 48)
	var page14m bool
	for _, a := range h.Alerts {
		if a.Alert == "page-14m" {
			page14m = true
			require.True(t, a.From.After(end.Add(-3*time.Hour)), "it fired in the last hours: %v", a.From)
		}
	}
	require.True(t, page14m, "7d: the fast page pair scaled to 14m: %+v", h.Alerts)
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/slos/checkout/requests?range=1d", nil))
	require.Equal(t, 200, rec.Code)
	require.Regexp(t, `<polyline data-series="sli" data-points="4[0-8]"`, rec.Body.String())
	require.Contains(t, rec.Body.String(), `class="firing-span" data-alert="page-14m"`)

	// As a browser sees it.
	chromium := promtest.Need(t, "chromium")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	out, err := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"), "--window-size=1280,1800", "--dump-dom", srv.URL+"/slos/checkout/requests?range=1d").Output()
	require.NoError(t, err)
	require.Regexp(t, `<polyline data-series="sli" data-points="4[0-8]"`, string(out))
	require.Contains(t, string(out), `class="firing-span" data-alert="page-14m"`)
}
