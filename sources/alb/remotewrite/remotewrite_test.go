package remotewrite_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
	"github.com/kakeibo-slo/kakeibo/sources/alb/remotewrite"
	"github.com/kakeibo-slo/kakeibo/sources/prometheus/promtest"
)

// fixture is six hours of the example's two load balancers (with their
// incidents), counted into a store for the bundled specs' ALB SLOs.
type fixture struct {
	db    *bolt.DB
	store *alb.BoltStore
	objs  []*slo.Objective
	slos  []remotewrite.SLO
	start time.Time
}

func newFixture(t *testing.T) *fixture {
	start := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 30)
	cfg.Start, cfg.Duration = start, 6*time.Hour
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)
	set, err := slo.Load("../../../testdata/specs")
	require.NoError(t, err)
	f := &fixture{start: start}
	for _, o := range set.Objectives() {
		if o.SLI.ALB != nil && o.Budgeting.Method != slo.Timeslices {
			f.objs = append(f.objs, o)
			f.slos = append(f.slos, remotewrite.SLO{ID: o.ID(), Service: o.Service, Name: o.Name, LoadBalancer: o.SLI.ALB.LoadBalancer,
				Since: start.Add(-10*time.Minute).Unix() / 60})
		}
	}
	require.NotEmpty(t, f.objs)
	f.db, err = alb.OpenDB(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { f.db.Close() })
	f.store, err = alb.OpenBoltStore(f.db)
	require.NoError(t, err)
	ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: dir}, Store: f.store, Classifier: alb.NewClassifier(f.objs)})
	require.NoError(t, err)
	_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	return f
}

// writeAll steps until everything complete is written.
func writeAll(t *testing.T, w *remotewrite.Writer, slos []remotewrite.SLO) remotewrite.Stats {
	var all remotewrite.Stats
	for range 1000 {
		st, err := w.Step(t.Context(), slos)
		require.NoError(t, err)
		all.Samples += st.Samples
		all.Requests += st.Requests
		all.Rejected += st.Rejected
		if !st.Behind {
			return all
		}
	}
	t.Fatal("remote write never caught up")
	return all
}

// instant runs an instant PromQL query at `at` and returns the single
// value it gives.
func instant(t *testing.T, base, q string, at time.Time) (float64, bool) {
	u := base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
		Error string
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, "success", r.Status, "%s: %s", q, r.Error)
	if len(r.Data.Result) == 0 {
		return 0, false
	}
	require.Len(t, r.Data.Result, 1, q)
	v, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
	require.NoError(t, err)
	return v, true
}

// checkExact compares, for every SLO, every alert window and the period,
// the counts the receiver's counters give with the ones kakeibo's
// evaluation (report and serve alike: alb.Input) gives at the watermark.
func checkExact(t *testing.T, f *fixture, base string) {
	checked := 0
	for _, o := range f.objs {
		w, ok, err := f.store.Watermark(o.SLI.ALB.LoadBalancer)
		require.NoError(t, err)
		require.True(t, ok)
		at := alb.MinuteTime(w + 1) // the watermark minute is complete: its end
		in := alb.Input(f.store, o, at)
		require.NoError(t, in.Err)
		for _, class := range []string{"good", "total"} {
			sel := fmt.Sprintf(`%s{service=%q,slo=%q,class=%q}`, remotewrite.MetricName, o.Service, o.Name, class)
			want := func(c slo.Counts) float64 {
				if class == "good" {
					return c.Good
				}
				return c.Total
			}
			got, ok := instant(t, base, sel, at)
			require.True(t, ok, "%s at %s", sel, at)
			require.Equal(t, want(in.Period), got, "%s: the period", sel)
			for d, c := range in.Windows {
				if d > 5*time.Hour {
					continue // longer than the data: the period says it
				}
				got, ok := instant(t, base, fmt.Sprintf("%s - %s offset %s", sel, sel, slo.FormatDuration(d)), at)
				require.True(t, ok)
				require.Equal(t, want(c), got, "%s over %s", sel, slo.FormatDuration(d))
				checked++
			}
		}
	}
	require.Greater(t, checked, 20)
}

// TestCountsInPrometheusAndVictoriaMetricsAreExact writes the counters to
// a real Prometheus (remote-write receiver, out-of-order window) and a real
// VictoriaMetrics, and reads them back: for every SLO, every window and
// the period, exactly the counts kakeibo computes. A second pass writes
// nothing new.
func TestCountsInPrometheusAndVictoriaMetricsAreExact(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	f := newFixture(t)
	prom := promtest.StartWith(t, promtest.Options{EvalInterval: time.Minute, RemoteWriteReceiver: true, OutOfOrderWindow: 31 * 24 * time.Hour})
	vm := promtest.StartVictoriaMetrics(t)
	for _, r := range []struct{ name, url string }{{"prometheus", prom.URL}, {"victoriametrics", vm.URL}} {
		w, err := remotewrite.New(remotewrite.Config{URL: r.url + "/api/v1/write", Name: r.name, DB: f.db, Store: f.store, MaxSamples: 500})
		require.NoError(t, err)
		st := writeAll(t, w, f.slos)
		require.Zero(t, st.Rejected, r.name)
		require.Greater(t, st.Requests, 3, "several requests: %s", r.name)
		again := writeAll(t, w, f.slos)
		require.Zero(t, again.Samples, "%s: nothing new, nothing written", r.name)
	}
	if _, err := http.Get(vm.URL + "/internal/force_flush"); err != nil {
		t.Log(err)
	}
	checkExact(t, f, prom.URL)
	checkExact(t, f, vm.URL)
}

// TestReceiverDownThenBack: the receiver answers 503 for a while (and then
// drops connections); nothing advances. When it is back, everything is
// written once: the counts are exact and no request was refused.
func TestReceiverDownThenBack(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	f := newFixture(t)
	prom := promtest.StartWith(t, promtest.Options{EvalInterval: time.Minute, RemoteWriteReceiver: true, OutOfOrderWindow: 31 * 24 * time.Hour})
	target, err := url.Parse(prom.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(rw, "receiver down", http.StatusServiceUnavailable)
			return
		}
		rec := &statusRecorder{ResponseWriter: rw}
		proxy.ServeHTTP(rec, r)
		if rec.status/100 == 4 {
			refused.Add(1)
		}
	}))
	defer srv.Close()
	w, err := remotewrite.New(remotewrite.Config{URL: srv.URL + "/api/v1/write", DB: f.db, Store: f.store, MaxSamples: 500})
	require.NoError(t, err)

	// Half of the minutes go through, then the receiver is down.
	st, err := w.Step(t.Context(), f.slos)
	require.NoError(t, err)
	require.Positive(t, st.Samples)
	down.Store(true)
	for range 20 {
		_, err := w.Step(t.Context(), f.slos)
		require.Error(t, err, "a 503 is an error, tried again")
	}
	down.Store(false)
	all := writeAll(t, w, f.slos)
	require.Zero(t, all.Rejected)
	require.Zero(t, refused.Load(), "no request refused: nothing written twice with another value")
	checkExact(t, f, prom.URL)
}

// TestCrashBetweenStoreAndSend: a process that stored its next request and
// died before sending it (a client that never reaches the receiver stands
// for the crash) sends it again, byte for byte, after a restart: the
// receiver takes identical samples, the counts are exact.
func TestCrashBetweenStoreAndSend(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	f := newFixture(t)
	prom := promtest.StartWith(t, promtest.Options{EvalInterval: time.Minute, RemoteWriteReceiver: true, OutOfOrderWindow: 31 * 24 * time.Hour})
	got := &bodies{}
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.add(body)
		if fail.Load() {
			panic(http.ErrAbortHandler) // the connection drops: no answer
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	fail.Store(true)
	w, err := remotewrite.New(remotewrite.Config{URL: srv.URL, DB: f.db, Store: f.store, MaxSamples: 500})
	require.NoError(t, err)
	_, err = w.Step(t.Context(), f.slos)
	require.Error(t, err)
	require.Len(t, got.all(), 1)

	// "Restart" against the real receiver: the stored request goes first,
	// unchanged, then the rest.
	w, err = remotewrite.New(remotewrite.Config{URL: prom.URL + "/api/v1/write", DB: f.db, Store: f.store, MaxSamples: 500,
		Client: &http.Client{Transport: recordFirst{got, http.DefaultTransport}}})
	require.NoError(t, err)
	st := writeAll(t, w, f.slos)
	require.Zero(t, st.Rejected)
	all := got.all()
	require.GreaterOrEqual(t, len(all), 2)
	require.True(t, bytes.Equal(all[0], all[1]), "the stored request is sent again byte for byte")
	checkExact(t, f, prom.URL)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// bodies are request bodies, recorded from several goroutines.
type bodies struct {
	mu sync.Mutex
	bs [][]byte
}

func (b *bodies) add(body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bs = append(b.bs, body)
}

func (b *bodies) all() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bs)
}

// recordFirst records the body of the first request it carries after the
// one recorded before.
type recordFirst struct {
	got  *bodies
	next http.RoundTripper
}

func (r recordFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(r.got.all()) == 1 {
		b, _ := req.GetBody()
		body, _ := io.ReadAll(b)
		r.got.add(body)
	}
	return r.next.RoundTrip(req)
}
