package server

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// metrics are the service's own (kakeibo_*) metrics; the slo_* series are
// rendered from each evaluation (exposition.go).
type metrics struct {
	evalDuration  prometheus.Histogram
	evalLast      prometheus.Gauge
	sourceErrors  *prometheus.CounterVec
	objects       prometheus.Counter
	lines         prometheus.Counter
	reloadOK      prometheus.Gauge
	reloadSuccess prometheus.Gauge
	reloadsTotal  *prometheus.CounterVec
	objectsFailed *prometheus.CounterVec
	// storeWriteErrors counts failed writes to the data directory.
	storeWriteErrors prometheus.Counter
	// Remote write of the ALB counters.
	remoteWriteSamples *prometheus.CounterVec
	remoteWriteLate    prometheus.Counter
	remoteWriteErrors  prometheus.Counter
	remoteWriteLast    prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		evalDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "kakeibo_evaluation_duration_seconds", Help: "Time to evaluate every SLO once.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		evalLast: f.NewGauge(prometheus.GaugeOpts{
			Name: "kakeibo_evaluation_last_duration_seconds", Help: "Time the last evaluation of every SLO took (compare with --eval-interval).",
		}),
		sourceErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kakeibo_source_errors_total", Help: "Failed reads and posts by source (alb, prometheus, alertmanager).",
		}, []string{"source"}),
		remoteWriteSamples: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kakeibo_remote_write_samples_total", Help: "Samples of the ALB counters the remote-write receiver accepted (sent) or refused for good (rejected).",
		}, []string{"result"}),
		remoteWriteLate: f.NewCounter(prometheus.CounterOpts{
			Name: "kakeibo_remote_write_late_events_total", Help: "ALB events counted for a minute already written, so written in a later minute.",
		}),
		remoteWriteErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "kakeibo_remote_write_errors_total", Help: "Remote-write attempts that failed and are tried again (nothing is lost meanwhile).",
		}),
		remoteWriteLast: f.NewGauge(prometheus.GaugeOpts{
			Name: "kakeibo_remote_write_last_success_timestamp_seconds", Help: "When the remote-write receiver last accepted a request.",
		}),
		storeWriteErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "kakeibo_store_write_errors_total", Help: "Failed writes to the data directory (disk full, read-only); the service is not ready while they fail.",
		}),
		objects: f.NewCounter(prometheus.CounterOpts{Name: "kakeibo_alb_objects_total", Help: "ALB log objects ingested."}),
		lines:   f.NewCounter(prometheus.CounterOpts{Name: "kakeibo_alb_lines_total", Help: "ALB log lines read."}),
		reloadOK: f.NewGauge(prometheus.GaugeOpts{
			Name: "kakeibo_config_last_reload_successful", Help: "Whether the last spec (re)load succeeded (1) or kept the previous specs (0).",
		}),
		reloadSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "kakeibo_config_last_reload_success_timestamp_seconds", Help: "When the specs were last loaded successfully.",
		}),
		reloadsTotal: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kakeibo_config_reloads_total", Help: "Spec reloads by result.",
		}, []string{"result"}),
	}
	m.objectsFailed = f.NewCounterVec(prometheus.CounterOpts{
		Name: "kakeibo_alb_objects_failed_total", Help: "Failed attempts to read an ALB log object, by reason (truncated, corrupt, denied, vanished, timeout, error).",
	}, []string{"reason"})
	for _, r := range alb.FailureReasons {
		m.objectsFailed.WithLabelValues(r)
	}
	m.sourceErrors.WithLabelValues("alb")
	m.sourceErrors.WithLabelValues("prometheus")
	reg.MustRegister(ingestCollector{s})
	return m
}

func (m *metrics) ingest(st alb.Stats, err error) {
	m.objects.Add(float64(st.Objects))
	m.lines.Add(float64(st.Lines))
	if err != nil {
		m.sourceErrors.WithLabelValues("alb").Inc()
	}
}

func (m *metrics) reloads(ok bool, at time.Time) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadSuccess.Set(float64(at.Unix()))
		m.reloadsTotal.WithLabelValues("success").Inc()
		return
	}
	m.reloadOK.Set(0)
	m.reloadsTotal.WithLabelValues("failure").Inc()
}

var sloNames = map[string]string{
	"slo_objective_ratio":                "The objective, as a ratio.",
	"slo_sli_ratio":                      "Good events over total events in the window.",
	"slo_good_events":                    "Good events in the window.",
	"slo_total_events":                   "Events in the window.",
	"slo_burn_rate":                      "Error ratio over the window divided by the error budget.",
	"slo_error_budget_remaining_ratio":   "Share of the period's error budget left (below 0 when overspent).",
	"slo_error_budget_remaining_seconds": "Error budget left as seconds of full outage.",
	"slo_time_to_exhaustion_seconds":     "Time until the budget is spent at the current burn rate (+Inf: never).",
	"slo_alert_firing":                   "1 while an alert of the SLO fires, else 0.",
	"slo_info":                           "The SLO's window, budgeting, source and status, and the spec's labels (value 1): join them with group_left.",
	"slo_data_age_seconds":               "How old the SLO's newest data was at the last evaluation (ALB: the newest interval a node delivered).",
}

// SeriesNames lists the slo_* series the service exports.
func SeriesNames() []string {
	var out []string
	for n := range sloNames {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ingestCollector exports the ingest watermarks and malformed lines, read
// at scrape time (they are few).
type ingestCollector struct{ s *Server }

func (ingestCollector) Describe(chan<- *prometheus.Desc) {}

var (
	watermarkDesc = prometheus.NewDesc("kakeibo_ingest_watermark_timestamp_seconds",
		"Newest minute of a load balancer's logs believed complete.", []string{"load_balancer"}, nil)
	lagDesc = prometheus.NewDesc("kakeibo_ingest_lag_seconds",
		"How far the ingestion watermark trails the clock.", []string{"load_balancer"}, nil)
	malformedDesc = prometheus.NewDesc("kakeibo_alb_malformed_lines_total",
		"ALB log lines skipped as malformed, by reason.", []string{"reason"}, nil)
)

func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	if s.source == nil || !s.active.Load() {
		return
	}
	lbs := map[string]bool{}
	for _, o := range s.specs.Load().Objectives() {
		if o.SLI.ALB != nil {
			lbs[o.SLI.ALB.LoadBalancer] = true
		}
	}
	now := s.cfg.Now()
	for lb := range lbs {
		w, ok, err := s.albDB.Watermark(lb)
		if err != nil || !ok {
			continue
		}
		t := alb.MinuteTime(w)
		ch <- prometheus.MustNewConstMetric(watermarkDesc, prometheus.GaugeValue, float64(t.Unix()), lb)
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), lb)
	}
	mal, err := s.albDB.MalformedLines()
	if err != nil {
		return
	}
	for _, reason := range alb.Reasons {
		ch <- prometheus.MustNewConstMetric(malformedDesc, prometheus.CounterValue, float64(mal[reason]), reason)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
