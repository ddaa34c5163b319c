package prometheus

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// TestLedgerPeriod: with the ledger, the period of a 7-day SLO (rolling,
// and a calendar week) and its alert windows of 6 hours and more agree with
// the raw increase over them within 1e-4 on eight days of traffic that
// changes every hour; shorter windows are asked raw; a second evaluation
// reads no range longer than the longest of those; after the re-anchoring
// interval the ledger fetches every hour again.
func TestLedgerPeriod(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	end := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-8 * 24 * time.Hour)
	var b strings.Builder
	b.WriteString("# TYPE http_requests counter\n")
	var good, bad float64
	type pt struct{ good, bad float64 }
	var pts []pt
	for at := start; !at.After(end); at = at.Add(time.Minute) {
		pts = append(pts, pt{good, bad})
		h := float64(at.Hour())
		good += 100 + 80*math.Sin(h/24*2*math.Pi) // a daily cycle
		if at.Hour()%7 == 3 {
			bad += 5 // an error burst every seventh hour
		}
	}
	for i, p := range pts {
		fmt.Fprintf(&b, "http_requests_total{job=\"shop\",code=\"200\"} %g %d\n", p.good, start.Add(time.Duration(i)*time.Minute).Unix())
	}
	for i, p := range pts {
		fmt.Fprintf(&b, "http_requests_total{job=\"shop\",code=\"500\"} %g %d\n", p.bad, start.Add(time.Duration(i)*time.Minute).Unix())
	}
	b.WriteString("# EOF\n")
	prom := promtest.Start(t, b.String(), time.Minute)

	set, err := slo.LoadBytes("shop.yaml", []byte(`service: shop
slos:
  - name: rolling
    objective: 99
    window: 7d
    sli:
      prometheus:
        bad: sum(increase(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
  - name: weekly
    objective: 99
    window: week
    timezone: Asia/Kolkata
    sli:
      prometheus:
        good: sum(increase(http_requests_total{job="shop",code!~"5.."}[{{.window}}]))
        total: sum(increase(http_requests_total{job="shop"}[{{.window}}]))
`))
	require.NoError(t, err)
	objs := set.Objectives()

	raw, err := New(Config{URL: prom.URL})
	require.NoError(t, err)
	led, err := New(Config{URL: prom.URL, Ledger: true})
	require.NoError(t, err)
	clock := time.Now()
	led.now = func() time.Time { return clock }
	rangeRE := regexp.MustCompile(`\[([0-9a-z]+)\]`)
	var reads []time.Duration
	var mu sync.Mutex
	led.onQuery = func(q string, r time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if r == 0 {
			for _, m := range rangeRE.FindAllStringSubmatch(q, -1) {
				d, err := model.ParseDuration(m[1])
				require.NoError(t, err)
				r = max(r, time.Duration(d))
			}
		}
		reads = append(reads, r)
	}
	longest := func() time.Duration {
		var l time.Duration
		for _, r := range reads {
			l = max(l, r)
		}
		return l
	}

	for i, at := range []time.Time{end.Add(-37 * time.Minute), end} {
		want := raw.Inputs(t.Context(), objs, at)
		reads = nil
		got := led.Inputs(t.Context(), objs, at)
		for _, o := range objs {
			require.NoError(t, got[o].Err, o.ID())
			w, g := want[o].Period, got[o].Period
			require.InEpsilon(t, w.Total, g.Total, 1e-4, "%s total at %s", o.ID(), at)
			require.InEpsilon(t, w.Total-w.Good, g.Total-g.Good, 1e-4, "%s bad at %s", o.ID(), at)
			require.Len(t, got[o].Windows, len(want[o].Windows), o.ID())
			for d, c := range want[o].Windows {
				if d < ledgerMin {
					require.Equal(t, c, got[o].Windows[d], "short alert windows are asked raw")
					continue
				}
				require.InEpsilon(t, c.Total, got[o].Windows[d].Total, 1e-4, "%s window %s total at %s", o.ID(), d, at)
				require.InEpsilon(t, c.Total-c.Good, got[o].Windows[d].Total-got[o].Windows[d].Good, 1e-4, "%s window %s bad at %s", o.ID(), d, at)
			}
		}
		if i == 0 {
			require.GreaterOrEqual(t, longest(), 6*24*time.Hour, "the first evaluation fetches the hours of the period")
		}
	}
	// A steady cycle: nothing longer than the longest window asked raw
	// (5h36m for 7d; 16h48m comes from the ledger).
	reads = nil
	led.Inputs(t.Context(), objs, end)
	require.Less(t, longest(), ledgerMin, "a steady cycle reads no range of 6 hours or more")
	// A past time (the SLO page's history) is asked raw and leaves the ledger be.
	reads = nil
	past := led.Inputs(t.Context(), objs, end.Add(-3*time.Hour))
	require.GreaterOrEqual(t, longest(), 7*24*time.Hour, "history is asked raw")
	require.Equal(t, raw.Inputs(t.Context(), objs, end.Add(-3*time.Hour))[objs[0]].Period, past[objs[0]].Period)
	// An hour later every hour is fetched again.
	clock = clock.Add(ledgerReanchor)
	reads = nil
	got := led.Inputs(t.Context(), objs, end)
	require.GreaterOrEqual(t, longest(), 6*24*time.Hour, "re-anchored")
	want := raw.Inputs(t.Context(), objs, end)
	require.InEpsilon(t, want[objs[0]].Period.Total, got[objs[0]].Period.Total, 1e-4)
}
