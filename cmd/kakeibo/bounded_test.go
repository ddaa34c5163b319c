package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// oddPrometheus answers the query API like Prometheus does
// (https://prometheus.io/docs/prometheus/latest/querying/api/): JSON with
// status and data, a vector for instant queries, a matrix for range
// queries. Queries of hung_requests_total are accepted and never answered;
// queries of huge_requests_total answer every raw series, 60 MB of them,
// as a query that forgot its sum would; every other query is healthy:
// 1,000 requests per window, 999 of them good (code="200").
func oddPrometheus(t *testing.T) (url string, hung *atomic.Int64) {
	hung = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		q := r.Form.Get("query")
		w.Header().Set("Content-Type", "application/json")
		value := func() string {
			switch {
			case strings.Contains(q, "timestamp("):
				return strconv.FormatInt(time.Now().Unix(), 10)
			case strings.Contains(q, `code="200"`):
				return "999"
			}
			return "1000"
		}
		switch {
		case strings.Contains(q, "hung_requests_total"):
			hung.Add(1)
			<-r.Context().Done()
			hung.Add(-1)
			return
		case strings.Contains(q, "huge_requests_total"):
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
			series := fmt.Sprintf(`{"metric":{"__name__":"huge_requests_total","pod":"pod-%%09d","path":"/%s"},"value":[%d,"1"]}`, strings.Repeat("x", 100), time.Now().Unix())
			for i, written := 0, 0; written < 60<<20; i++ {
				if i > 0 {
					fmt.Fprint(w, ",")
				}
				n, err := fmt.Fprintf(w, series, i)
				if err != nil {
					return // the client gave up reading: as it should
				}
				written += n
			}
			fmt.Fprint(w, `]}}`)
		case strings.HasSuffix(r.URL.Path, "/query_range"):
			start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
			end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
			step, _ := time.ParseDuration(r.Form.Get("step") + "s")
			if step <= 0 {
				step, _ = time.ParseDuration(r.Form.Get("step"))
			}
			var pts []string
			for ts := start; ts <= end && step > 0; ts += step.Seconds() {
				pts = append(pts, fmt.Sprintf(`[%g,"%s"]`, ts, value()))
			}
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(pts, ","))
		default:
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"%s"]}]}}`, time.Now().Unix(), value())
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hung
}

// oddSpec has five healthy Prometheus SLOs, one whose queries hang and one
// whose queries answer 60 MB.
func oddSpec() string {
	var b strings.Builder
	b.WriteString("service: shop\nslos:\n")
	slo := func(name, metric string) {
		fmt.Fprintf(&b, `  - name: %s
    objective: 99
    window: 30d
    sli:
      prometheus:
        good:  sum(increase(%s{code="200"}[{{.window}}]))
        total: sum(increase(%s[{{.window}}]))
`, name, metric, metric)
	}
	for i := range 5 {
		slo(fmt.Sprintf("healthy-%d", i), fmt.Sprintf("app%d_requests_total", i))
	}
	slo("hung", "hung_requests_total")
	slo("huge", "huge_requests_total")
	return b.String()
}

// TestServeWithHungAndHugePrometheusAnswers: beside ALB SLOs and healthy
// Prometheus SLOs, one SLO's queries hang and another's answer 60 MB. Over
// several evaluation cycles every healthy SLO (Prometheus and ALB) is
// published with numbers each cycle; the hung SLO is no_data with the
// deadline as its reason, the huge one with the size cap; the process
// stays under 200 MB resident; SIGTERM ends it within 5 seconds while
// queries hang.
func TestServeWithHungAndHugePrometheusAnswers(t *testing.T) {
	t.Parallel() // mostly waits on its processes: runs beside the others (see TestMain)
	if testing.Short() {
		t.Skip("starts processes")
	}
	promURL, hung := oddPrometheus(t)
	dir := t.TempDir()
	specs, logs := filepath.Join(dir, "specs"), filepath.Join(dir, "logs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	mart, err := os.ReadFile("../../testdata/specs/mart-api.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(specs, "mart-api.yaml"), mart, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(oddSpec()), 0o644))
	writeLogs(t, logs, recentStart(), 2*time.Hour, 0)

	// Evaluations every 5 s: the Prometheus deadline of a cycle is its
	// interval, so the hung queries end at 5 s, every cycle; ample for the
	// 16 MiB the huge SLO's first answer is read up to, even on a busy
	// machine.
	p := startServe(t, "--specs", specs, "--alb-logs", logs, "--prometheus-url", promURL,
		"--data-dir", filepath.Join(dir, "data"), "--eval-interval", "5s")
	p.waitFor(t, 60*time.Second, func() bool { return get(t, p.base+"/readyz") == "ready\n" }, "ready")

	published := map[string][]time.Time{} // healthy SLO → the evaluation times it had numbers at
	var last slo.Report
	var longest float64 // the longest cycle, from the service's own gauge
	// capped: an evaluation read the huge answer up to its cap (on a busy
	// machine a cycle may end before the huge SLO's query got its turn;
	// that cycle says "not asked").
	capped := false
	p.waitFor(t, 120*time.Second, func() bool {
		if d, ok := metric(get(t, p.base+"/metrics"), "kakeibo_evaluation_last_duration_seconds"); ok {
			longest = max(longest, d)
		}
		var rep slo.Report
		if json.Unmarshal([]byte(get(t, p.base+"/api/v1/slos")), &rep) != nil {
			return false
		}
		last = rep
		for _, s := range rep.SLOs {
			id := s.Service + "/" + s.SLO
			if id == "shop/huge" && strings.Contains(s.Error, "larger than 16 MiB") {
				capped = true
			}
			if s.Status == slo.StatusNoData || s.Status == slo.StatusStale {
				continue
			}
			if ts := published[id]; len(ts) == 0 || !ts[len(ts)-1].Equal(rep.At) {
				published[id] = append(published[id], rep.At)
			}
		}
		return len(published["shop/healthy-0"]) >= 3 && capped
	}, "three evaluations with the healthy SLOs published, and the huge answer cut at its cap")

	for _, s := range last.SLOs {
		id := s.Service + "/" + s.SLO
		switch id {
		case "shop/hung":
			require.Equal(t, slo.StatusNoData, s.Status)
			require.Contains(t, s.Error, "deadline", "hung: %s", s.Error)
		case "shop/huge":
			require.Equal(t, slo.StatusNoData, s.Status)
			require.NotEmpty(t, s.Error, "huge")
		default:
			require.NotEqual(t, slo.StatusNoData, s.Status, "%s: %s", id, s.Error)
			require.Positive(t, s.Total, id)
		}
	}
	// Every healthy SLO was published at every evaluation the API showed
	// once it was ready (the same count as the one seen most often).
	for i := range 5 {
		require.Len(t, published[fmt.Sprintf("shop/healthy-%d", i)], len(published["shop/healthy-0"]))
	}
	for _, id := range []string{"mart-api/availability", "mart-api/latency"} {
		require.GreaterOrEqual(t, len(published[id]), len(published["shop/healthy-0"])-1, id)
	}

	// A cycle ends at its deadline (the interval) plus what finishing takes:
	// about 5.0 s here; the bound is generous for a loaded machine.
	t.Logf("longest evaluation cycle: %.2f s (interval 5 s)", longest)
	require.Less(t, longest, 5.0+3, "a hung query holds the cycle past its deadline")
	m := get(t, p.base+"/metrics")
	rss, ok := metric(m, "process_resident_memory_bytes")
	require.True(t, ok)
	t.Logf("resident memory after the cycles: %.0f MB", rss/1e6)
	require.Less(t, rss, 200e6, "resident memory")
	errs, _ := metric(m, "kakeibo_source_errors_total", `source="prometheus"`)
	require.Positive(t, errs)

	// SIGTERM while queries hang.
	require.Eventually(t, func() bool { return hung.Load() > 0 }, 60*time.Second, 20*time.Millisecond, "no query in flight to the hung SLO")
	p.stop(t)
}
