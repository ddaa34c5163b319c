package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
)

type reportFlags struct {
	specs, albLogs, at, format, dataDir string
	s3Region, s3Endpoint                string
	s3PathStyle                         bool
	progress                            string
	promURL, promConfig                 string
}

func runReport(ctx context.Context, env *cmdEnv, args []string) int {
	var f reportFlags
	fs := newFlagSet("report", "--specs DIR [--alb-logs DIR|s3://bucket/prefix] [flags]",
		"Evaluate every SLO once and print SLIs, error budgets, burn rates and the alert\n"+
			"pairs that would fire. ALB logs are read into minute buckets (in memory, or in\n"+
			"--data-dir so that a later run reads only new objects). Without --at, the\n"+
			"windows of ALB-backed SLOs end at the ingestion watermark: the newest minute\n"+
			"whose log files are believed to have all arrived.")
	fs.stringVar(&f.specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	fs.stringVar(&f.albLogs, "alb-logs", "KAKEIBO_ALB_LOGS", "", "ALB access logs: a `directory` or s3://bucket/prefix")
	fs.stringVar(&f.at, "at", "KAKEIBO_AT", "", "evaluate at this `time` (RFC 3339, e.g. 2026-10-02T00:00:00Z) instead of the watermark")
	fs.stringVar(&f.format, "format", "KAKEIBO_FORMAT", "table", "output `format`: table, json or markdown")
	fs.stringVar(&f.dataDir, "data-dir", "KAKEIBO_DATA_DIR", "", "keep minute buckets and the ingest ledger in this `directory` (default: in memory)")
	fs.stringVar(&f.s3Region, "s3-region", "AWS_REGION", "", "AWS `region` of the log bucket")
	fs.stringVar(&f.s3Endpoint, "s3-endpoint", "KAKEIBO_S3_ENDPOINT", "", "custom S3 endpoint `URL` for S3-compatible stores")
	fs.boolVar(&f.s3PathStyle, "s3-path-style", "KAKEIBO_S3_PATH_STYLE", false, "address buckets by path (endpoint/bucket), as S3-compatible stores often need")
	fs.stringVar(&f.promURL, "prometheus-url", "KAKEIBO_PROMETHEUS_URL", "", "Prometheus-compatible query API `URL` for Prometheus-backed SLIs")
	fs.stringVar(&f.promConfig, "prometheus-config", "KAKEIBO_PROMETHEUS_CONFIG", "", "YAML `file` with Prometheus http_config settings (authorization, basic_auth, tls_config, proxy_url, http_headers) and timeout")
	fs.stringVar(&f.progress, "progress", "KAKEIBO_PROGRESS", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	if err := fs.parse(args, env); err != nil {
		return exitFor(err)
	}
	if f.specs == "" {
		fmt.Fprintln(env.stderr, "kakeibo report: --specs is required (or set KAKEIBO_SPECS)")
		return exitUsage
	}
	switch f.format {
	case "table", "json", "markdown":
	default:
		fmt.Fprintf(env.stderr, "kakeibo report: --format %q: want table, json or markdown\n", f.format)
		return exitUsage
	}
	var at time.Time
	if f.at != "" {
		t, err := parseTime(f.at)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: --at: %v\n", err)
			return exitUsage
		}
		at = t
	}

	set, err := slo.Load(f.specs)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
		var specErrs slo.Errors
		if errors.As(err, &specErrs) {
			return exitFail
		}
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var store alb.Store = alb.NewMemStore()
	if f.dataDir != "" {
		db, err := alb.OpenDB(f.dataDir)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
			return exitFail
		}
		defer db.Close()
		if store, err = alb.OpenBoltStore(db); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
			return exitFail
		}
	}

	objs := set.Objectives()
	cls := alb.NewClassifier(objs)
	if len(cls.IDs) > 0 && f.albLogs != "" {
		src, err := alb.NewSource(ctx, f.albLogs, alb.S3Config{Region: f.s3Region, Endpoint: f.s3Endpoint, PathStyle: f.s3PathStyle})
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
			return exitUsage
		}
		from, to := ingestRange(objs, at, src, time.Now())
		if err := ingest(ctx, env, f, src, store, cls, logger, from, to); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
			return exitFail
		}
	}

	var prom *promsource.Source
	if f.promURL != "" {
		cfg := promsource.Config{URL: f.promURL}
		if f.promConfig != "" {
			if err := promsource.LoadConfigFile(f.promConfig, &cfg); err != nil {
				fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
				return exitUsage
			}
		}
		if prom, err = promsource.New(cfg); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo report: %v\n", err)
			return exitUsage
		}
	}

	rep := evaluate(ctx, objs, at, time.Now(), store, f.albLogs != "", prom)
	switch f.format {
	case "json":
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	case "markdown":
		writeMarkdown(env.stdout, rep)
	default:
		writeTable(env.stdout, rep)
	}
	return exitOK
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Minute), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339, e.g. 2026-10-02T00:00:00Z", s)
}

// ingestRange is the span of log entries a report reads. With --at it ends
// there; without, a local directory is read whole (its watermark decides),
// and S3 is read up to now.
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

func ingest(ctx context.Context, env *cmdEnv, f reportFlags, src alb.Source, store alb.Store, cls *alb.Classifier, logger *slog.Logger, from, to time.Time) error {
	progress := &alb.Progress{}
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls, Logger: logger, Progress: progress})
	if err != nil {
		return err
	}
	show := f.progress == "always" || (f.progress == "auto" && isTerminal(env.stderr))
	stop := func() {}
	if show {
		stop = startProgressBar(env.stderr, progress)
	}
	_, err = ing.Ingest(ctx, from, to)
	stop()
	if err != nil {
		return fmt.Errorf("ingest %s: %w", src, err)
	}
	if !from.IsZero() {
		// Keep what the windows read, plus a day.
		if err := store.Prune(from.Add(-24*time.Hour).Unix()/60, from.Add(-72*time.Hour)); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
	}
	return nil
}

// evaluate computes every objective's result. ALB-backed objectives end at
// --at or at their load balancer's watermark.
// Prometheus-backed objectives end at --at or now.
func evaluate(ctx context.Context, objs []*slo.Objective, at, now time.Time, store alb.Store, haveALB bool, prom *promsource.Source) slo.Report {
	rep := slo.Report{At: at, SLOs: []slo.ReportSLO{}}
	promAt := at
	if promAt.IsZero() {
		promAt = now.UTC().Truncate(time.Minute)
	}
	var promInputs map[*slo.Objective]slo.Input
	if prom != nil {
		promInputs = prom.Inputs(ctx, objs, promAt)
	}
	for _, o := range objs {
		var r slo.Result
		switch {
		case o.SLI.Prometheus != nil && prom == nil:
			r = slo.Evaluate(o, promAt, slo.Input{Err: errors.New("no Prometheus URL given (--prometheus-url)")})
		case o.SLI.Prometheus != nil:
			r = slo.Evaluate(o, promAt, promInputs[o])
		case !haveALB:
			r = slo.Evaluate(o, at, slo.Input{Err: errors.New("no ALB logs given (--alb-logs)")})
		default:
			when := at
			if when.IsZero() {
				w, ok, err := store.Watermark(o.SLI.ALB.LoadBalancer)
				if err != nil || !ok {
					r = slo.Evaluate(o, time.Time{}, slo.Input{Err: fmt.Errorf("no access logs of %s were read", o.SLI.ALB.LoadBalancer)})
					break
				}
				when = alb.MinuteTime(w)
			}
			r = slo.Evaluate(o, when, alb.Input(store, o, when))
		}
		if rep.At.IsZero() || (!r.At.IsZero() && r.At.Before(rep.At)) {
			rep.At = r.At
		}
		rep.SLOs = append(rep.SLOs, slo.NewReportSLO(r))
	}
	return rep
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusMark is a one-glance symbol for a status.
func statusMark(s slo.Status) string {
	switch s {
	case slo.StatusOK:
		return "✓ ok"
	case slo.StatusAtRisk:
		return "! at risk"
	case slo.StatusViolated:
		return "✗ violated"
	}
	return "? no data"
}

// reportRow is one SLO as the table and markdown views show it.
type reportRow struct {
	slo, status, objective, window, sli, budget, burn, exhaustion, firing string
}

func rowOf(s slo.ReportSLO) reportRow {
	r := reportRow{
		slo: s.Service + "/" + s.SLO, status: statusMark(s.Status),
		objective: percent(s.Objective) + "%", window: s.Window,
		sli: "-", budget: "-", burn: "-", exhaustion: "-", firing: "",
	}
	if s.SLI != nil {
		r.sli = trimFloat(*s.SLI*100, 3) + "%"
	}
	if s.ErrorBudget.Remaining != nil {
		r.budget = fmt.Sprintf("%s%% (%s)", trimFloat(*s.ErrorBudget.Remaining*100, 1), humanDuration(time.Duration(s.ErrorBudget.RemainingSeconds*float64(time.Second)).Round(time.Second)))
	}
	var best float64
	bestW := ""
	for w, win := range s.Windows {
		if win.BurnRate != nil && (bestW == "" || *win.BurnRate > best) {
			best, bestW = *win.BurnRate, w
		}
	}
	if bestW != "" {
		r.burn = fmt.Sprintf("%s× (%s)", trimFloat(best, 2), bestW)
	}
	if t := s.ErrorBudget.TimeToExhaustionSeconds; t != nil && *t == 0 {
		r.exhaustion = "spent"
	} else if t != nil {
		r.exhaustion = humanDuration(time.Duration(*t * float64(time.Second)).Round(time.Minute))
	} else if s.SLI != nil {
		r.exhaustion = "never"
	}
	var firing []string
	for _, a := range s.Alerts {
		if a.Firing {
			firing = append(firing, a.Name)
		}
	}
	if s.BudgetExhausted {
		firing = append(firing, "budget-exhausted")
	}
	r.firing = strings.Join(firing, ", ")
	if s.Error != "" && r.firing == "" {
		r.firing = s.Error
	}
	return r
}

var reportHeader = reportRow{"SLO", "STATUS", "OBJECTIVE", "WINDOW", "SLI", "BUDGET LEFT", "FASTEST BURN", "EXHAUSTED IN", "FIRING / NOTE"}

func (r reportRow) cells() []string {
	return []string{r.slo, r.status, r.objective, r.window, r.sli, r.budget, r.burn, r.exhaustion, r.firing}
}

func writeTable(w io.Writer, rep slo.Report) {
	fmt.Fprintf(w, "at %s\n\n", rep.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(reportHeader.cells(), "\t"))
	for _, s := range rep.SLOs {
		fmt.Fprintln(tw, strings.Join(rowOf(s).cells(), "\t"))
	}
	tw.Flush()
}

func writeMarkdown(w io.Writer, rep slo.Report) {
	fmt.Fprintf(w, "SLO report at %s\n\n", rep.At.Format(time.RFC3339))
	fmt.Fprintf(w, "| %s |\n", strings.Join(reportHeader.cells(), " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(reportHeader.cells())))
	for _, s := range rep.SLOs {
		cells := rowOf(s).cells()
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}
