package convert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Pyrra's ServiceLevelObjective resource (pyrra.dev/v1alpha1), as its CRD
// documents it: the fields kakeibo carries over.
type pyrraSLO struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Description string `yaml:"description"`
		Target      string `yaml:"target"`
		Window      string `yaml:"window"`
		Indicator   struct {
			Ratio *struct {
				Errors   pyrraMetric `yaml:"errors"`
				Total    pyrraMetric `yaml:"total"`
				Grouping []string    `yaml:"grouping"`
			} `yaml:"ratio"`
			Latency *struct {
				Success  pyrraMetric `yaml:"success"`
				Total    pyrraMetric `yaml:"total"`
				Grouping []string    `yaml:"grouping"`
			} `yaml:"latency"`
			LatencyNative *struct {
				Latency  string      `yaml:"latency"`
				Total    pyrraMetric `yaml:"total"`
				Grouping []string    `yaml:"grouping"`
			} `yaml:"latencyNative"`
			BoolGauge *struct {
				pyrraMetric `yaml:",inline"`
				Grouping    []string `yaml:"grouping"`
			} `yaml:"bool_gauge"`
		} `yaml:"indicator"`
		Alerting struct {
			Disabled *bool `yaml:"disabled"`
			Absent   *bool `yaml:"absent"`
		} `yaml:"alerting"`
	} `yaml:"spec"`
}

type pyrraMetric struct {
	Metric string `yaml:"metric"`
}

// PyrraFile is one file to import.
type PyrraFile struct {
	Name string
	Data []byte
}

// FromPyrra converts Pyrra ServiceLevelObjective resources into kakeibo
// specs, one service per namespace (or service, when given: every SLO
// goes there), in the order met. Other Kubernetes resources in the files
// (a manifests directory) are skipped. Decisions, said in notes:
//   - ratio: bad = the errors metric, total = the total metric, each as
//     sum(increase(...[window])); latency: good = the success bucket;
//     bool_gauge: good = sum_over_time of the 0/1 gauge, total =
//     count_over_time (one event per scraped sample);
//   - grouping becomes sli.prometheus.by; a group label named service or
//     slo (kakeibo's own) is renamed exported_service / exported_slo with
//     label_replace, as Prometheus renames clashing target labels;
//   - alerting.disabled turns the page and ticket alerts off; absent
//     alerts have no counterpart (kakeibo says no_data and stale instead);
//   - latencyNative (a native histogram): good = histogram_fraction below
//     the latency times histogram_count, total = histogram_count.
func FromPyrra(files []PyrraFile, service string) ([]byte, []string, error) {
	var notes []string
	var docs []nativeDoc
	byService := map[string]int{}
	seen := map[string]bool{}
	skipped := 0
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(f.Data))
		for i := 1; ; i++ {
			var node yaml.Node
			err := dec.Decode(&node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, notes, fmt.Errorf("%s: document %d: %w", f.Name, i, err)
			}
			var p pyrraSLO
			if err := node.Decode(&p); err != nil {
				return nil, notes, fmt.Errorf("%s: document %d: %w", f.Name, i, err)
			}
			if p.Kind != "ServiceLevelObjective" || !strings.HasPrefix(p.APIVersion, "pyrra.dev/") {
				skipped++
				continue
			}
			where := fmt.Sprintf("%s:%d", f.Name, node.Line)
			svcName := service
			if svcName == "" {
				svcName = p.Metadata.Namespace
				if svcName == "" {
					svcName = "default"
				}
			}
			s, n, err := pyrraObjective(&p, where)
			notes = append(notes, n...)
			if err != nil {
				return nil, notes, err
			}
			if s == nil {
				continue
			}
			if seen[svcName+"/"+s.Name] {
				return nil, notes, fmt.Errorf("%s: %s/%s twice", where, svcName, s.Name)
			}
			seen[svcName+"/"+s.Name] = true
			idx, ok := byService[svcName]
			if !ok {
				idx = len(docs)
				byService[svcName] = idx
				docs = append(docs, nativeDoc{svc: nativeService{Service: svcName}})
			}
			docs[idx].svc.SLOs = append(docs[idx].svc.SLOs, *s)
		}
	}
	if skipped > 0 {
		notes = append(notes, fmt.Sprintf("%d document(s) that are not Pyrra ServiceLevelObjectives were skipped", skipped))
	}
	if len(docs) == 0 {
		return nil, notes, errors.New("no Pyrra ServiceLevelObjective found")
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.Name)
	}
	out, err := writeNative(Header+"# Converted from the Pyrra ServiceLevelObjectives in "+strings.Join(names, ", ")+".\n", docs)
	if err != nil {
		return nil, notes, err
	}
	if _, err := slo.LoadBytes("pyrra (converted)", out); err != nil {
		return out, notes, fmt.Errorf("the converted spec does not validate: %w", err)
	}
	return out, notes, nil
}

// pyrraObjective converts one resource; nil with a note when it cannot.
func pyrraObjective(p *pyrraSLO, where string) (*nativeSLO, []string, error) {
	var notes []string
	name := p.Metadata.Name
	target, err := strconv.ParseFloat(strings.TrimSpace(p.Spec.Target), 64)
	if err != nil || target <= 0 || target >= 100 {
		return nil, nil, fmt.Errorf("%s: %s: target %q: want a percentage between 0 and 100", where, name, p.Spec.Target)
	}
	d, err := model.ParseDuration(p.Spec.Window)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: window %q: %v", where, name, p.Spec.Window, err)
	}
	s := &nativeSLO{Name: name, Description: strings.TrimSpace(p.Spec.Description), Objective: target, Window: slo.FormatDuration(time.Duration(d))}
	for k, v := range p.Metadata.Labels {
		if !validLabel(k) || k == "service" || k == "slo" {
			notes = append(notes, fmt.Sprintf("%s: %s: label %s=%s not carried over (not a Prometheus label name, or kakeibo's own)", where, name, k, v))
			continue
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = v
	}
	inc := func(metric string) string { return "increase(" + metric + "[{{.window}}])" }
	var good, bad, total string
	var grouping []string
	ind := p.Spec.Indicator
	switch {
	case ind.Ratio != nil:
		bad, total, grouping = inc(ind.Ratio.Errors.Metric), inc(ind.Ratio.Total.Metric), ind.Ratio.Grouping
	case ind.Latency != nil:
		good, total, grouping = inc(ind.Latency.Success.Metric), inc(ind.Latency.Total.Metric), ind.Latency.Grouping
	case ind.BoolGauge != nil:
		good = "sum_over_time(" + ind.BoolGauge.Metric + "[{{.window}}])"
		total = "count_over_time(" + ind.BoolGauge.Metric + "[{{.window}}])"
		grouping = ind.BoolGauge.Grouping
	case ind.LatencyNative != nil:
		// A native histogram: the requests under the latency are its
		// fraction below it times its count, per series.
		lat, err := model.ParseDuration(ind.LatencyNative.Latency)
		if err != nil {
			return nil, notes, fmt.Errorf("%s: %s: latencyNative.latency %q: %v", where, name, ind.LatencyNative.Latency, err)
		}
		m := inc(ind.LatencyNative.Total.Metric)
		good = fmt.Sprintf("histogram_fraction(0, %s, %s) * histogram_count(%s)", strconv.FormatFloat(time.Duration(lat).Seconds(), 'f', -1, 64), m, m)
		total = "histogram_count(" + m + ")"
		grouping = ind.LatencyNative.Grouping
	default:
		return nil, notes, fmt.Errorf("%s: %s: no indicator (ratio, latency, bool_gauge)", where, name)
	}
	// Group labels named like kakeibo's own are renamed, as Prometheus
	// renames a target label that clashes (exported_...).
	wrap := func(q string) string {
		if q == "" {
			return ""
		}
		for _, g := range grouping {
			if g == "service" || g == "slo" {
				q = fmt.Sprintf(`label_replace(%s, "exported_%s", "$1", %q, "(.*)")`, q, g, g)
			}
		}
		return "sum(" + q + ")"
	}
	by := slices.Clone(grouping)
	for i, g := range by {
		if g == "service" || g == "slo" {
			by[i] = "exported_" + g
			notes = append(notes, fmt.Sprintf("%s: %s: grouping label %s is kakeibo's own: it is exported_%s here", where, name, g, g))
		}
	}
	s.SLI.Prometheus = &nativePrometheus{Good: wrap(good), Bad: wrap(bad), Total: wrap(total), By: by}
	if dis := p.Spec.Alerting.Disabled; dis != nil && *dis {
		s.Alerting = &nativeAlerting{Page: &nativeSwitch{Disable: true}, Ticket: &nativeSwitch{Disable: true}}
	}
	if abs := p.Spec.Alerting.Absent; abs == nil || *abs {
		s.notes = append(s.notes, "Pyrra's absent alert has no counterpart: kakeibo shows the SLO no_data or stale instead")
	}
	return s, notes, nil
}

func validLabel(k string) bool {
	if k == "" || strings.HasPrefix(k, "__") {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
