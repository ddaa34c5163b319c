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
func render(snap *snapshot) []byte {
	names := SeriesNames()
	fams := make([]bytes.Buffer, len(names))
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	var pairs []labelPair
	emit := func(name string, v float64, r *slo.Result, extra ...labelPair) {
		if math.IsNaN(v) {
			return
		}
		pairs = append(pairs[:0], labelPair{"service", r.Objective.Service}, labelPair{"slo", r.Objective.Name})
		pairs = append(pairs, extra...)
		writeSeries(&fams[index[name]], name, pairs, v)
	}
	for i := range snap.results {
		r := &snap.results[i]
		o := r.Objective
		emit("slo_objective_ratio", o.Target, r)
		emit("slo_data_age_seconds", max(snap.at.Sub(r.LastData()).Seconds(), 0), r)
		info := []labelPair{{"window", o.Window.String()}, {"budgeting", o.Budgeting.Method.String()}, {"source", o.SLI.Kind()}, {"status", string(r.Status)}}
		for k, v := range o.Labels {
			// Validation rejects the others; never let one break /metrics.
			if validLabelName(k) && k != "service" && k != "slo" && !slices.ContainsFunc(info[:4], func(p labelPair) bool { return p.name == k }) {
				info = append(info, labelPair{k, v})
			}
		}
		emit("slo_info", 1, r, info...)
		for _, a := range r.Alerts {
			emit("slo_alert_firing", b2f(a.Firing), r, labelPair{"alert", a.Name}, labelPair{"severity", string(a.Severity)})
		}
		if o.Alerting.BudgetExhausted {
			emit("slo_alert_firing", b2f(r.BudgetExhausted), r, labelPair{"alert", alerting.AlertBudgetExhausted}, labelPair{"severity", string(slo.Ticket)})
		}
		if !r.HasData {
			continue
		}
		period := labelPair{"window", o.Window.String()}
		emit("slo_sli_ratio", r.SLI, r, period)
		emit("slo_good_events", r.Counts.Good, r, period)
		emit("slo_total_events", r.Counts.Total, r, period)
		emit("slo_error_budget_remaining_ratio", r.BudgetRemaining, r)
		emit("slo_error_budget_remaining_seconds", r.BudgetRemainingTime.Seconds(), r)
		tte := math.Inf(1)
		if r.Exhausts {
			tte = r.TimeToExhaustion.Seconds()
		}
		emit("slo_time_to_exhaustion_seconds", tte, r)
		for _, d := range slices.Sorted(maps.Keys(r.Windows)) {
			w := r.Windows[d]
			win := labelPair{"window", slo.FormatDuration(d)}
			emit("slo_good_events", w.Good, r, win)
			emit("slo_total_events", w.Total, r, win)
			if w.HasData {
				if sli, ok := w.Counts.Ratio(); ok {
					emit("slo_sli_ratio", sli, r, win)
				}
				emit("slo_burn_rate", w.BurnRate, r, win)
			}
		}
	}
	size := 0
	for i := range fams {
		size += fams[i].Len() + 200
	}
	out := bytes.NewBuffer(make([]byte, 0, size))
	for i, name := range names {
		if fams[i].Len() == 0 {
			continue
		}
		out.WriteString("# HELP " + name + " " + escapeHelp(sloNames[name]) + "\n# TYPE " + name + " gauge\n")
		out.Write(fams[i].Bytes())
	}
	return out.Bytes()
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

// writeSeries writes one sample line: name{labels} value.
func writeSeries(b *bytes.Buffer, name string, pairs []labelPair, v float64) {
	slices.SortFunc(pairs, func(x, y labelPair) int { return strings.Compare(x.name, y.name) })
	b.WriteString(name)
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.name)
		b.WriteString(`="`)
		writeLabelValue(b, p.value)
		b.WriteByte('"')
	}
	b.WriteString("} ")
	var num [32]byte
	switch {
	case math.IsInf(v, 1):
		b.WriteString("+Inf")
	case math.IsInf(v, -1):
		b.WriteString("-Inf")
	default:
		b.Write(strconv.AppendFloat(num[:0], v, 'g', -1, 64))
	}
	b.WriteByte('\n')
}

// writeLabelValue escapes a label value as the text format asks: a
// backslash, a double quote and a line feed.
func writeLabelValue(b *bytes.Buffer, v string) {
	if !strings.ContainsAny(v, "\\\"\n") {
		b.WriteString(v)
		return
	}
	for _, c := range []byte(v) {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
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
