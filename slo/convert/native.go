// Package convert moves SLO specs between kakeibo's own format and the
// formats of other tools: Sloth specs and OpenSLO documents in, OpenSLO out.
// What a format cannot express is never dropped silently: it becomes a
// comment in the written file, and a note for the command to print.
package convert

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// The native spec as written: only what is set, in the order people read it.
type nativeService struct {
	Service     string            `yaml:"service"`
	Description string            `yaml:"description,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Links       *nativeLinks      `yaml:"links,omitempty"`
	SLOs        []nativeSLO       `yaml:"slos"`
}

type nativeLinks struct {
	Dashboard string `yaml:"dashboard,omitempty"`
	Runbook   string `yaml:"runbook,omitempty"`
}

type nativeSLO struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description,omitempty"`
	Objective   float64           `yaml:"objective"`
	Window      string            `yaml:"window"`
	Timezone    string            `yaml:"timezone,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Links       *nativeLinks      `yaml:"links,omitempty"`
	Budgeting   *nativeBudgeting  `yaml:"budgeting,omitempty"`
	SLI         nativeSLI         `yaml:"sli"`
	Alerting    *nativeAlerting   `yaml:"alerting,omitempty"`

	notes []string // written as a comment above the SLO
}

type nativeBudgeting struct {
	Timeslices nativeTimeslices `yaml:"timeslices"`
}

type nativeTimeslices struct {
	Slice     string  `yaml:"slice"`
	GoodAbove float64 `yaml:"good_above"`
	MinEvents int64   `yaml:"min_events,omitempty"`
}

type nativeSLI struct {
	Prometheus *nativePrometheus `yaml:"prometheus,omitempty"`
}

type nativePrometheus struct {
	ErrorRatio string   `yaml:"error_ratio,omitempty"`
	Good       string   `yaml:"good,omitempty"`
	Bad        string   `yaml:"bad,omitempty"`
	Total      string   `yaml:"total,omitempty"`
	By         []string `yaml:"by,omitempty"`
}

type nativeAlerting struct {
	MinEvents   int64             `yaml:"min_events,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	Page        *nativeSwitch     `yaml:"page,omitempty"`
	Ticket      *nativeSwitch     `yaml:"ticket,omitempty"`
}

type nativeSwitch struct {
	Disable     bool              `yaml:"disable,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// nativeDoc is one service to write, with the notes on it as a whole.
type nativeDoc struct {
	svc   nativeService
	notes []string
}

// writeNative writes services as native spec documents, each note a
// comment where it applies.
func writeNative(header string, docs []nativeDoc) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	for i, d := range docs {
		var n yaml.Node
		if err := n.Encode(d.svc); err != nil {
			return nil, err
		}
		n.HeadComment = comment(d.notes)
		if slos := mapValue(&n, "slos"); slos != nil {
			for j, item := range slos.Content {
				item.HeadComment = comment(d.svc.SLOs[j].notes)
			}
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&n); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func comment(notes []string) string {
	var lines []string
	for _, n := range notes {
		lines = append(lines, strings.Split(n, "\n")...)
	}
	return strings.Join(lines, "\n")
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// percent prints a ratio as the percent a spec writes: 0.999 → 99.9.
func percent(ratio float64) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(ratio*100, 'g', 12, 64), 64)
	return p
}

// Native writes loaded services (from any format kakeibo reads) as native
// specs. ALB-backed SLOs are kept; notification routes, reminders and custom
// alert windows are written when set.
func Native(services []*slo.Service) ([]byte, []string, error) {
	var docs []nativeDoc
	var notes []string
	for _, svc := range services {
		d := nativeDoc{svc: nativeService{Service: svc.Name, Description: svc.Description, Labels: svc.Labels}}
		if svc.Links != (slo.Links{}) {
			d.svc.Links = &nativeLinks{Dashboard: svc.Links.Dashboard, Runbook: svc.Links.Runbook}
		}
		for _, o := range svc.SLOs {
			n, skip := nativeObjective(svc, o)
			for _, s := range n.notes {
				notes = append(notes, o.ID()+": "+s)
			}
			if skip != "" {
				d.notes = append(d.notes, fmt.Sprintf("%s: not converted: %s", o.Name, skip))
				notes = append(notes, fmt.Sprintf("%s: skipped: %s", o.ID(), skip))
				continue
			}
			d.svc.SLOs = append(d.svc.SLOs, n)
		}
		if len(d.svc.SLOs) > 0 {
			docs = append(docs, d)
		}
	}
	out, err := writeNative(Header, docs)
	return out, notes, err
}

// Header heads every file convert writes.
const Header = "# Written by kakeibo from another format: read the comments, then check\n# it with `kakeibo validate -v`.\n"

func nativeObjective(svc *slo.Service, o *slo.Objective) (nativeSLO, string) {
	n := nativeSLO{Name: o.Name, Description: o.Description, Objective: percent(o.Target), Window: o.Window.String()}
	if len(o.Labels) > 0 {
		n.Labels = map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
			if svc.Labels[k] != o.Labels[k] {
				n.Labels[k] = o.Labels[k]
			}
		}
		if len(n.Labels) == 0 {
			n.Labels = nil
		}
	}
	if o.Window.IsCalendar() {
		if o.Window.Location != nil && o.Window.Location != time.UTC {
			n.Timezone = o.Window.Location.String()
		}
		if !o.Window.Anchor.IsZero() {
			a := o.Window.Anchor.In(o.Window.Location)
			n.notes = append(n.notes, fmt.Sprintf("The source's %s starts %s (calendar.startTime %s): kakeibo specs start months on the 1st and weeks on Monday, at midnight.",
				o.Window.Calendar, anchorText(o.Window.Calendar, a), a.Format("2006-01-02 15:04:05")))
		}
	}
	if o.Links != svc.Links && o.Links != (slo.Links{}) {
		n.Links = &nativeLinks{Dashboard: o.Links.Dashboard, Runbook: o.Links.Runbook}
	}
	if o.Budgeting.Method == slo.Timeslices {
		n.Budgeting = &nativeBudgeting{Timeslices: nativeTimeslices{
			Slice: slo.FormatDuration(o.Budgeting.Slice), GoodAbove: percent(o.Budgeting.SliceTarget), MinEvents: int64(o.Budgeting.SliceMinEvents)}}
	}
	switch {
	case o.SLI.Prometheus != nil:
		p := o.SLI.Prometheus
		n.SLI.Prometheus = &nativePrometheus{Good: p.Good, Bad: p.Bad, Total: p.Total}
		if p.ErrorRatio != "" {
			n.SLI.Prometheus = &nativePrometheus{ErrorRatio: p.ErrorRatio}
		}
	default:
		return n, "ALB-backed SLOs are written by hand (see the README's spec)"
	}
	if o.Alerting.MinEvents > 0 {
		n.Alerting = &nativeAlerting{MinEvents: int64(o.Alerting.MinEvents)}
	}
	return n, ""
}

func anchorText(u slo.CalendarUnit, a time.Time) string {
	if u == slo.Week {
		return a.Format("Monday 15:04 MST")
	}
	return fmt.Sprintf("on day %d at %s", a.Day(), a.Format("15:04 MST"))
}
