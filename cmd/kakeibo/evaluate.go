package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/server"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
)

// evalFlags are the flags of the commands that evaluate SLOs once (report,
// remind): specs and sources.
type evalFlags struct {
	specs, albLogs, at, dataDir string
	s3Region, s3Endpoint        string
	s3PathStyle                 bool
	progress                    string
	readConcurrency             int
	maxGroups                   int
	promURL, promConfig         string
	// from, when set, makes the ingest start there at the latest (a past
	// period's report needs the whole period).
	from time.Time
}

func (f *evalFlags) register(fs *flagSet) {
	fs.stringVar(&f.specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	fs.stringVar(&f.albLogs, "alb-logs", "KAKEIBO_ALB_LOGS", "", "ALB access logs: a `directory` or s3://bucket/prefix")
	fs.stringVar(&f.at, "at", "KAKEIBO_AT", "", "evaluate at this `time` (RFC 3339, e.g. 2026-10-02T00:00:00Z) instead of the watermark")
	fs.stringVar(&f.dataDir, "data-dir", "KAKEIBO_DATA_DIR", "", "keep minute buckets and the ingest ledger in this `directory` (default: in memory)")
	fs.stringVar(&f.s3Region, "s3-region", "AWS_REGION", "", "AWS `region` of the log bucket")
	fs.stringVar(&f.s3Endpoint, "s3-endpoint", "KAKEIBO_S3_ENDPOINT", "", "custom S3 endpoint `URL` for S3-compatible stores")
	fs.boolVar(&f.s3PathStyle, "s3-path-style", "KAKEIBO_S3_PATH_STYLE", false, "address buckets by path (endpoint/bucket), as S3-compatible stores often need")
	fs.stringVar(&f.promURL, "prometheus-url", "KAKEIBO_PROMETHEUS_URL", "", "Prometheus-compatible query API `URL` for Prometheus-backed SLIs")
	fs.stringVar(&f.promConfig, "prometheus-config", "KAKEIBO_PROMETHEUS_CONFIG", "", "YAML `file` with Prometheus http_config settings (authorization, basic_auth, tls_config, proxy_url, http_headers) and timeout")
	fs.stringVar(&f.progress, "progress", "KAKEIBO_PROGRESS", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	fs.intVar(&f.readConcurrency, "read-concurrency", "KAKEIBO_READ_CONCURRENCY", 256, "most log objects fetched at once (S3 GETs in flight start at 32 and adapt up to this; parsing uses every CPU)")
	fs.intVar(&f.maxGroups, "max-groups", "KAKEIBO_MAX_GROUPS", slo.DefaultMaxGroups, "most groups evaluated per grouped SLO (sli.prometheus.by), the busiest first")
}

// evaluation is one evaluation of every loaded SLO.
type evaluation struct {
	set     *slo.Set
	results []slo.Result
	at      time.Time
	// store holds the ALB minute buckets read (nil without ALB logs).
	store alb.Store
	// read is what the ingest could and could not read.
	read readOutcome
}

// readOutcome says how complete the ALB counts of a one-shot run are.
type readOutcome struct {
	Failed        []alb.Failure    // objects that could not be read
	Malformed     map[string]int64 // lines skipped, by reason
	OutsideLayout int64            // S3 keys outside AWS's layout, skipped
}

// incomplete says whether some log object in range was not counted.
func (r readOutcome) incomplete() bool { return len(r.Failed) > 0 }

func (e *evaluation) report() slo.Report {
	rep := slo.Report{At: e.at, SLOs: []slo.ReportSLO{}}
	for _, r := range e.results {
		if rep.At.IsZero() || (!r.At.IsZero() && r.At.Before(rep.At)) {
			rep.At = r.At
		}
		rep.SLOs = append(rep.SLOs, slo.NewReportSLO(r))
	}
	if rep.At.IsZero() { // nothing was evaluated: the report is of now
		rep.At = time.Now().UTC().Truncate(time.Second)
	}
	return rep
}

// evaluate loads the specs, reads the sources and evaluates every SLO.
func (f *evalFlags) evaluate(ctx context.Context, env *cmdEnv, cmd string) (*evaluation, int) {
	fail := func(code int, format string, args ...any) (*evaluation, int) {
		fmt.Fprintf(env.stderr, "kakeibo "+cmd+": "+format+"\n", args...)
		return nil, code
	}
	if f.specs == "" {
		return fail(exitUsage, "--specs is required (or set KAKEIBO_SPECS)")
	}
	var at time.Time
	if f.at != "" {
		t, err := parseTime(f.at)
		if err != nil {
			return fail(exitUsage, "--at: %v", err)
		}
		at = t
	}
	set, code := loadSpecs(env, cmd, f.specs)
	if code != exitOK {
		return nil, code
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var store alb.Store = alb.NewMemStore()
	if f.dataDir != "" {
		db, err := alb.OpenDB(f.dataDir)
		if err != nil {
			return fail(exitFail, "%v", err)
		}
		defer db.Close()
		if store, err = alb.OpenBoltStore(db); err != nil {
			return fail(exitFail, "%v", err)
		}
	}
	objs, grouped := set.Evaluated()
	var read readOutcome
	cls := alb.NewClassifier(objs)
	if len(cls.IDs) > 0 && f.albLogs != "" {
		src, err := alb.NewSource(ctx, f.albLogs, alb.S3Config{Region: f.s3Region, Endpoint: f.s3Endpoint, PathStyle: f.s3PathStyle})
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		from, to := ingestRange(objs, at, src, time.Now())
		if !f.from.IsZero() && !from.IsZero() && f.from.Before(from) {
			from = f.from
		}
		if read, err = f.ingest(ctx, env, src, store, cls, logger, from, to); err != nil {
			return fail(exitFail, "%v", err)
		}
	}
	var prom *promsource.Source
	if f.promURL != "" {
		cfg := promsource.Config{URL: f.promURL}
		if f.promConfig != "" {
			if err := promsource.LoadConfigFile(f.promConfig, &cfg); err != nil {
				return fail(exitUsage, "%v", err)
			}
		}
		var err error
		if prom, err = promsource.New(cfg); err != nil {
			return fail(exitUsage, "%v", err)
		}
	}
	for _, o := range grouped {
		if prom == nil {
			fmt.Fprintf(env.stderr, "kakeibo %s: %s: skipped: grouped by %s, its groups are found in Prometheus: give --prometheus-url\n", cmd, o.ID(), strings.Join(o.SLI.Prometheus.By, ", "))
			continue
		}
		objs = append(objs, f.groupInstances(ctx, env, cmd, prom, o, cmp.Or(at, time.Now()))...)
	}
	src := server.Sources{Prometheus: prom}
	ev := &evaluation{set: set, at: at, read: read}
	if f.albLogs != "" {
		src.ALB, ev.store = store, store
	}
	ev.results = server.Evaluate(ctx, src, objs, at, time.Now())
	return ev, exitOK
}

// ingestRange is the span of log entries an evaluation reads. With --at it
// ends there; without, a local directory is read whole (its watermark
// decides), and S3 is read up to now.
func ingestRange(objs []*slo.Objective, at time.Time, src alb.Source, now time.Time) (from, to time.Time) {
	if at.IsZero() {
		if _, isDir := src.(*alb.DirSource); isDir {
			return time.Time{}, time.Time{}
		}
		at = now
	}
	var back time.Duration
	for _, o := range objs {
		if o.SLI.ALB != nil {
			back = max(back, alb.Lookback(o, at))
		}
	}
	return at.Add(-back), at
}

func (f *evalFlags) ingest(ctx context.Context, env *cmdEnv, src alb.Source, store alb.Store, cls *alb.Classifier, logger *slog.Logger, from, to time.Time) (readOutcome, error) {
	var read readOutcome
	progress := &alb.Progress{}
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls, Logger: logger, Progress: progress,
		Workers: f.readConcurrency, Failures: alb.NewFailures()})
	if err != nil {
		return read, err
	}
	show := f.progress == "always" || (f.progress == "auto" && isTerminal(env.stderr))
	stop := func() {}
	if show {
		stop = startProgressBar(env.stderr, progress)
	}
	st, err := ing.Ingest(ctx, from, to)
	stop()
	if err != nil {
		return read, fmt.Errorf("ingest %s: %w", src, err)
	}
	read.Failed = st.FailedObjects
	if mal, err := store.MalformedLines(); err == nil {
		read.Malformed = mal // all the stored counts hold, also those of earlier runs on --data-dir
	}
	if s3src, ok := src.(*alb.S3Source); ok && s3src.OutsideLayout() > 0 {
		read.OutsideLayout = s3src.OutsideLayout()
		fmt.Fprintf(env.stderr, "kakeibo: %d log file(s) outside the AWSLogs/ACCOUNT/elasticloadbalancing/REGION/yyyy/mm/dd/ layout skipped (copies would count twice)\n", read.OutsideLayout)
	}
	if st.Malformed > 0 {
		// Lines that are not ALB entries are skipped, and said: an old
		// 18-field format, a truncated line, another service's logs.
		mal, err := store.MalformedLines()
		if err == nil {
			var parts []string
			for _, reason := range slices.Sorted(maps.Keys(mal)) {
				if mal[reason] > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", reason, mal[reason]))
				}
			}
			fmt.Fprintf(env.stderr, "kakeibo: %d malformed log line(s) skipped (%s)\n", st.Malformed, strings.Join(parts, ", "))
		}
	}
	if len(st.FailedObjects) > 0 {
		// Bad objects never stop a report: say which were left out, and why.
		fmt.Fprintf(env.stderr, "kakeibo: %d log object(s) could not be read and are not counted:\n", len(st.FailedObjects))
		for _, fo := range st.FailedObjects {
			fmt.Fprintf(env.stderr, "  %s: %s: %s\n", fo.Key, fo.Reason, fo.Error)
		}
	}
	if !from.IsZero() {
		// Keep what the windows read, plus a day.
		if err := store.Prune(from.Add(-24*time.Hour).Unix()/60, from.Add(-72*time.Hour)); err != nil {
			return read, fmt.Errorf("prune: %w", err)
		}
	}
	return read, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Minute), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339, e.g. 2026-10-02T00:00:00Z", s)
}

// groupInstances is an SLO per group of a grouped SLO, the busiest
// --max-groups of them; what cannot be evaluated is said on stderr.
func (f *evalFlags) groupInstances(ctx context.Context, env *cmdEnv, cmd string, prom *promsource.Source, o *slo.Objective, at time.Time) []*slo.Objective {
	groups, dropped, err := prom.Groups(ctx, o, at, f.maxGroups)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo %s: %s: skipped: %v\n", cmd, o.ID(), err)
		return nil
	}
	if dropped > 0 {
		fmt.Fprintf(env.stderr, "kakeibo %s: %s: the %d busiest groups are evaluated, %d more are left out (--max-groups)\n", cmd, o.ID(), len(groups), dropped)
	}
	if len(groups) == 0 {
		fmt.Fprintf(env.stderr, "kakeibo %s: %s: no groups: its total query has no series in the period\n", cmd, o.ID())
	}
	var out []*slo.Objective
	for _, g := range groups {
		inst, err := o.GroupInstance(g)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo %s: %s: skipped: %v\n", cmd, o.ID(), err)
			continue
		}
		out = append(out, inst)
	}
	return out
}
