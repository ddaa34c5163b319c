package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/kakeibo-slo/kakeibo/rules"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb/remotewrite"
)

// runRulesBackfill writes the past of the series the default rules sum
// over their period (the recorded 5-minute counts), computed from the raw
// series in Prometheus, so that the period's budget is right from the
// first evaluation after the rules are deployed.
func runRulesBackfill(ctx context.Context, env *cmdEnv, args []string) int {
	var specs, promURL, rwURL, back string
	var interval, albOffset time.Duration
	var albCounters bool
	f := newFlagSet("rules backfill", "--specs DIR --prometheus-url URL --remote-write-url URL [flags]",
		"Write the recorded 5-minute counts the default rules sum over each SLO's period,\n"+
			"for the past (--back, default each SLO's period), at the rules' --interval,\n"+
			"up to where the rules' own recordings begin: computed with the same queries over\n"+
			"the raw series in Prometheus, sent with remote write (the receiver must take\n"+
			"old samples: out_of_order_time_window). Run it once after loading the rules.")
	f.stringVar(&specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	f.stringVar(&promURL, "prometheus-url", "KAKEIBO_PROMETHEUS_URL", "", "Prometheus `URL` to read the raw series from (required)")
	f.stringVar(&rwURL, "remote-write-url", "KAKEIBO_REMOTE_WRITE_URL", "", "remote-write `URL` to write the recorded series to (required)")
	f.stringVar(&back, "back", "", "", "how far back (`duration`; default each SLO's period)")
	f.durationVar(&interval, "interval", "KAKEIBO_RULES_INTERVAL", time.Minute, "the alert groups' evaluation `interval` the rules were generated with")
	f.boolVar(&albCounters, "alb-counters", "KAKEIBO_RULES_ALB_COUNTERS", false, "ALB SLOs too, over the remote-written counters (as rules --alb-counters)")
	f.durationVar(&albOffset, "alb-offset", "KAKEIBO_RULES_ALB_OFFSET", slo.DefaultALBOffset, "as rules --alb-offset")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	if specs == "" || promURL == "" || rwURL == "" {
		fmt.Fprintln(env.stderr, "kakeibo rules backfill: --specs, --prometheus-url and --remote-write-url are required")
		return exitUsage
	}
	set, code := loadSpecs(env, "rules backfill", specs)
	if code != exitOK {
		return code
	}
	recs, notes, err := rules.BackfillQueries(set.Objectives(), rules.Options{Interval: interval, ALBCounters: albCounters, ALBOffset: albOffset})
	sayNotes(env, "rules backfill", notes)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo rules backfill: %v\n", err)
		return exitFail
	}
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo rules backfill: --prometheus-url: %v\n", err)
		return exitUsage
	}
	papi := v1.NewAPI(client)
	periods := map[string]time.Duration{}
	for _, o := range set.Objectives() {
		periods[o.ID()] = o.Window.Nominal()
	}
	if back != "" {
		d, err := model.ParseDuration(back)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo rules backfill: --back %q: %v\n", back, err)
			return exitUsage
		}
		for id := range periods {
			periods[id] = time.Duration(d)
		}
	}
	now := time.Now().UTC().Truncate(interval)
	total := 0
	for _, r := range recs {
		sel := fmt.Sprintf(`%s{service=%q,slo=%q,window=%q}`, r.Name, r.Service, r.SLO, r.Window)
		start := now.Add(-periods[r.Service+"/"+r.SLO])
		// Up to the rules' own first recording: no minute twice.
		end := now
		if first, ok, err := firstSample(ctx, papi, sel, start, now, interval); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo rules backfill: %s: %v\n", sel, err)
			return exitFail
		} else if ok {
			end = first.Add(-interval)
		}
		var samples []prompb.Sample
		for from := start; !from.After(end); from = from.Add(10000 * interval) {
			to := from.Add(9999 * interval)
			if to.After(end) {
				to = end
			}
			v, _, _, err := papi.QueryRange(ctx, r.Query, v1.Range{Start: from, End: to, Step: interval})
			if err != nil {
				fmt.Fprintf(env.stderr, "kakeibo rules backfill: %s: %v\n", sel, err)
				return exitFail
			}
			if m, ok := v.(model.Matrix); ok && len(m) > 0 {
				for _, p := range m[0].Values {
					samples = append(samples, prompb.Sample{Timestamp: int64(p.Timestamp), Value: float64(p.Value)})
				}
			}
		}
		slices.SortFunc(samples, func(a, b prompb.Sample) int { return int(a.Timestamp - b.Timestamp) })
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: r.Name}, {Name: "service", Value: r.Service}, {Name: "slo", Value: r.SLO}, {Name: "window", Value: r.Window}},
			Samples: samples}
		n, err := remotewrite.Send(ctx, &http.Client{Timeout: time.Minute}, rwURL, nil, []prompb.TimeSeries{ts}, 20000)
		total += n
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo rules backfill: %s: %v\n", sel, err)
			return exitFail
		}
	}
	fmt.Fprintf(env.stdout, "kakeibo rules backfill: %d samples of %d recorded series written\n", total, len(recs))
	return exitOK
}

// firstSample finds when a series first has a sample in [from, to].
func firstSample(ctx context.Context, papi v1.API, sel string, from, to time.Time, step time.Duration) (time.Time, bool, error) {
	q := fmt.Sprintf("timestamp(%s)", sel)
	for start := from; !start.After(to); start = start.Add(10000 * step) {
		end := start.Add(9999 * step)
		if end.After(to) {
			end = to
		}
		v, _, _, err := papi.QueryRange(ctx, q, v1.Range{Start: start, End: end, Step: step})
		if err != nil {
			return time.Time{}, false, err
		}
		if m, ok := v.(model.Matrix); ok && len(m) > 0 && len(m[0].Values) > 0 {
			return time.Unix(int64(m[0].Values[0].Value), 0).UTC(), true, nil
		}
	}
	return time.Time{}, false, nil
}
