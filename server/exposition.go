package server

import (
	"bytes"
	"compress/gzip"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/slo"
)

// render writes a snapshot's slo_* series in the Prometheus text format
// (version 0.0.4), once per evaluation: every scrape until the next one
// serves these bytes. The series carry the same names and labels as the
// generated Prometheus rules: service, slo and the series' own labels; the
// specs' labels go on slo_info only, for group_left joins (the
// kube-state-metrics convention), so label keys that differ per team do not
// multiply the exposition.
//
// It writes the text itself: at 10,000 SLOs (about 400,000 series),
// building client_golang metrics, sorting and encoding them was most of an
// evaluation cycle. Within a family, series follow the results' order;
// within a series, label names are sorted, as client_golang writes them.
// With a cache, an SLO whose result the evaluation kept (reused) and whose
// status is the same is not rendered again: only its data age is.
func render(snap *snapshot, cache *renderCache, reused func(*slo.Objective) bool) []byte {
	names := SeriesNames()
	age := slices.Index(names, "slo_data_age_seconds")
	var scratch [][]byte
	var keep map[*slo.Objective]*sloLines
	if cache != nil {
		keep = make(map[*slo.Objective]*sloLines, len(snap.results))
	}
	per := make([]*sloLines, len(snap.results))
	for i := range snap.results {
		r := &snap.results[i]
		if cache != nil && reused != nil && reused(r.Objective) {
			if l := cache.slos[r.Objective]; l != nil && l.status == r.Status {
				per[i], keep[r.Objective] = l, l
				continue
			}
		}
		if scratch == nil {
			scratch = make([][]byte, len(names))
		}
		for f := range scratch {
			scratch[f] = scratch[f][:0]
		}
		renderSLO(scratch, names, r)
		l := &sloLines{status: r.Status, fams: make([][]byte, len(names))}
		for f := range scratch {
			if f != age && len(scratch[f]) > 0 {
				l.fams[f] = slices.Clone(scratch[f])
			}
		}
		per[i] = l
		if keep != nil {
			keep[r.Objective] = l
		}
	}
	if cache != nil {
		cache.slos = keep
	}
	size := 0
	for _, l := range per {
		for _, b := range l.fams {
			size += len(b)
		}
	}
	out := bytes.NewBuffer(make([]byte, 0, size+len(snap.results)*100+len(names)*200))
	var line []byte
	for f, name := range names {
		if f == age && len(snap.results) == 0 || f != age && !slices.ContainsFunc(per, func(l *sloLines) bool { return len(l.fams[f]) > 0 }) {
			continue
		}
		out.WriteString("# HELP " + name + " " + escapeHelp(sloNames[name]) + "\n# TYPE " + name + " gauge\n")
		if f == age {
			for i := range snap.results {
				r := &snap.results[i]
				line = appendSeries(line[:0], name, r, max(snap.at.Sub(r.LastData()).Seconds(), 0))
				out.Write(line)
			}
			continue
		}
		for _, l := range per {
			out.Write(l.fams[f])
		}
	}
	return out.Bytes()
}

// renderCache keeps each SLO's rendered lines for the next render.
type renderCache struct {
	slos map[*slo.Objective]*sloLines
}

// sloLines are an SLO's lines, family by family (SeriesNames order), but
// its data age, which moves with the clock.
type sloLines struct {
	status slo.Status
	fams   [][]byte
}

// renderSLO appends r's lines to fams (indexed as names).
func renderSLO(fams [][]byte, names []string, r *slo.Result) {
	o := r.Objective
	emit := func(name string, v float64, extra ...labelPair) {
		if !math.IsNaN(v) {
			f := &fams[slices.Index(names, name)]
			*f = appendSeries(*f, name, r, v, extra...)
		}
	}
	emit("slo_objective_ratio", o.Target)
	info := []labelPair{{"window", o.Window.String()}, {"budgeting", o.Budgeting.Method.String()}, {"source", o.SLI.Kind()}, {"status", string(r.Status)}}
	for k, v := range o.Labels {
		// Validation rejects the others; never let one break /metrics.
		if validLabelName(k) && k != "service" && k != "slo" && !slices.ContainsFunc(info[:4], func(p labelPair) bool { return p.name == k }) {
			info = append(info, labelPair{k, v})
		}
	}
	emit("slo_info", 1, info...)
	for _, a := range r.Alerts {
		emit("slo_alert_firing", b2f(a.Firing), labelPair{"alert", a.Name}, labelPair{"severity", string(a.Severity)})
	}
	if o.Alerting.BudgetExhausted {
		emit("slo_alert_firing", b2f(r.BudgetExhausted), labelPair{"alert", alerting.AlertBudgetExhausted}, labelPair{"severity", string(slo.Ticket)})
	}
	if !r.HasData {
		return
	}
	period := labelPair{"window", o.Window.String()}
	emit("slo_sli_ratio", r.SLI, period)
	emit("slo_good_events", r.Counts.Good, period)
	emit("slo_total_events", r.Counts.Total, period)
	emit("slo_error_budget_remaining_ratio", r.BudgetRemaining)
	emit("slo_error_budget_remaining_seconds", r.BudgetRemainingTime.Seconds())
	tte := math.Inf(1)
	if r.Exhausts {
		tte = r.TimeToExhaustion.Seconds()
	}
	emit("slo_time_to_exhaustion_seconds", tte)
	for _, d := range slices.Sorted(maps.Keys(r.Windows)) {
		w := r.Windows[d]
		win := labelPair{"window", slo.FormatDuration(d)}
		emit("slo_good_events", w.Good, win)
		emit("slo_total_events", w.Total, win)
		if w.HasData {
			if sli, ok := w.Counts.Ratio(); ok {
				emit("slo_sli_ratio", sli, win)
			}
			emit("slo_burn_rate", w.BurnRate, win)
		}
	}
}

// appendSeries appends one sample line of r: name{labels} v, with service
// and slo and the extra labels, sorted by name.
func appendSeries(b []byte, name string, r *slo.Result, v float64, extra ...labelPair) []byte {
	pairs := make([]labelPair, 0, 2+len(extra))
	pairs = append(pairs, labelPair{"service", r.Objective.Service}, labelPair{"slo", r.Objective.Name})
	pairs = append(pairs, extra...)
	slices.SortFunc(pairs, func(x, y labelPair) int { return strings.Compare(x.name, y.name) })
	b = append(b, name...)
	b = append(b, '{')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.name...)
		b = append(b, '=', '"')
		b = appendLabelValue(b, p.value)
		b = append(b, '"')
	}
	b = append(b, '}', ' ')
	switch {
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}

type labelPair struct{ name, value string }

// validLabelName: [a-zA-Z_][a-zA-Z0-9_]*, not reserved (__).
func validLabelName(n string) bool {
	if n == "" || strings.HasPrefix(n, "__") {
		return false
	}
	for i, c := range n {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// appendLabelValue escapes a label value as the text format asks: a
// backslash, a double quote and a line feed.
func appendLabelValue(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\"\n") {
		return append(b, v...)
	}
	for _, c := range []byte(v) {
		switch c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// gzipped returns the exposition gzipped, compressing it on the first
// scrape that asks: a cycle no one scrapes pays nothing for it.
func (snap *snapshot) gzipped() []byte {
	snap.gzOnce.Do(func() {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		_, _ = zw.Write(snap.exposition)
		if zw.Close() == nil {
			snap.exposedGz = z.Bytes()
		}
	})
	return snap.exposedGz
}
