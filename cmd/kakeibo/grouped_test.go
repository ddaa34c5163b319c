package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// groupedSpec is one SLO grouped by route (Pyrra's grouping, Sloth's
// per-route SLOs): each route gets its own budget and alerts.
const groupedSpec = `service: shop
notify: {page: {slack: "#shop"}, ticket: {slack: "#shop"}}
slos:
  - name: requests
    objective: 99
    window: 7d
    sli:
      prometheus:
        bad:   sum(increase(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
        by: [route]
`

// routesHistory: 3 hours of two routes, /cart at 100 requests a minute and
// /search at 120, one sample a minute. /cart fails half its requests over the last 40 minutes;
// /search has no error series at all (a route that never failed).
func routesHistory(end time.Time) string {
	var b strings.Builder
	b.WriteString("# TYPE http_requests counter\n")
	start := end.Add(-3 * time.Hour)
	outage := end.Add(-40 * time.Minute)
	series := func(route, code string, perMinute func(time.Time) float64) {
		var v float64
		for at := start; !at.After(end); at = at.Add(time.Minute) {
			fmt.Fprintf(&b, "http_requests_total{job=\"shop\",route=%q,code=%q} %g %d\n", route, code, v, at.Unix())
			v += perMinute(at)
		}
	}
	series("/cart", "200", func(at time.Time) float64 {
		if at.Before(outage) {
			return 100
		}
		return 50
	})
	series("/cart", "500", func(at time.Time) float64 {
		if at.Before(outage) {
			return 0
		}
		return 50
	})
	series("/search", "200", func(time.Time) float64 { return 120 })
	b.WriteString("# EOF\n")
	return b.String()
}

// TestServeGroupedSLO: a grouped SLO over two routes, one with an outage.
// serve finds both routes in Prometheus, evaluates each as its own SLO,
// pages for the failing route only, and shows both rows on the status
// page and the API, each with its own SLO page.
func TestServeGroupedSLO(t *testing.T) {
	t.Parallel() // waits on Prometheus and serve: runs beside the others (see TestMain)
	if testing.Short() {
		t.Skip("starts processes")
	}
	prom := promtest.Start(t, routesHistory(time.Now().UTC().Truncate(time.Minute)), time.Minute)
	dir := t.TempDir()
	specs := filepath.Join(dir, "specs")
	require.NoError(t, os.MkdirAll(specs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(specs, "shop.yaml"), []byte(groupedSpec), 0o644))
	slack := fakeslack.New(t, "xoxb-grouped", "shop")
	p := startServeEnv(t, []string{"SLACK_BOT_TOKEN=xoxb-grouped", "SLACK_API_URL=" + slack.APIURL()},
		"--specs", specs, "--prometheus-url", prom.URL, "--data-dir", filepath.Join(dir, "data"))

	cart, search := `requests{route="/cart"}`, `requests{route="/search"}`

	// report: a row per route, the busiest first past --max-groups.
	code, out, errOut := kakeibo(t, nil, "report", "--specs", specs, "--prometheus-url", prom.URL, "--format", "json", "--max-groups", "1")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "kakeibo report: shop/requests: the 1 busiest groups are evaluated, 1 more are left out (--max-groups)")
	var one slo.Report
	require.NoError(t, json.Unmarshal([]byte(out), &one))
	require.Len(t, one.SLOs, 1)
	require.Equal(t, search, one.SLOs[0].SLO, "search is the busier route")
	code, out, errOut = kakeibo(t, nil, "report", "--specs", specs, "--prometheus-url", prom.URL)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, cart)
	require.Contains(t, out, search)
	var rep slo.Report
	p.waitFor(t, 90*time.Second, func() bool {
		rep = slo.Report{}
		if json.Unmarshal([]byte(get(t, p.base+"/api/v1/slos")), &rep) != nil {
			return false
		}
		seen := 0
		for _, s := range rep.SLOs {
			if (s.SLO == cart || s.SLO == search) && s.Status != slo.StatusNoData {
				seen++
			}
		}
		return seen == 2
	}, "both routes evaluated")
	byName := map[string]slo.ReportSLO{}
	for _, s := range rep.SLOs {
		byName[s.SLO] = s
	}
	require.Len(t, byName, 2, "the grouped SLO is its two routes, not a third row")
	require.Equal(t, slo.StatusOK, byName[search].Status, "search never failed")
	require.NotNil(t, byName[search].SLI)
	require.InDelta(t, 1, *byName[search].SLI, 1e-9)
	require.NotEqual(t, slo.StatusOK, byName[cart].Status, "cart's outage spends its budget")
	require.NotNil(t, byName[cart].SLI)
	require.InDelta(t, 1-2000.0/18000, *byName[cart].SLI, 0.01, "cart: 2,000 of 18,000 requests failed")

	p.waitFor(t, 60*time.Second, func() bool {
		return len(alertMessages(slack)[`shop/`+cart+`#page`]) > 0
	}, "cart pages")
	evals := p.evaluations(t)
	p.waitFor(t, 60*time.Second, func() bool { return p.evaluations(t) >= evals+5 }, "five more evaluations")
	msgs := alertMessages(slack)
	for key := range msgs {
		require.True(t, strings.HasPrefix(key, "shop/"+cart+"#"), "only the failing route alerts: %s (%v)", key, msgs)
	}
	var pageText string
	for _, m := range slack.Messages() {
		if strings.Contains(m.Text, "[PAGE]") {
			pageText = m.Text
		}
	}
	require.Contains(t, pageText, `route="/cart"`, "the page names its route")

	page := get(t, p.base+"/")
	require.Contains(t, page, "/cart")
	require.Contains(t, page, "/search")
	sloPage := get(t, p.base+"/slos/shop/"+url.PathEscape(cart))
	require.Contains(t, sloPage, `route=&#34;/cart&#34;`, "the route's own SLO page")
	require.Contains(t, get(t, p.base+"/metrics"), `slo_error_budget_remaining_ratio{service="shop",slo="requests{route=\"/cart\"}"`)
}
