package convert

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// OpenSLO v1 as written (https://github.com/OpenSLO/OpenSLO, v1 schema):
// one Service document per service, one SLO document per Prometheus-backed
// SLO with an inline ratioMetric indicator.

type osDoc struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   osMetadata `yaml:"metadata"`
	Spec       any        `yaml:"spec"`
}

type osMetadata struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

type osServiceSpec struct {
	Description string `yaml:"description,omitempty"`
}

type osSLOSpec struct {
	Description     string         `yaml:"description,omitempty"`
	Service         string         `yaml:"service"`
	Indicator       osIndicator    `yaml:"indicator"`
	TimeWindow      []osTimeWindow `yaml:"timeWindow"`
	BudgetingMethod string         `yaml:"budgetingMethod"`
	Objectives      []osObjective  `yaml:"objectives"`
}

type osIndicator struct {
	Metadata osMetadata `yaml:"metadata"`
	Spec     struct {
		RatioMetric osRatio `yaml:"ratioMetric"`
	} `yaml:"spec"`
}

type osRatio struct {
	Counter bool      `yaml:"counter"`
	Good    *osMetric `yaml:"good,omitempty"`
	Bad     *osMetric `yaml:"bad,omitempty"`
	Total   *osMetric `yaml:"total"`
}

type osMetric struct {
	MetricSource struct {
		Type string            `yaml:"type"`
		Spec map[string]string `yaml:"spec"`
	} `yaml:"metricSource"`
}

type osTimeWindow struct {
	Duration  string      `yaml:"duration"`
	IsRolling bool        `yaml:"isRolling"`
	Calendar  *osCalendar `yaml:"calendar,omitempty"`
}

type osCalendar struct {
	StartTime string `yaml:"startTime"`
	TimeZone  string `yaml:"timeZone"`
}

type osObjective struct {
	Target          float64 `yaml:"target"`
	TimeSliceTarget float64 `yaml:"timeSliceTarget,omitempty"`
	TimeSliceWindow string  `yaml:"timeSliceWindow,omitempty"`
}

// defaultStart is a calendar.startTime that is both a Monday and the 1st
// of a month: kakeibo's own weeks and months start there.
const defaultStart = "2024-01-01 00:00:00"

// ToOpenSLO writes Prometheus-backed SLOs as OpenSLO v1 documents. ALB SLOs
// (OpenSLO has no metric source for access logs) and queries that are not
// fn(selector[{{.window}}]) throughout are skipped with a note, as are
// alerting settings beyond the defaults (OpenSLO alert policies are not
// kakeibo's burn-rate pairs).
func ToOpenSLO(services []*slo.Service) ([]byte, []string, error) {
	var b bytes.Buffer
	b.WriteString("# Written by kakeibo export openslo.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	var notes []string
	for _, svc := range services {
		var slos []osDoc
		for _, o := range svc.SLOs {
			d, skip := osSLO(svc, o)
			if skip != "" {
				notes = append(notes, fmt.Sprintf("%s: skipped: %s", o.ID(), skip))
				continue
			}
			if len(o.Alerting.Windows) != len(slo.DefaultAlertWindowsFor(o.Window.Nominal(), o.SLI.MinWindow())) || o.Alerting.MinEvents > 0 {
				notes = append(notes, fmt.Sprintf("%s: its alerting settings are kakeibo's own and are not written", o.ID()))
			}
			slos = append(slos, d)
		}
		if len(slos) == 0 {
			continue
		}
		docs := append([]osDoc{{APIVersion: "openslo/v1", Kind: "Service", Metadata: osMetadata{Name: svc.Name, Labels: svc.Labels},
			Spec: osServiceSpec{Description: svc.Description}}}, slos...)
		for _, d := range docs {
			if err := enc.Encode(d); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), notes, nil
}

func osSLO(svc *slo.Service, o *slo.Objective) (osDoc, string) {
	p := o.SLI.Prometheus
	if p == nil {
		return osDoc{}, "ALB-backed: OpenSLO has no metric source for access logs"
	}
	if o.SLI.Grouped() {
		return osDoc{}, fmt.Sprintf("grouped by %s: OpenSLO v1 has no grouping", strings.Join(p.By, ", "))
	}
	if o.SLI.Raw() {
		return osDoc{}, "a raw error_ratio: an OpenSLO v1 ratioMetric needs good or bad and total queries"
	}
	spec := osSLOSpec{Description: o.Description, Service: svc.Name, BudgetingMethod: "Occurrences"}
	spec.Indicator.Metadata.Name = o.Name
	ratio := &spec.Indicator.Spec.RatioMetric
	metric := func(tmpl string) (*osMetric, bool, string) {
		q, counter, ok := slo.OpenSLOQuery(tmpl)
		if !ok {
			return nil, false, fmt.Sprintf("the query %q is not increase or sum_over_time of selectors over {{.window}} throughout", tmpl)
		}
		m := &osMetric{}
		m.MetricSource.Type = "Prometheus"
		m.MetricSource.Spec = map[string]string{"query": q}
		return m, counter, ""
	}
	var counters []bool
	for _, q := range []struct {
		tmpl string
		dst  **osMetric
	}{{p.Good, &ratio.Good}, {p.Bad, &ratio.Bad}, {p.Total, &ratio.Total}} {
		if q.tmpl == "" {
			continue
		}
		m, counter, why := metric(q.tmpl)
		if why != "" {
			return osDoc{}, why
		}
		*q.dst = m
		counters = append(counters, counter)
	}
	for _, c := range counters[1:] {
		if c != counters[0] {
			return osDoc{}, "its queries mix increase and sum_over_time: OpenSLO's counter flag holds for all of them"
		}
	}
	ratio.Counter = counters[0]

	w := o.Window
	switch {
	case !w.IsCalendar():
		spec.TimeWindow = []osTimeWindow{{Duration: slo.FormatDuration(w.Length), IsRolling: true}}
	default:
		start := defaultStart
		if !w.Anchor.IsZero() {
			start = w.Anchor.In(w.Location).Format("2006-01-02 15:04:05")
		}
		d := "1M"
		if w.Calendar == slo.Week {
			d = "1w"
		}
		spec.TimeWindow = []osTimeWindow{{Duration: d, Calendar: &osCalendar{StartTime: start, TimeZone: w.Location.String()}}}
	}
	obj := osObjective{Target: o.Target}
	if o.Budgeting.Method == slo.Timeslices {
		if o.Budgeting.SliceMinEvents > 0 {
			return osDoc{}, "timeslices with min_events: OpenSLO has no per-slice minimum"
		}
		spec.BudgetingMethod = "Timeslices"
		obj.TimeSliceTarget, obj.TimeSliceWindow = o.Budgeting.SliceTarget, slo.FormatDuration(o.Budgeting.Slice)
	}
	spec.Objectives = []osObjective{obj}
	labels := map[string]string{}
	for k, v := range o.Labels {
		if svc.Labels[k] != v {
			labels[k] = v
		}
	}
	if len(labels) == 0 {
		labels = nil
	}
	return osDoc{APIVersion: "openslo/v1", Kind: "SLO", Metadata: osMetadata{Name: o.Name, Labels: labels}, Spec: spec}, ""
}
