package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// orgServer is a service with 10,000 ALB SLOs: 1,000 services of 10 in
// 20 teams, over 100 load balancers (evaluated without logs: no data,
// which is as heavy to show as any status).
func orgServer(t testing.TB) *Server {
	specs := t.TempDir()
	for svc := range 1000 {
		var b strings.Builder
		fmt.Fprintf(&b, "service: svc-%04d\nlabels: {team: team-%02d, tier: \"%d\"}\nslos:\n", svc, svc%20, svc%3)
		for i := range 10 {
			fmt.Fprintf(&b, "  - {name: slo-%d, description: requests of svc-%04d, objective: 99.9, window: 30d, sli: {alb: {load_balancer: app/lb-%02d/%016x, hosts: [svc-%04d.example.com]}}}\n", i, svc, svc%100, svc%100+1, svc)
		}
		require.NoError(t, os.WriteFile(filepath.Join(specs, fmt.Sprintf("svc-%04d.yaml", svc)), []byte(b.String()), 0o644))
	}
	s, err := New(Config{SpecPaths: []string{specs}, DataDir: t.TempDir(), Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.evaluateOnce(t.Context())
	require.Len(t, s.latest.Load().results, 10000)
	return s
}

// TestStatusPageForAnOrganization: with 10,000 SLOs the status page is a
// table of 50 rows grouped by team, under 300 KB, with search, filters and
// pages that are plain links (permalinks), in headless Chromium; the API
// takes the same filters.
func TestStatusPageForAnOrganization(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 SLOs")
	}
	s := orgServer(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	first := get(t, srv.URL+"/")
	t.Logf("first view: %d KB", len(first)>>10)
	require.Less(t, len(first), 300<<10)
	require.Contains(t, first, `id="slos"`, "a table")
	require.Equal(t, 50, strings.Count(first, `class="slo-row`), "one page of rows")
	require.Contains(t, first, "1–50 of 10000 SLOs")
	require.Contains(t, first, `href="?page=200&amp;view=table">200</a>`, "pages are links")
	require.Less(t, strings.Count(first, "?page="), 10, "not a link for each of 200 pages")

	chromium := promtest.Need(t, "chromium")
	dir := t.TempDir()
	dom := func(path string) string {
		out, err := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,1800", "--dump-dom", srv.URL+path).Output()
		require.NoError(t, err)
		return string(out)
	}
	// Search: one service's ten SLOs.
	got := dom("/?q=svc-0042")
	rows := regexp.MustCompile(`<tr class="slo-row [a-z_]+" id="([^"]+)"`).FindAllStringSubmatch(got, -1)
	require.Len(t, rows, 10, "the search keeps svc-0042's SLOs")
	for _, r := range rows {
		require.True(t, strings.HasPrefix(r[1], "svc-0042/"), r[1])
	}
	require.Contains(t, got, "1–10 of 10 matching (of 10000) SLOs")
	// A team, page 2, and a label: every row is the team's.
	got = dom("/?team=team-07&label=tier%3D1&page=2")
	rows = regexp.MustCompile(`<tr class="slo-row [a-z_]+" id="svc-(\d{4})/`).FindAllStringSubmatch(got, -1)
	require.NotEmpty(t, rows)
	for _, r := range rows {
		n, err := strconv.Atoi(r[1])
		require.NoError(t, err)
		require.Equal(t, 7, n%20, "team-07")
		require.Equal(t, 1, n%3, "tier 1")
	}
	require.Contains(t, got, `<option selected="">team-07</option>`)
	require.Contains(t, got, "<strong>2</strong>", "on page 2")

	// The API: the same filters, pages when asked.
	var rep struct {
		SLOs     []struct{ Service string } `json:"slos"`
		Matching int                        `json:"matching"`
		Page     int                        `json:"page"`
		Pages    int                        `json:"pages"`
	}
	require.NoError(t, json.Unmarshal([]byte(get(t, srv.URL+"/api/v1/slos?team=team-07&per_page=100&page=3")), &rep))
	require.Equal(t, 500, rep.Matching)
	require.Equal(t, 3, rep.Page)
	require.Equal(t, 5, rep.Pages)
	require.Len(t, rep.SLOs, 100)
	require.NoError(t, json.Unmarshal([]byte(get(t, srv.URL+"/api/v1/slos")), &rep))
	require.Len(t, rep.SLOs, 10000, "without filters, everything as before")
}

// BenchmarkStatusPage serves the first view of the status page and the
// unfiltered API at 10,000 SLOs.
func BenchmarkStatusPage(b *testing.B) {
	s := orgServer(b)
	h := s.Handler()
	for _, path := range []string{"/", "/?q=svc-0042", "/api/v1/slos?per_page=50", "/api/v1/slos"} {
		b.Run(path, func(b *testing.B) {
			var n int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				n = rec.Body.Len()
			}
			b.ReportMetric(float64(n)/1024, "KB")
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
