package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
	"github.com/kakeibo-slo/kakeibo/sources/alb/remotewrite"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// promValue runs an instant query at `at` on a Prometheus API and returns
// its single value.
func promValue(t *testing.T, base, q string, at time.Time) (float64, bool) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct{ Result []struct{ Value [2]any } }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, "success", r.Status, q)
	if len(r.Data.Result) != 1 {
		return 0, false
	}
	v, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
	require.NoError(t, err)
	return v, true
}

// TestRemoteWriteSurvivesKillNine: `serve --remote-write-url` writes the
// bundled ALB SLOs' counters to a real Prometheus while it is killed with
// SIGKILL ten times, during the 30-day backfill of the counters and while
// new logs arrive. In the end the counters give exactly the counts of the
// data directory for every SLO and window, and Prometheus refused no
// request (a conflicting or out-of-bounds sample is a 400).
func TestRemoteWriteSurvivesKillNine(t *testing.T) {
	t.Parallel() // mostly waits on its processes: runs beside the others (see TestMain)
	prom := promtest.StartWith(t, promtest.Options{EvalInterval: time.Minute, RemoteWriteReceiver: true, OutOfOrderWindow: 31 * 24 * time.Hour})
	dir := t.TempDir()
	logs, data := filepath.Join(dir, "logs"), filepath.Join(dir, "data")
	start := recentStart()
	write := func(from time.Time, d time.Duration) {
		cfg := albgen.Example(from, 20)
		cfg.Start, cfg.Duration, cfg.Traps, cfg.Seed = from, d, false, uint64(from.Unix())
		cfg.Incidents = []albgen.Incident{{LoadBalancer: cfg.LoadBalancers[0].Name, From: from.Add(d / 2), To: from.Add(d/2 + 10*time.Minute), ErrorRatio: 0.3}}
		_, err := albgen.Write(cfg, logs)
		require.NoError(t, err)
	}
	write(start, time.Hour)
	rng := rand.New(rand.NewPCG(7, 7))
	args := []string{"--specs", "../../testdata/specs", "--data-dir", data, "--alb-logs", logs, "--remote-write-url", prom.URL + "/api/v1/write"}
	for i := range 10 {
		p := startServe(t, args...)
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		require.NoError(t, p.cmd.Process.Kill())
		<-p.done
		if i%3 == 2 { // new logs arrive: steady ingest
			next := start.Add(time.Hour + time.Duration(i/3)*10*time.Minute)
			write(next, 10*time.Minute)
		}
	}

	// The last one runs until its counters reach the watermark.
	p := startServe(t, args...)
	set, err := slo.Load("../../testdata/specs")
	require.NoError(t, err)
	var objs []*slo.Objective
	for _, o := range set.Objectives() {
		if o.SLI.ALB != nil && o.Budgeting.Method != slo.Timeslices {
			objs = append(objs, o)
		}
	}
	watermark := func(lb string) (time.Time, bool) {
		v, ok := metric(get(t, p.base+"/metrics"), "kakeibo_ingest_watermark_timestamp_seconds", "load_balancer", lb)
		return time.Unix(int64(v), 0), ok
	}
	p.waitFor(t, 120*time.Second, func() bool {
		for _, o := range objs {
			w, ok := watermark(o.SLI.ALB.LoadBalancer)
			if !ok {
				return false
			}
			sel := fmt.Sprintf(`timestamp(%s{service=%q,slo=%q,class="total"})`, remotewrite.MetricName, o.Service, o.Name)
			ts, ok := promValue(t, prom.URL, sel, w.Add(time.Minute))
			if !ok || int64(ts) != w.Add(time.Minute).Unix() {
				return false
			}
		}
		return true
	}, "the counters reach every watermark")
	rejected, _ := metric(get(t, p.base+"/metrics"), "kakeibo_remote_write_samples_total", "result", "rejected")
	require.Zero(t, rejected)
	p.stop(t)

	// Prometheus took every request it was sent.
	for _, line := range strings.Split(get(t, prom.URL+"/metrics"), "\n") {
		if strings.HasPrefix(line, "prometheus_http_requests_total{") && strings.Contains(line, `handler="/api/v1/write"`) && !strings.Contains(line, `code="204"`) {
			require.True(t, strings.HasSuffix(line, " 0"), "a refused remote write: %s", line)
		}
	}
	// Exactly the counts of the data directory.
	db, err := alb.OpenDB(data)
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	checked := 0
	for _, o := range objs {
		w, ok, err := store.Watermark(o.SLI.ALB.LoadBalancer)
		require.NoError(t, err)
		require.True(t, ok)
		at := alb.MinuteTime(w + 1)
		in := alb.Input(store, o, at)
		require.NoError(t, in.Err)
		for _, class := range []string{"good", "total"} {
			pick := func(c slo.Counts) float64 { return map[string]float64{"good": c.Good, "total": c.Total}[class] }
			sel := fmt.Sprintf(`%s{service=%q,slo=%q,class=%q}`, remotewrite.MetricName, o.Service, o.Name, class)
			got, ok := promValue(t, prom.URL, sel, at)
			require.True(t, ok, sel)
			require.Equal(t, pick(in.Period), got, "%s over the period", sel)
			for d, c := range in.Windows {
				if d > time.Hour {
					continue
				}
				got, ok := promValue(t, prom.URL, fmt.Sprintf("%s - %s offset %s", sel, sel, slo.FormatDuration(d)), at)
				require.True(t, ok)
				require.Equal(t, pick(c), got, "%s over %s", sel, slo.FormatDuration(d))
				checked++
			}
		}
	}
	require.Greater(t, checked, 10)

	// A central kakeibo without the logs reads the ALB SLOs from
	// Prometheus (--alb-counters), an offset back. The logs here ended a
	// while ago, so the offset reaches back into them (in production the
	// counters run up to the delivery delay, which the default 10m
	// covers): then its windows end on a sample, and its period counts
	// are exactly those of the data directory at that time.
	oldest := time.Now()
	for _, o := range objs {
		w, _, err := store.Watermark(o.SLI.ALB.LoadBalancer)
		require.NoError(t, err)
		if e := alb.MinuteTime(w + 1); e.Before(oldest) {
			oldest = e
		}
	}
	offset := time.Since(oldest).Truncate(time.Minute) + 10*time.Minute
	central := startServe(t, "--specs", "../../testdata/specs", "--data-dir", t.TempDir(), "--prometheus-url", prom.URL,
		"--alb-counters", "--alb-offset", offset.String(), "--eval-interval", "10s")
	var report struct {
		SLOs []struct {
			Service, SLO, Status, Error string
			At                          time.Time
			Good, Total                 float64
		} `json:"slos"`
	}
	central.waitFor(t, 60*time.Second, func() bool {
		resp, err := http.Get(central.base + "/api/v1/slos")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&report) != nil {
			return false
		}
		// Every ALB SLO evaluated from Prometheus (a loaded machine may
		// make a first query miss its cycle's deadline).
		n := 0
		for _, r := range report.SLOs {
			for _, o := range objs {
				if o.ID() == r.Service+"/"+r.SLO && r.Status != "no_data" {
					n++
				}
			}
		}
		return n == len(objs)
	}, "the central kakeibo evaluates every ALB SLO")
	seen := 0
	for _, r := range report.SLOs {
		var o *slo.Objective
		for _, x := range objs {
			if x.ID() == r.Service+"/"+r.SLO {
				o = x
			}
		}
		if o == nil {
			continue
		}
		require.NotEqual(t, "no_data", r.Status, "%s/%s: %s", r.Service, r.SLO, r.Error)
		want := alb.Input(store, o, r.At.Add(-offset)).Period
		require.Equal(t, want.Total, r.Total, "%s/%s total", r.Service, r.SLO)
		require.Equal(t, want.Good, r.Good, "%s/%s good", r.Service, r.SLO)
		seen++
	}
	require.Equal(t, len(objs), seen)
	central.stop(t)
}

// TestTwoShardsGiveTheSameTotals: two serve processes split the two load
// balancers (--shard, --shard-load-balancers) and write to one
// Prometheus; summed over shards, the counters give for every ALB SLO the
// counts one process gives over both, and every series has the one shard
// that owns its load balancer. Each shard says the other's SLOs are not
// its own.
func TestTwoShardsGiveTheSameTotals(t *testing.T) {
	prom := promtest.StartWith(t, promtest.Options{EvalInterval: time.Minute, RemoteWriteReceiver: true, OutOfOrderWindow: 31 * 24 * time.Hour})
	logs := t.TempDir()
	start := recentStart()
	cfg := albgen.Example(start, 20)
	cfg.Start, cfg.Duration, cfg.Traps = start, time.Hour, false
	_, err := albgen.Write(cfg, logs)
	require.NoError(t, err)
	lbs := []string{cfg.LoadBalancers[0].Name, cfg.LoadBalancers[1].Name}
	var shards []*serveProc
	for i, name := range []string{"a", "b"} {
		shards = append(shards, startServe(t, "--specs", "../../testdata/specs", "--data-dir", t.TempDir(), "--alb-logs", logs,
			"--remote-write-url", prom.URL+"/api/v1/write", "--shard", name, "--shard-load-balancers", lbs[i]))
	}
	// One process over both, for the truth.
	set, err := slo.Load("../../testdata/specs")
	require.NoError(t, err)
	var objs []*slo.Objective
	for _, o := range set.Objectives() {
		if o.SLI.ALB != nil && o.Budgeting.Method != slo.Timeslices {
			objs = append(objs, o)
		}
	}
	db, err := alb.OpenDB(t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: logs}, Store: store, Classifier: alb.NewClassifier(objs)})
	require.NoError(t, err)
	_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)

	for _, o := range objs {
		w, ok, err := store.Watermark(o.SLI.ALB.LoadBalancer)
		require.NoError(t, err)
		require.True(t, ok)
		at := alb.MinuteTime(w + 1)
		in := alb.Input(store, o, at)
		owner := map[string]string{lbs[0]: "a", lbs[1]: "b"}[o.SLI.ALB.LoadBalancer]
		for _, class := range []string{"good", "total"} {
			sel := fmt.Sprintf(`%s{service=%q,slo=%q,class=%q}`, remotewrite.MetricName, o.Service, o.Name, class)
			want := map[string]float64{"good": in.Period.Good, "total": in.Period.Total}[class]
			shards[0].waitFor(t, 60*time.Second, func() bool {
				got, ok := promValue(t, prom.URL, "sum without (shard) ("+sel+")", at)
				return ok && got == want
			}, sel+" summed over shards equals one process")
			bySel := func(op string) string {
				return fmt.Sprintf(`count(%s{service=%q,slo=%q,class=%q,shard%s%q})`, remotewrite.MetricName, o.Service, o.Name, class, op, owner)
			}
			n, ok := promValue(t, prom.URL, bySel("="), at)
			require.True(t, ok)
			require.Equal(t, 1.0, n, "%s comes from shard %s", sel, owner)
			_, other := promValue(t, prom.URL, bySel("!="), at)
			require.False(t, other, "%s comes from no other shard", sel)
		}
	}
	body := get(t, shards[0].base+"/api/v1/slos")
	require.Contains(t, body, lbs[1]+" is counted by another shard")
	for _, p := range shards {
		p.stop(t)
	}
}
