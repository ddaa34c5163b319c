package convert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Sloth's spec, version prometheus/v1 (https://sloth.dev, the Go types in
// github.com/slok/sloth pkg/prometheus/api/v1), and its Kubernetes form
// (apiVersion sloth.slok.dev/v1, kind PrometheusServiceLevel, the same
// fields under spec).

type slothSpec struct {
	Version    string            `yaml:"version"`
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   yaml.Node         `yaml:"metadata"`
	Spec       *slothSpec        `yaml:"spec"`
	Service    string            `yaml:"service"`
	Labels     map[string]string `yaml:"labels"`
	SLOPlugins yaml.Node         `yaml:"slo_plugins"`
	SLOs       []slothSLO        `yaml:"slos"`
}

type slothSLO struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Objective   float64           `yaml:"objective"`
	Labels      map[string]string `yaml:"labels"`
	Plugins     yaml.Node         `yaml:"plugins"`
	SLI         struct {
		Raw *struct {
			ErrorRatioQuery string `yaml:"error_ratio_query"`
		} `yaml:"raw"`
		Events *struct {
			ErrorQuery string `yaml:"error_query"`
			TotalQuery string `yaml:"total_query"`
		} `yaml:"events"`
		Plugin *struct {
			ID      string            `yaml:"id"`
			Options map[string]string `yaml:"options"`
		} `yaml:"plugin"`
	} `yaml:"sli"`
	Alerting struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
		PageAlert   slothAlert        `yaml:"page_alert"`
		TicketAlert slothAlert        `yaml:"ticket_alert"`
	} `yaml:"alerting"`
}

type slothAlert struct {
	Disable     bool              `yaml:"disable"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// FromSloth converts Sloth specs (every document of data) into native
// specs with the given period (Sloth sets the period per run, 30d by
// default). Sloth's rate() queries become increase() so the SLI counts
// events; everything kakeibo does not carry over (alert names, labels and
// annotations, plugins, raw ratio SLIs) is a comment in the output and a
// note. The output is checked by loading it.
func FromSloth(name string, data []byte, period time.Duration) ([]byte, []string, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var docs []nativeDoc
	var notes []string
	for i := 1; ; i++ {
		var s slothSpec
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if s.APIVersion != "" || s.Kind != "" {
			if !strings.HasPrefix(s.APIVersion, "sloth.slok.dev/") || s.Kind != "PrometheusServiceLevel" || s.Spec == nil {
				return nil, nil, fmt.Errorf("%s: document %d: apiVersion %q kind %q is not a Sloth PrometheusServiceLevel", name, i, s.APIVersion, s.Kind)
			}
			s = *s.Spec
			s.Version = "prometheus/v1"
		}
		if s.Version != "prometheus/v1" {
			return nil, nil, fmt.Errorf("%s: document %d: version %q: kakeibo reads Sloth prometheus/v1 specs", name, i, s.Version)
		}
		d, n := slothService(&s, period)
		notes = append(notes, n...)
		if len(d.svc.SLOs) > 0 {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, notes, fmt.Errorf("%s: no SLO could be converted", name)
	}
	out, err := writeNative(Header+"# Converted from the Sloth spec "+name+" with a period of "+slo.FormatDuration(period)+".\n", docs)
	if err != nil {
		return nil, nil, err
	}
	if _, err := slo.LoadBytes(name+" (converted)", out); err != nil {
		return out, notes, fmt.Errorf("the converted spec does not validate: %w", err)
	}
	return out, notes, nil
}

func slothService(s *slothSpec, period time.Duration) (nativeDoc, []string) {
	d := nativeDoc{svc: nativeService{Service: s.Service, Labels: s.Labels}}
	var notes []string
	note := func(o *nativeSLO, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		o.notes = append(o.notes, msg)
		notes = append(notes, s.Service+"/"+o.Name+": "+msg)
	}
	if !s.SLOPlugins.IsZero() {
		d.notes = append(d.notes, "slo_plugins are Sloth's own: not carried over.")
		notes = append(notes, s.Service+": slo_plugins not carried over")
	}
	for _, in := range s.SLOs {
		o := nativeSLO{Name: in.Name, Description: in.Description, Objective: in.Objective, Window: slo.FormatDuration(period), Labels: in.Labels}
		switch {
		case in.SLI.Events != nil:
			bad, okBad := slo.RateToCount(in.SLI.Events.ErrorQuery)
			total, okTotal := slo.RateToCount(in.SLI.Events.TotalQuery)
			o.SLI.Prometheus = &nativePrometheus{Bad: bad, Total: total}
			if !okBad || !okTotal {
				note(&o, "A query is kept as Sloth wrote it (no rate(x[{{.window}}]) to turn into increase): if it is a rate, ratios and burn rates are right but event counts (min_events) are per second.")
			}
		case in.SLI.Raw != nil:
			d.notes = append(d.notes, fmt.Sprintf("%s: not converted: a raw error ratio (sli.raw) has no event counts, which kakeibo needs: give events (error_query and total_query).", in.Name))
			notes = append(notes, fmt.Sprintf("%s/%s: skipped: sli.raw has no event counts", s.Service, in.Name))
			continue
		case in.SLI.Plugin != nil:
			d.notes = append(d.notes, fmt.Sprintf("%s: not converted: the SLI plugin %q is Sloth's own: write its queries as sli.prometheus.", in.Name, in.SLI.Plugin.ID))
			notes = append(notes, fmt.Sprintf("%s/%s: skipped: SLI plugin %s", s.Service, in.Name, in.SLI.Plugin.ID))
			continue
		default:
			d.notes = append(d.notes, fmt.Sprintf("%s: not converted: it has no sli.", in.Name))
			continue
		}
		a := in.Alerting
		if a.PageAlert.Disable || a.TicketAlert.Disable {
			o.Alerting = &nativeAlerting{}
			if a.PageAlert.Disable {
				o.Alerting.Page = &nativeSwitch{Disable: true}
			}
			if a.TicketAlert.Disable {
				o.Alerting.Ticket = &nativeSwitch{Disable: true}
			}
		}
		for _, k := range []string{"runbook", "runbook_url"} {
			if v := a.Annotations[k]; v != "" && o.Links == nil {
				o.Links = &nativeLinks{Runbook: v}
			}
		}
		var lost []string
		if a.Name != "" {
			lost = append(lost, fmt.Sprintf("alerting.name %s (kakeibo's alerts are SLOErrorBudgetBurn and SLOErrorBudgetExhausted, with alert, service and slo labels)", a.Name))
		}
		if len(a.Labels) > 0 {
			lost = append(lost, "alerting.labels "+kv(a.Labels)+" (labels: on the SLO are copied onto its alerts)")
		}
		if rest := without(a.Annotations, "runbook", "runbook_url"); len(rest) > 0 {
			lost = append(lost, "alerting.annotations "+kv(rest))
		}
		for sev, al := range map[string]slothAlert{"page": a.PageAlert, "ticket": a.TicketAlert} {
			if len(al.Labels) > 0 || len(al.Annotations) > 0 {
				lost = append(lost, fmt.Sprintf("%s_alert labels/annotations %s (kakeibo routes %ss with notify.%s)", sev, kv(merge(al.Labels, al.Annotations)), sev, sev))
			}
		}
		slices.Sort(lost)
		for _, l := range lost {
			note(&o, "Not carried over: %s.", l)
		}
		if !in.Plugins.IsZero() {
			note(&o, "Not carried over: Sloth SLO plugins.")
		}
		d.svc.SLOs = append(d.svc.SLOs, o)
	}
	return d, notes
}

func kv(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func without(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}
