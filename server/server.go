// Package server is the long-running kakeibo service: it ingests ALB logs on
// an interval, evaluates every SLO, feeds alerting and reminders, exports
// metrics and serves the API and the status page.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/alertmanager"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
)

// Config configures the service.
type Config struct {
	SpecPaths []string
	// DataDir holds the bbolt database (buckets, ledger, alert state, outbox).
	DataDir string
	// ALBLogs is a directory or s3://bucket/prefix; empty for none.
	ALBLogs string
	S3      alb.S3Config
	// SQSQueueURL, with ALBLogs an S3 location, takes new objects from the
	// bucket's event notifications in that queue instead of listing the
	// bucket (listed once, at start, for the history).
	SQSQueueURL string
	// Prometheus, when set, evaluates Prometheus-backed SLIs.
	Prometheus *promsource.Config
	Listen     string
	// IngestInterval, EvalInterval: how often to read new logs and evaluate.
	IngestInterval, EvalInterval time.Duration
	// ReloadInterval is how often spec files are checked for changes.
	ReloadInterval time.Duration
	// Notifiers deliver alerts and reminders by integration (slack,
	// pagerduty, webhook); a notification with none is logged.
	Notifiers map[string]alerting.Notifier
	// Ops is told when notifications cannot be delivered, and gets those of
	// services without a route.
	Ops alerting.Target
	// APIToken, when set, is the bearer token that API writes (silences)
	// need; without it, writes are refused.
	APIToken string
	// Redact removes secrets from error texts.
	Redact func(string) string
	// Templates render digests.
	Templates *alerting.Templates
	// AlertmanagerURLs receive alerts as well.
	AlertmanagerURLs []string
	// NodeGrace is how long a load balancer node may fall behind the others
	// before it is given up (scaled in); default alb.DefaultNodeGrace.
	NodeGrace time.Duration
	// ReadConcurrency is how many log objects are read at once (default 256).
	ReadConcurrency int
	// ExternalURL is where people reach this service (links, generatorURL).
	ExternalURL string
	// RemoteWrite, when its URL is set, writes the ALB SLOs' exact counts
	// to a Prometheus remote-write receiver.
	RemoteWrite RemoteWrite
	// Shard names this process among several that split the load
	// balancers (the shard label of the counters it writes), and
	// ShardLoadBalancers are the ones it counts (empty: all).
	Shard              string
	ShardLoadBalancers []string
	// ALBCounters evaluates ALB-backed SLOs from Prometheus, over the
	// counters remote write sends (see slo.ALBAsCounters), ALBOffset back
	// (default slo.DefaultALBOffset): no logs needed.
	ALBCounters bool
	ALBOffset   time.Duration
	// MaxGroups is how many groups of one grouped SLO are evaluated, the
	// busiest first (default slo.DefaultMaxGroups).
	MaxGroups int
	Logger    *slog.Logger
	Registry  *prometheus.Registry
	Now       func() time.Time
}

// Server is the running service.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *bolt.DB
	albDB  alb.Store
	alerts *alerting.Store
	engine *alerting.Engine
	disp   *alerting.Dispatcher
	source alb.Source
	prom   *promsource.Source
	groups groupFinder
	am     *alertmanager.Client
	m      *metrics

	specs    atomic.Pointer[slo.Set]
	latest   atomic.Pointer[snapshot]
	reload   chan struct{}
	reloadMu sync.Mutex
	lastErr  atomic.Pointer[reloadError]
	ready    atomic.Bool
	// active is set once this process holds the database (not a standby);
	// the stores and the dispatcher are set before it.
	active    atomic.Bool
	lockOwner string
	// caughtUp is set once the first ingest pass (the backfill) has read
	// everything up to the watermark: before it, evaluations are shown but
	// neither alert nor make the service ready.
	caughtUp   atomic.Bool
	caughtUpAt atomic.Pointer[time.Time] // when caughtUp was set (time.Now, monotonic)
	// storeFaults holds, per kind of write (ingest, alert state), the
	// failure while writes of that kind fail.
	storeMu       sync.Mutex
	storeFaults   map[string]*storeFault
	backfill      atomic.Pointer[alb.Progress]
	failures      *alb.Failures
	backfillStart atomic.Pointer[time.Time]
	ingested      chan struct{}
	ingestedRW    chan struct{} // told after each ingest pass, for remote write
	specSig       string
	prevAM        map[string]alerting.AlertState
	prevStuck     []alerting.Stuck
	amPosting     atomic.Bool
	promLogged    map[string]time.Time // evaluation loop only
	memo          EvalMemo             // evaluation loop only
	ingestMu      sync.Mutex           // held by ingest passes
	pendMu        sync.Mutex
	pending       map[string]*alb.Progress // SLIs whose history a backfillNew counts
	bg            sync.WaitGroup           // backfillNew goroutines
	countersMu    sync.Mutex
	keptFrom      atomic.Int64                      // unix seconds: minutes before it are pruned
	counterObjs   map[*slo.Objective]*slo.Objective // asCounters
	rendered      renderCache                       // evaluation loop only
	reported      map[*slo.Objective]slo.ReportSLO  // evaluation loop only: the last cycle's, by objective
	amMu          sync.Mutex                        // prevAM, prevStuck
}

// snapshot is the newest evaluation, served by the API, page and metrics.
type snapshot struct {
	results []slo.Result
	report  slo.Report
	states  map[string]alerting.AlertState
	at      time.Time
	// exposition is its slo_* series in the text format; exposedGz the
	// same gzipped, made on the first scrape that asks (gzipped).
	exposition []byte
	gzOnce     sync.Once
	exposedGz  []byte
}

// storeFault is a failing data directory: what failed, and since when.
type storeFault struct {
	err   error
	since time.Time
}

// storeWrite records the outcome of a write to the data directory: a
// failed one makes the service not ready, with the reason, until a write
// succeeds again (space freed, the volume writable again), without a
// restart.
// A kind of write clears only its own failure: small alert-state writes
// may fit in pages the database already has while counts cannot be stored.
func (s *Server) storeWrite(what string, err error) {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	old := s.storeFaults[what]
	if err == nil {
		if old != nil {
			delete(s.storeFaults, what)
			s.log.Info("the data directory is writable again", "write", what, "failing_since", old.since)
		}
		return
	}
	s.m.storeWriteErrors.Inc()
	f := &storeFault{err: fmt.Errorf("%s: %w", what, err), since: s.cfg.Now()}
	if old != nil {
		f.since = old.since
	} else {
		s.log.Error("cannot write the data directory; not ready until a write succeeds", "data_dir", s.cfg.DataDir, "write", what, "err", f.err)
	}
	if s.storeFaults == nil {
		s.storeFaults = map[string]*storeFault{}
	}
	s.storeFaults[what] = f
}

// storeFault returns the oldest failing kind of write, or nil.
func (s *Server) storeFault() *storeFault {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	var first *storeFault
	for _, f := range s.storeFaults {
		if first == nil || f.since.Before(first.since) {
			first = f
		}
	}
	return first
}

type reloadError struct {
	err error
	at  time.Time
}

// New opens the data directory and loads the specs; invalid specs at start
// are an error (a reload keeps the last good ones instead).
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.IngestInterval <= 0 {
		cfg.IngestInterval = time.Minute
	}
	if cfg.EvalInterval <= 0 {
		cfg.EvalInterval = time.Minute
	}
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = 10 * time.Second
	}
	if cfg.Templates == nil {
		t, err := alerting.LoadTemplates("")
		if err != nil {
			return nil, err
		}
		cfg.Templates = t
	}
	set, err := slo.Load(cfg.SpecPaths...)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, reload: make(chan struct{}, 1), ingested: make(chan struct{}, 1), ingestedRW: make(chan struct{}, 1)}
	s.specs.Store(set)
	s.specSig = specSignature(cfg.SpecPaths)
	s.m = newMetrics(cfg.Registry, s)
	s.failures = alb.NewFailures()
	s.promLogged = map[string]time.Time{}
	s.failures.OnFail = func(reason string) { s.m.objectsFailed.WithLabelValues(reason).Inc() }
	s.db, err = alb.OpenDBWait(cfg.DataDir, 100*time.Millisecond)
	var locked *alb.LockedError
	switch {
	case errors.As(err, &locked):
		// Another kakeibo is active on this data directory: Run waits as
		// its hot standby.
		s.lockOwner = locked.Owner
	case err != nil:
		return nil, err
	default:
		if err := s.openStores(); err != nil {
			s.db.Close()
			return nil, err
		}
	}
	if cfg.ALBLogs != "" {
		if s.source, err = alb.NewSource(context.Background(), cfg.ALBLogs, cfg.S3); err != nil {
			s.Close()
			return nil, err
		}
		if src, ok := s.source.(*alb.S3Source); ok {
			cfg.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "kakeibo_alb_objects_outside_layout_total",
				Help: "Log files listed outside AWS's AWSLogs/ACCOUNT/elasticloadbalancing/REGION/yyyy/mm/dd/ layout, skipped (a copy would count twice).",
			}, func() float64 { return float64(src.OutsideLayout()) }))
			if cfg.SQSQueueURL != "" {
				q, err := alb.NewSQSSource(context.Background(), src, cfg.SQSQueueURL, cfg.S3.Region, nil, s.log.With("component", "sqs"))
				if err != nil {
					s.Close()
					return nil, err
				}
				s.source = q
				for _, m := range []struct {
					name, help string
					get        func() float64
				}{
					{"kakeibo_alb_sqs_messages_received_total", "S3 event notifications received from the SQS queue (a message delivered again counts again).", func() float64 { r, _, _ := q.Stats(); return float64(r) }},
					{"kakeibo_alb_sqs_messages_deleted_total", "SQS messages deleted: their objects are in the ledger, or name nothing kakeibo reads.", func() float64 { _, d, _ := q.Stats(); return float64(d) }},
					{"kakeibo_alb_sqs_messages_ignored_total", "SQS messages naming no access log object this process reads (test events, other prefixes or load balancers).", func() float64 { _, _, i := q.Stats(); return float64(i) }},
				} {
					cfg.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, m.get))
				}
			}
		} else if cfg.SQSQueueURL != "" {
			s.Close()
			return nil, fmt.Errorf("--sqs-queue-url needs --alb-logs s3://bucket/prefix (the objects the notifications name are read from S3), not %s", cfg.ALBLogs)
		}
	}
	if cfg.Prometheus != nil {
		pc := *cfg.Prometheus
		pc.Ledger = true // the same periods every minute: keep hourly sums
		if s.prom, err = promsource.New(pc); err != nil {
			s.Close()
			return nil, err
		}
	}
	if len(cfg.AlertmanagerURLs) > 0 {
		s.am = &alertmanager.Client{URLs: cfg.AlertmanagerURLs}
	}
	s.m.reloads(true, cfg.Now())
	return s, nil
}

// openStores opens what lives in the database and starts alerting on it;
// only the process holding the database's lock does this.
func (s *Server) openStores() error {
	var err error
	if s.albDB, err = alb.OpenBoltStore(s.db); err != nil {
		return err
	}
	if s.alerts, err = alerting.OpenStore(s.db); err != nil {
		return err
	}
	if s.engine, err = alerting.NewEngine(s.alerts, s.specs.Load().Services); err != nil {
		return err
	}
	s.engine.PageURL = s.cfg.ExternalURL
	s.engine.Months = s.monthReport
	s.engine.Overrides = func() []slo.GateOverride {
		ovs, err := s.overrides()
		if err != nil {
			s.log.Warn("read error budget policy overrides", "err", err)
		}
		return ovs
	}
	s.disp, err = alerting.NewDispatcher(alerting.DispatcherConfig{
		Store: s.alerts, Notifiers: s.cfg.Notifiers, Ops: s.cfg.Ops, Redact: s.cfg.Redact, Templates: s.cfg.Templates, Now: s.cfg.Now,
		Logger: s.cfg.Logger.With("component", "notifications"), Registerer: s.cfg.Registry,
	})
	if err != nil {
		return err
	}
	s.active.Store(true)
	return nil
}

// waitForLock blocks, as a hot standby, until this process holds the
// database's lock (the active one died or stopped) or ctx ends. A standby
// is not ready and sends nothing.
func (s *Server) waitForLock(ctx context.Context) error {
	if s.active.Load() {
		return nil
	}
	s.log.Info("standby: waiting for the lock held by "+orUnknown(s.lockOwner)+"; this process takes over when it stops",
		"data_dir", s.cfg.DataDir)
	last := time.Now()
	for ctx.Err() == nil {
		db, err := alb.OpenDBWait(s.cfg.DataDir, time.Second)
		var locked *alb.LockedError
		switch {
		case errors.As(err, &locked):
			if time.Since(last) >= 5*time.Minute {
				s.log.Info("standby: still waiting for the lock held by "+orUnknown(locked.Owner), "data_dir", s.cfg.DataDir)
				last = time.Now()
			}
			continue
		case err != nil:
			return err
		}
		s.db = db
		// The specs as they are now, not as they were when this standby
		// started: evaluating the old ones, even for a cycle, against the
		// alert state the active one kept with the new ones would page and
		// resolve what changed.
		if set, err := slo.Load(s.cfg.SpecPaths...); err == nil {
			s.specs.Store(set)
			s.specSig = specSignature(s.cfg.SpecPaths)
		} else {
			s.log.Error("took over with the specs loaded at start: the current ones are invalid", "err", err)
		}
		if err := s.openStores(); err != nil {
			return err
		}
		s.log.Info("took over: this process now holds the lock and is active", "data_dir", s.cfg.DataDir,
			"services", len(s.specs.Load().Services))
		return nil
	}
	return nil
}

func orUnknown(owner string) string {
	if owner == "" {
		return "another kakeibo"
	}
	return owner
}

// Close closes the database.
func (s *Server) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

// Reload asks the service to re-read its specs (SIGHUP).
func (s *Server) Reload() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// Run serves until ctx ends. Every part is an oklog/run actor that runs
// until ctx ends; one that returns before then is a fault (see addLoop), so
// serve exits non-zero instead of stopping "successfully" with nothing
// running. The HTTP server drains for up to 4 seconds on shutdown.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var g run.Group
	{
		g.Add(func() error { <-ctx.Done(); return nil }, func(error) { cancel() })
	}
	{
		srv := &http.Server{
			Addr: s.cfg.Listen, Handler: s.Handler(),
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		}
		g.Add(func() error {
			s.log.Info("listening", "addr", s.cfg.Listen)
			err := srv.ListenAndServe()
			if errors.Is(err, http.ErrServerClosed) && ctx.Err() != nil {
				return nil
			}
			s.log.Error("http server ended unexpectedly", "err", err)
			return fmt.Errorf("http: %w", err)
		}, func(error) {
			sctx, c := context.WithTimeout(context.Background(), 4*time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		})
	}
	s.addLoop(&g, ctx, "active", func(ctx context.Context) error {
		if err := s.waitForLock(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		return s.runActive(ctx)
	})
	return g.Run()
}

// runActive runs what only the active process does: ingest, evaluate,
// deliver notifications, watch the specs. Each loop runs until ctx ends,
// also when it has nothing to do (no ALB logs, no notifiers).
func (s *Server) runActive(ctx context.Context) error {
	var g run.Group
	s.addLoop(&g, ctx, "ingest", func(ctx context.Context) error { s.ingestLoop(ctx); return nil })
	s.addLoop(&g, ctx, "evaluation", func(ctx context.Context) error { s.evalLoop(ctx); return nil })
	s.addLoop(&g, ctx, "notifications", func(ctx context.Context) error {
		return s.disp.Run(ctx, s.engine.Changed(), 30*time.Second)
	})
	s.addLoop(&g, ctx, "spec watch", func(ctx context.Context) error { s.watchSpecs(ctx); return nil })
	s.addLoop(&g, ctx, "remote write", func(ctx context.Context) error { s.remoteWriteLoop(ctx); return nil })
	return g.Run()
}

// addLoop adds a loop that must run until ctx ends to g. In an oklog/run
// group the first actor to return stops all the others, so a loop that
// returns early, with or without an error, would quietly end the service:
// it is logged at ERROR with its name and ends the group with an error.
func (s *Server) addLoop(g *run.Group, parent context.Context, name string, loop func(context.Context) error) {
	ctx, cancel := context.WithCancel(parent)
	g.Add(func() error {
		err := loop(ctx)
		if ctx.Err() != nil {
			return err // asked to stop; err is nil unless stopping failed
		}
		var inner *loopError
		if errors.As(err, &inner) {
			return err // a loop inside this one ended; it said so
		}
		if err == nil {
			err = errors.New("returned before shutdown")
		}
		s.log.Error("loop ended unexpectedly; stopping the service", "loop", name, "err", err)
		return &loopError{name: name, err: err}
	}, func(error) { cancel() })
}

// loopError is a loop of the service that ended before shutdown.
type loopError struct {
	name string
	err  error
}

func (e *loopError) Error() string { return e.name + " loop ended: " + e.err.Error() }
func (e *loopError) Unwrap() error { return e.err }

// ingestLoop reads new ALB logs every IngestInterval until ctx ends.
// Without a log source there is nothing to read: the data is caught up by
// definition, and the loop waits for the end like every other.
func (s *Server) ingestLoop(ctx context.Context) {
	if s.source == nil {
		s.markCaughtUp()
		<-ctx.Done()
		return
	}
	defer s.bg.Wait() // new SLOs' backfills end with ctx
	first := true
	for {
		ok := s.ingestOnce(ctx, first)
		first = first && !ok // a failed backfill is tried again in full
		select {
		case s.ingested <- struct{}{}:
		default:
		}
		select {
		case s.ingestedRW <- struct{}{}:
		default:
		}
		t := time.NewTimer(s.cfg.IngestInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// ingestOnce reads what is new. The first pass after start backfills the
// longest window and logs its progress. It reports whether the pass
// completed.
func (s *Server) ingestOnce(ctx context.Context, first bool) bool {
	s.ingestMu.Lock() // a new SLO's backfill ends between passes (alb.Ingester.BackfillNew)
	defer s.ingestMu.Unlock()
	set := s.specs.Load()
	objs := set.Objectives()
	if len(s.cfg.ShardLoadBalancers) > 0 {
		// A shard counts its own load balancers only.
		objs = slices.DeleteFunc(slices.Clone(objs), func(o *slo.Objective) bool { return o.SLI.ALB != nil && !s.owns(o.SLI.ALB.LoadBalancer) })
	}
	cls := alb.NewClassifier(objs)
	if len(cls.IDs) == 0 {
		s.markCaughtUp()
		return true
	}
	now := s.cfg.Now()
	if dir, isDir := s.source.(*alb.DirSource); isDir {
		// A directory may hold logs that ended long ago (an example, an
		// archive): its windows end at its newest log when that is older.
		if newest, err := dir.Newest(ctx); err == nil && !newest.IsZero() && newest.Before(now) {
			now = newest
		}
	}
	var back time.Duration
	for _, o := range objs {
		if o.SLI.ALB != nil {
			back = max(back, alb.Lookback(o, now))
		}
	}
	// Only what the windows need: nothing older than the lookback is
	// listed or read (an hour ahead allows for clock skew).
	from, to := now.Add(-back), now.Add(time.Hour)
	switch src := s.source.(type) {
	case *alb.S3Source:
		src.LoadBalancers, src.Now = cls.LoadBalancers(), s.cfg.Now // list only their keys
	case *alb.SQSSource:
		src.LoadBalancers, src.Now = cls.LoadBalancers(), s.cfg.Now
	}
	progress := &alb.Progress{}
	cfg := alb.IngestConfig{Source: s.source, Store: s.albDB, Classifier: cls,
		Logger: s.log.With("component", "ingest"), Progress: progress, Failures: s.failures, Workers: s.cfg.ReadConcurrency,
		NodeGrace: s.cfg.NodeGrace, Pending: s.pendingSLIs()}
	cfg.NewSLIs = func(fresh []string) { s.backfillNew(ctx, cfg, fresh, from) }
	ing, err := alb.NewIngester(cfg)
	if err != nil {
		s.log.Error("ingest", "err", err)
		return false
	}
	stopLog := func() {}
	if first {
		s.backfill.Store(progress)
		stopLog = s.logProgress(progress)
	}
	start := time.Now()
	st, err := ing.Ingest(ctx, from, to)
	stopLog()
	s.m.ingest(st, err)
	var commitErr *alb.CommitError
	switch {
	case errors.As(err, &commitErr):
		s.storeWrite("ingest", err)
	case err == nil && st.Objects > 0:
		s.storeWrite("ingest", nil)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("ingest", "source", s.source.String(), "err", err)
		}
		return false
	}
	if st.Objects > 0 || first {
		s.log.Info("ingested", "objects", st.Objects, "lines", st.Lines, "malformed", st.Malformed, "skipped", st.Skipped, "took", time.Since(start).Round(time.Millisecond).String())
	}
	// Retention: minutes, hour sums and ledger records the longest window
	// can no longer need are dropped, for S3 and directories alike; what is
	// older than the lookback is never listed again, so it is not re-read.
	cut := now.Add(-back - 24*time.Hour)
	if err := s.albDB.Prune(cut.Unix()/60, now.Add(-back-72*time.Hour)); err != nil {
		s.log.Error("prune", "err", err)
	}
	s.keptFrom.Store(cut.Truncate(time.Hour).Unix())
	s.keepPeriods(s.cfg.Now())
	if first && !s.caughtUp.Load() {
		s.markCaughtUp()
		s.log.Info("backfill done: evaluations now alert, and the service is ready")
	}
	return true
}

// backfillNew counts the history of SLOs added to the specs beside the
// ingest, so that the others' evaluations and alerts keep their cadence;
// until it is done they are backfilling, with progress.
func (s *Server) backfillNew(ctx context.Context, cfg alb.IngestConfig, fresh []string, from time.Time) {
	progress := &alb.Progress{}
	s.pendMu.Lock()
	if s.pending == nil {
		s.pending = map[string]*alb.Progress{}
	}
	for _, id := range fresh {
		s.pending[id] = progress
	}
	s.pendMu.Unlock()
	cfg.Progress, cfg.NewSLIs, cfg.Pending = progress, nil, nil
	cfg.Logger = s.log.With("component", "backfill")
	done := func() {
		s.pendMu.Lock()
		for _, id := range fresh {
			delete(s.pending, id)
		}
		s.pendMu.Unlock()
	}
	s.bg.Go(func() {
		defer done() // on failure: the next pass finds them new again
		start := time.Now()
		ing, err := alb.NewIngester(cfg)
		if err == nil {
			var st alb.Stats
			st, err = ing.BackfillNew(ctx, fresh, from, &s.ingestMu, done)
			if err == nil {
				s.log.Info("new SLOs counted over their history; they now alert", "slos", fresh, "objects", st.Objects, "lines", st.Lines,
					"took", time.Since(start).Round(time.Millisecond).String())
				return
			}
		}
		if ctx.Err() == nil {
			s.log.Error("counting the history of new SLOs failed; the next ingest pass starts it again", "slos", fresh, "err", err)
		}
	})
}

// asCounters converts ALB objectives for --alb-counters, once per spec
// objective (the conversions live as long as their objectives).
func (s *Server) asCounters(o *slo.Objective) *slo.Objective {
	if o.SLI.ALB == nil {
		return o
	}
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	if c, ok := s.counterObjs[o]; ok {
		return c
	}
	if len(s.counterObjs) > 4*len(s.specs.Load().Objectives())+16 {
		s.counterObjs = nil // specs were reloaded: forget the old ones
	}
	if s.counterObjs == nil {
		s.counterObjs = map[*slo.Objective]*slo.Objective{}
	}
	offset := s.cfg.ALBOffset
	if offset == 0 {
		offset = slo.DefaultALBOffset
	}
	c := slo.ALBAsCounters(o, max(offset, 0))
	s.counterObjs[o] = c
	return c
}

// pendingSLIs are the SLIs a backfillNew is counting.
func (s *Server) pendingSLIs() map[string]bool {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	out := make(map[string]bool, len(s.pending))
	for id := range s.pending {
		out[id] = true
	}
	return out
}

// backfilling says how far the count of a new SLO's history is.
func (s *Server) backfilling(id string) (string, bool) {
	s.pendMu.Lock()
	p := s.pending[id]
	s.pendMu.Unlock()
	if p == nil {
		return "", false
	}
	return fmt.Sprintf("counting its history: %d of %d log objects read", p.ObjectsDone.Load(), p.ObjectsTotal.Load()), true
}

// markCaughtUp records that the backfill is done, and when: the record is
// taken before the flag is set, so everything that only happens once the
// flag is set (alerts, notifications) happens after the recorded time.
func (s *Server) markCaughtUp() {
	if s.caughtUp.Load() {
		return
	}
	now := time.Now()
	s.caughtUpAt.CompareAndSwap(nil, &now)
	s.caughtUp.Store(true)
}

// eta guesses how long the rest of a backfill takes from its pace so far.
func eta(p *alb.Progress, started time.Time) time.Duration {
	done, total := p.ObjectsDone.Load(), p.ObjectsTotal.Load()
	if done == 0 || total <= done {
		return 0
	}
	return (time.Since(started) * time.Duration(total-done) / time.Duration(done)).Round(time.Second)
}

func (s *Server) logProgress(p *alb.Progress) func() {
	started := time.Now()
	s.backfillStart.Store(&started)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.log.Info("backfilling", "objects_done", p.ObjectsDone.Load(), "objects_total", p.ObjectsTotal.Load(),
					"lines", p.Lines.Load(), "mb", p.Bytes.Load()>>20, "eta", eta(p, started).String())
			}
		}
	}()
	return func() { close(done) }
}

func (s *Server) evalLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.EvalInterval)
	defer t.Stop()
	for {
		s.evaluateOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.ingested:
		case <-s.reload:
			s.doReload()
		}
	}
}

// evaluateOnce evaluates every SLO and hands the results to alerting.
func (s *Server) evaluateOnce(ctx context.Context) {
	start := time.Now()
	set := s.specs.Load()
	now := s.cfg.Now()
	objs, grouped := set.Evaluated()
	objs = append(objs, s.groupInstances(ctx, grouped, now, min(s.cfg.EvalInterval/2, 10*time.Second))...)
	results := s.evaluate(ctx, objs, now)
	took := time.Since(start).Seconds()
	s.m.evalDuration.Observe(took)
	s.m.evalLast.Set(took)
	caughtUp := s.caughtUp.Load()
	var states map[string]alerting.AlertState
	var err error
	if caughtUp {
		// Only evaluations of caught-up data decide alerts: during the
		// backfill the data ends somewhere in the past.
		// Decided as of now, not as of the evaluation's start: a silence
		// added while the evaluation read the data (data newer than the
		// silence) is in force for the alerts that data raises.
		decided := s.cfg.Now()
		if decided.Before(now) {
			decided = now
		}
		states, err = s.engine.Observe(results, decided)
		var writeErr *alerting.WriteError
		switch {
		case errors.As(err, &writeErr):
			s.storeWrite("alert state", err)
		case err == nil:
			s.storeWrite("alert state", nil)
		}
	}
	if err != nil || !caughtUp {
		if err != nil {
			s.log.Error("alerting", "err", err)
		}
		if states, err = s.alerts.States(); err != nil {
			s.log.Error("read alert states", "err", err)
			return
		}
	}
	if s.am != nil && caughtUp && s.amPosting.CompareAndSwap(false, true) {
		// Beside the evaluation: a slow Alertmanager never delays the
		// results; while a post is under way, the next one waits its turn
		// (the next evaluation sends the then-current alerts).
		stuck := s.disp.Undeliverable()
		go func() {
			defer s.amPosting.Store(false)
			s.amMu.Lock()
			defer s.amMu.Unlock()
			alerts := alertmanager.Alerts(s.prevAM, states, now, s.cfg.EvalInterval, s.cfg.ExternalURL)
			alerts = append(alerts, alertmanager.UndeliverableAlerts(s.prevStuck, stuck, now, s.cfg.EvalInterval, s.cfg.ExternalURL)...)
			pctx, cancel := context.WithTimeout(ctx, max(s.cfg.EvalInterval, 10*time.Second))
			defer cancel()
			if err := s.am.Post(pctx, alerts); err != nil {
				s.log.Warn("alertmanager", "err", err)
				s.m.sourceErrors.WithLabelValues("alertmanager").Inc()
				return
			}
			s.prevAM, s.prevStuck = states, stuck
		}()
	}
	rep := slo.Report{At: now.UTC(), SLOs: []slo.ReportSLO{}}
	reported := make(map[*slo.Objective]slo.ReportSLO, len(results))
	for _, r := range results {
		// A kept result with the same status reports the same, but its age.
		rs, ok := s.reported[r.Objective]
		if !ok || !s.memo.Reused(r.Objective) || rs.Status != r.Status {
			rs = slo.NewReportSLO(r)
		}
		reported[r.Objective] = rs
		age := max(now.Sub(r.LastData()).Seconds(), 0)
		rs.DataAgeSeconds = &age
		rep.SLOs = append(rep.SLOs, rs)
	}
	s.reported = reported
	snap := &snapshot{results: results, report: rep, states: states, at: now}
	snap.exposition = render(snap, &s.rendered, s.memo.Reused)
	s.latest.Store(snap)
	s.ready.Store(caughtUp)
}

// sources is what the specs are evaluated against: Prometheus, and the
// ingested ALB records when a log source is configured.
func (s *Server) sources() Sources {
	src := Sources{Prometheus: s.prom, PrometheusDeadline: s.cfg.EvalInterval}
	if s.source != nil {
		src.ALB = s.albDB
	}
	return src
}

func (s *Server) evaluate(ctx context.Context, objs []*slo.Objective, now time.Time) []slo.Result {
	src := s.sources()
	src.Memo = &s.memo
	src.Backfilling = s.backfilling
	if s.cfg.ALBCounters {
		src.AsCounters = s.asCounters
	}
	if len(s.cfg.ShardLoadBalancers) > 0 {
		src.Owns = s.owns
	}
	results := Evaluate(ctx, src, objs, time.Time{}, now)
	for i := range results {
		results[i] = slo.MarkStale(results[i], now, slo.DefaultStaleAfter)
	}
	if s.prom != nil {
		for _, r := range results {
			if r.Objective.SLI.Prometheus != nil && r.Err != nil {
				s.m.sourceErrors.WithLabelValues("prometheus").Inc()
				// Logged, but once per SLO every 10 minutes, not every cycle.
				if last, ok := s.promLogged[r.Objective.ID()]; !ok || now.Sub(last) >= 10*time.Minute {
					s.promLogged[r.Objective.ID()] = now
					s.log.Warn("prometheus query failed; the SLO is no_data", "slo", r.Objective.ID(),
						"good", r.Objective.SLI.Prometheus.Good+r.Objective.SLI.Prometheus.Bad, "total", r.Objective.SLI.Prometheus.Total, "err", r.Err)
				}
			}
		}
	}
	return results
}

// watchSpecs reloads the specs when their files change.
func (s *Server) watchSpecs(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if sig := specSignature(s.cfg.SpecPaths); sig != s.specSig {
				s.specSig = sig
				s.Reload()
			}
		}
	}
}

// doReload re-reads the specs. Invalid specs keep the last good ones
// running; the error shows in the log, a metric and the status page.
func (s *Server) doReload() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	set, err := slo.Load(s.cfg.SpecPaths...)
	if err == nil && s.active.Load() {
		err = s.engine.SetServices(set.Services)
	}
	now := s.cfg.Now()
	if err != nil {
		s.log.Error("reload: specs are invalid; the previous ones keep running", "err", err)
		s.lastErr.Store(&reloadError{err: err, at: now})
		s.m.reloads(false, now)
		return
	}
	s.specs.Store(set)
	s.lastErr.Store(nil)
	s.m.reloads(true, now)
	s.failures.RetryAll() // a reload is the moment to try unreadable log objects again
	if r, ok := s.source.(interface{ Reset() }); ok {
		r.Reset() // and to list every day folder again (new load balancers)
	}
	_, grouped := set.Evaluated()
	s.log.Info("reloaded specs", "services", len(set.Services), "slos", len(set.Objectives()), "grouped", len(grouped))
	select {
	case s.ingested <- struct{}{}: // evaluate again soon
	default:
	}
}

// specSignature changes when a spec file is added, removed or modified.
func specSignature(paths []string) string {
	files, err := slo.SpecFiles(paths...)
	if err != nil {
		return "error: " + err.Error()
	}
	parts := make([]string, 0, len(files))
	for _, f := range files {
		if info, err := os.Stat(f); err == nil { // through links: a ConfigMap update swaps a link
			parts = append(parts, fmt.Sprintf("%s:%d:%d", f, info.Size(), info.ModTime().UnixNano()))
		}
	}
	slices.Sort(parts)
	return fmt.Sprint(parts)
}
