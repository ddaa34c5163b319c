package server

import (
	"bytes"
	"compress/gzip"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/expfmt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
)

// metrics are the service's own (kakeibo_*) metrics; the slo_* series come
// from sloCollector, computed from the newest evaluation at scrape time.
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

// sloCollector exports the newest evaluation under the same names and
// labels as the generated Prometheus rules: service, slo and the series'
// own labels; the specs' labels only on slo_info.
type sloCollector struct{ snap *snapshot }

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

func (c *sloCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: label names depend on the specs

// ingestCollector exports the ingest watermarks and malformed lines, read
// at scrape time (they are few).
type ingestCollector struct{ s *Server }

func (ingestCollector) Describe(chan<- *prometheus.Desc) {}

// render encodes a snapshot's slo_* series once, plain and gzipped, so that
// every scrape until the next evaluation serves the same bytes: concurrent
// scrapes cost no memory per scrape.
func render(snap *snapshot) (plain, gz []byte, err error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(&sloCollector{snap: snap}); err != nil {
		return nil, nil, err
	}
	mfs, err := reg.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, nil, err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, nil, err
		}
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	_, _ = zw.Write(b.Bytes())
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), z.Bytes(), nil
}

func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snap
	if snap == nil {
		return
	}
	// Every slo_* series carries service and slo (and its own window,
	// alert, severity); team labels from the specs go on slo_info only, for
	// group_left joins (the kube-state-metrics convention): label keys that
	// differ per team do not multiply the exposition.
	emit := func(name string, v float64, r slo.Result, names, values []string) {
		if math.IsNaN(v) {
			return
		}
		desc := prometheus.NewDesc(name, sloNames[name], append([]string{"service", "slo"}, names...), nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{r.Objective.Service, r.Objective.Name}, values...)...)
	}
	info := func(r slo.Result) {
		o := r.Objective
		names := []string{"service", "slo", "window", "budgeting", "source", "status"}
		values := []string{o.Service, o.Name, o.Window.String(), o.Budgeting.Method.String(), o.SLI.Kind(), string(r.Status)}
		keys := make([]string, 0, len(o.Labels))
		for k := range o.Labels {
			if !slices.Contains(names, k) { // validation rejects these; never let one break /metrics
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			names, values = append(names, k), append(values, o.Labels[k])
		}
		m, err := prometheus.NewConstMetric(prometheus.NewDesc("slo_info", sloNames["slo_info"], names, nil), prometheus.GaugeValue, 1, values...)
		if err == nil {
			ch <- m
		}
	}
	for _, r := range snap.results {
		o := r.Objective
		emit("slo_objective_ratio", o.Target, r, nil, nil)
		emit("slo_data_age_seconds", max(snap.at.Sub(r.LastData()).Seconds(), 0), r, nil, nil)
		info(r)
		firing := map[string]bool{}
		for _, a := range r.Alerts {
			firing[a.Name] = a.Firing
			emit("slo_alert_firing", b2f(a.Firing), r, []string{"alert", "severity"}, []string{a.Name, string(a.Severity)})
		}
		if o.Alerting.BudgetExhausted {
			emit("slo_alert_firing", b2f(r.BudgetExhausted), r, []string{"alert", "severity"}, []string{alerting.AlertBudgetExhausted, string(slo.Ticket)})
		}
		if !r.HasData {
			continue
		}
		period := o.Window.String()
		emit("slo_sli_ratio", r.SLI, r, []string{"window"}, []string{period})
		emit("slo_good_events", r.Counts.Good, r, []string{"window"}, []string{period})
		emit("slo_total_events", r.Counts.Total, r, []string{"window"}, []string{period})
		emit("slo_error_budget_remaining_ratio", r.BudgetRemaining, r, nil, nil)
		emit("slo_error_budget_remaining_seconds", r.BudgetRemainingTime.Seconds(), r, nil, nil)
		tte := math.Inf(1)
		if r.Exhausts {
			tte = r.TimeToExhaustion.Seconds()
		}
		emit("slo_time_to_exhaustion_seconds", tte, r, nil, nil)
		for d, w := range r.Windows {
			win := slo.FormatDuration(d)
			emit("slo_good_events", w.Good, r, []string{"window"}, []string{win})
			emit("slo_total_events", w.Total, r, []string{"window"}, []string{win})
			if w.HasData {
				if sli, ok := w.Counts.Ratio(); ok {
					emit("slo_sli_ratio", sli, r, []string{"window"}, []string{win})
				}
				emit("slo_burn_rate", w.BurnRate, r, []string{"window"}, []string{win})
			}
		}
	}
}

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
