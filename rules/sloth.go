package rules

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// Sloth spec (prometheus/v1), for teams that already run Sloth
// (https://sloth.dev): one document per service. Sloth takes rates where
// kakeibo's queries count events; the ratio over a window is the same, so
// the queries carry over, with bad = total - good where the spec gives good.

type slothSpec struct {
	Version string            `yaml:"version"`
	Service string            `yaml:"service"`
	Labels  map[string]string `yaml:"labels,omitempty"`
	SLOs    []slothSLO        `yaml:"slos"`
}

type slothSLO struct {
	Name        string            `yaml:"name"`
	Objective   float64           `yaml:"objective"`
	Description string            `yaml:"description,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	SLI         struct {
		Events struct {
			ErrorQuery string `yaml:"error_query"`
			TotalQuery string `yaml:"total_query"`
		} `yaml:"events"`
	} `yaml:"sli"`
	Alerting slothAlerting `yaml:"alerting"`
}

type slothAlerting struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	PageAlert   slothAlert        `yaml:"page_alert"`
	TicketAlert slothAlert        `yaml:"ticket_alert"`
}

type slothAlert struct {
	Disable bool              `yaml:"disable,omitempty"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

// SlothPeriod is the Sloth specs of the SLOs of one period: Sloth sets the
// period per run (sloth generate --default-slo-period), so each period is
// its own file and run.
type SlothPeriod struct {
	Period time.Duration
	Data   []byte
}

// Sloth renders the Prometheus-backed SLOs as Sloth specs, one set per
// period. Sloth knows rolling windows and occurrences only; other SLOs are
// skipped with a note. Every SLO's alerts get their own name; what Sloth
// cannot express (custom alert pairs, min_events, scaled windows outside
// 28d/30d) is a comment on the SLO and a note.
func Sloth(services []*slo.Service) ([]SlothPeriod, []string, error) {
	var notes []string
	type key struct {
		period  time.Duration
		service string
	}
	specs := map[key]*slothSpec{}
	comments := map[*slothSpec][]string{}
	var order []key
	for _, svc := range services {
		for _, o := range svc.SLOs {
			switch {
			case o.SLI.Prometheus == nil:
				notes = append(notes, fmt.Sprintf("%s: skipped: ALB-backed SLOs are evaluated by kakeibo serve", o.ID()))
				continue
			case o.Window.IsCalendar() || o.Budgeting.Method == slo.Timeslices:
				notes = append(notes, fmt.Sprintf("%s: skipped: Sloth has no calendar windows or timeslices", o.ID()))
				continue
			}
			k := key{o.Window.Length, svc.Name}
			spec := specs[k]
			if spec == nil {
				spec = &slothSpec{Version: "prometheus/v1", Service: svc.Name, Labels: svc.Labels}
				specs[k] = spec
				order = append(order, k)
			}
			s, lost := slothObjective(svc, o)
			for _, l := range lost {
				notes = append(notes, fmt.Sprintf("%s: %s", o.ID(), l))
			}
			spec.SLOs = append(spec.SLOs, s)
			comments[spec] = append(comments[spec], strings.Join(lost, "\n"))
		}
	}
	periods := map[time.Duration][]key{}
	var periodOrder []time.Duration
	for _, k := range order {
		if periods[k.period] == nil {
			periodOrder = append(periodOrder, k.period)
		}
		periods[k.period] = append(periods[k.period], k)
	}
	slices.Sort(periodOrder)
	var out []SlothPeriod
	for _, p := range periodOrder {
		var b bytes.Buffer
		b.WriteString(Header)
		fmt.Fprintf(&b, "# Sloth specs for the SLOs with a %s period: sloth generate --default-slo-period %s -i FILE\n", slo.FormatDuration(p), slo.FormatDuration(p))
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		for _, k := range periods[p] {
			spec := specs[k]
			var n yaml.Node
			if err := n.Encode(spec); err != nil {
				return nil, nil, err
			}
			if items := mapValue(&n, "slos"); items != nil {
				for i, item := range items.Content {
					item.HeadComment = comments[spec][i]
				}
			}
			if err := enc.Encode(&n); err != nil {
				return nil, nil, err
			}
		}
		if err := enc.Close(); err != nil {
			return nil, nil, err
		}
		out = append(out, SlothPeriod{Period: p, Data: b.Bytes()})
	}
	return out, notes, nil
}

// slothObjective is one SLO as Sloth writes it, and what it loses.
func slothObjective(svc *slo.Service, o *slo.Objective) (slothSLO, []string) {
	ps := o.SLI.Prometheus
	s := slothSLO{Name: o.Name, Objective: o.Target * 100, Description: o.Description}
	s.Objective, _ = strconv.ParseFloat(strconv.FormatFloat(o.Target*100, 'g', 12, 64), 64)
	s.SLI.Events.TotalQuery = ps.Total
	s.SLI.Events.ErrorQuery = ps.Bad
	if ps.Good != "" {
		s.SLI.Events.ErrorQuery = fmt.Sprintf("(%s) - (%s)", ps.Total, ps.Good)
	}
	s.Alerting = slothAlerting{
		Name:        camel(svc.Name) + camel(o.Name) + "ErrorBudgetBurn",
		Labels:      map[string]string{"alert_source": "sloth"},
		Annotations: map[string]string{"summary": fmt.Sprintf("%s is burning its error budget too fast", o.ID())},
		PageAlert:   slothAlert{Labels: map[string]string{"severity": "page"}},
		TicketAlert: slothAlert{Labels: map[string]string{"severity": "ticket"}},
	}
	if o.Links.Runbook != "" {
		s.Alerting.Annotations["runbook_url"] = o.Links.Runbook
	}
	pages, tickets := false, false
	for _, w := range o.Alerting.Windows {
		pages = pages || w.Severity == slo.Page
		tickets = tickets || w.Severity == slo.Ticket
	}
	s.Alerting.PageAlert.Disable, s.Alerting.TicketAlert.Disable = !pages, !tickets
	var lost []string
	period := o.Window.Length
	defaults := slo.DefaultAlertWindowsFor(period, o.SLI.MinWindow())
	custom := len(o.Alerting.Windows) != len(defaults)
	for i := 0; !custom && i < len(defaults); i++ {
		custom = o.Alerting.Windows[i] != defaults[i]
	}
	switch {
	case custom && pages || custom && tickets:
		var pairs []string
		for _, w := range o.Alerting.Windows {
			pairs = append(pairs, fmt.Sprintf("%s %s/%s > %s", w.Name, slo.FormatDuration(w.Long), slo.FormatDuration(w.Short), number(round(w.Threshold(period), 4))))
		}
		lost = append(lost, "kakeibo's alert pairs ("+strings.Join(pairs, ", ")+") are not carried: Sloth uses its own windows for the period")
	case period == 28*24*time.Hour:
		lost = append(lost, "Sloth's 28d thresholds are 13.44, 5.6, 2.8 and 0.933 (it keeps the budget shares); kakeibo's are 14.4, 6, 3 and 1")
	case period != 30*24*time.Hour:
		lost = append(lost, fmt.Sprintf("Sloth ships alert windows for 28d and 30d only: generate the %s period with --slo-period-windows-path", slo.FormatDuration(period)))
	}
	if o.Alerting.MinEvents > 0 {
		lost = append(lost, fmt.Sprintf("min_events %s is not carried: Sloth has no minimum of events", number(o.Alerting.MinEvents)))
	}
	if o.Alerting.BudgetExhausted {
		lost = append(lost, "the budget-exhausted ticket is not carried: Sloth has no such alert")
	}
	return s, lost
}

// camel turns a name such as "payment-latency" into "PaymentLatency".
func camel(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		switch {
		case r == '-' || r == '_' || r == '.':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
