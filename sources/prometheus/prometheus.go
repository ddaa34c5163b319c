// Package prometheus measures Prometheus-backed SLIs through the Prometheus
// HTTP query API, which Thanos, Mimir, Cortex and VictoriaMetrics serve too.
package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Config configures the source. The HTTP settings are the block Prometheus
// users already write (bearer token or file, basic auth, TLS, proxy,
// http_headers such as X-Scope-OrgID).
type Config struct {
	URL  string
	HTTP config.HTTPClientConfig
	// Timeout bounds each query (default 30s).
	Timeout time.Duration
	// Concurrency bounds the queries in flight (default 8). One SLO holds
	// at most a quarter of them (at least one), so SLOs whose queries hang
	// leave the others slots to run in.
	Concurrency int
	// MaxResponseBytes caps each answer (default DefaultMaxResponseBytes):
	// a larger one fails its SLO with a clear error before it is decoded.
	MaxResponseBytes int64
	// Ledger keeps hourly sums of each query for the period (see ledger.go),
	// for a service that evaluates the same SLOs every minute. One-shot
	// commands leave it off: they ask for the period once anyway.
	Ledger bool
}

// fileConfig is the YAML of --prometheus-config.
type fileConfig struct {
	HTTP        config.HTTPClientConfig `yaml:",inline"`
	Timeout     model.Duration          `yaml:"timeout"`
	Concurrency int                     `yaml:"concurrency"`
	// MaxResponseSize is a size such as 16MiB.
	MaxResponseSize string `yaml:"max_response_size"`
}

// LoadConfigFile reads HTTP client settings from a YAML file: the fields of
// Prometheus' http_config (authorization, basic_auth, tls_config,
// proxy_url, http_headers, ...) plus timeout and concurrency. Secrets may
// be given as *_file paths, relative to the file.
func LoadConfigFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("prometheus config: %w", err)
	}
	var fc fileConfig
	fc.HTTP = config.DefaultHTTPClientConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("prometheus config %s: %w", path, err)
	}
	fc.HTTP.SetDirectory(filepath.Dir(path))
	if err := fc.HTTP.Validate(); err != nil {
		return fmt.Errorf("prometheus config %s: %w", path, err)
	}
	cfg.HTTP = fc.HTTP
	if fc.Timeout > 0 {
		cfg.Timeout = time.Duration(fc.Timeout)
	}
	if fc.Concurrency > 0 {
		cfg.Concurrency = fc.Concurrency
	}
	if fc.MaxResponseSize != "" {
		n, err := ParseBytes(fc.MaxResponseSize)
		if err != nil {
			return fmt.Errorf("prometheus config %s: max_response_size: %w", path, err)
		}
		cfg.MaxResponseBytes = n
	}
	return nil
}

// Source evaluates PromQL SLIs.
type Source struct {
	api     v1.API
	timeout time.Duration
	sem     chan struct{}
	ledger  *ledger // nil: every period is asked raw
	// onQuery, when set (tests), sees every query and the time range it reads.
	onQuery func(q string, reads time.Duration)
	now     func() time.Time // the wall clock, for the ledger's re-anchoring
	// perSLO is how many of the slots one SLO's queries may hold at once.
	perSLO int
	// failing remembers the SLOs whose queries failed in the last
	// evaluation: they get one slot, so an SLO whose answers hang or are
	// too large holds one slot and one answer's memory, not perSLO.
	failMu  sync.Mutex
	failing map[string]bool
}

// New returns a Source for a Prometheus-compatible query endpoint.
func New(cfg Config) (*Source, error) {
	if cfg.URL == "" {
		return nil, errors.New("prometheus: a URL is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	rt, err := config.NewRoundTripperFromConfig(cfg.HTTP, "kakeibo")
	if err != nil {
		return nil, fmt.Errorf("prometheus http config: %w", err)
	}
	client, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: limitBody{next: rt, max: cfg.MaxResponseBytes}})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", cfg.URL, err)
	}
	src := &Source{api: v1.NewAPI(client), timeout: cfg.Timeout, sem: make(chan struct{}, cfg.Concurrency), now: time.Now,
		perSLO: max(1, cfg.Concurrency/4)}
	if cfg.Ledger {
		src.ledger = &ledger{series: map[string]*hourly{}}
	}
	return src, nil
}

// queryKey is one distinct instant query of an evaluation.
type queryKey struct {
	expr string
	at   time.Time
}

type queryResult struct {
	value float64
	ok    bool // false: no series or NaN, i.e. no data
	err   error
	// owners are the SLOs that need the query.
	owners []*slo.Objective
	// done is closed once the query has been answered or has failed.
	done chan struct{}
}

// plan collects the instant queries of one evaluation, so that a query that
// several SLOs (or windows) share runs once.
type plan struct {
	queries map[queryKey]*queryResult
	// keys are the queries each SLO needs.
	keys map[*slo.Objective][]queryKey
}

func (p *plan) add(o *slo.Objective, tmpl string, window time.Duration, at time.Time) (queryKey, error) {
	q, err := slo.RenderQuery(tmpl, window)
	if err != nil {
		return queryKey{}, err
	}
	k := queryKey{expr: q, at: at}
	p.addKey(o, k)
	return k, nil
}

func (p *plan) addKey(o *slo.Objective, k queryKey) {
	r := p.queries[k]
	if r == nil {
		r = &queryResult{done: make(chan struct{})}
		p.queries[k] = r
	}
	if !slices.Contains(r.owners, o) {
		r.owners = append(r.owners, o)
		p.keys[o] = append(p.keys[o], k)
	}
}

// Inputs measures every Prometheus-backed objective at `at`. Each distinct
// (query, window) runs once, with bounded concurrency. A failed query makes
// its objectives' inputs carry the error (status no_data, never an alert);
// an empty result or NaN is no data, never good. SLOs are isolated from
// each other: one SLO holds at most perSLO query slots, the first failure
// of a query only its SLO needs cancels the rest of that SLO's queries, and
// the SLOs' ledger and range queries run side by side, so a query that
// hangs or answers too much costs its own SLO, not the others.
func (s *Source) Inputs(ctx context.Context, objs []*slo.Objective, at time.Time) map[*slo.Objective]slo.Input {
	out := map[*slo.Objective]slo.Input{}
	p := &plan{queries: map[queryKey]*queryResult{}, keys: map[*slo.Objective][]queryKey{}}
	type need struct {
		good, bad, total queryKey
	}
	needs := map[*slo.Objective]map[time.Duration]need{}
	newest := map[*slo.Objective]queryKey{}            // the newest sample of the total's series
	fromLedger := map[*slo.Objective][]time.Duration{} // the period and windows the ledger measures
	ledgerOK := s.useLedger(at)
	for _, o := range objs {
		ps := o.SLI.Prometheus
		if ps == nil {
			continue
		}
		if q, ok := slo.NewestSampleQuery(ps.Total, 0); ok {
			k := queryKey{expr: q, at: at}
			p.addKey(o, k)
			newest[o] = k
		}
		if o.Budgeting.Method == slo.Timeslices {
			continue // range queries, below
		}
		windows := map[time.Duration]need{}
		period := o.Window.Elapsed(at)
		for _, d := range append([]time.Duration{period}, o.Windows()...) {
			if d < time.Minute {
				continue // a calendar period that has just begun: no data yet
			}
			if ledgerOK && d >= ledgerMin && !o.SLI.Raw() { // a ratio's hours do not add up: asked raw
				if !slices.Contains(fromLedger[o], d) {
					fromLedger[o] = append(fromLedger[o], d) // below
				}
				continue
			}
			var n need
			var err error
			if ps.Good != "" {
				n.good, err = p.add(o, ps.Good, d, at)
			} else {
				n.bad, err = p.add(o, ps.Bad, d, at)
			}
			if err == nil {
				n.total, err = p.add(o, ps.Total, d, at)
			}
			if err != nil {
				out[o] = slo.Input{Err: err}
				break
			}
			windows[d] = n
		}
		needs[o] = windows
	}
	sloCtx, cancelSLOs := s.run(ctx, p)
	defer cancelSLOs()
	defer p.wait() // every query, also those no SLO waits for any more

	// What each SLO asks beside its instant queries (ledger spans, slices,
	// the newest sample's fallback), every SLO at once.
	planFailed := map[*slo.Objective]bool{} // read before any goroutine writes out
	for o := range out {
		planFailed[o] = true
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	finish := func(o *slo.Objective, f func(ctx context.Context) slo.Input) {
		wg.Go(func() {
			for _, k := range p.keys[o] {
				<-p.queries[k].done // its own queries only: others may still hang
			}
			octx := ctx
			if c, ok := sloCtx[o]; ok {
				octx = c
			}
			in := f(octx)
			mu.Lock()
			out[o] = in
			mu.Unlock()
		})
	}
	for o, windows := range needs {
		if planFailed[o] {
			continue
		}
		finish(o, func(ctx context.Context) slo.Input {
			in := slo.Input{Windows: map[time.Duration]slo.Counts{}}
			for d, n := range windows {
				c, err := p.counts(n.good, n.bad, n.total)
				if err != nil {
					in.Err = fmt.Errorf("slo %s window %s: %w", o.ID(), slo.FormatDuration(d), err)
					break
				}
				if d == o.Window.Elapsed(at) {
					in.Period = c
				}
				if _, isAlertWindow := slicesIndex(o.Windows(), d); isAlertWindow {
					in.Windows[d] = c
				}
			}
			if ds := fromLedger[o]; in.Err == nil && len(ds) > 0 {
				var cs []slo.Counts
				if cs, in.Err = s.ledgerCounts(ctx, o, ds, at); in.Err != nil {
					in.Err = fmt.Errorf("slo %s: %w", o.ID(), in.Err)
				}
				for i, d := range ds {
					if in.Err != nil {
						break
					}
					if d == o.Window.Elapsed(at) {
						in.Period = cs[i]
					}
					if _, isAlertWindow := slicesIndex(o.Windows(), d); isAlertWindow {
						in.Windows[d] = cs[i]
					}
				}
			}
			return s.withDataEnd(ctx, o, in, p, newest, at)
		})
	}
	for _, o := range objs {
		if o.SLI.Prometheus != nil && o.Budgeting.Method == slo.Timeslices {
			finish(o, func(ctx context.Context) slo.Input {
				return s.withDataEnd(ctx, o, s.sliceInput(ctx, o, at), p, newest, at)
			})
		}
	}
	wg.Wait()
	s.failMu.Lock()
	if s.failing == nil {
		s.failing = map[string]bool{}
	}
	for o, in := range out {
		if in.Err != nil {
			s.failing[o.ID()] = true
		} else {
			delete(s.failing, o.ID())
		}
	}
	s.failMu.Unlock()
	return out
}

// withDataEnd sets where an SLO's data ends: the newest sample of its
// total's series, within Prometheus' 5-minute lookback, else within a day,
// else a day ago at least (the SLO is then stale; its period may still
// hold data).
func (s *Source) withDataEnd(ctx context.Context, o *slo.Objective, in slo.Input, p *plan, newest map[*slo.Objective]queryKey, at time.Time) slo.Input {
	k, ok := newest[o]
	if !ok || in.Err != nil {
		return in
	}
	r := p.queries[k]
	switch {
	case r.err == nil && r.ok:
		in.DataEnd = time.Unix(int64(r.value), 0).UTC()
	case r.err == nil:
		in.DataEnd = at.Add(-24 * time.Hour)
		if q, ok := slo.NewestSampleQuery(o.SLI.Prometheus.Total, 24*time.Hour); ok {
			if v, has, err := s.instantLimited(ctx, q, at); err == nil && has {
				in.DataEnd = time.Unix(int64(v), 0).UTC()
			}
		}
	}
	return in
}

// useLedger says whether the periods and long windows (ledgerMin and up) of
// an evaluation at `at` come from the ledger: when it is on and `at` is (or
// is within 10 minutes of) the newest time asked for; the SLO page's history
// asks for past times, which are asked raw.
func (s *Source) useLedger(at time.Time) bool {
	if s.ledger == nil {
		return false
	}
	s.ledger.mu.Lock()
	defer s.ledger.mu.Unlock()
	if at.After(s.ledger.newest) {
		s.ledger.newest = at
	}
	return !at.Before(s.ledger.newest.Add(-10 * time.Minute))
}

// ledgerCounts measures an objective over the spans ds ending at `at`
// from the ledger.
func (s *Source) ledgerCounts(ctx context.Context, o *slo.Objective, ds []time.Duration, at time.Time) ([]slo.Counts, error) {
	ps := o.SLI.Prometheus
	starts := make([]time.Time, len(ds))
	for i, d := range ds {
		starts[i] = at.Add(-d)
	}
	now := s.now()
	total, hasTotal, err := s.spanSums(ctx, ps.Total, starts, at, now)
	if err != nil {
		return nil, err
	}
	num := ps.Good
	if num == "" {
		num = ps.Bad
	}
	g, hasG, err := s.spanSums(ctx, num, starts, at, now)
	if err != nil {
		return nil, err
	}
	out := make([]slo.Counts, len(ds))
	for i := range ds {
		if !hasTotal[i] {
			continue // no data
		}
		if !hasG[i] {
			g[i] = 0
		}
		if ps.Good == "" {
			g[i] = total[i] - g[i]
		}
		out[i] = slo.Counts{Good: g[i], Total: total[i]}
	}
	return out, nil
}

func slicesIndex(ds []time.Duration, d time.Duration) (int, bool) {
	for i, x := range ds {
		if x == d {
			return i, true
		}
	}
	return -1, false
}

func (p *plan) counts(good, bad, total queryKey) (slo.Counts, error) {
	t := p.queries[total]
	if t.err != nil {
		return slo.Counts{}, t.err
	}
	var g *queryResult
	if good.expr != "" {
		g = p.queries[good]
	} else {
		g = p.queries[bad]
	}
	if g.err != nil {
		return slo.Counts{}, g.err
	}
	if !t.ok {
		return slo.Counts{}, nil // no data
	}
	gv := g.value
	if !g.ok {
		gv = 0 // no bad (or good) series while total has events: zero of them
	}
	if good.expr == "" {
		gv = t.value - gv
	}
	return slo.Counts{Good: gv, Total: t.value}, nil
}

// wait returns once every query of the plan has ended.
func (p *plan) wait() {
	for _, r := range p.queries {
		<-r.done
	}
}

// run starts every query of the plan; each closes its done channel when it
// ends. It returns each SLO's context, which ends at the first failure of
// a query only that SLO needs, and a function that releases them.
func (s *Source) run(ctx context.Context, p *plan) (sloCtx map[*slo.Objective]context.Context, cancel func()) {
	type sloRun struct {
		ctx    context.Context
		cancel context.CancelCauseFunc
		slots  chan struct{}
	}
	runs := map[*slo.Objective]*sloRun{}
	sloCtx = map[*slo.Objective]context.Context{}
	for _, r := range p.queries {
		for _, o := range r.owners {
			if runs[o] == nil {
				c, cancel := context.WithCancelCause(ctx)
				slots := s.perSLO
				s.failMu.Lock()
				if s.failing[o.ID()] {
					slots = 1
				}
				s.failMu.Unlock()
				runs[o] = &sloRun{ctx: c, cancel: cancel, slots: make(chan struct{}, slots)}
				sloCtx[o] = c
			}
		}
	}
	for k, r := range p.queries {
		go func() {
			defer close(r.done)
			qctx := ctx
			var run *sloRun
			if len(r.owners) == 1 {
				// Only this SLO needs the query: it waits for one of the
				// SLO's own slots, and the SLO's first failure ends it.
				run = runs[r.owners[0]]
				qctx = run.ctx
				select {
				case run.slots <- struct{}{}:
					defer func() { <-run.slots }()
				case <-qctx.Done():
					r.err = fmt.Errorf("query %q: not asked: %w", k.expr, context.Cause(qctx))
					return
				}
			}
			release, err := s.acquire(qctx)
			if err != nil {
				r.err = fmt.Errorf("query %q: %w", k.expr, err)
				return
			}
			defer release()
			r.value, r.ok, r.err = s.instant(qctx, k.expr, k.at)
			if r.err != nil && run != nil {
				// The SLO is no_data anyway: free its slots for the others.
				run.cancel(fmt.Errorf("another query of the SLO failed: %w", r.err))
			}
		}()
	}
	return sloCtx, func() {
		for _, r := range runs {
			r.cancel(nil)
		}
	}
}

// instant runs one query and sums its result: a vector's samples or a scalar.
func (s *Source) instant(ctx context.Context, q string, at time.Time) (float64, bool, error) {
	v, err := s.query(ctx, q, at, 0)
	if err != nil {
		return 0, false, err
	}
	var sum float64
	n := 0
	switch val := v.(type) {
	case model.Vector:
		for _, smp := range val {
			if f := float64(smp.Value); !math.IsNaN(f) {
				sum += f
				n++
			}
		}
	case *model.Scalar:
		if f := float64(val.Value); !math.IsNaN(f) {
			sum, n = f, 1
		}
	default:
		return 0, false, fmt.Errorf("query %q: got a %s, want a vector", q, v.Type())
	}
	return sum, n > 0, nil
}

// query runs one instant query within the source's timeout; reads is the
// range it reads, for onQuery.
func (s *Source) query(ctx context.Context, q string, at time.Time, reads time.Duration) (model.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.onQuery != nil {
		s.onQuery(q, reads)
	}
	v, _, _, err := s.api.Query(ctx, q, at)
	if err != nil {
		if cause := context.Cause(ctx); ctx.Err() != nil && cause != ctx.Err() {
			err = cause // ended by its SLO's first failure: say which
		}
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	return v, nil
}

// sliceInput measures a timeslice objective with one range query per
// series: each step evaluates the query over one slice ending there.
func (s *Source) sliceInput(ctx context.Context, o *slo.Objective, at time.Time) slo.Input {
	ps := o.SLI.Prometheus
	from, to := o.SliceRange(at)
	slice := o.Budgeting.Slice
	n := int(to.Sub(from) / slice)
	num := ps.Good
	if num == "" {
		num = ps.Bad
	}
	nums, err := s.rangeSums(ctx, num, slice, from, n)
	if err != nil {
		return slo.Input{Err: err}
	}
	totals, err := s.rangeSums(ctx, ps.Total, slice, from, n)
	if err != nil {
		return slo.Input{Err: err}
	}
	out := make([]slo.Counts, n)
	for i := range out {
		if math.IsNaN(totals[i]) {
			continue
		}
		g := nums[i]
		if math.IsNaN(g) {
			g = 0
		}
		if ps.Good == "" {
			g = totals[i] - g
		}
		out[i] = slo.Counts{Good: g, Total: totals[i]}
	}
	return slo.Input{Slices: out}
}

// rangeSums evaluates a template over slice-long windows ending at
// from+slice, from+2·slice, ... and sums the series at each step; NaN marks
// a step without data.
func (s *Source) rangeSums(ctx context.Context, tmpl string, slice time.Duration, from time.Time, n int) ([]float64, error) {
	q, err := slo.RenderQuery(tmpl, slice)
	if err != nil {
		return nil, err
	}
	return s.stepSums(ctx, q, from.Add(slice), slice, n)
}

// stepSums runs a range query at n steps from first (a step apart) and sums
// the series at each step; NaN marks a step without data.
func (s *Source) stepSums(ctx context.Context, q string, first time.Time, step time.Duration, n int) ([]float64, error) {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	if n == 0 {
		return out, nil
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("query range %q: %w", q, err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.onQuery != nil {
		s.onQuery(q, time.Duration(n)*step)
	}
	v, _, _, err := s.api.QueryRange(ctx, q, v1.Range{Start: first, End: first.Add(time.Duration(n-1) * step), Step: step})
	if err != nil {
		return nil, fmt.Errorf("query range %q: %w", q, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query range %q: got a %s, want a matrix", q, v.Type())
	}
	for _, series := range m {
		for _, p := range series.Values {
			i := int(p.Timestamp.Time().Sub(first) / step)
			if i < 0 || i >= n || math.IsNaN(float64(p.Value)) {
				continue
			}
			if math.IsNaN(out[i]) {
				out[i] = 0
			}
			out[i] += float64(p.Value)
		}
	}
	return out, nil
}
